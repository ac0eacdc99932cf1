# All perflab build options live here (nghttp2's CMakeOptions.txt is the model).
option(PERFLAB_BUILD_TESTS "Build unit and integration tests (registered with ctest)" ON)
option(PERFLAB_BUILD_BENCH "Build Google Benchmark programs (registered with ctest as smoke runs)" ON)
option(PERFLAB_BUILD_FUZZERS "Build libFuzzer targets (clang only; instruments the whole build for coverage). Seed corpora run as tests either way" OFF)
option(PERFLAB_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)
set(PERFLAB_SANITIZE "" CACHE STRING "Sanitizers to build with: empty, 'address;undefined' or 'thread'")
set(PERFLAB_TEST_CXX_FLAGS "" CACHE STRING "Extra compile flags for test programs only (the ci preset builds them at -O1: they compile a quarter faster, and the code they test is still built as configured)")
# Distributed runs (`mpirun -np N loadgen attack ...`, docs/distributed.md) on Open MPI (Debian
# openmpi-bin, libopenmpi-dev). ON by default when MPI's C library is found; OFF builds the loadgen
# exactly as a single process. Only loadgen/src/mpi/distributed_mpi.cpp includes mpi.h.
enable_language(C)
find_package(MPI COMPONENTS C QUIET)
option(PERFLAB_MPI "Build the loadgen with Open MPI support for distributed runs (default: ON when MPI is found)" ${MPI_C_FOUND})
if(PERFLAB_MPI AND NOT MPI_C_FOUND)
  message(FATAL_ERROR "PERFLAB_MPI=ON but MPI was not found: install libopenmpi-dev, or configure with -DPERFLAB_MPI=OFF")
endif()
