// The capacity search's pure parts (search.hpp): judging a step, and the controller that picks the
// next step from the judged ones. No I/O and no clock: search_test.cpp drives them with synthetic
// targets; search_runner.cpp executes the steps.
#include "perflab/loadgen/search.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "perflab/core/units.hpp"
#include "perflab/core/verdict.hpp"

namespace perflab::loadgen {
namespace {

std::string failed_reason(const std::vector<result::threshold_verdict>& verdicts, const std::vector<threshold>& ths) {
  for (std::size_t i = 0; i < verdicts.size() && i < ths.size(); ++i) {
    if (verdicts[i].passed) continue;
    return fmt::format("{} failed: actual {}", ths[i].expression, format_threshold_value(ths[i].metric, verdicts[i].actual));
  }
  return {};
}

bool all_passed(const std::vector<result::threshold_verdict>& verdicts) {
  return std::all_of(verdicts.begin(), verdicts.end(), [](const auto& t) { return t.passed; });
}

// Requests waited in the loadgen for a free connection: every connection was busy with the
// target (a second ended with more requests outstanding than connections, or arrivals were still
// queued when the load stopped). Send lag from that wait is the target's doing, not the loadgen's.
bool queued_for_connections(const result::variant& v) {
  if (v.load.kind != "open") return false;
  if (v.unsent > 0) return true;
  if (v.load.connections <= 0) return false;
  for (const auto& p : v.series)
    if (p.phase == "measured" && p.in_flight > v.load.connections) return true;
  return false;
}

bool is_send_lag(const threshold& th) { return th.metric.rfind("send_lag.", 0) == 0; }

// Requests written in the measured phase over those its schedule called for (1 in a closed loop).
double delivered_fraction(const result::variant& v) {
  double scheduled = 0;
  for (const auto& p : v.series)
    if (p.phase == "measured") scheduled += p.target_rate;
  return scheduled > 0 ? std::min(1.0, static_cast<double>(v.sent) / scheduled) : 1.0;
}

// The objective as the target earned it: latencies from the actual write (uncorrected), and
// without the send-lag conditions, which judge the loadgen's punctuality, not the target.
bool holds_from_actual_write(const search_spec& s, const result::variant& v) {
  result::variant u = v;
  u.ttfb = v.ttfb_uncorrected;
  u.ttlb = v.ttlb_uncorrected;
  std::vector<threshold> target_side;
  for (const auto& th : s.objective)
    if (!is_send_lag(th)) target_side.push_back(th);
  return all_passed(evaluate_thresholds(target_side, u));
}

enum class level_state { pending, pass, fail, limited, noisy, aborted };

struct level {
  double value = 0;
  std::vector<std::size_t> runs;  // indices into the steps, in the order run
  level_state state = level_state::pending;
  int passes = 0;
};

// A level's verdict from its runs: settled when its last two runs agree, or when its only run is
// clear-cut (neither marginal nor loadgen-limited, which may be a hiccup); noisy when it has had
// its runs without two agreeing in a row.
level_state state_of(const search_spec& s, const std::vector<judged_step>& steps, const level& l) {
  auto as_state = [](step_outcome o) {
    switch (o) {
      case step_outcome::pass: return level_state::pass;
      case step_outcome::fail: return level_state::fail;
      case step_outcome::limited: return level_state::limited;
      case step_outcome::aborted: break;
    }
    return level_state::aborted;
  };
  for (std::size_t i : l.runs)
    if (steps[i].outcome == step_outcome::aborted) return level_state::aborted;
  const judged_step& last = steps[l.runs.back()];
  const std::size_t n = l.runs.size();
  if (n == 1) return last.marginal || last.outcome == step_outcome::limited ? level_state::pending : as_state(last.outcome);
  if (steps[l.runs[n - 2]].outcome == last.outcome) return as_state(last.outcome);
  return static_cast<int>(n) >= s.max_runs_per_level() ? level_state::noisy : level_state::pending;
}

// The run that stands for a level: its last run with the given outcome, a clean one (no status
// word) when there is one, so a capacity confirmed by a clean run is not reported through a run
// whose last arrivals happened to queue at the end (else its last run).
std::size_t last_run(const std::vector<judged_step>& steps, const level& l, step_outcome want) {
  for (auto it = l.runs.rbegin(); it != l.runs.rend(); ++it)
    if (steps[*it].outcome == want && steps[*it].clean) return *it;
  for (auto it = l.runs.rbegin(); it != l.runs.rend(); ++it)
    if (steps[*it].outcome == want) return *it;
  return l.runs.back();
}

search_decision run(double value) {
  search_decision d;
  d.next = value;
  return d;
}

search_decision finish(search_verdict v, double capacity, double lo, double hi, std::string reason, std::size_t rep) {
  search_decision d;
  d.done = true;
  d.verdict = v;
  d.capacity = capacity;
  d.band_low = lo;
  d.band_high = hi;
  d.reason = std::move(reason);
  d.representative = rep;
  return d;
}

bool converged(const search_spec& s, double p, double f) {
  if (s.integer() && f - p <= 1) return true;
  return f <= p * (1 + s.resolution) * (1 + 1e-9);
}

}  // namespace

int search_spec::max_steps() const { return std::max(12, 3 * expected_steps(*this)); }

const char* to_string(step_outcome o) noexcept {
  switch (o) {
    case step_outcome::pass: return "pass";
    case step_outcome::fail: return "fail";
    case step_outcome::limited: return "limited";
    case step_outcome::aborted: return "aborted";
  }
  return "?";
}

const char* to_string(search_verdict v) noexcept {
  switch (v) {
    case search_verdict::found: return "found";
    case search_verdict::within_noise: return "within_noise";
    case search_verdict::below_range: return "below_range";
    case search_verdict::above_range: return "above_range";
    case search_verdict::loadgen_limited: return "loadgen_limited";
    case search_verdict::incomplete: return "incomplete";
  }
  return "?";
}

double round_value(const search_spec& s, double v) {
  if (s.integer()) return std::max(1.0, std::round(v));
  if (v >= 20) return std::round(v);
  return std::max(0.01, std::round(v * 100) / 100);
}

std::string format_search_value(const search_spec& s, double v) {
  std::string digits;
  if (v >= 1000 || v == std::floor(v)) {
    // Thousands separators, as the findings print rates.
    const std::string plain = std::to_string(std::llround(v));
    for (std::size_t i = 0; i < plain.size(); ++i) {
      if (i > 0 && (plain.size() - i) % 3 == 0) digits += ',';
      digits += plain[i];
    }
  } else {
    digits = fmt::format("{:.2f}", v);
  }
  return s.integer() ? digits + (v == 1 ? " connection" : " connections") : digits + "/s";
}

int expected_steps(const search_spec& s) {
  const double g = std::max(1.0001, s.growth);
  const int ramp = 1 + static_cast<int>(std::ceil(std::log(s.high / s.low) / std::log(g) - 1e-9));
  const int bisect = s.resolution > 0 ? std::max(0, static_cast<int>(std::ceil(std::log2(std::log(g) / std::log1p(s.resolution)))))
                                      : 0;
  return ramp + bisect + 2 * s.confirmations;  // the final bracket's both ends are confirmed
}

judged_step judge_step(const search_spec& s, double value, const result::variant& v,
                       std::vector<result::threshold_verdict>& verdicts) {
  verdicts = evaluate_thresholds(s.objective, v);
  judged_step j;
  j.value = value;
  j.clean = result::status_flags(v).empty();
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    const double limit = verdicts[i].limit, actual = verdicts[i].actual;
    if (limit != 0 && actual != 0 && std::fabs(actual - limit) <= s.margin * std::fabs(limit)) j.marginal = true;
  }
  if (!v.complete || v.target.crashed) {
    j.outcome = step_outcome::aborted;
    j.reason = v.incomplete_reason.empty() ? "the step did not finish" : v.incomplete_reason;
    return j;
  }
  if (v.stopped_early) {
    // A stop condition declared the target hopeless at this level.
    j.outcome = step_outcome::fail;
    j.reason = "stopped early: " + v.stop_condition;
    return j;
  }
  if (v.errors.client_resources > 0) {
    j.outcome = step_outcome::limited;
    j.reason = fmt::format("the loadgen ran out of its own resources (ports, descriptors, memory) on {} requests",
                           v.errors.client_resources);
    return j;
  }
  const bool late = v.loadgen.saturated && !queued_for_connections(v);
  // The verdict module's own word that the target is failing (exit 7) outranks the objective: a
  // level where clients starve or the error rate passes load.max_error_rate is not a capacity.
  if (v.stalled > 0) {
    j.outcome = step_outcome::fail;
    j.reason = fmt::format("STALLED: {} requests got no answer through the whole measured phase", v.stalled);
    return j;
  }
  if (result::error_rate_exceeded(v) && all_passed(verdicts)) {
    j.outcome = step_outcome::fail;
    j.reason = fmt::format("ERRORS: error rate {:.3g}% over load.max_error_rate {:.3g}%", v.error_rate * 100,
                           v.load.max_error_rate * 100);
    return j;
  }
  if (all_passed(verdicts)) {
    // Met counted from the intended send times, the loadgen's lateness included: a pass, provided
    // the load was delivered at all.
    if (late && delivered_fraction(v) < 0.97) {
      j.outcome = step_outcome::limited;
      j.reason = fmt::format("the loadgen sent only {:.0f}% of the scheduled requests", 100 * delivered_fraction(v));
      return j;
    }
    j.outcome = step_outcome::pass;
    return j;
  }
  // Failed. The target is to blame unless only the loadgen's punctuality failed (send-lag
  // conditions), or the loadgen was late with connections to spare and the target met the rest
  // of the objective counted from the actual write.
  bool target_side_failed = false;
  for (std::size_t i = 0; i < verdicts.size(); ++i)
    target_side_failed = target_side_failed || (!verdicts[i].passed && !is_send_lag(s.objective[i]));
  if (!target_side_failed || (late && holds_from_actual_write(s, v))) {
    j.outcome = step_outcome::limited;
    j.reason = fmt::format("the loadgen could not keep its schedule (send lag p99 {}, bound {}{}) while the target "
                           "met the objective from the actual write",
                           format_threshold_value("send_lag", v.send_lag.p99_us),
                           format_threshold_value("send_lag", v.loadgen.send_lag_bound_us),
                           v.unsent > 0 ? fmt::format(", {} never sent", v.unsent) : "");
    return j;
  }
  j.outcome = step_outcome::fail;
  j.reason = failed_reason(verdicts, s.objective) + (late ? ", also counted from the actual write" : "");
  return j;
}

search_decision decide(const search_spec& s, const std::vector<judged_step>& steps) {
  if (steps.empty()) return run(round_value(s, s.low));
  std::map<double, level> by_value;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    level& l = by_value[steps[i].value];
    l.value = steps[i].value;
    l.runs.push_back(i);
    l.passes += steps[i].outcome == step_outcome::pass;
  }
  std::vector<level> levels;
  for (auto& [v, l] : by_value) {
    l.state = state_of(s, steps, l);
    levels.push_back(l);
  }
  const level* aborted = nullptr;
  const level* pending = nullptr;
  const level* fail = nullptr;     // lowest failing or noisy level
  const level* limited = nullptr;  // lowest loadgen-limited level
  for (const auto& l : levels) {
    if (l.state == level_state::aborted) aborted = &l;
    if (l.state == level_state::pending) pending = &l;
    if (!fail && (l.state == level_state::fail || l.state == level_state::noisy)) fail = &l;
    if (!limited && l.state == level_state::limited) limited = &l;
  }
  // The highest level that passed below everything that failed or was limited.
  const level* pass = nullptr;
  for (const auto& l : levels) {
    if (fail && l.value >= fail->value) break;
    if (limited && l.value >= limited->value) break;
    if (l.state == level_state::pass) pass = &l;
  }
  const double p = pass ? pass->value : 0;

  if (aborted)
    return finish(search_verdict::incomplete, 0, p, fail ? fail->value : 0,
                  fmt::format("the step at {} did not finish: {}", format_search_value(s, aborted->value),
                              steps[aborted->runs.back()].reason),
                  aborted->runs.back());
  // An unsure result is run again before anything else is concluded from it.
  if (pending && static_cast<int>(steps.size()) < s.max_steps()) return run(pending->value);
  if (limited) {
    const std::size_t rep = last_run(steps, *limited, step_outcome::limited);
    return finish(search_verdict::loadgen_limited, 0, p, limited->value,
                  fmt::format("limited by the load generator at {}: {}{}", format_search_value(s, limited->value),
                              steps[rep].reason,
                              pass ? fmt::format("; the target met the objective up to {}", format_search_value(s, p))
                                   : std::string()),
                  rep);
  }
  // A failure is confirmed like a capacity before it decides anything: a one-off stall at the top
  // of the bracket (or at the low end) would otherwise pass for the target's limit.
  auto unconfirmed_failure = [&](const level& l) {
    return l.state == level_state::fail && static_cast<int>(l.runs.size()) < 1 + s.confirmations &&
           static_cast<int>(steps.size()) < s.max_steps();
  };
  if (!pass) {
    // Nothing passed: the lowest level failed (or never settled).
    const level& low = fail ? *fail : levels.front();
    if (unconfirmed_failure(low)) return run(low.value);
    const std::size_t rep = last_run(steps, low, step_outcome::fail);
    return finish(search_verdict::below_range, 0, 0, low.value,
                  low.state == level_state::noisy
                      ? fmt::format("the objective gave mixed verdicts at the range's low end {}",
                                    format_search_value(s, low.value))
                      : fmt::format("the objective failed at the range's low end {}: {}",
                                    format_search_value(s, low.value), steps[rep].reason),
                  rep);
  }
  const bool out_of_budget = static_cast<int>(steps.size()) >= s.max_steps();
  auto confirmed = [&] { return pass->passes >= 1 + s.confirmations; };
  const std::size_t pass_rep = last_run(steps, *pass, step_outcome::pass);
  if (out_of_budget)
    return finish(search_verdict::within_noise, p, p, fail ? fail->value : s.high,
                  fmt::format("gave up after {} steps: the verdicts kept changing; the objective held stably up to {}",
                              steps.size(), format_search_value(s, p)),
                  pass_rep);
  if (!fail) {
    // Ramping: the objective has held at every level so far.
    if (p >= s.high) {
      if (!confirmed()) return run(p);
      return finish(search_verdict::above_range, s.high, s.high, s.high,
                    fmt::format("the objective held up to the range's high end {}: the capacity is at least that",
                                format_search_value(s, s.high)),
                    pass_rep);
    }
    double next = round_value(s, std::min(s.high, p * s.growth));
    if (next <= p) next = std::min(s.high, s.integer() ? p + 1 : p * (1 + s.resolution));
    return run(next);
  }
  const double f = fail->value;
  double mid = round_value(s, std::sqrt(p * f));
  if (s.integer() && mid <= p) mid = p + 1;
  if (!converged(s, p, f) && mid > p && mid < f) return run(mid);
  if (!confirmed()) return run(p);
  if (unconfirmed_failure(*fail)) return run(f);
  const bool noisy = fail->state == level_state::noisy;
  return finish(noisy ? search_verdict::within_noise : search_verdict::found, p, p, f,
                noisy ? fmt::format("the objective held stably up to {}; at {} it gave mixed verdicts",
                                    format_search_value(s, p), format_search_value(s, f))
                      : fmt::format("the objective held up to {} and failed at {} ({})", format_search_value(s, p),
                                    format_search_value(s, f), steps[last_run(steps, *fail, step_outcome::fail)].reason),
                pass_rep);
}

}  // namespace perflab::loadgen
