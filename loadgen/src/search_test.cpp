#include "perflab/loadgen/search.hpp"

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace perflab::loadgen {
namespace {

search_spec rate_search(double low, double high, double resolution = 0.05, int confirmations = 1) {
  search_spec s;
  s.objective = {*parse_threshold("ttlb.p99 < 50ms"), *parse_threshold("errors.rate < 0.1%")};
  s.variable = "load.rate";
  s.low = low;
  s.high = high;
  s.resolution = resolution;
  s.confirmations = confirmations;
  return s;
}

judged_step outcome(double value, step_outcome o, bool marginal = false) {
  judged_step j;
  j.value = value;
  j.outcome = o;
  j.marginal = marginal;
  j.reason = o == step_outcome::pass ? "" : "synthetic";
  return j;
}

// A synthetic target: given the value and how many times that value already ran, the judged step.
using target_model = std::function<judged_step(double value, int earlier_runs)>;

struct simulation {
  std::vector<judged_step> steps;
  search_decision decision;
};

// Drives the controller against a synthetic target until it is done.
simulation simulate(const search_spec& s, const target_model& target) {
  simulation sim;
  std::map<double, int> runs;
  for (int i = 0; i < 1000; ++i) {
    sim.decision = decide(s, sim.steps);
    if (sim.decision.done) return sim;
    EXPECT_GE(sim.decision.next, s.low) << "never below the range";
    EXPECT_LE(sim.decision.next, s.high) << "never above the range";
    sim.steps.push_back(target(sim.decision.next, runs[sim.decision.next]++));
  }
  ADD_FAILURE() << "the search did not finish in 1000 steps";
  return sim;
}

// A target that meets the objective up to `capacity` and fails above it, every time.
target_model sharp(double capacity) {
  return [capacity](double v, int) { return outcome(v, v <= capacity ? step_outcome::pass : step_outcome::fail); };
}

int runs_at(const simulation& sim, double value) {
  int n = 0;
  for (const auto& st : sim.steps) n += st.value == value;
  return n;
}

TEST(SearchController, FindsAKnownBoundaryWithinItsResolution) {
  struct row {
    double low, high, capacity, resolution;
    int confirmations;
    double growth;
  };
  const row rows[] = {
      {50, 5000, 200, 0.10, 1, 2},   {50, 5000, 3169, 0.02, 1, 2}, {250, 25000, 4410, 0.03, 2, 2},
      {100, 100000, 777, 0.05, 0, 3}, {10, 1000, 10.5, 0.05, 1, 2},  {50, 5000, 4999, 0.02, 1, 2},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(::testing::Message() << "capacity " << r.capacity << " resolution " << r.resolution);
    auto s = rate_search(r.low, r.high, r.resolution, r.confirmations);
    s.growth = r.growth;
    const auto sim = simulate(s, sharp(r.capacity));
    ASSERT_TRUE(sim.decision.done);
    EXPECT_EQ(sim.decision.verdict, search_verdict::found) << sim.decision.reason;
    // The capacity passed, the band's top failed, and the band is no wider than the resolution.
    EXPECT_LE(sim.decision.capacity, r.capacity);
    EXPECT_GT(sim.decision.band_high, r.capacity);
    EXPECT_EQ(sim.decision.band_low, sim.decision.capacity);
    EXPECT_LE(sim.decision.band_high / sim.decision.band_low, 1 + r.resolution + 0.01);
    EXPECT_GE(sim.decision.capacity, r.capacity / (1 + r.resolution + 0.01));
    EXPECT_EQ(runs_at(sim, sim.decision.capacity), 1 + r.confirmations) << "the final level is confirmed";
    EXPECT_EQ(runs_at(sim, sim.decision.band_high), 1 + r.confirmations) << "so is the failure above it";
    ASSERT_TRUE(sim.decision.representative);
    EXPECT_EQ(sim.steps[*sim.decision.representative].value, sim.decision.capacity);
    EXPECT_LE(static_cast<int>(sim.steps.size()), expected_steps(s) + 1) << "a clean search takes its expected steps";
  }
}

TEST(SearchController, TheCapacityIsReportedThroughACleanRunWhenItHasOne) {
  // The capacity level's confirmation ended with arrivals queued (a status word); its first run did not.
  const auto sim = simulate(rate_search(100, 1000, 0.05, 1), [](double v, int earlier) {
    auto j = outcome(v, v <= 800 ? step_outcome::pass : step_outcome::fail);
    j.clean = !(v == 800 && earlier == 1);
    return j;
  });
  ASSERT_EQ(sim.decision.capacity, 800);
  ASSERT_TRUE(sim.decision.representative);
  EXPECT_TRUE(sim.steps[*sim.decision.representative].clean);
  EXPECT_EQ(sim.steps[*sim.decision.representative].value, 800);
}

TEST(SearchController, RampsGeometricallyThenBisects) {
  auto s = rate_search(100, 10000, 0.05, 0);
  const auto sim = simulate(s, sharp(1000));
  ASSERT_GE(sim.steps.size(), 6u);
  const std::vector<double> ramp = {100, 200, 400, 800, 1600};
  for (std::size_t i = 0; i < ramp.size(); ++i) EXPECT_EQ(sim.steps[i].value, ramp[i]) << i;
  EXPECT_EQ(sim.steps[5].value, std::round(std::sqrt(800.0 * 1600.0))) << "geometric midpoint of the bracket";
}

TEST(SearchController, ConnectionsConvergeToTheExactCount) {
  search_spec s = rate_search(1, 256, 0.02, 1);
  s.variable = "load.connections";
  for (double workers : {1.0, 7.0, 32.0, 100.0}) {
    const auto sim = simulate(s, sharp(workers));
    EXPECT_EQ(sim.decision.verdict, search_verdict::found) << workers;
    EXPECT_EQ(sim.decision.capacity, workers);
    EXPECT_EQ(sim.decision.band_high, workers + 1);
    for (const auto& st : sim.steps) EXPECT_EQ(st.value, std::round(st.value)) << "whole connections";
  }
}

TEST(SearchController, BelowRangeWhenTheLowestStepFails) {
  const auto sim = simulate(rate_search(100, 1000), sharp(50));
  EXPECT_EQ(sim.decision.verdict, search_verdict::below_range);
  EXPECT_EQ(sim.steps.size(), 2u) << "the failure at the low end, confirmed once";
  EXPECT_EQ(sim.decision.capacity, 0);
  EXPECT_EQ(sim.decision.band_high, 100);
  EXPECT_EQ(sim.decision.representative, std::optional<std::size_t>(1));
}

TEST(SearchController, AOneOffFailureAtTheTopOfTheBracketIsNotTheLimit) {
  // 3,200/s fails once (a stall), then passes twice: the capacity is above it.
  const auto sim = simulate(rate_search(100, 10000, 0.05, 1), [](double v, int earlier) {
    if (v == 3200) return outcome(v, earlier == 0 ? step_outcome::fail : step_outcome::pass);
    return outcome(v, v <= 5000 ? step_outcome::pass : step_outcome::fail);
  });
  EXPECT_EQ(sim.decision.verdict, search_verdict::found) << sim.decision.reason;
  EXPECT_GT(sim.decision.capacity, 3200);
  EXPECT_LE(sim.decision.capacity, 5000);
  EXPECT_EQ(runs_at(sim, 3200), 3) << "fail, then two passes: the last two agree";
}

TEST(SearchController, AboveRangeWhenTheObjectiveNeverFails) {
  const auto sim = simulate(rate_search(100, 1000, 0.05, 2), sharp(1e9));
  EXPECT_EQ(sim.decision.verdict, search_verdict::above_range);
  EXPECT_EQ(sim.decision.capacity, 1000);
  EXPECT_EQ(runs_at(sim, 1000), 3) << "the high end is confirmed like any capacity";
  const std::vector<double> want = {100, 200, 400, 800, 1000, 1000, 1000};
  ASSERT_EQ(sim.steps.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(sim.steps[i].value, want[i]);
}

TEST(SearchController, LoadgenLimitedIsNeverACapacity) {
  // The target would hold 5,000/s, but the loadgen cannot deliver more than 1,000/s.
  const auto sim = simulate(rate_search(100, 10000), [](double v, int) {
    if (v > 1000) return outcome(v, step_outcome::limited);
    return outcome(v, v <= 5000 ? step_outcome::pass : step_outcome::fail);
  });
  EXPECT_EQ(sim.decision.verdict, search_verdict::loadgen_limited);
  EXPECT_EQ(sim.decision.capacity, 0);
  EXPECT_EQ(sim.decision.band_low, 800) << "the target met the objective up to here";
  EXPECT_EQ(sim.decision.band_high, 1600);
  EXPECT_EQ(runs_at(sim, 1600), 2) << "a limited step is repeated before the search gives up";
  ASSERT_TRUE(sim.decision.representative);
  EXPECT_EQ(sim.steps[*sim.decision.representative].outcome, step_outcome::limited);
}

TEST(SearchController, AOneOffLoadgenHiccupIsRepeatedAndForgotten) {
  const auto sim = simulate(rate_search(100, 10000), [](double v, int earlier) {
    if (v == 400 && earlier == 0) return outcome(v, step_outcome::limited);
    return outcome(v, v <= 3000 ? step_outcome::pass : step_outcome::fail);
  });
  EXPECT_EQ(sim.decision.verdict, search_verdict::found) << sim.decision.reason;
  EXPECT_LE(sim.decision.capacity, 3000);
  EXPECT_GE(sim.decision.capacity, 3000 / 1.06);
}

TEST(SearchController, MarginalStepsAreRepeatedUntilTwoRunsAgree) {
  // At 1,600/s the p99 sits just under its limit the first time and over it afterwards.
  const auto sim = simulate(rate_search(100, 10000, 0.05, 0), [](double v, int earlier) {
    if (v == 1600) return earlier == 0 ? outcome(v, step_outcome::pass, true) : outcome(v, step_outcome::fail, true);
    return outcome(v, v <= 1500 ? step_outcome::pass : step_outcome::fail);
  });
  EXPECT_EQ(runs_at(sim, 1600), 3) << "pass, fail, fail: the last two agree";
  EXPECT_EQ(sim.decision.verdict, search_verdict::found);
  EXPECT_LT(sim.decision.capacity, 1600) << "a marginal pass that does not repeat is not a capacity";
}

TEST(SearchController, AFlappingBoundaryIsReportedWithinNoise) {
  // 1,131/s (the first midpoint) passes and fails in turn; below it the target holds, above it fails.
  // Its confirmation run is what exposes it.
  const auto sim = simulate(rate_search(100, 10000, 0.05, 1), [](double v, int earlier) {
    if (v == 1131) return outcome(v, earlier % 2 == 0 ? step_outcome::pass : step_outcome::fail);
    return outcome(v, v < 1131 ? step_outcome::pass : step_outcome::fail);
  });
  EXPECT_EQ(sim.decision.verdict, search_verdict::within_noise) << sim.decision.reason;
  EXPECT_EQ(sim.decision.band_high, 1131);
  EXPECT_LT(sim.decision.capacity, 1131);
  EXPECT_EQ(runs_at(sim, 1131), 3) << "pass, fail, pass: no two agree within the level's runs";
}

TEST(SearchController, AFailedConfirmationLowersTheCapacity) {
  // From 1,850/s to 2,000/s the target passes a first run and fails every later one: the level
  // the bisection ends on fails its confirmation, and the search settles below 1,850/s.
  const auto sim = simulate(rate_search(100, 10000, 0.02, 1), [](double v, int earlier) {
    if (v >= 1850 && v < 2000) return outcome(v, earlier == 0 ? step_outcome::pass : step_outcome::fail);
    return outcome(v, v < 2000 ? step_outcome::pass : step_outcome::fail);
  });
  EXPECT_EQ(sim.decision.verdict, search_verdict::found) << sim.decision.reason;
  EXPECT_LT(sim.decision.capacity, 1850);
  EXPECT_GE(sim.decision.capacity, 1850 / 1.03);
  EXPECT_EQ(runs_at(sim, sim.decision.capacity), 2) << "the capacity itself was confirmed";
  EXPECT_GE(runs_at(sim, sim.decision.band_high), 3) << "the demoted level: pass, then two failures";
}

TEST(SearchController, AnAbortedStepEndsTheSearchIncomplete) {
  const auto sim = simulate(rate_search(100, 10000), [](double v, int) {
    return outcome(v, v >= 400 ? step_outcome::aborted : step_outcome::pass);
  });
  EXPECT_EQ(sim.decision.verdict, search_verdict::incomplete);
  EXPECT_EQ(sim.steps.size(), 3u);
  EXPECT_EQ(sim.decision.representative, std::optional<std::size_t>(2));
  EXPECT_EQ(sim.decision.capacity, 0);
}

TEST(SearchController, EndlessNoiseEndsWithinTheBudget) {
  // Every level above 300/s flips on each run: the search must still end, with the stable part.
  const auto sim = simulate(rate_search(100, 10000, 0.02, 1), [](double v, int earlier) {
    if (v <= 300) return outcome(v, step_outcome::pass);
    return outcome(v, earlier % 2 == 0 ? step_outcome::pass : step_outcome::fail, true);
  });
  EXPECT_EQ(sim.decision.verdict, search_verdict::within_noise) << sim.decision.reason;
  EXPECT_LE(static_cast<int>(sim.steps.size()), rate_search(100, 10000, 0.02, 1).max_steps());
  EXPECT_LE(sim.decision.capacity, 300);
}

TEST(SearchValues, RoundedAsTheStepsRunThemAndFormattedWithTheirUnit) {
  auto rate = rate_search(1, 100000);
  EXPECT_EQ(round_value(rate, 3162.28), 3162);
  EXPECT_EQ(round_value(rate, 12.345), 12.35);
  EXPECT_EQ(format_search_value(rate, 3162), "3,162/s");
  EXPECT_EQ(format_search_value(rate, 25000), "25,000/s");
  EXPECT_EQ(format_search_value(rate, 12.35), "12.35/s");
  auto conns = rate;
  conns.variable = "load.connections";
  EXPECT_EQ(round_value(conns, 7.4), 7);
  EXPECT_EQ(round_value(conns, 0.2), 1);
  EXPECT_EQ(format_search_value(conns, 1000), "1,000 connections");
  EXPECT_EQ(format_search_value(conns, 1), "1 connection");
  // 50 -> 5,000 doubling: 50, 100, ..., 3,200, 5,000 (8 levels); 2x to 1.02x: 6 bisections; both
  // ends of the final bracket confirmed once.
  EXPECT_EQ(expected_steps(rate_search(50, 5000, 0.02, 1)), 8 + 6 + 2);
}

// A measured step: open loop at 1,000/s, healthy, keep-alive connections well under the cap.
result::variant healthy_step() {
  result::variant v;
  v.load.kind = "open";
  v.load.connections = 1024;
  v.measured_s = 2;
  v.completed = 2000;
  v.ttlb.count = v.ttlb_uncorrected.count = v.send_lag.count = 2000;
  v.ttlb.p99_us = v.ttlb_uncorrected.p99_us = 12'000;
  v.send_lag.p99_us = 50;
  v.loadgen.send_lag_bound_us = 1000;
  v.sent = 2000;
  result::second_point p;
  p.in_flight = 12;
  p.target_rate = 1000;
  v.series = {p, p};
  return v;
}

TEST(JudgeStep, SaturationIsTheLoadgensOnlyWhenTheTargetKeptUp) {
  struct row {
    const char* what;
    std::function<void(result::variant&)> change;
    step_outcome want;
    bool marginal;
    const char* reason_part;
  };
  const std::vector<row> rows = {
      {"healthy", [](result::variant&) {}, step_outcome::pass, false, ""},
      {"p99 over the objective", [](result::variant& v) { v.ttlb.p99_us = v.ttlb_uncorrected.p99_us = 900'000; },
       step_outcome::fail, false, "ttlb.p99 < 50ms failed: actual 900ms"},
      {"p99 just under the limit", [](result::variant& v) { v.ttlb.p99_us = 48'000; }, step_outcome::pass, true, ""},
      {"error rate over the objective", [](result::variant& v) { v.error_rate = 0.02; }, step_outcome::fail, false,
       "errors.rate < 0.1% failed"},
      {"late loadgen, target fast from the actual write",
       [](result::variant& v) {
         v.loadgen.saturated = true;
         v.send_lag.p99_us = 80'000;
         v.ttlb.p99_us = 90'000;
       },
       step_outcome::limited, false, "could not keep its schedule"},
      {"late loadgen, and the target slow even from the actual write",
       [](result::variant& v) {
         v.loadgen.saturated = true;
         v.send_lag.p99_us = 80'000;
         v.ttlb.p99_us = 900'000;
         v.ttlb_uncorrected.p99_us = 700'000;
       },
       step_outcome::fail, false, "also counted from the actual write"},
      {"every connection busy with the target: the wait is the target's",
       [](result::variant& v) {
         v.loadgen.saturated = true;
         v.send_lag.p99_us = 80'000;
         v.ttlb.p99_us = 90'000;
         v.series[1].in_flight = 1500;
       },
       step_outcome::fail, false, "ttlb.p99 < 50ms failed"},
      {"late loadgen, objective met counted from the intended times, load delivered",
       [](result::variant& v) {
         v.loadgen.saturated = true;
         v.send_lag.p99_us = 2'000;
       },
       step_outcome::pass, false, ""},
      {"late loadgen, objective met, but a fifth of the schedule never sent",
       [](result::variant& v) {
         v.loadgen.saturated = true;
         v.send_lag.p99_us = 30'000;
         v.sent = 1600;
       },
       step_outcome::limited, false, "sent only 80% of the scheduled requests"},
      {"arrivals still queued for a connection at the end",
       [](result::variant& v) {
         v.loadgen.saturated = true;
         v.unsent = 40;
       },
       step_outcome::pass, false, ""},
      {"loadgen out of ports or descriptors",
       [](result::variant& v) {
         v.loadgen.saturated = true;
         v.errors.client_resources = 3;
         v.error_rate = 0.5;
       },
       step_outcome::limited, false, "own resources"},
      {"objective met, but a client starved (STALLED)", [](result::variant& v) { v.stalled = 1; },
       step_outcome::fail, false, "STALLED: 1 requests got no answer"},
      {"objective met, but errors over load.max_error_rate (ERRORS)",
       [](result::variant& v) {
         v.error_rate = 0.0005;
         v.load.max_error_rate = 0.0001;
       },
       step_outcome::fail, false, "ERRORS: error rate 0.05% over load.max_error_rate 0.01%"},
      {"stopped early by a stop condition",
       [](result::variant& v) {
         v.stopped_early = true;
         v.stop_condition = "errors.count > 100 (140 after 1.0 s)";
       },
       step_outcome::fail, false, "stopped early: errors.count > 100"},
      {"interrupted",
       [](result::variant& v) {
         v.complete = false;
         v.incomplete_reason = "interrupted";
       },
       step_outcome::aborted, false, "interrupted"},
  };
  const auto s = rate_search(100, 10000);
  for (const auto& r : rows) {
    auto v = healthy_step();
    r.change(v);
    std::vector<result::threshold_verdict> verdicts;
    const auto j = judge_step(s, 1000, v, verdicts);
    EXPECT_EQ(j.outcome, r.want) << r.what << ": " << j.reason;
    EXPECT_EQ(j.marginal, r.marginal) << r.what;
    EXPECT_NE(j.reason.find(r.reason_part), std::string::npos) << r.what << ": " << j.reason;
    EXPECT_EQ(verdicts.size(), 2u) << r.what;
    EXPECT_EQ(j.value, 1000);
  }
}

TEST(JudgeStep, SendLagObjectivesDoNotCountAgainstTheTarget) {
  auto s = rate_search(100, 10000);
  s.objective.push_back(*parse_threshold("send_lag.p99 < 1ms"));
  for (const bool over_bound : {true, false}) {
    auto v = healthy_step();
    v.loadgen.saturated = over_bound;
    v.loadgen.send_lag_bound_us = over_bound ? 1000 : 10'000;
    v.send_lag.p99_us = 5'000;
    std::vector<result::threshold_verdict> verdicts;
    const auto j = judge_step(s, 1000, v, verdicts);
    EXPECT_EQ(j.outcome, step_outcome::limited) << over_bound << ": " << j.reason;
    ASSERT_EQ(verdicts.size(), 3u);
    EXPECT_FALSE(verdicts[2].passed) << "the send-lag objective is still reported as failed";
  }
  // With the target failing too, the step is the target's failure.
  auto v = healthy_step();
  v.send_lag.p99_us = 5'000;
  v.error_rate = 0.05;
  std::vector<result::threshold_verdict> verdicts;
  EXPECT_EQ(judge_step(s, 1000, v, verdicts).outcome, step_outcome::fail);
}

}  // namespace
}  // namespace perflab::loadgen
