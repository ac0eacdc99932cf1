#pragma once
// The version and the git commit this build was configured from (run.json's "tool" block,
// `loadgen --version`). Defined in one source file that alone carries them as compile
// definitions, so a new commit recompiles that file, not the whole tree.
namespace perflab::build_info {

const char* version() noexcept;
const char* commit() noexcept;  // short hash, or "unknown" outside a git checkout

}  // namespace perflab::build_info
