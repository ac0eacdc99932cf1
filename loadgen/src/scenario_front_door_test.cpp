// The shipped scenarios of issue 17's front door and retry storm, read as `loadgen run` reads them
// (no run): ratelimit-algorithms.toml spikes each of the five limiters at 3x its rate,
// waiting-room.toml spikes a room at 5x what it admits, and resilience-retry-storm.toml slows
// its dependency below the load for a window while the front's retry policy varies. Each test
// checks the numbers the experiment page's arithmetic rests on.
#include "perflab/loadgen/scenario.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

namespace perflab::loadgen {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

scenario shipped(const std::string& file) {
  const char* src = std::getenv("PERFLAB_SOURCE_DIR");
  EXPECT_NE(src, nullptr) << "PERFLAB_SOURCE_DIR is set by ctest";
  auto sc = load_scenario(fs::path(src ? src : ".") / "scenarios" / file);
  EXPECT_TRUE(sc.has_value()) << (sc ? "" : sc.error().to_string());
  return sc ? std::move(*sc) : scenario{};
}

// The open loop's highest stage rate.
double peak_rate(const run_config& l) {
  double peak = 0;
  for (const auto& s : l.stages) peak = std::max(peak, s.target_rate);
  return peak;
}

// "ALGO:RATE/s[,...]" -> RATE.
double limiter_rate(const std::string& spec) {
  const auto colon = spec.find(':');
  return colon == std::string::npos ? 0 : std::atof(spec.c_str() + colon + 1);
}

TEST(ShippedScenario, RateLimitAlgorithmsSpikeEachLimiterAtThreeTimesItsRate) {
  const auto sc = shipped("ratelimit-algorithms.toml");
  ASSERT_EQ(sc.variants.size(), 5u);
  std::set<std::string> algorithms;
  for (const auto& v : sc.variants) {
    SCOPED_TRACE(v.name);
    const auto& spec = v.target.params.at("rate-limit");
    algorithms.insert(spec.substr(0, spec.find(':')));
    EXPECT_EQ(limiter_rate(spec), 100);
    EXPECT_EQ(v.load.kind, "open");
    EXPECT_EQ(peak_rate(v.load), 3 * limiter_rate(spec));  // the spike
    EXPECT_LT(v.load.stages.front().target_rate, limiter_rate(spec));  // quiet before it: buckets fill
    EXPECT_EQ(v.load.duration, 10s);
    EXPECT_EQ(v.load.max_error_rate, 1.0);  // 429s are expected, not a failed run
  }
  EXPECT_EQ(algorithms,
            (std::set<std::string>{"token-bucket", "leaky-bucket", "fixed-window", "sliding-log", "sliding-window"}));
}

TEST(ShippedScenario, WaitingRoomSpikesAtFiveTimesWhatTheRoomAdmits) {
  const auto sc = shipped("waiting-room.toml");
  ASSERT_EQ(sc.variants.size(), 1u);
  const auto& v = sc.variants[0];
  EXPECT_EQ(v.target.params.at("waiting-room"), "10,max-wait=2s,queue=100");
  ASSERT_EQ(v.load.requests.size(), 1u);
  EXPECT_EQ(v.load.requests[0].path, "/sleep?ms=100");
  // Little's law: 10 in service x 100 ms each admits 100/s; the spike offers 5x that.
  const double admitted_per_s = 10 / 0.100;
  EXPECT_EQ(peak_rate(v.load), 5 * admitted_per_s);
  EXPECT_LT(v.load.stages.front().target_rate, admitted_per_s);
  // The queue (100) drains in 1 s at 100/s: under max-wait (2 s), so the spike's excess is refused
  // at once rather than timed out, and the client's timeout (5 s) outlasts any wait.
  EXPECT_GT(v.load.request_timeout, 2s);
}

TEST(ShippedScenario, RetryStormSlowsTheDependencyBelowTheLoadUnderEachRetryPolicy) {
  const auto sc = shipped("resilience-retry-storm.toml");
  ASSERT_EQ(sc.variants.size(), 4u);
  std::set<std::string> policies;
  for (const auto& v : sc.variants) {
    SCOPED_TRACE(v.name);
    policies.insert(v.target.params.at("upstream-retry"));
    EXPECT_EQ(v.target.params.at("upstream"), "{dep}");
    EXPECT_EQ(v.target.params.at("upstream-timeout"), "200ms");
    ASSERT_EQ(v.dependencies.size(), 1u);
    const auto& dep = v.dependencies[0];
    EXPECT_EQ(dep.name, "dep");
    EXPECT_TRUE(dep.admin);  // the runner posts the fault to it
    EXPECT_EQ(dep.params.at("waiting-room"), "4,max-wait=10s,queue=5000");
    EXPECT_EQ(dep.params.at("fault-profile"), "latency=fixed:20ms");
    // Capacity 4 / 20 ms = 200/s over a load of 120/s; the fault's 100 ms makes it 40/s.
    EXPECT_EQ(v.load.rate, 120);
    ASSERT_EQ(v.schedule.size(), 1u);
    const auto& f = v.schedule[0];
    EXPECT_EQ(f.what, timed_event_spec::kind::fault);
    EXPECT_EQ(f.target, "dep");
    EXPECT_EQ(f.spec, "latency=fixed:100ms");
    EXPECT_EQ(f.at, 2s);
    EXPECT_EQ(f.duration, 2s);
    EXPECT_GE(v.load.duration - f.at - f.duration, 8s);  // room to see the recovery
    ASSERT_EQ(v.load.requests.size(), 1u);
    EXPECT_EQ(v.load.requests[0].path, "/proxy/hello");
    EXPECT_EQ(v.load.requests[0].method, "GET");  // idempotent: retried
  }
  EXPECT_EQ(policies, (std::set<std::string>{"1", "3,base=1ms,cap=1ms,jitter=none", "3,base=50ms,cap=1s,jitter=full",
                                             "3,base=1ms,cap=1ms,jitter=none,budget=10%,budget-min=1/s"}));
}

}  // namespace
}  // namespace perflab::loadgen
