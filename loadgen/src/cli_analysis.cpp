// `loadgen report` and `loadgen compare`: owned by the analysis work. Until it lands these
// subcommands refuse to run (exit 1) rather than pretend.
#include <cstdio>

#include "perflab/core/exit_codes.hpp"
#include "perflab/loadgen/commands.hpp"

namespace perflab::loadgen {
namespace {
void add_unavailable(CLI::App& app, const char* name, int& exit_code) {
  auto* cmd = app.add_subcommand(name, "(not in this build)");
  cmd->allow_extras();
  cmd->callback([&exit_code, name] {
    std::fprintf(stderr, "loadgen %s: not available in this build\n", name);
    exit_code = exit_code::runtime_error;
  });
}
}  // namespace
void add_report_command(CLI::App& app, int& exit_code) { add_unavailable(app, "report", exit_code); }
void add_compare_command(CLI::App& app, int& exit_code) { add_unavailable(app, "compare", exit_code); }
}  // namespace perflab::loadgen
