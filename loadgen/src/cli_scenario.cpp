// `loadgen run`: owned by the scenario runner work. Until it lands the subcommand refuses to run
// (exit 1) rather than pretend.
#include <cstdio>

#include "perflab/core/exit_codes.hpp"
#include "perflab/loadgen/commands.hpp"

namespace perflab::loadgen {
void add_run_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("run", "run a scenario file (not in this build)");
  cmd->allow_extras();
  cmd->callback([&exit_code] {
    std::fprintf(stderr, "loadgen run: not available in this build\n");
    exit_code = exit_code::runtime_error;
  });
}
}  // namespace perflab::loadgen
