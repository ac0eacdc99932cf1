# All perflab build options live here (nghttp2's CMakeOptions.txt is the model).
option(PERFLAB_BUILD_TESTS "Build unit and integration tests (registered with ctest)" ON)
option(PERFLAB_BUILD_BENCH "Build Google Benchmark programs (registered with ctest as smoke runs)" ON)
option(PERFLAB_BUILD_FUZZERS "Build libFuzzer targets (clang only; instruments the whole build for coverage). Seed corpora run as tests either way" OFF)
option(PERFLAB_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)
set(PERFLAB_SANITIZE "" CACHE STRING "Sanitizers to build with: empty, 'address;undefined' or 'thread'")
set(PERFLAB_TEST_CXX_FLAGS "" CACHE STRING "Extra compile flags for test programs only (the ci preset builds them at -O1: they compile a quarter faster, and the code they test is still built as configured)")
