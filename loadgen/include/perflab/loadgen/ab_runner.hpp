#pragma once
// `loadgen ab`: an interleaved A/B run for CI. Every variant of a scenario runs against a baseline
// and a candidate (two lab-target builds, or two external services), `repeats` times per side, in
// the order A B B A ... (interleaved_order), so drift on the machine hits both sides alike. Each
// run is the one `loadgen run` makes (variant_executor: spawn, health check, warm-up, measured
// phase, stop). Writes one results folder with both sides as ordinary runs (baseline/run.json,
// candidate/run.json), ab.json with the verdict (analysis/ab.hpp), and a report whose findings are
// the A/B differences. Everything a run checks, it checks before the first variant: the scenario,
// both binaries (present, a lab-target, accepting the scenario's target options) or both URLs
// (answering their health check); a problem there exits 2 with nothing run. A run the load
// generator could not keep on schedule (SATURATED) is run again, up to twice, and the verdict's
// notes say so; ab.json lists them as "reruns". docs/ci.md.
#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace perflab::loadgen {

struct ab_run_options {
  std::filesystem::path scenario_file;
  std::vector<std::string> overrides;             // --set key=value, applied to both sides
  std::vector<std::string> baseline_overrides;    // --baseline-set key=value: this side only (after --set)
  std::vector<std::string> candidate_overrides;   // --candidate-set key=value: e.g. two configurations of one
                                                  // binary; must not change the variants' names
  std::filesystem::path output_root = "results";  // the run goes to <root>/<UTC stamp>-ab-<name>/
  std::filesystem::path baseline_bin;             // --baseline-bin: lab-target build A (spawned variants)
  std::filesystem::path candidate_bin;            // --candidate-bin: lab-target build B
  std::string baseline_url;                       // --baseline-url: external service A, instead of binaries
  std::string candidate_url;                      // --candidate-url: external service B
  int repeats = 0;                                // runs per side and variant; 0: the scenario's `repeats`
                                                  // when it sets min_ab_repeats or more, else default_ab_repeats
  std::string tolerance = "5%";                   // the noise floor: a change within it is never a regression
  double alpha = 0.05;                            // Mann-Whitney significance level
  std::vector<std::string> metrics;               // --metric names; empty: analysis::ab_default_metrics()
  bool progress = false;                          // the engine's live line on stderr
  bool report = true;                             // render report.md / report.html at the end
  bool dry_run = false;                           // check everything, print the plan, start nothing
  std::filesystem::path junit_file;               // --junit: the verdict as JUnit XML (empty: none)
  std::filesystem::path summary_md_file;          // --summary-md: the verdict as Markdown (empty: none)
};

// Runs per side and variant when neither the command line nor the scenario says: the fewest for
// which Mann-Whitney can reach p < 0.05 with room to spare (5 vs 5: p = 0.008 at best).
inline constexpr int default_ab_repeats = 5;
// The fewest --repeats accepted: below 3 per side chance alone separates the sides too often.
inline constexpr int min_ab_repeats = 3;

struct ab_run_outcome {
  int exit_code = 0;                // exit_codes.hpp; analysis::judge_ab says which
  std::filesystem::path run_dir;    // empty when nothing ran (usage error, dry run)
};

ab_run_outcome run_ab(const ab_run_options& opts, std::ostream& out, std::ostream& err);

enum class ab_side { baseline, candidate };
const char* to_string(ab_side s) noexcept;  // "baseline", "candidate"

struct ab_slot {
  std::size_t variant = 0;  // index into the scenario's variants
  int repeat = 0;           // 0-based
  ab_side side = ab_side::baseline;
};

// The order of the runs: repeat by repeat, each variant's pair in turn, the pair A B when
// repeat + variant is even and B A when odd. So the sequence reads A B B A A B ..., each variant
// alternates which side goes first, and a slow drift over the job adds as much to one side as to
// the other. Repeats spread over the whole job, so each side's repeats see its ups and downs.
std::vector<ab_slot> interleaved_order(std::size_t variants, int repeats);

}  // namespace perflab::loadgen
