#include "perflab/analysis/ab.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "describe.hpp"
#include "format.hpp"
#include "perflab/analysis/stats.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/core/verdict.hpp"

namespace perflab::analysis {
namespace {

std::string percent(double fraction) { return fmt::format("{:.1f}%", fraction * 100); }

std::string detectable_cell(const detectability& d) {
  if (!d.noise) return "-";
  return d.smallest_change ? percent(*d.smallest_change) : "> 200%";
}

std::string ratio_cell(const metric_change& c) {
  if (!c.ratio_ci_low) return "-";
  return fmt::format("{:.3f}-{:.3f}", *c.ratio_ci_low, *c.ratio_ci_high);
}

// A side's variant runs whose status makes the comparison untrustworthy, and the exit code they
// add; the baseline's failed thresholds only as notes.
int judge_side(const result::run& r, const char* side, bool thresholds_count, ab_verdict& out) {
  int rc = exit_code::ok;
  bool variant_says_why = false;
  for (const auto& v : r.variants) {
    variant_says_why = variant_says_why || !v.complete;
    const int code = result::exit_code_of(v);
    if (code == exit_code::thresholds_failed && !thresholds_count) {
      for (const auto& t : v.thresholds)
        if (!t.passed)
          out.notes.push_back(fmt::format("baseline {} #{}: threshold {} failed there too (actual {}); only the "
                                          "candidate's thresholds decide the exit code",
                                          v.name, v.repeat + 1, t.expression,
                                          detail::threshold_value(t.expression, t.actual)));
      continue;
    }
    rc = exit_code::combine(rc, code);
    for (const auto& n : detail::variant_notes(v))
      if (n.status && n.word != "THRESHOLD FAILED")
        out.suspect.push_back(fmt::format("{} {} #{}: {}: {}", side, v.name, v.repeat + 1, n.word, n.text));
  }
  if (!r.complete && !variant_says_why) {
    rc = exit_code::combine(rc, exit_code::interrupted);
    out.suspect.push_back(fmt::format("{} run is incomplete (interrupted)", side));
  }
  return rc;
}

// The metric a change was judged as (its absolute floor included); "capacity" is not in the list.
metric metric_named(const metric_change& c, const compare_options& opt) {
  for (const auto& m : opt.metrics)
    if (m.name == c.metric) return m;
  if (auto m = parse_metric(c.metric)) return *m;  // added by compare itself (push runs' delivery)
  return metric{c.metric, c.direction, c.unit, 0};
}

}  // namespace

std::vector<metric> ab_default_metrics() {
  std::vector<metric> m;
  for (const char* n : {"tps.mean", "ttlb.p50", "ttlb.p90", "errors.rate", "target.cpu_per_response"}) m.push_back(*parse_metric(n));
  return m;
}

std::vector<double> relative_values(const metric_change& c) {
  std::vector<double> out;
  for (const auto* side : {&c.baseline, &c.candidate}) {
    const double med = stats::median(*side);
    if (med == 0) continue;
    for (double x : *side) out.push_back(x / med);
  }
  return out;
}

double regression_rate(std::span<const double> relative, int repeats, double shift, const metric& m,
                       const compare_options& opt, int simulations, std::uint64_t seed) {
  if (relative.empty() || repeats <= 0 || simulations <= 0) return 0;
  // mt19937_64 and a modulo, as in stats.cpp: the same draws on every standard library.
  std::mt19937_64 rng(seed);
  // Worse is higher for latencies, lower for goodput and capacity.
  const double factor = m.direction == better::lower ? 1 + shift : 1 - shift;
  std::vector<double> base(static_cast<std::size_t>(repeats)), cand(static_cast<std::size_t>(repeats));
  int flagged = 0;
  for (int s = 0; s < simulations; ++s) {
    for (auto& v : base) v = relative[static_cast<std::size_t>(rng() % relative.size())];
    for (auto& v : cand) v = relative[static_cast<std::size_t>(rng() % relative.size())] * factor;
    // The floor is in the metric's unit; relative values are around 1, so it cannot apply here.
    metric unitless = m;
    unitless.absolute_floor = 0;
    if (judge_change(base, cand, unitless, opt).result == verdict::regressed) ++flagged;
  }
  return static_cast<double>(flagged) / simulations;
}

std::optional<double> smallest_detectable_change(std::span<const double> relative, int repeats, const metric& m,
                                                 const compare_options& opt, double power, int simulations,
                                                 std::uint64_t seed) {
  if (relative.size() < 2) return std::nullopt;
  // The same seed for every shift (common random numbers), so the rate rises with the shift
  // instead of jittering from one try to the next.
  for (int step = 1; step <= 100 + 30; ++step) {
    const double shift = step <= 100 ? step * 0.005 : 0.5 + (step - 100) * 0.05;
    if (m.direction == better::higher && shift >= 1) break;  // goodput cannot fall by 100 % or more
    if (regression_rate(relative, repeats, shift, m, opt, simulations, seed) >= power) return shift;
  }
  return std::nullopt;
}

std::string ab_exit_meaning(int code) {
  switch (code) {
    case exit_code::ok: return "no regression beyond the tolerance";
    case exit_code::regression: return "the candidate regressed";
    case exit_code::thresholds_failed: return "a threshold failed on the candidate";
    case exit_code::target_failing: return "a target is failing (errors over the bound or stalled requests)";
    case exit_code::saturated: return "the load generator was saturated on a side: the comparison is not trusted";
    case exit_code::interrupted: return "interrupted: results incomplete";
    case exit_code::runtime_error: return "a target failed to start or died, or results could not be written";
    case exit_code::usage: return "usage error";
    default: return "see README.md, Exit codes";
  }
}

ab_verdict judge_ab(const result::run& baseline, const result::run& candidate, const ab_options& opt) {
  ab_verdict v;
  v.cmp = compare_runs(baseline, candidate, opt.compare);
  for (auto& c : v.cmp.changes) {
    const auto rel = relative_values(c);
    detectability d;
    if (rel.size() >= 2) {
      d.noise = stats::stddev(rel);
      const metric m{c.metric, c.direction, c.unit, 0};
      compare_options o = opt.compare;
      // The noise floor: the tolerance (a capacity's is at least its searches' resolution), or
      // noise_floor_sigmas times this run's own noise when that is larger. The change is judged
      // again against it; the bootstrap intervals stay as compare_runs made them.
      const double floor = std::max(c.tolerance, opt.noise_floor_sigmas * *d.noise);
      if (floor > c.tolerance) {
        o.tolerance = floor;
        auto again = judge_change(c.baseline, c.candidate, metric_named(c, opt.compare), o);
        if (again.result != c.result)
          v.notes.push_back(fmt::format("{} {}: {} within this run's noise floor ({} = {:g} x its noise of {} per run): "
                                        "not counted",
                                        c.variant, c.metric, format_change(c), percent(floor), opt.noise_floor_sigmas,
                                        percent(*d.noise)));
        c.result = again.result;
        c.beyond_tolerance = again.beyond_tolerance;
        c.method = again.method + fmt::format(", noise floor {}", percent(floor));
      }
      c.tolerance = std::max(c.tolerance, floor);
      o.tolerance = c.tolerance;
      const int repeats = static_cast<int>(std::min(c.baseline.size(), c.candidate.size()));
      d.smallest_change = smallest_detectable_change(rel, repeats, m, o, opt.power, opt.simulations, 1);
    }
    v.detect.push_back(d);
  }
  v.cmp.regressions = v.cmp.improvements = 0;
  for (const auto& c : v.cmp.changes) {
    v.cmp.regressions += c.result == verdict::regressed ? 1 : 0;
    v.cmp.improvements += c.result == verdict::improved ? 1 : 0;
  }
  int rc = judge_side(baseline, "baseline", false, v);
  rc = exit_code::combine(rc, judge_side(candidate, "candidate", true, v));
  rc = exit_code::combine(rc, v.cmp.exit_code());
  v.exit_code = rc;
  if (rc == exit_code::ok) v.headline = "NO REGRESSION";
  else if (rc == exit_code::regression) v.headline = "REGRESSION";
  else if (rc == exit_code::saturated) v.headline = "NOT TRUSTED: SATURATED";
  else if (rc == exit_code::target_failing) v.headline = "TARGET FAILING";
  else if (rc == exit_code::thresholds_failed) v.headline = "THRESHOLD FAILED";
  else if (rc == exit_code::interrupted) v.headline = "INCOMPLETE: INTERRUPTED";
  else v.headline = "INCOMPLETE";
  if (v.cmp.regressions > 0 && rc != exit_code::regression)
    v.notes.push_back(fmt::format("{} metric{} regressed, but exit {} takes precedence ({})", v.cmp.regressions,
                                  v.cmp.regressions == 1 ? "" : "s", rc, ab_exit_meaning(rc)));
  return v;
}

std::string format_ab(const ab_verdict& v, const ab_options& opt) {
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < v.cmp.changes.size(); ++i) {
    const auto& c = v.cmp.changes[i];
    rows.push_back({c.variant, c.metric, format_metric_value(c.unit, c.baseline_median),
                    format_metric_value(c.unit, c.candidate_median), format_change(c), ratio_cell(c),
                    c.p_value ? fmt::format("{:.3g}", *c.p_value) : "-", detectable_cell(v.detect[i]),
                    c.result == verdict::regressed ? "REGRESSED" : to_string(c.result)});
  }
  std::string out = detail::text_table(
      {"variant", "metric", "baseline", "candidate", "change", "ratio 95% CI", "p", "detectable", "verdict"}, rows);
  out += fmt::format(
      "noise floor: a change within the tolerance ({}) or within {:g} x the run's own noise per run (the metric's "
      "spread over its repeats) is never a regression; beyond it, Mann-Whitney p < {} or every repeat on its side "
      "decides. detectable: the smallest change this run's own noise lets it flag {:.0f}% of the time.\n",
      percent(opt.compare.tolerance), opt.noise_floor_sigmas, opt.compare.alpha, opt.power * 100);
  for (std::size_t i = 0; i < v.cmp.changes.size(); ++i) {
    const auto& c = v.cmp.changes[i];
    const auto& d = v.detect[i];
    if (d.noise && (!d.smallest_change || *d.smallest_change > 2 * c.tolerance))
      out += fmt::format("note: {} {}: this run's noise ({} per run) hides changes under {}; more repeats or a longer "
                         "duration would see smaller ones\n",
                         c.variant, c.metric, percent(*d.noise), detectable_cell(d));
  }
  for (const auto& n : v.cmp.notes) out += "note: " + n + "\n";
  for (const auto& n : v.notes) out += "note: " + n + "\n";
  for (const auto& w : v.cmp.warnings) out += "warning: " + w + "\n";
  std::size_t unchanged = v.cmp.changes.size() - static_cast<std::size_t>(v.cmp.regressions + v.cmp.improvements);
  out += fmt::format("ab: {}: {} regressed, {} improved, {} unchanged (tolerance {}, alpha {}) -> exit {} ({})\n",
                     v.headline, v.cmp.regressions, v.cmp.improvements, unchanged, percent(opt.compare.tolerance),
                     opt.compare.alpha, v.exit_code, ab_exit_meaning(v.exit_code));
  return out;
}

nlohmann::json ab_json(const ab_verdict& v, const ab_options& opt) {
  nlohmann::json j = comparison_json(v.cmp, opt.compare);
  for (std::size_t i = 0; i < v.cmp.changes.size() && i < j["changes"].size(); ++i) {
    j["changes"][i]["tolerance"] = v.cmp.changes[i].tolerance;
    j["changes"][i]["noise"] = v.detect[i].noise ? nlohmann::json(*v.detect[i].noise) : nlohmann::json(nullptr);
    j["changes"][i]["smallest_detectable_change"] =
        v.detect[i].smallest_change ? nlohmann::json(*v.detect[i].smallest_change) : nlohmann::json(nullptr);
  }
  j["power"] = opt.power;
  j["headline"] = v.headline;
  j["suspect"] = v.suspect;
  j["ab_notes"] = v.notes;
  // comparison_json says 4 or 0 from the metrics alone; the A/B verdict is the whole exit code.
  j["exit_code"] = v.exit_code;
  j["verdict"] = v.exit_code == exit_code::ok ? "ok" : v.exit_code == exit_code::regression ? "regression" : "failed";
  return j;
}

}  // namespace perflab::analysis
