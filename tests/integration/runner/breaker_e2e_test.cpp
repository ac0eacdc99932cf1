// A circuit breaker through an outage end to end (`loadgen run`, issue 17): a reactor front with
// --upstream-breaker calls a dependency that answers 503 to everything from 0.4 s of a 3 s phase on. Checked
// through run.json (and its schema): the runner's once-a-second reading of the front's
// perflab_upstream_breaker_state starts closed and shows the breaker open (or half-open) after the
// fault, and the physics of a breaker: once open, the dependency sees only the calls that opened it
// and the half-open trials, not every request the loadgen sent.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "perflab/core/result_io.hpp"
#include "runner_fixture.hpp"

namespace {

using perflab::testing::Runner;
using Breaker = Runner;

TEST_F(Breaker, OpenBreakerShieldsTheDependencyAndItsStateIsSampled) {
  const auto scenario = write("breaker.toml", R"(name = "breaker-e2e"

[[target]]
name = "dep"
model = "reactor"
threads = 1

[[target]]
model = "reactor"
threads = 1
upstream = "{dep}"
upstream-breaker = "count:10,min=10,failure=50%,open=1s,half-open=2"

[load]
model = "open"
rate = "100/s"
duration = "3s"
timeout = "2s"
max_error_rate = "100%"
send_lag_bound = "200ms"   # a busy CI machine: only a loadgen far behind is flagged

[[request]]
path = "/proxy/hello"

[[fault]]
at = "400ms"
target = "dep"
spec = "error=1:503"
)");
  const auto r = loadgen_run(scenario, "--no-report");  // the report's plots are unit-tested (ReportEvents)
  ASSERT_TRUE(r.code == 0 || r.code == 5) << r.code << r.out << r.err;  // 5: a loadgen behind on a busy machine
  const auto dir = run_dir();
  const auto schema = validate_schema(dir);
  EXPECT_EQ(schema.code, 0) << schema.out << schema.err;
  auto run = perflab::result::read_run_json(dir / "run.json");
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 1u);
  const auto& v = run->variants[0];
  ASSERT_EQ(v.events.size(), 1u);
  const auto& fault = v.events[0];
  ASSERT_EQ(fault.error, "");
  ASSERT_GE(fault.start_s, 0);
  ASSERT_EQ(v.dependencies.size(), 1u);
  const auto& dep = v.dependencies[0];
  ASSERT_GE(dep.requests, 0);

  // Before the fault every request reached the dependency; after it, at most the 10 calls that
  // open the breaker (min=10, all failing), the half-open trials (2 per 1 s open wait over the ~2.6 s
  // left) and a few in flight at each edge. Without a breaker it would be every request sent.
  const double before = std::ceil(fault.start_s * 100);
  const double trials = 2 * std::ceil(3.0 - fault.start_s);
  EXPECT_LE(static_cast<double>(dep.requests), before + 10 + trials + 10) << "sent " << v.sent;
  EXPECT_LT(static_cast<double>(dep.requests), 0.6 * static_cast<double>(v.sent));
  EXPECT_GT(v.sent, 120);
  // The rest were refused by the open breaker: 503s, not successes.
  EXPECT_GE(v.errors.status_5xx, v.sent - dep.requests - 10);

  // The breaker's state, sampled once a second of the measured phase: closed at the start, then
  // open (1) or half-open (2) after the fault.
  const perflab::result::metric_series* state = nullptr;
  const perflab::result::metric_series* dep_rate = nullptr;
  for (const auto& m : v.target_metrics) {
    if (m.target.empty() && m.metric == "breaker_state") state = &m;
    if (m.target == "dep" && m.metric == "requests_per_s") dep_rate = &m;
  }
  ASSERT_NE(state, nullptr);
  // Three seconds of once-a-second readings leave at least two after the fault however late the
  // scheduler sent it (it reads every target's /metrics first) or whichever reading timed out.
  ASSERT_GE(state->points.size(), 2u);
  double worst_after = 0;
  for (const auto& [t, s] : state->points) {
    if (t < fault.start_s) {
      EXPECT_EQ(s, 0) << "open at " << t << " s, before the fault";
    }
    if (t > fault.start_s + 0.3) worst_after = std::max(worst_after, s);
  }
  EXPECT_GE(worst_after, 1) << "never open after the fault";
  ASSERT_NE(dep_rate, nullptr);
  EXPECT_FALSE(dep_rate->points.empty());
}

}  // namespace
