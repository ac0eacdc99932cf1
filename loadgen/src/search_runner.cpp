// The capacity search's executor (search_runner.hpp): the loop between the pure controller and the
// runner's step runs. Start-up-side code: it may allocate and print.
#include "search_runner.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>

#include <fmt/format.h>

#include "perflab/core/units.hpp"

namespace perflab::loadgen::detail {
namespace {

std::string objective_text(const search_spec& s) {
  std::string t;
  for (const auto& th : s.objective) t += (t.empty() ? "" : " and ") + th.expression;
  return t;
}

std::string step_line(const search_spec& s, std::size_t n, const result::search_step& st) {
  const auto& v = st.run;
  search_spec per_second;  // goodput is a rate whatever the searched variable
  per_second.variable = "load.rate";
  std::string line = fmt::format("  step {:>2}  {:>17}  goodput {:>9}  ttlb p99 {:>9}  errors {:>6}  {}",
                                 n, format_search_value(s, st.value), format_search_value(per_second, std::round(v.tps_mean)),
                                 format_threshold_value("ttlb", v.ttlb.p99_us),
                                 fmt::format("{:.2f}%", v.error_rate * 100), st.outcome);
  if (st.marginal) line += " (marginal: repeated)";
  if (!st.reason.empty()) line += ": " + st.reason;
  return line;
}

}  // namespace

search_outcome run_search(const variant_spec& spec, int repeat, const std::string& prefix, const step_runner& run_step,
                          const search_progress& on_step, std::ostream& out) {
  const search_spec& s = *spec.search;
  search_outcome o;
  result::search_result& r = o.search;
  r.variant = spec.name;
  r.repeat = repeat;
  r.variable = s.variable;
  r.unit = s.unit();
  for (const auto& th : s.objective) r.objective.push_back(th.expression);
  r.range_low = s.low;
  r.range_high = s.high;
  r.resolution = s.resolution;
  r.confirmations = s.confirmations;
  r.verdict = to_string(search_verdict::incomplete);
  out << fmt::format("  capacity search: {} from {} to {}, objective {}, resolution {:g}%\n", s.variable,
                     format_search_value(s, s.low), format_search_value(s, s.high), objective_text(s),
                     s.resolution * 100);
  out.flush();

  std::vector<judged_step> judged;
  while (true) {
    const search_decision d = decide(s, judged);
    if (d.done) {
      r.verdict = to_string(d.verdict);
      r.capacity = d.capacity;
      r.band_low = d.band_low;
      r.band_high = d.band_high;
      r.reason = d.reason;
      if (d.representative) {
        const result::search_step& rep = r.steps[*d.representative];
        o.representative = rep.run;
        o.representative.params = spec.params;  // the variant's matrix values, not the step's variable
        // The objective is checked on the representative like a threshold, so a search whose
        // objective failed at the low end exits 3 (7 when the target was erroring), by one verdict.
        auto& ths = o.representative.thresholds;
        std::vector<result::threshold_verdict> all = rep.objective;
        for (auto& t : evaluate_thresholds(spec.thresholds, o.representative)) all.push_back(std::move(t));
        all.insert(all.end(), ths.begin(), ths.end());
        ths = std::move(all);
      }
      break;
    }
    variant_spec step = spec;
    step.search.reset();
    step.thresholds.clear();  // the scenario's thresholds are checked on the representative only
    if (s.integer())
      step.load.connections = std::llround(d.next);
    else
      step.load.rate = d.next;
    if (s.step.count() > 0) step.load.duration = s.step;
    // A send-lag objective is the user's bound on the loadgen's punctuality: the steps are flagged
    // saturated by it too, so a search it limits exits 5 like any loadgen-limited run.
    for (const auto& th : s.objective)
      if (th.metric == "send_lag.p99" && (th.op == "<" || th.op == "<="))
        step.load.send_lag_bound_us = std::min(step.load.send_lag_bound_us, th.limit);
    step.params[s.variable] = s.integer() ? fmt::format("{:.0f}", d.next) : fmt::format("{:g}", d.next);
    step_run sr = run_step(step, fmt::format("{}-s{:02}", prefix, judged.size() + 1));
    o.interrupted = o.interrupted || sr.interrupted;

    result::search_step st;
    st.value = d.next;
    const judged_step j = judge_step(s, d.next, sr.v, st.objective);
    st.outcome = to_string(j.outcome);
    st.marginal = j.marginal;
    st.reason = j.reason;
    st.run = std::move(sr.v);
    judged.push_back(j);
    r.steps.push_back(std::move(st));
    out << step_line(s, r.steps.size(), r.steps.back()) << "\n";
    out.flush();
    on_step(r);
  }

  std::string head;
  if (r.verdict == "found" || r.verdict == "within_noise")
    head = fmt::format("capacity {} (band {} to {}){}", format_search_value(s, r.capacity),
                       format_search_value(s, r.band_low), format_search_value(s, r.band_high),
                       r.verdict == "within_noise" ? ", WITHIN NOISE" : "");
  else if (r.verdict == "above_range")
    head = fmt::format("capacity at least {} (ABOVE RANGE)", format_search_value(s, r.capacity));
  else if (r.verdict == "below_range")
    head = "no capacity: BELOW RANGE";
  else if (r.verdict == "loadgen_limited")
    head = "no capacity: LIMITED BY THE LOAD GENERATOR";
  else
    head = "no capacity: INCOMPLETE";
  out << fmt::format("  {} after {} step{}: {}\n", head, r.steps.size(), r.steps.size() == 1 ? "" : "s", r.reason);
  out.flush();
  return o;
}

}  // namespace perflab::loadgen::detail
