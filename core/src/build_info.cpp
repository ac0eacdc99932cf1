#include "perflab/core/build_info.hpp"

// Set for this file only (core/CMakeLists.txt).
#ifndef PERFLAB_VERSION
#define PERFLAB_VERSION "unknown"
#endif
#ifndef PERFLAB_GIT_COMMIT
#define PERFLAB_GIT_COMMIT "unknown"
#endif

namespace perflab::build_info {

const char* version() noexcept { return PERFLAB_VERSION; }
const char* commit() noexcept { return PERFLAB_GIT_COMMIT; }

}  // namespace perflab::build_info
