// Several targets and a timed schedule end to end (`loadgen run`): a named [[target]] started
// before the measured one, a [[fault]] on the measured target (100 % 503 for 1 s of a 3 s run,
// then the profile before it back) and an [[action]] sent to the dependency. Checked through
// run.json (and its schema): the 503s counted by the loadgen match the fault's window at the
// offered rate, the events carry their actual start and end, the dependency's CPU, RSS and request
// count (the action's one request) are recorded, and the measured target's request count matches
// what the loadgen sent. And a bad schedule entry is a usage error naming file:line:col.
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "perflab/core/result_io.hpp"
#include "runner_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using perflab::testing::Runner;

using FaultSchedule = Runner;

TEST_F(FaultSchedule, FaultWindowAndActionAreAppliedAndRecorded) {
  const auto scenario = write("faults.toml", R"(name = "fault-schedule"

[[target]]
name = "dep"
model = "reactor"
threads = 1

[[target]]
model = "reactor"
threads = 1

[load]
model = "open"
rate = "200/s"
warmup = "500ms"
duration = "3s"
timeout = "2s"
max_error_rate = "60%"
send_lag_bound = "200ms"   # a busy CI machine: only a loadgen far behind is flagged

[[request]]
path = "/hello"

[[fault]]
at = "1s"
spec = "error=1:503"
duration = "1s"

[[action]]
at = "500ms"
target = "dep"
method = "GET"
path = "/hello"
)");
  const auto r = loadgen_run(scenario);
  ASSERT_TRUE(r.code == 0 || r.code == 5) << r.code << r.out << r.err;  // 5: a loadgen behind on a busy machine
  const auto dir = run_dir();
  const auto schema = validate_schema(dir);
  EXPECT_EQ(schema.code, 0) << schema.out << schema.err;
  auto run = perflab::result::read_run_json(dir / "run.json");
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 1u);
  const auto& v = run->variants[0];

  ASSERT_EQ(v.events.size(), 2u);
  const auto& action = v.events[0];
  EXPECT_EQ(action.kind, "action");
  EXPECT_EQ(action.target, "dep");
  EXPECT_EQ(action.status, 200);
  EXPECT_EQ(action.error, "");
  EXPECT_NEAR(action.start_s, 0.5, 0.3);
  EXPECT_GE(action.end_s, action.start_s);
  const auto& fault = v.events[1];
  EXPECT_EQ(fault.kind, "fault");
  EXPECT_EQ(fault.spec, "error=1:503");
  EXPECT_EQ(fault.restored, "none");
  EXPECT_EQ(fault.status, 200);
  EXPECT_EQ(fault.error, "");
  EXPECT_NEAR(fault.start_s, 1.0, 0.3);
  EXPECT_NEAR(fault.end_s, 2.0, 0.3);

  // Every request that arrived while the fault was on got a 503: the window times the rate.
  const double window = fault.end_s - fault.start_s;
  EXPECT_NEAR(static_cast<double>(v.errors.status_5xx), 200 * window, 200 * 0.25 + 10) << "window " << window;
  EXPECT_GT(v.succeeded, 200);  // before and after it, served
  EXPECT_EQ(v.statuses.count("503") ? v.statuses.at("503") : 0, v.errors.status_5xx);
  // Per second: the 503s are in the fault's second (a little spill at its edges on a busy machine).
  std::int64_t in_series = 0, in_fault_second = 0;
  for (const auto& p : v.series) {
    const auto it = p.statuses.find("503");
    const std::int64_t n = it == p.statuses.end() ? 0 : it->second;
    EXPECT_EQ(p.status_5xx, n) << "t=" << p.t_s;
    in_series += n;
    if (p.t_s == 1) in_fault_second = n;
  }
  EXPECT_EQ(in_series, v.errors.status_5xx);
  EXPECT_GT(in_fault_second, in_series * 0.6);

  ASSERT_EQ(v.dependencies.size(), 1u);
  const auto& dep = v.dependencies[0];
  EXPECT_EQ(dep.name, "dep");
  EXPECT_EQ(dep.requests, 1);  // the action; nothing else calls it
  EXPECT_GT(dep.peak_rss_bytes, 0);
  EXPECT_EQ(dep.exit_status, "exit 0");
  // The measured target's counter, read at the phase's ends, against what the loadgen sent in it.
  // (The counters are read by a runner thread just after each boundary: a few requests of slack.)
  EXPECT_NEAR(static_cast<double>(v.target.requests), static_cast<double>(v.sent), 0.1 * v.sent + 10);
}

TEST_F(FaultSchedule, BadEntriesAreUsageErrorsWithTheirPlace) {
  const std::string head = "name = \"bad\"\n[target]\nmodel = \"reactor\"\n[load]\nduration = \"2s\"\n";
  struct bad_case {
    std::string text, place, message;
  };
  const bad_case cases[] = {
      {head + "[[fault]]\nat = \"1s\"\nspec = \"error=2\"\n", "bad.toml:8:8", "fault.spec: \"error=2\": rate"},
      {head + "[[fault]]\nat = \"5s\"\nspec = \"error=1\"\n", "bad.toml:6:1", "not within the measured phase"},
      {head + "[[action]]\nat = \"1s\"\ntarget = \"db\"\nmethod = \"GET\"\npath = \"/x\"\n", "bad.toml:6:1",
       "target \"db\" is not a [[target]] name"},
      {head + "[[action]]\nat = \"1s\"\nmethod = \"get\"\npath = \"/x\"\n", "bad.toml:8:10", "action.method"},
      {head + "[[fault]]\nat = \"1s\"\nspec = \"none\"\nwhen = 3\n", "bad.toml:9:1", "unknown key 'fault.when'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const auto scenario = write("bad.toml", c.text);
    const auto r = loadgen_run(scenario, "--dry-run");
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(c.place), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

}  // namespace
