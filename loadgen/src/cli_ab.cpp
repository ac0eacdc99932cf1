// `loadgen ab SCENARIO --baseline-bin PATH --candidate-bin PATH [--repeats N] [--tolerance 5%] ...`
// (or --baseline-url / --candidate-url): an interleaved A/B run with a verdict (ab_runner.hpp does
// the work; this only maps the command line onto ab_run_options).
#include <iostream>
#include <memory>

#include "perflab/loadgen/ab_runner.hpp"
#include "perflab/loadgen/commands.hpp"

namespace perflab::loadgen {

void add_ab_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ab_run_options>();
  auto* cmd = app.add_subcommand(
      "ab", "A/B run for CI: every variant against a baseline and a candidate, interleaved A B B A ..., with repeats; "
            "exit 0 no regression, 4 regression, 3 a candidate threshold failed (docs/ci.md)");
  cmd->add_option("scenario", opts->scenario_file, "scenario file (TOML), e.g. scenarios/ci-regression.toml")
      ->required();
  cmd->add_option("--baseline-bin", opts->baseline_bin, "lab-target build of the baseline (side A)");
  cmd->add_option("--candidate-bin", opts->candidate_bin, "lab-target build of the candidate (side B)");
  cmd->add_option("--baseline-url", opts->baseline_url, "or: the baseline service, http://HOST:PORT");
  cmd->add_option("--candidate-url", opts->candidate_url, "or: the candidate service, http://HOST:PORT");
  cmd->add_option("--repeats,-n", opts->repeats,
                  "runs per side and variant, 3 or more (default: the scenario's repeats when >= 3, else 5)");
  cmd->add_option("--tolerance,-t", opts->tolerance,
                  "noise floor: a change within it is never a regression, e.g. 5% or 0.05 (default 5%)");
  cmd->add_option("--alpha", opts->alpha, "significance level of the Mann-Whitney test (default 0.05)");
  cmd->add_option("--metric,-m", opts->metrics,
                  "metric to judge (repeatable or comma-separated; default tps.mean, ttlb.p50, ttlb.p90, errors.rate, "
                  "target.cpu_per_response, and capacity where the scenario searches), e.g. ttlb.p99")
      ->delimiter(',');
  cmd->add_option("--output,-o", opts->output_root,
                  "results root; the run goes to <root>/<UTC stamp>-ab-<name>/ (default: results)");
  cmd->add_option("--set", opts->overrides, "override a scenario key on both sides (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  cmd->add_option("--baseline-set", opts->baseline_overrides,
                  "override a scenario key on the baseline only, after --set (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  cmd->add_option("--candidate-set", opts->candidate_overrides,
                  "override a scenario key on the candidate only, e.g. target.queue=128 to A/B two configurations of "
                  "one binary (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  cmd->add_flag("--progress", opts->progress, "live progress line on stderr each second");
  cmd->add_flag("!--no-report", opts->report, "skip report.md / report.html");
  cmd->add_flag("--dry-run", opts->dry_run, "check the scenario and both sides, print the plan; start nothing");
  cmd->add_option("--junit", opts->junit_file, "write the verdict as JUnit XML to FILE");
  cmd->add_option("--summary-md", opts->summary_md_file, "write the verdict as Markdown to FILE");
  cmd->callback([opts, &exit_code] { exit_code = run_ab(*opts, std::cout, std::cerr).exit_code; });
}

}  // namespace perflab::loadgen
