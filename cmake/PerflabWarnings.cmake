# The one warnings list. Call perflab_warnings(target) on every target we own.
set(PERFLAB_WARNING_FLAGS -Wall -Wextra -Wshadow -Wpedantic -Wnon-virtual-dtor -Wcast-align
    -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough)

function(perflab_warnings target)
  target_compile_options(${target} PRIVATE ${PERFLAB_WARNING_FLAGS})
  if(PERFLAB_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
