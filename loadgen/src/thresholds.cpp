// The threshold grammar and its evaluation (thresholds.hpp): shared by [thresholds], the capacity
// search's objective and [load] stop_when, so the three can never read an expression differently.
#include "perflab/loadgen/thresholds.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "perflab/core/units.hpp"

namespace perflab::loadgen {
namespace {

const std::vector<std::string> k_latency_families = {"connect", "ttfb", "ttlb", "send_lag", "ttfb_uncorrected",
                                                      "ttlb_uncorrected"};
const std::vector<std::string> k_latency_stats = {"p50", "p90", "p99", "p99.9", "max", "mean"};

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

const std::vector<std::string>& threshold_metrics() {
  static const std::vector<std::string> metrics = [] {
    std::vector<std::string> m;
    for (const auto& f : k_latency_families)
      for (const auto& s : k_latency_stats) m.push_back(f + "." + s);
    m.push_back("tps.mean");
    m.push_back("errors.rate");
    m.push_back("errors.count");
    return m;
  }();
  return metrics;
}

tl::expected<threshold, std::string> parse_threshold(std::string_view expression) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  const std::string expected_form =
      "expected \"<metric> <op> <value>\" with op one of <, <=, >, >=, e.g. \"ttlb.p99 < 50ms\", "
      "\"errors.rate < 0.1%\", \"tps.mean > 1000\"";
  auto op_pos = expression.find_first_of("<>");
  if (op_pos == std::string_view::npos)
    return tl::unexpected(fmt::format("threshold \"{}\": no comparison found ({})", expression, expected_form));
  threshold th;
  th.expression = std::string(trim(expression));
  th.metric = std::string(trim(expression.substr(0, op_pos)));
  std::size_t op_len = (op_pos + 1 < expression.size() && expression[op_pos + 1] == '=') ? 2 : 1;
  th.op = std::string(expression.substr(op_pos, op_len));
  std::string_view value = trim(expression.substr(op_pos + op_len));
  if (th.metric.empty() || value.empty() || value.find_first_of("<>=") != std::string_view::npos)
    return tl::unexpected(fmt::format("threshold \"{}\": {}", expression, expected_form));
  if (!contains(threshold_metrics(), th.metric))
    return tl::unexpected(fmt::format(
        "threshold \"{}\": unknown metric '{}' (expected <connect|ttfb|ttlb|send_lag|ttfb_uncorrected|"
        "ttlb_uncorrected>.<p50|p90|p99|p99.9|max|mean>, tps.mean, errors.rate or errors.count)",
        expression, th.metric));
  if (th.metric == "errors.rate") {
    std::string v(value);
    bool percent = !v.empty() && v.back() == '%';
    if (percent) v.pop_back();
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(x >= 0) || (percent ? x > 100 : x > 1))
      return tl::unexpected(fmt::format("threshold \"{}\": errors.rate: expected a percentage such as \"0.1%\" or a "
                                        "fraction from 0 to 1, found \"{}\"", expression, value));
    th.limit = percent ? x / 100.0 : x;
  } else if (th.metric == "errors.count") {
    auto c = units::parse_count(value);
    if (!c || *c != std::floor(*c))
      return tl::unexpected(fmt::format("threshold \"{}\": errors.count: expected a whole number, found \"{}\"",
                                        expression, value));
    th.limit = *c;
  } else if (th.metric == "tps.mean") {
    auto r = units::parse_rate(value);
    if (!r)
      return tl::unexpected(fmt::format("threshold \"{}\": tps.mean: {}", expression, r.error()));
    th.limit = *r;
  } else {
    auto d = units::parse_duration(value);
    if (!d)
      return tl::unexpected(fmt::format("threshold \"{}\": {}: {}", expression, th.metric, d.error()));
    th.limit = std::chrono::duration<double, std::micro>(*d).count();
  }
  return th;
}

std::vector<result::threshold_verdict> evaluate_thresholds(const std::vector<threshold>& thresholds,
                                                           const result::variant& v) {
  std::vector<result::threshold_verdict> out;
  for (const auto& th : thresholds) {
    result::threshold_verdict verdict;
    verdict.expression = th.expression;
    verdict.limit = th.limit;
    bool has_data = true;
    if (th.metric == "tps.mean") {
      verdict.actual = v.tps_mean;
    } else if (th.metric == "errors.rate") {
      verdict.actual = v.error_rate;
      has_data = v.completed + v.errors.transport() > 0;
    } else if (th.metric == "errors.count") {
      verdict.actual = static_cast<double>(v.errors.total());
    } else {
      auto dot = th.metric.find('.');
      std::string family = th.metric.substr(0, dot);
      std::string stat = th.metric.substr(dot + 1);
      const result::latency_summary* s = family == "connect"            ? &v.connect
                                         : family == "ttfb"             ? &v.ttfb
                                         : family == "ttlb"             ? &v.ttlb
                                         : family == "send_lag"         ? &v.send_lag
                                         : family == "ttfb_uncorrected" ? &v.ttfb_uncorrected
                                                                        : &v.ttlb_uncorrected;
      verdict.actual = stat == "p50"    ? s->p50_us
                       : stat == "p90"  ? s->p90_us
                       : stat == "p99"  ? s->p99_us
                       : stat == "p99.9" ? s->p999_us
                       : stat == "max"  ? s->max_us
                                        : s->mean_us;
      has_data = s->count > 0;
    }
    // A metric without samples proves nothing: the check fails rather than passing vacuously.
    if (!has_data) {
      verdict.passed = false;
    } else if (th.op == "<") {
      verdict.passed = verdict.actual < th.limit;
    } else if (th.op == "<=") {
      verdict.passed = verdict.actual <= th.limit;
    } else if (th.op == ">") {
      verdict.passed = verdict.actual > th.limit;
    } else {
      verdict.passed = verdict.actual >= th.limit;
    }
    out.push_back(std::move(verdict));
  }
  return out;
}

std::string format_threshold_value(const std::string& metric, double v) {
  if (metric == "errors.rate") return fmt::format("{:.3g}%", v * 100);
  if (metric == "errors.count") return fmt::format("{:.0f}", v);
  if (metric == "tps.mean") return fmt::format("{:.0f}/s", v);
  return units::format_duration(std::chrono::nanoseconds(std::llround(v * 1e3)));
}

std::function<std::string(const result::variant&)> stop_check_of(const std::vector<threshold>& conditions) {
  if (conditions.empty()) return {};
  return [conditions](const result::variant& so_far) -> std::string {
    const auto held = evaluate_thresholds(conditions, so_far);
    for (std::size_t i = 0; i < held.size(); ++i)
      if (held[i].passed)
        return fmt::format("{} ({} after {:.1f} s)", conditions[i].expression,
                           format_threshold_value(conditions[i].metric, held[i].actual), so_far.measured_s);
    return {};
  };
}

void record_stop_conditions(const std::vector<threshold>& conditions, result::variant& v) {
  const auto held = evaluate_thresholds(conditions, v);
  for (std::size_t i = 0; i < held.size(); ++i) {
    result::threshold_verdict t = held[i];
    const bool fired = v.stopped_early && v.stop_condition.rfind(conditions[i].expression + " (", 0) == 0;
    t.expression = "stop_when " + conditions[i].expression;
    t.passed = !(held[i].passed || fired);
    v.thresholds.push_back(std::move(t));
  }
}

}  // namespace perflab::loadgen
