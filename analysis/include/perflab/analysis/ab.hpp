#pragma once
// The verdict of `loadgen ab`, an interleaved A/B run: the baseline and the candidate ran the same
// scenario in the same job, alternating A B B A ..., so drift on the machine hits both sides alike.
// Each side is an ordinary run (run.json); compare's rule (compare.hpp, judge_change: tolerance,
// Mann-Whitney U, the repeats' agreement) judges every variant and metric, with a bootstrap
// interval of the median ratio. On top of it this says which side statuses make the comparison
// untrustworthy, the exit code, and how small a change this run's own noise let it detect. The
// tolerance is the noise floor: a change within it is never a regression. docs/ci.md explains how
// to read the verdict and what the settings cost in false positives.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "perflab/analysis/compare.hpp"
#include "perflab/core/result.hpp"

namespace perflab::analysis {

// The metrics `loadgen ab` judges unless told otherwise (docs/ci.md says why these): goodput,
// TTLB p50 and p90 (corrected), the error rate, the target's CPU per response (the signal of a CPU
// regression that latency at a low load does not show; 0 on both sides for services, then not
// judged), and capacities where the scenario searches.
std::vector<metric> ab_default_metrics();

struct ab_options {
  compare_options compare{0.05, 0.05, ab_default_metrics(), true};  // tolerance = the noise floor
  double noise_floor_sigmas = 2;  // a change must also exceed this many times the metric's own noise
                                  // in this run (stddev of relative_values) to count
  double power = 0.8;         // "smallest detectable change": flagged in this share of simulated runs
  int simulations = 400;      // simulated A/B runs per tried change (fixed seed: reproducible)
};

// Each repeat's value over its side's median (1.03: 3 % above it), both sides pooled: the run's
// noise with the A/B difference taken out. Sides whose median is 0 are left out.
std::vector<double> relative_values(const metric_change& c);

// The share of simulated A/B runs judge_change calls a regression when the candidate is `shift`
// worse (0.1: 10 % slower, or 10 % less goodput): `repeats` values per side drawn with replacement
// from `relative`, the candidate's moved by the shift in the metric's worse direction. With shift
// 0 it is the false-positive rate of A/A runs with that noise. Deterministic for a seed.
double regression_rate(std::span<const double> relative, int repeats, double shift, const metric& m,
                       const compare_options& opt, int simulations, std::uint64_t seed);

// The smallest shift whose regression_rate reaches `power`, tried in steps of 0.5 % up to 50 %,
// then 5 % up to 200 %; nothing when none does (or `relative` has fewer than 2 values).
std::optional<double> smallest_detectable_change(std::span<const double> relative, int repeats, const metric& m,
                                                 const compare_options& opt, double power, int simulations,
                                                 std::uint64_t seed);

// How this run's noise limits what it can tell, per compared metric.
// Neither applies to a metric whose sides have no relative values (an error rate of 0 on both).
struct detectability {
  std::optional<double> noise;             // standard deviation of relative_values (0.03: 3 % per run)
  std::optional<double> smallest_change;   // smallest_detectable_change with this run's repeats; nothing
                                           // when no change up to 200 % would be flagged often enough
};

struct ab_verdict {
  comparison cmp;                       // compare_runs(baseline, candidate)
  std::vector<detectability> detect;    // one per cmp.changes entry
  std::vector<std::string> suspect;     // side variants whose status makes the comparison untrustworthy, with why
  std::vector<std::string> notes;       // what does not change the exit code (baseline thresholds, noise)
  int exit_code = 0;                    // exit_codes.hpp: see judge_ab
  std::string headline;                 // "NO REGRESSION", "REGRESSION", or what overrides them ("SATURATED ...")
};

// Judges an A/B pair of runs: compare_runs, then every change again against its noise floor
// (max(tolerance, noise_floor_sigmas x its noise)), so a difference within the run's own noise is
// never a regression (a note says which were not counted). The exit code combines (exit_code::combine, 2 > 1 > 6 > 5 > 7 > 3 > 4):
// every variant run's verdict of both sides (result::exit_code_of: INCOMPLETE 1 or 6, SATURATED 5,
// ERRORS or STALLED 7), the candidate's thresholds (3; the baseline's failing thresholds are noted,
// not counted: they are not the change's doing), an incomplete run (6), and the comparison
// (4 when a metric regressed). So a saturated side never lets the comparison pass as 0.
ab_verdict judge_ab(const result::run& baseline, const result::run& candidate, const ab_options& opt);

// The verdict table (variant, metric, baseline and candidate medians, change, 95 % interval of the
// ratio, p, smallest detectable change, verdict), then notes, suspects and one summary line ending
// "-> exit N". Ends with '\n'.
std::string format_ab(const ab_verdict& v, const ab_options& opt);

// comparison_json's object plus "headline", "suspect", "notes", "power" and per change
// "noise" and "smallest_detectable_change" (null when none).
nlohmann::json ab_json(const ab_verdict& v, const ab_options& opt);

// What `headline` and the exit code mean, in a few words ("the load generator was saturated: ...").
std::string ab_exit_meaning(int exit_code);

}  // namespace perflab::analysis
