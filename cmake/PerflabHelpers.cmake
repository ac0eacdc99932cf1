# Helpers, one per kind of target.

# perflab_test_flags(<target>)
#   PERFLAB_TEST_CXX_FLAGS on a test program's own sources (after the configuration's flags, so an
#   -O level there wins): never on the libraries it tests.
function(perflab_test_flags target)
  if(PERFLAB_TEST_CXX_FLAGS)
    separate_arguments(_flags UNIX_COMMAND "${PERFLAB_TEST_CXX_FLAGS}")
    target_compile_options(${target} PRIVATE ${_flags})
  endif()
endfunction()

# perflab_add_test(<name> SOURCES ... LIBS ...)
#   A GoogleTest binary, one per library (unit tests sit beside the code as foo_test.cpp),
#   registered with ctest test by test. Discovery runs before the tests, not at build time,
#   so sanitizer builds do not run code while linking.
function(perflab_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  perflab_warnings(${name})
  perflab_test_flags(${name})
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
    PROPERTIES ENVIRONMENT "PERFLAB_SOURCE_DIR=${PROJECT_SOURCE_DIR};PERFLAB_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()

# perflab_add_bench(<name> SOURCES ... LIBS ...)
#   A Google Benchmark program plus a ctest smoke run with a tiny minimum time, so it never rots.
#   Real figures come from running the binary itself (see docs/benchmarks.md).
function(perflab_add_bench name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} benchmark::benchmark)
  perflab_warnings(${name})
  if(PERFLAB_BUILD_TESTS)
    add_test(NAME ${name}.smoke COMMAND ${name} --benchmark_min_time=0.001)
    set_tests_properties(${name}.smoke PROPERTIES LABELS bench)
  endif()
endfunction()

# perflab_add_fuzzer(<name> SOURCE <file> CORPUS <dir> LIBS ...)
#   <file> defines LLVMFuzzerTestOneInput. With PERFLAB_BUILD_FUZZERS (clang, 'fuzz' preset) a libFuzzer
#   binary <name> is built. Always, <name>_corpus is built with our corpus driver and registered
#   as a ctest test that feeds every seed file through the target (works with GCC too).
function(perflab_add_fuzzer name)
  cmake_parse_arguments(ARG "" "SOURCE;CORPUS" "LIBS" ${ARGN})
  add_executable(${name}_corpus ${ARG_SOURCE} ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus_driver.cpp)
  target_link_libraries(${name}_corpus PRIVATE ${ARG_LIBS})
  perflab_warnings(${name}_corpus)
  if(PERFLAB_BUILD_TESTS)
    add_test(NAME ${name}.corpus COMMAND ${name}_corpus ${ARG_CORPUS})
    set_tests_properties(${name}.corpus PROPERTIES LABELS fuzz)
  endif()
  if(PERFLAB_BUILD_FUZZERS)
    add_executable(${name} ${ARG_SOURCE})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  endif()
endfunction()

# perflab_add_library(<name> [LIBS ...] [EXCLUDE <regex>])
#   The library of the current folder: sources are src/*.cpp except unit tests (*_test.cpp),
#   fuzz entry points (*_fuzz.cpp) and files matching EXCLUDE (sources of an optional second
#   library in the same folder, e.g. targets/api's grpc_*); public headers in include/perflab/<lib>/. Defines the
#   namespaced alias perflab::<name>, and, when tests are on, the test binary perflab_<name>_tests
#   from src/*_test.cpp.
function(perflab_add_library name)
  cmake_parse_arguments(ARG "" "EXCLUDE" "LIBS;TEST_LIBS" ${ARGN})
  file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  list(FILTER _srcs EXCLUDE REGEX "(_test|_fuzz|/main)\\.cpp$")
  if(ARG_EXCLUDE)
    list(FILTER _srcs EXCLUDE REGEX "${ARG_EXCLUDE}")
  endif()
  add_library(perflab_${name} STATIC ${_srcs})
  add_library(perflab::${name} ALIAS perflab_${name})
  target_include_directories(perflab_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(perflab_${name} PUBLIC ${ARG_LIBS})
  perflab_warnings(perflab_${name})
  if(PERFLAB_BUILD_TESTS)
    file(GLOB _tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*_test.cpp)
    if(_tests AND ARG_EXCLUDE)
      list(FILTER _tests EXCLUDE REGEX "${ARG_EXCLUDE}")
    endif()
    if(_tests)
      perflab_add_test(perflab_${name}_tests SOURCES ${_tests} LIBS perflab::${name} ${ARG_TEST_LIBS})
    endif()
  endif()
endfunction()
