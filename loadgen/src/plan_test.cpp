#include "perflab/loadgen/plan.hpp"

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace perflab::loadgen {
namespace {

scenario parse_valid(const std::string& text) {
  auto sc = parse_scenario(text, "plan.toml", ".");
  EXPECT_TRUE(sc.has_value()) << (sc ? "" : sc.error().to_string());
  return sc ? *sc : scenario{};
}

TEST(PlanEstimate, WarmupMeasuredAndOverheadPerLoadModel) {
  struct row {
    const char* what;
    const char* load;  // the [load] and [target] tables
    double warmup_s, measured_s;
    bool known;
    double overhead_s;
  };
  const row rows[] = {
      {"open, duration", "[target]\nmodel = \"reactor\"\n[load]\nrate = \"300/s\"\nwarmup = \"1s\"\nduration = \"3s\"\n", 1,
       3, true, spawned_target_overhead_s},
      {"open, stages",
       "[target]\nmodel = \"reactor\"\n[load]\nmodel = \"open\"\n[[load.stages]]\nduration = \"5s\"\nrate = \"1k/s\"\n"
       "[[load.stages]]\nduration = \"10s\"\nrate = \"2k/s\"\n",
       0, 15, true, spawned_target_overhead_s},
      {"open, request cap before the duration",
       "[target]\nmodel = \"reactor\"\n[load]\nrate = \"100/s\"\nduration = \"10s\"\nmax_requests = 200\n", 0, 2, true,
       spawned_target_overhead_s},
      {"closed, a request cap: the duration bounds it",
       "[target]\nmodel = \"reactor\"\n[load]\nconnections = 4\nduration = \"5s\"\nmax_requests = 1000\n", 0, 5, true,
       spawned_target_overhead_s},
      {"external URL", "[target]\nurl = \"http://127.0.0.1:9\"\n[load]\nconnections = 4\nduration = \"2s\"\n", 0, 2, true,
       external_target_overhead_s},
  };
  for (const auto& r : rows) {
    auto sc = parse_valid(std::string("name = \"p\"\n") + r.load);
    ASSERT_EQ(sc.variants.size(), 1u) << r.what;
    auto e = estimate(sc.variants[0]);
    EXPECT_DOUBLE_EQ(e.warmup_s, r.warmup_s) << r.what;
    EXPECT_DOUBLE_EQ(e.measured_s, r.measured_s) << r.what;
    EXPECT_EQ(e.measured_known, r.known) << r.what;
    EXPECT_DOUBLE_EQ(e.overhead_s, r.overhead_s) << r.what;
    EXPECT_DOUBLE_EQ(e.drain_bound_s, 2) << r.what;  // the default drain_timeout
  }
  // A run_config without a duration (as `loadgen attack` allows) ends after its request count: in
  // a closed loop nobody can say when.
  auto sc = parse_valid("name = \"p\"\n[target]\nmodel = \"reactor\"\n[load]\nconnections = 4\nmax_requests = 100\n");
  ASSERT_EQ(sc.variants.size(), 1u);
  sc.variants[0].load.duration = std::chrono::nanoseconds(0);
  EXPECT_FALSE(estimate(sc.variants[0]).measured_known);
  auto text = format_plan(sc);
  EXPECT_NE(text.find("100 requests         ?"), std::string::npos) << text;
  EXPECT_NE(text.find("plus the runs that end after a request count"), std::string::npos) << text;
}

TEST(PlanFormat, OneRowPerVariantAndATotalWithRepeats) {
  auto sc = parse_valid(
      "name = \"sweep\"\nrepeats = 2\n[target]\nmodel = \"reactor\"\n[load]\nrate = \"300/s\"\nwarmup = \"1s\"\n"
      "duration = \"3s\"\n[matrix]\n\"target.model\" = [\"reactor\", \"coroutine\"]\n\"load.rate\" = [\"300/s\", "
      "\"1k/s\"]\n");
  auto text = format_plan(sc);
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 7u) << text;  // title, header, 4 variants, total
  EXPECT_EQ(lines[0], "perflab run: sweep (dry run: 4 variants x 2 repeats checked, nothing started)");
  EXPECT_EQ(lines[1].rfind("variant", 0), 0u) << text;
  EXPECT_NE(lines[2].find("model=reactor,rate=300/s"), std::string::npos) << text;
  EXPECT_NE(lines[3].find("open loop, constant 1k/s"), std::string::npos) << text;
  // Every row ends with its estimate: 1 s warm-up + 3 s + 0.3 s start/stop.
  for (std::size_t i = 2; i < 6; ++i) EXPECT_EQ(lines[i].substr(lines[i].size() - 5), "4.3 s") << text;
  // 8 runs of 4.3 s.
  EXPECT_EQ(lines[6].rfind("total: 8 runs, about 34 s: ", 0), 0u) << text;
  EXPECT_NE(lines[6].find("a drain adds up to 16 s"), std::string::npos) << text;
}

// A capacity search runs many steps, each a whole run: the plan says how many a clean search
// takes and estimates all of them.
TEST(PlanEstimate, ASearchCountsItsStepsEachWithWarmupAndStep) {
  auto sc = parse_valid("name = \"cap\"\n[target]\nmodel = \"reactor\"\n[load]\nrate = \"50/s\"\nwarmup = \"1s\"\n"
                  "duration = \"10s\"\n[search]\nobjective = \"ttlb.p99 < 50ms\"\nvariable = \"load.rate\"\n"
                  "range = [\"50/s\", \"5k/s\"]\nstep = \"2s\"\nresolution = \"2%\"\n");
  ASSERT_EQ(sc.variants.size(), 1u);
  const auto e = estimate(sc.variants[0]);
  EXPECT_EQ(e.steps, 16) << "8 ramp levels, 6 bisections, both ends of the final bracket confirmed";
  EXPECT_DOUBLE_EQ(e.measured_s, 2) << "search.step, not load.duration";
  EXPECT_NEAR(e.total_s(), 16 * (1 + 2 + spawned_target_overhead_s), 1e-9);
  const auto text = format_plan(sc);
  EXPECT_NE(text.find("capacity search on load.rate, 50/s to 5,000/s, about 16 steps"), std::string::npos) << text;
  EXPECT_NE(text.find("total: 1 run, about 53 s"), std::string::npos) << text;
}

}  // namespace
}  // namespace perflab::loadgen
