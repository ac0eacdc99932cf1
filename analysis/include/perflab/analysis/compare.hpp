#pragma once
// `loadgen compare`: per variant (matched by name) and metric, the change from a baseline run to a
// candidate run and a verdict. A change counts when it is beyond the tolerance and either a
// two-sided Mann-Whitney U test over the per-repeat values confirms it (p < alpha) or no repeat
// contradicts it (every candidate repeat on the far side of every baseline repeat). The second
// rule covers what the test cannot judge (single runs, too few repeats, ties) and keeps the
// verdict monotone: a repeat that agrees with the change never turns "regressed" into "unchanged".
// docs/reports.md, "Method", explains the rule and why.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <tl/expected.hpp>

#include "perflab/analysis/report.hpp"  // comparison_table, for callers that include only this header
#include "perflab/core/result.hpp"

namespace perflab::analysis {

enum class better { higher, lower };

// A metric of a variant, by name: "tps.mean", "errors.rate", "<latency>.<stat>" with latency in
// connect, ttfb, ttlb, ttfb_uncorrected, ttlb_uncorrected, send_lag and stat in min, mean, p50,
// p90, p99, p999 (or p99.9), max; "loadgen.cpu_per_request", "target.rss", "target.cpu",
// "target.cpu_per_response" (target CPU us over the measured phase per completed response).
struct metric {
  std::string name;       // canonical name, e.g. "ttlb.p99"
  better direction = better::lower;
  std::string unit;       // "req/s", "us", "fraction", "bytes", "s"
  double absolute_floor = 0;  // changes smaller than this (in unit) are always "unchanged"
};

tl::expected<metric, std::string> parse_metric(std::string_view name);
// The default set: tps.mean, ttlb.p50, ttlb.p99, ttfb.p99, errors.rate (and capacities, see
// compare_options::capacities). "capacity" is a search's capacity, judged with a tolerance of at
// least the searches' resolution.
std::vector<metric> default_metrics();
double metric_value(const result::variant& v, const metric& m);

// "5%", "5 %", "0.05" -> 0.05. Must be in [0, 10) (0% .. 1000%).
tl::expected<double, std::string> parse_tolerance(std::string_view text);

enum class verdict { unchanged, improved, regressed };
const char* to_string(verdict v) noexcept;

struct compare_options {
  double tolerance = 0.05;         // relative change below this is noise
  double alpha = 0.05;             // significance level of the Mann-Whitney test (with repeats)
  std::vector<metric> metrics = default_metrics();
  // Also compare capacities (metric "capacity") where both runs ran a capacity search of a variant;
  // `loadgen compare --metric` lists turn this off unless they name "capacity".
  bool capacities = true;
};

struct metric_change {
  std::string variant;
  std::string metric;
  std::string unit;
  better direction = better::lower;
  std::vector<double> baseline;        // one value per repeat
  std::vector<double> candidate;
  double baseline_median = 0;
  double candidate_median = 0;
  double change = 0;                   // (candidate - baseline) / baseline; 0 when both are 0
  bool change_is_absolute = false;     // baseline was 0: `change` is candidate - baseline in unit
  // Mann-Whitney two-sided, when both sides have >= 2 repeats: U with ties as half pairs against the
  // exact null of untied samples (stats::tie_null::untied), so more agreeing repeats never raise it.
  std::optional<double> p_value;
  // 95% percentile-bootstrap interval of median(candidate) - median(baseline), in `unit`, when both
  // sides have >= 2 repeats (2000 resamples, fixed seed: the same inputs give the same interval).
  std::optional<double> ci_low;
  std::optional<double> ci_high;
  // The same interval for median(candidate) / median(baseline) (1.08: 8 % higher), when both sides
  // have >= 2 repeats and the baseline's median is not 0.
  std::optional<double> ratio_ci_low;
  std::optional<double> ratio_ci_high;
  double tolerance = 0;                // the tolerance it was judged with: compare_options::tolerance, or a
                                       // capacity search's resolution when that is larger
  bool beyond_tolerance = false;       // |change| above the tolerance and the metric's floor
  bool repeats_agree = false;          // every candidate repeat at or beyond every baseline repeat, in the
                                       // direction of the change (false when nothing changed)
  std::string method;                  // how the verdict was reached, e.g. "mann-whitney (5 vs 5 repeats) + tolerance"
  verdict result = verdict::unchanged;
};

// The verdict rule for one metric from its per-repeat values (no variant name, no bootstrap
// interval): medians, change, tolerance and floor, Mann-Whitney with both sides >= 2 repeats,
// and the repeats' agreement. compare_runs and the report's findings both judge with it.
metric_change judge_change(std::span<const double> baseline, std::span<const double> candidate, const metric& m,
                           const compare_options& opt);

struct comparison {
  std::vector<metric_change> changes;
  std::vector<std::string> warnings;   // incomplete or saturated runs/variants, unmatched variants
  std::vector<std::string> notes;      // how a variant was compared when it was not metric by metric
                                       // (capacity searches on both sides: by capacity only)
  std::vector<std::string> unmatched;  // variant names present on one side only
  int regressions = 0;
  int improvements = 0;
  // perflab::exit_code::regression when any metric regressed, ok otherwise.
  int exit_code() const noexcept;
};

comparison compare_runs(const result::run& baseline, const result::run& candidate, const compare_options& opt);

// A metric's value in its unit as the tables print it ("104 us", "1,000.0", "0.10%"), and a change
// as "+12.3%" (or "+0.20% (from 0)" when the baseline was 0).
std::string format_metric_value(const std::string& unit, double v);
std::string format_change(const metric_change& c);

// Aligned text table of the changes, then the warnings and a one-line summary (ends with '\n').
std::string format_comparison(const comparison& c, const compare_options& opt);
// The same as JSON (for CI): {"tolerance", "alpha", "changes": [...], "notes", "warnings", "unmatched",
// "regressions", "improvements", "verdict": "regression" | "ok", "exit_code"}.
nlohmann::json comparison_json(const comparison& c, const compare_options& opt);

}  // namespace perflab::analysis
