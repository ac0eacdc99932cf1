#pragma once
// The threshold expression language, "<metric> <op> <value>" (e.g. "ttlb.p99 < 50ms"): one parser
// and one evaluator for everything that judges a measured run against a condition: the scenario's
// [thresholds], a capacity search's objective ([search], search.hpp) and the stop conditions of a
// run ([load] stop_when). docs/scenarios.md lists the metrics and units.
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

}  // namespace perflab::loadgen
