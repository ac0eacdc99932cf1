#pragma once
// Subcommands of the `loadgen` program. Each adds itself to the CLI11 app; its callback stores
// the process exit code (perflab/core/exit_codes.hpp) into exit_code.
#include <CLI/CLI.hpp>

namespace perflab::loadgen {

void add_attack_command(CLI::App& app, int& exit_code);   // ad-hoc run against a URL (cli_attack.cpp)
void add_run_command(CLI::App& app, int& exit_code);      // run a scenario file (cli_scenario.cpp)
void add_report_command(CLI::App& app, int& exit_code);   // render report.md / report.html (cli_analysis.cpp)
void add_compare_command(CLI::App& app, int& exit_code);  // compare two runs (cli_analysis.cpp)
void add_ab_command(CLI::App& app, int& exit_code);       // interleaved A/B run with a verdict (cli_ab.cpp)
void add_subscribe_command(CLI::App& app, int& exit_code);  // push delivery: subscribers and a publisher (cli_subscribe.cpp)

}  // namespace perflab::loadgen
