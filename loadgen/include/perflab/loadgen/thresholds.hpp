#pragma once
// The threshold expression language, "<metric> <op> <value>" (e.g. "ttlb.p99 < 50ms"): one parser
// and one evaluator for everything that judges a measured run against a condition: the scenario's
// [thresholds], a capacity search's objective ([search], search.hpp) and the stop conditions of a
// run ([load] stop_when, below). docs/scenarios.md lists the metrics and units.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/core/result.hpp"

namespace perflab::loadgen {

// One threshold: "<metric> <op> <value>", e.g. "ttlb.p99 < 50ms".
struct threshold {
  std::string expression;  // as written
  std::string metric;      // "ttlb.p99", "tps.mean", "errors.rate", ...
  std::string op;          // "<", "<=", ">", ">="
  double limit = 0;        // latency: microseconds; errors.rate: fraction; tps.mean: 1/s; errors.count
};

// Parses one threshold expression; the error message says what was expected.
tl::expected<threshold, std::string> parse_threshold(std::string_view expression);
// The metric names thresholds accept, for messages and docs.
const std::vector<std::string>& threshold_metrics();
// Checks thresholds against a measured variant: `passed` is whether the expression holds. A
// metric without samples (a latency with count 0, an error rate with no attempts) never holds.
std::vector<result::threshold_verdict> evaluate_thresholds(const std::vector<threshold>& thresholds,
                                                           const result::variant& v);
// A threshold value (an actual or a limit) in its metric's unit: "52.3ms", "0.35%", "1204", "980/s".
std::string format_threshold_value(const std::string& metric, double v);

// [load] stop_when: conditions that end a hopeless run. As the engine's stop check
// (run_config::stop_check): the first condition that holds on the measured phase so far, as
// "errors.count > 1000 (1204 after 3.0 s)"; "" while none holds. Empty function without conditions.
std::function<std::string(const result::variant&)> stop_check_of(const std::vector<threshold>& conditions);
// Records each condition in v.thresholds as a check named "stop_when <expression>" that fails when
// the condition held, during the run (it stopped it, v.stop_condition says so) or on the final
// numbers: a run stopped as hopeless is THRESHOLD FAILED (exit 3; 7 with its errors).
void record_stop_conditions(const std::vector<threshold>& conditions, result::variant& v);

}  // namespace perflab::loadgen
