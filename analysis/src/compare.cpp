#include "perflab/analysis/compare.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "describe.hpp"
#include "format.hpp"
#include "perflab/analysis/capacity.hpp"
#include "perflab/analysis/stats.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/core/text.hpp"

namespace perflab::analysis {
namespace {

const result::latency_summary* latency_by_name(const result::variant& v, std::string_view name) {
  if (name == "connect") return &v.connect;
  if (name == "ttfb") return &v.ttfb;
  if (name == "ttlb") return &v.ttlb;
  if (name == "ttfb_uncorrected") return &v.ttfb_uncorrected;
  if (name == "ttlb_uncorrected") return &v.ttlb_uncorrected;
  if (name == "send_lag") return &v.send_lag;
  if (name == "delivery") return &v.delivery;  // push runs: receive - publish
  return nullptr;
}

bool compare_delivery_metric(const metric& m) {
  return m.name.rfind("delivery.", 0) == 0 || m.name == "lost" || m.name == "duplicated";
}

bool compare_is_push_run(const result::variant& v) { return v.load.kind == "subscribe"; }

// Metrics a push run (`loadgen subscribe`) has: it sends no requests of the load model, so
// goodput, TTFB/TTLB, error rates and CPU per response would compare zeros with zeros.
bool compare_push_metric(const metric& m) {
  return compare_delivery_metric(m) || m.name == "target.rss" || m.name == "target.cpu" ||
         m.name.rfind("connect.", 0) == 0;
}

double stat_of(const result::latency_summary& s, std::string_view stat) {
  if (stat == "min") return s.min_us;
  if (stat == "mean") return s.mean_us;
  if (stat == "p50") return s.p50_us;
  if (stat == "p90") return s.p90_us;
  if (stat == "p99") return s.p99_us;
  if (stat == "p999") return s.p999_us;
  return s.max_us;  // "max"; parse_metric admits nothing else
}

// One variant's capacities, baseline vs candidate: the per-repeat capacity_value on each side,
// judged like any metric, except that the tolerance is at least the searches' resolution (a
// search cannot tell apart capacities closer than that). Nothing when neither run searched it.
std::optional<metric_change> compare_capacity(const std::string& name, const std::vector<const result::search_result*>& bs,
                                              const std::vector<const result::search_result*>& cs, const metric& m,
                                              const compare_options& opt, std::vector<std::string>& warnings) {
  if (bs.empty() && cs.empty()) return std::nullopt;
  std::vector<double> b, c;
  double resolution = 0;
  std::string unit;
  auto collect = [&](const std::vector<const result::search_result*>& side, std::vector<double>& into, const char* what) {
    for (const auto* s : side) {
      resolution = std::max(resolution, s->resolution);
      unit = s->unit;
      if (auto v = capacity_value(*s))
        into.push_back(*v);
      else
        warnings.push_back(fmt::format("{} variant '{}' (repeat {}): capacity not compared: the search was {}", what,
                                       name, s->repeat, verdict_words(s->verdict)));
    }
  };
  collect(bs, b, "baseline");
  collect(cs, c, "candidate");
  if (b.empty() || c.empty()) {
    if (bs.empty() || cs.empty())
      warnings.push_back(fmt::format("variant '{}': capacity searched in the {} run only", name,
                                     bs.empty() ? "candidate" : "baseline"));
    return std::nullopt;
  }
  metric mm = m;
  mm.unit = unit;
  compare_options o = opt;
  o.tolerance = std::max(opt.tolerance, resolution);
  metric_change ch = judge_change(b, c, mm, o);
  ch.variant = name;
  if (o.tolerance > opt.tolerance)
    ch.method += fmt::format("; tolerance {:g}%, the searches' resolution", o.tolerance * 100);
  return ch;
}

}  // namespace

tl::expected<metric, std::string> parse_metric(std::string_view text) {
  std::string name(trim(text));
  const std::string accepted =
      "accepted: tps.mean, errors.rate, <latency>.<stat> with latency connect|ttfb|ttlb|ttfb_uncorrected|"
      "ttlb_uncorrected|send_lag|delivery and stat min|mean|p50|p90|p99|p999|p99.9|max, loadgen.cpu_per_request, "
      "target.rss, target.cpu, target.cpu_per_response, capacity, lost, duplicated";
  if (name == "tps" || name == "tps.mean") return metric{"tps.mean", better::higher, "req/s", 0};
  // A capacity search's capacity (req/s or connections, per the search); compared only where both
  // runs searched the variant.
  if (name == "capacity") return metric{"capacity", better::higher, "", 0};
  // Error rates below a tenth of a percentage point are noise for a verdict, whatever the relative change.
  if (name == "errors.rate" || name == "error_rate") return metric{"errors.rate", better::lower, "fraction", 0.001};
  if (name == "loadgen.cpu_per_request") return metric{"loadgen.cpu_per_request", better::lower, "us", 0};
  if (name == "target.rss") return metric{"target.rss", better::lower, "bytes", 0};
  // Push runs: messages never received, and extra copies received (counts over all subscribers).
  if (name == "lost") return metric{"lost", better::lower, "messages", 0};
  if (name == "duplicated") return metric{"duplicated", better::lower, "messages", 0};
  if (name == "target.cpu") return metric{"target.cpu", better::lower, "s", 0};
  // What the server spends per answer, whoever limits the rate: the A/B signal of a CPU regression
  // even when the load generator, not the target, is the bottleneck. Zero for external targets.
  if (name == "target.cpu_per_response") return metric{"target.cpu_per_response", better::lower, "us", 0};
  // "ttlb.p99.9" has two dots: the stat is everything after the first dot.
  auto first_dot = name.find('.');
  if (first_dot != std::string::npos) {
    std::string lat = name.substr(0, first_dot);
    std::string stat = name.substr(first_dot + 1);
    if (stat == "p99.9") stat = "p999";
    const char* stats_ok[] = {"min", "mean", "p50", "p90", "p99", "p999", "max"};
    bool stat_known = std::find(std::begin(stats_ok), std::end(stats_ok), stat) != std::end(stats_ok);
    result::variant probe;
    if (stat_known && latency_by_name(probe, lat)) {
      // Histogram values have 3 significant digits: sub-microsecond differences are not real.
      return metric{lat + "." + stat, better::lower, "us", 1.0};
    }
  }
  return tl::make_unexpected(fmt::format("unknown metric '{}' ({})", name, accepted));
}

std::vector<metric> default_metrics() {
  std::vector<metric> m;
  for (const char* n : {"tps.mean", "ttlb.p50", "ttlb.p99", "ttfb.p99", "errors.rate"}) m.push_back(*parse_metric(n));
  return m;
}

double metric_value(const result::variant& v, const metric& m) {
  if (m.name == "tps.mean") return v.tps_mean;
  if (m.name == "errors.rate") return v.error_rate;
  if (m.name == "loadgen.cpu_per_request") return v.loadgen.cpu_per_request_us;
  if (m.name == "target.rss") return static_cast<double>(v.target.peak_rss_bytes);
  if (m.name == "lost") return static_cast<double>(v.lost);
  if (m.name == "duplicated") return static_cast<double>(v.duplicated);
  if (m.name == "target.cpu") return v.target.cpu_user_s + v.target.cpu_system_s;
  if (m.name == "target.cpu_per_response") {
    // The CPU is the measured phase's, so are the responses counted against it.
    const auto n = v.completed_in_window > 0 ? v.completed_in_window : v.completed;
    return n > 0 ? (v.target.cpu_user_s + v.target.cpu_system_s) * 1e6 / static_cast<double>(n) : 0;
  }
  auto dot = m.name.find('.');
  if (dot == std::string::npos) return 0;
  const auto* s = latency_by_name(v, std::string_view(m.name).substr(0, dot));
  return s ? stat_of(*s, std::string_view(m.name).substr(dot + 1)) : 0;
}

tl::expected<double, std::string> parse_tolerance(std::string_view text) {
  std::string t(trim(text));
  bool percent = false;
  if (!t.empty() && t.back() == '%') {
    percent = true;
    t.pop_back();
    t = std::string(trim(t));
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(v)) {
    return tl::make_unexpected(
        fmt::format("bad tolerance '{}' (accepted: a percentage like \"5%\" or a fraction like \"0.05\")", text));
  }
  if (percent) v /= 100;
  if (v < 0 || v >= 10) {
    return tl::make_unexpected(fmt::format("tolerance '{}' out of range (accepted: 0% to below 1000%)", text));
  }
  return v;
}

const char* to_string(verdict v) noexcept {
  switch (v) {
    case verdict::improved: return "improved";
    case verdict::regressed: return "regressed";
    case verdict::unchanged: break;
  }
  return "unchanged";
}

metric_change judge_change(std::span<const double> baseline, std::span<const double> candidate, const metric& m,
                           const compare_options& opt) {
  metric_change c;
  c.metric = m.name;
  c.unit = m.unit;
  c.direction = m.direction;
  c.baseline.assign(baseline.begin(), baseline.end());
  c.candidate.assign(candidate.begin(), candidate.end());
  c.baseline_median = stats::median(c.baseline);
  c.candidate_median = stats::median(c.candidate);
  const double delta = c.candidate_median - c.baseline_median;
  bool beyond;
  if (c.baseline_median == 0) {
    c.change_is_absolute = delta != 0;
    c.change = delta;
    beyond = std::fabs(delta) > m.absolute_floor && delta != 0;
  } else {
    c.change = delta / std::fabs(c.baseline_median);
    beyond = std::fabs(delta) > m.absolute_floor && std::fabs(c.change) > opt.tolerance;
  }
  // No repeat contradicts the change: the repeats are separated (ties allowed) in its direction.
  if (!c.baseline.empty() && !c.candidate.empty() && delta != 0) {
    const auto [bmin, bmax] = std::minmax_element(c.baseline.begin(), c.baseline.end());
    const auto [cmin, cmax] = std::minmax_element(c.candidate.begin(), c.candidate.end());
    c.repeats_agree = delta > 0 ? *cmin >= *bmax : *cmax <= *bmin;
  }
  const std::size_t nb = c.baseline.size(), nc = c.candidate.size();
  const std::string sizes = fmt::format("{} vs {} repeats", nb, nc);
  bool counts = c.repeats_agree;
  if (nb >= 2 && nc >= 2) {
    // The untied null, not the textbook tie-conditional one: its p-value never rose when a repeat
    // agreeing with the change was added (the tie-conditional one does, and its attainable minimum
    // moves with the tie pattern), so more repeats cannot hide a change fewer would flag.
    auto mw = stats::mann_whitney(c.baseline, c.candidate, 60, stats::tie_null::untied);
    c.p_value = mw.p_value;
    if (mw.p_value < opt.alpha) {
      counts = true;
      c.method = fmt::format("mann-whitney ({}) + tolerance", sizes);
    } else if (c.repeats_agree) {
      // Separated repeats with p >= alpha: too few of them, or ties between the sides (an error
      // rate of 0 in several repeats on both sides). The test cannot confirm; nothing contradicts.
      c.method = mw.min_p >= opt.alpha
                     ? fmt::format("tolerance, repeats agree ({}: too few for p < {})", sizes, opt.alpha)
                     : fmt::format("tolerance, repeats agree ({}: ties keep p >= {})", sizes, opt.alpha);
    } else {
      c.method = fmt::format("mann-whitney ({}): p >= {} and the repeats overlap", sizes, opt.alpha);
    }
  } else {
    c.method = c.repeats_agree || delta == 0
                   ? fmt::format("tolerance only ({}: no significance test)", sizes)
                   : fmt::format("tolerance only ({}: no significance test; the repeats disagree)", sizes);
  }
  c.tolerance = opt.tolerance;
  c.beyond_tolerance = beyond;
  const bool worse = m.direction == better::lower ? delta > 0 : delta < 0;
  if (beyond && counts) c.result = worse ? verdict::regressed : verdict::improved;
  return c;
}

std::string format_metric_value(const std::string& unit, double v) {
  if (unit == "us") return detail::format_us(v);
  if (unit == "req/s") return detail::format_rate(v);
  if (unit == "fraction") return detail::format_percent(v);
  if (unit == "bytes") return detail::format_bytes(v);
  if (unit == "s") return fmt::format("{:.3f} s", v);
  if (unit == "connections") return fmt::format("{:.0f} connections", v);
  if (unit == "messages") return fmt::format("{:.0f} messages", v);
  return fmt::format("{:.4g}", v);
}

std::string format_change(const metric_change& c) {
  if (c.change_is_absolute) return fmt::format("{}{} (from 0)", c.change > 0 ? "+" : "", format_metric_value(c.unit, c.change));
  return fmt::format("{:+.1f}%", c.change * 100);
}

int comparison::exit_code() const noexcept { return regressions > 0 ? exit_code::regression : exit_code::ok; }

comparison compare_runs(const result::run& baseline, const result::run& candidate, const compare_options& opt) {
  comparison out;
  auto check_run = [&](const result::run& r, const char* side) {
    if (!r.complete) out.warnings.push_back(fmt::format("{} run is incomplete (interrupted or a target died)", side));
    for (const auto& v : r.variants) {
      // The verdict's status words (result::status_flags), each with what it means for the numbers.
      for (const auto& n : detail::variant_notes(v)) {
        if (n.status)
          out.warnings.push_back(fmt::format("{} variant '{}' (repeat {}): {}: {}", side, v.name, v.repeat, n.word, n.text));
      }
    }
  };
  check_run(baseline, "baseline");
  check_run(candidate, "candidate");

  // Group repeats by variant name, keeping the baseline's order of first appearance.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const result::variant*>> base_by, cand_by;
  for (const auto& v : baseline.variants) {
    if (!base_by.count(v.name)) order.push_back(v.name);
    base_by[v.name].push_back(&v);
  }
  for (const auto& v : candidate.variants) cand_by[v.name].push_back(&v);
  for (const auto& [name, vs] : base_by) {
    if (!cand_by.count(name)) out.unmatched.push_back(fmt::format("{} (baseline only)", name));
  }
  for (const auto& [name, vs] : cand_by) {
    if (!base_by.count(name)) out.unmatched.push_back(fmt::format("{} (candidate only)", name));
  }
  for (const auto& u : out.unmatched) out.warnings.push_back("variant not compared: " + u);

  // Capacity searches by variant name, repeats together.
  std::map<std::string, std::vector<const result::search_result*>> base_searches, cand_searches;
  for (const auto& s : baseline.searches) base_searches[s.variant].push_back(&s);
  for (const auto& s : candidate.searches) cand_searches[s.variant].push_back(&s);

  std::vector<metric> metrics = opt.metrics;
  const bool capacity_listed =
      std::any_of(metrics.begin(), metrics.end(), [](const metric& m) { return m.name == "capacity"; });
  if (opt.capacities && !capacity_listed) metrics.push_back(*parse_metric("capacity"));

  for (const auto& name : order) {
    auto it = cand_by.find(name);
    if (it == cand_by.end()) continue;
    const auto& bs = base_by[name];
    const auto& cs = it->second;
    // Searched on both sides: the variants' entries are steps at each run's own capacity, so their
    // goodput and latencies describe different loads; the capacity is what compares.
    const bool searched_both = !base_searches[name].empty() && !cand_searches[name].empty();
    if (searched_both)
      out.notes.push_back(fmt::format("variant '{}': capacity searches on both sides, compared by capacity only (the "
                                      "run metrics of each side were measured at its own capacity)",
                                      name));
    // Push runs on both sides: the metrics that apply to them (a note names the others), and
    // delivery p50 and p99 and lost messages unless a delivery metric was asked for.
    const auto push = [](const std::vector<const result::variant*>& vs) {
      return !vs.empty() &&
             std::all_of(vs.begin(), vs.end(), [](const result::variant* v) { return compare_is_push_run(*v); });
    };
    std::vector<metric> variant_metrics = metrics;
    if (push(bs) && push(cs)) {
      std::vector<std::string> dropped;
      for (const auto& m : variant_metrics)
        if (!compare_push_metric(m) && m.name != "capacity") dropped.push_back(m.name);
      std::erase_if(variant_metrics, [](const metric& m) { return !compare_push_metric(m); });
      if (std::none_of(variant_metrics.begin(), variant_metrics.end(), compare_delivery_metric))
        for (const char* n : {"delivery.p50", "delivery.p99", "lost"}) variant_metrics.push_back(*parse_metric(n));
      if (!dropped.empty())
        out.notes.push_back(fmt::format("variant '{}': push runs (loadgen subscribe) send no requests of a load "
                                        "model: {} not compared",
                                        name, fmt::join(dropped, ", ")));
    }
    for (const auto& m : variant_metrics) {
      if (searched_both && m.name != "capacity") continue;
      if (m.name == "capacity") {
        if (auto c = compare_capacity(name, base_searches[name], cand_searches[name], m, opt, out.warnings)) {
          if (c->result == verdict::regressed) ++out.regressions;
          if (c->result == verdict::improved) ++out.improvements;
          out.changes.push_back(std::move(*c));
        }
        continue;
      }
      std::vector<double> b, cand;
      for (const auto* v : bs) b.push_back(metric_value(*v, m));
      for (const auto* v : cs) cand.push_back(metric_value(*v, m));
      metric_change c = judge_change(b, cand, m, opt);
      c.variant = name;
      if (c.p_value) {
        auto ci = stats::bootstrap_median_difference(c.baseline, c.candidate, 0.95, 2000, 1);
        c.ci_low = ci.low;
        c.ci_high = ci.high;
        if (c.baseline_median != 0) {
          auto ratio = stats::bootstrap_median_ratio(c.baseline, c.candidate, 0.95, 2000, 1);
          if (ratio.low != 0 || ratio.high != 0) {
            c.ratio_ci_low = ratio.low;
            c.ratio_ci_high = ratio.high;
          }
        }
      }
      if (c.result == verdict::regressed) ++out.regressions;
      if (c.result == verdict::improved) ++out.improvements;
      out.changes.push_back(std::move(c));
    }
  }
  return out;
}

std::string format_comparison(const comparison& c, const compare_options& opt) {
  std::vector<std::vector<std::string>> rows;
  bool any_tolerance_only = false;
  for (const auto& ch : c.changes) {
    std::string p = ch.p_value ? fmt::format("{:.3g}", *ch.p_value) : "-";
    if (ch.method.rfind("tolerance", 0) == 0) any_tolerance_only = true;
    std::string v = to_string(ch.result);
    if (ch.result == verdict::regressed) v = "REGRESSED";
    rows.push_back({ch.variant, ch.metric, format_metric_value(ch.unit, ch.baseline_median),
                    format_metric_value(ch.unit, ch.candidate_median), format_change(ch),
                    fmt::format("{}/{}", ch.baseline.size(), ch.candidate.size()), p, v});
  }
  std::string out =
      detail::text_table({"variant", "metric", "baseline", "candidate", "change", "repeats", "p", "verdict"}, rows);
  if (any_tolerance_only) {
    out += fmt::format(
        "note: some rows had no usable test (single runs, too few repeats or ties): there a change beyond the "
        "{:.1f}% tolerance counts only when every candidate repeat is on its side of every baseline repeat; run "
        "scenarios with repeats >= 4 (better 5) for a Mann-Whitney test at alpha {}\n",
        opt.tolerance * 100, opt.alpha);
  }
  for (const auto& n : c.notes) out += "note: " + n + "\n";
  for (const auto& w : c.warnings) out += "warning: " + w + "\n";
  std::size_t unchanged = c.changes.size() - static_cast<std::size_t>(c.regressions + c.improvements);
  out += fmt::format("compare: {} regressed, {} improved, {} unchanged (tolerance {:.1f}%, alpha {}) -> exit {}{}\n",
                     c.regressions, c.improvements, unchanged, opt.tolerance * 100, opt.alpha, c.exit_code(),
                     c.regressions > 0 ? " (regression)" : " (ok)");
  return out;
}

nlohmann::json comparison_json(const comparison& c, const compare_options& opt) {
  nlohmann::json j;
  j["tolerance"] = opt.tolerance;
  j["alpha"] = opt.alpha;
  auto& arr = j["changes"] = nlohmann::json::array();
  for (const auto& ch : c.changes) {
    nlohmann::json e;
    e["variant"] = ch.variant;
    e["metric"] = ch.metric;
    e["unit"] = ch.unit;
    e["better"] = ch.direction == better::higher ? "higher" : "lower";
    e["baseline"] = ch.baseline;
    e["candidate"] = ch.candidate;
    e["baseline_median"] = ch.baseline_median;
    e["candidate_median"] = ch.candidate_median;
    e["change"] = ch.change;
    e["change_is_absolute"] = ch.change_is_absolute;
    e["p_value"] = ch.p_value ? nlohmann::json(*ch.p_value) : nlohmann::json(nullptr);
    e["beyond_tolerance"] = ch.beyond_tolerance;
    e["repeats_agree"] = ch.repeats_agree;
    e["ci95_median_difference"] = ch.ci_low ? nlohmann::json::array({*ch.ci_low, *ch.ci_high}) : nlohmann::json(nullptr);
    e["ci95_median_ratio"] =
        ch.ratio_ci_low ? nlohmann::json::array({*ch.ratio_ci_low, *ch.ratio_ci_high}) : nlohmann::json(nullptr);
    e["method"] = ch.method;
    e["verdict"] = to_string(ch.result);
    arr.push_back(std::move(e));
  }
  j["notes"] = c.notes;
  j["warnings"] = c.warnings;
  j["unmatched"] = c.unmatched;
  j["regressions"] = c.regressions;
  j["improvements"] = c.improvements;
  j["verdict"] = c.regressions > 0 ? "regression" : "ok";
  j["exit_code"] = c.exit_code();
  return j;
}

}  // namespace perflab::analysis
