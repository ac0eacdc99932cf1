// `loadgen run SCENARIO [--output DIR] [--set key=value]... [--target-bin PATH] [--dry-run]
// [--junit FILE] [--summary-md FILE]`: runs a scenario file (the runner does the work; this only
// maps the command line onto runner_options).
#include <iostream>

#include "perflab/core/exit_codes.hpp"
#include "perflab/loadgen/commands.hpp"
#include "perflab/loadgen/runner.hpp"

namespace perflab::loadgen {

void add_run_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<runner_options>();
  auto* cmd = app.add_subcommand("run", "run a scenario file: spawn targets, measure, write results and a report");
  cmd->add_option("scenario", opts->scenario_file, "scenario file (TOML), e.g. scenarios/quickstart.toml")->required();
  cmd->add_option("--output,-o", opts->output_root,
                  "results root; the run goes to <root>/<UTC stamp>-<name>/ (default: results)");
  cmd->add_option("--set", opts->overrides,
                  "override a scenario key: --set load.rate=2k/s --set target.model=reactor (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  cmd->add_option("--target-bin", opts->target_bin,
                  "lab-target binary (default: $PERFLAB_TARGET_BIN, else ../targets/lab-target next to loadgen)");
  cmd->add_flag("--progress", opts->progress, "live progress line on stderr each second");
  cmd->add_flag("!--no-report", opts->report, "skip report.md / report.html");
  cmd->add_flag("--dry-run", opts->dry_run,
                "check the scenario, target options and CPUs, print the variants with estimated durations; start "
                "nothing");
  cmd->add_option("--junit", opts->junit_file,
                  "write thresholds and variant statuses as JUnit XML to FILE (one testcase per variant x "
                  "threshold, one per variant status)");
  cmd->add_option("--summary-md", opts->summary_md_file,
                  "write a short Markdown summary (verdict, table, findings, warnings) to FILE, e.g. "
                  "$GITHUB_STEP_SUMMARY");
  cmd->callback([opts, &exit_code] { exit_code = run_scenario(*opts, std::cout, std::cerr).exit_code; });
}

}  // namespace perflab::loadgen
