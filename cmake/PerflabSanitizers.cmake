# PERFLAB_SANITIZE is a checked list: unknown values stop the configure step.
set(_perflab_known_sanitizers address undefined thread)
foreach(s IN LISTS PERFLAB_SANITIZE)
  if(NOT s IN_LIST _perflab_known_sanitizers)
    message(FATAL_ERROR "PERFLAB_SANITIZE: unknown sanitizer '${s}' (accepted: address;undefined or thread)")
  endif()
endforeach()
if("thread" IN_LIST PERFLAB_SANITIZE AND ("address" IN_LIST PERFLAB_SANITIZE))
  message(FATAL_ERROR "PERFLAB_SANITIZE: 'thread' cannot be combined with 'address'")
endif()
if(PERFLAB_SANITIZE)
  list(JOIN PERFLAB_SANITIZE "," _perflab_san)
  add_compile_options(-fsanitize=${_perflab_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_perflab_san})
  # GCC 12 warns (-Wtsan) wherever Asio's std_fenced_block, inlined from its headers, uses
  # atomic_thread_fence, which TSan does not model. Each of our io_contexts runs on one thread,
  # and what crosses threads goes through mutexes and atomics that TSan does see.
  if("thread" IN_LIST PERFLAB_SANITIZE)
    add_compile_options(-Wno-tsan)
  endif()
  # Sanitized numbers are never reported; this define lets programs say so in their output.
  add_compile_definitions(PERFLAB_SANITIZED=1)
endif()

# Fuzzing build: every library is compiled with coverage instrumentation (fuzzer-no-link) and
# ASan/UBSan, so libFuzzer is guided by the parsers' code, not only by the entry points.
if(PERFLAB_BUILD_FUZZERS AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(WARNING "PERFLAB_BUILD_FUZZERS needs clang (use the 'fuzz' preset); building without libFuzzer targets")
  set(PERFLAB_BUILD_FUZZERS OFF)
endif()
if(PERFLAB_BUILD_FUZZERS)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
