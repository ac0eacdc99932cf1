# The one warnings list. Call perflab_warnings(target) on every target we own.
# Not -Wnull-dereference: with GCC 12 at -O2 it reports false positives inside libstdc++, Asio and
# CLI11 headers, which would push per-file suppressions all over the tree.
set(PERFLAB_WARNING_FLAGS -Wall -Wextra -Wshadow -Wpedantic -Wnon-virtual-dtor -Wcast-align
    -Woverloaded-virtual -Wimplicit-fallthrough)

function(perflab_warnings target)
  target_compile_options(${target} PRIVATE ${PERFLAB_WARNING_FLAGS})
  if(PERFLAB_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
