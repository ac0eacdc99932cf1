#include <perflab/fault/profile.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

namespace {

using namespace std::chrono_literals;
using perflab::fault::latency_dist;
using perflab::fault::load_profile;
using perflab::fault::parse_profile;

double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct valid_case {
  std::string spec;
  std::string canonical;  // what the parsed profile prints (and parses back to itself)
};

TEST(FaultProfileParse, AcceptsEachItemAndPrintsItCanonically) {
  const valid_case cases[] = {
      {"", "none"},
      {"none", "none"},
      {"latency=fixed:5ms", "latency=fixed:5ms"},
      {"latency=exp:5ms", "latency=exp:5ms"},
      {"latency=lognormal:5ms,0.5", "latency=lognormal:5ms,0.5"},
      {"latency=bimodal:99%:5ms,1%:2s", "latency=bimodal:99%:5ms,1%:2s"},
      {"latency=mix:50%:1ms, 30%:2ms, 20%:3ms", "latency=bimodal:50%:1ms,30%:2ms,20%:3ms"},
      {"error=0.1:503", "error=0.1:503"},
      {"error=10%", "error=0.1:503"},
      {"error=1:500", "error=1:500"},
      {"reset=0.01", "reset=0.01"},
      {"drip=100B/10ms", "drip=100B/10ms"},
      {"drip=1KiB/s", "drip=1024B/1s"},
      {"error=0.5:429; reset=0.25 ;seed=7", "error=0.5:429;reset=0.25;seed=7"},
      {"# an outage\nerror=1:503\n\nlatency=fixed:2s  # slow too\n", "latency=fixed:2s;error=1:503"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.spec);
    auto p = parse_profile(c.spec);
    ASSERT_TRUE(p) << p.error();
    EXPECT_EQ(p->spec, c.canonical);
    auto again = parse_profile(p->spec);
    ASSERT_TRUE(again) << again.error();
    EXPECT_EQ(again->spec, c.canonical);
  }
}

TEST(FaultProfileParse, RejectsBadItemsSayingWhatIsExpected) {
  const std::pair<std::string, std::string> cases[] = {
      {"latency=fixed", "expected latency=fixed:D"},
      {"latency=gauss:5ms", "expected latency=fixed:D"},
      {"latency=fixed:5", "latency=fixed:5"},
      {"latency=fixed:1h", "at most 10m"},
      {"latency=lognormal:5ms", "expected latency"},
      {"latency=lognormal:5ms,x", "sigma must be"},
      {"latency=bimodal:99%:5ms,2%:2s", "add up to 101%"},
      {"error=2", "rate"},
      {"error=0.1:200", "status must be 400..599"},
      {"error=0.1:5xx", "status must be 400..599"},
      {"reset=-1", "rate"},
      {"drip=100B", "expected drip=BYTES/INTERVAL"},
      {"drip=0B/1s", "at least 1"},
      {"drip=10B/0", "more than 0"},
      {"seed=abc", "whole number"},
      {"colour=red", "unknown key \"colour\""},
      {"fixed:5ms", "is not KEY=VALUE"},
      {"error=0.6;reset=0.6", "more than 1"},
  };
  for (const auto& [spec, message] : cases) {
    SCOPED_TRACE(spec);
    auto p = parse_profile(spec);
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().find(message), std::string::npos) << p.error();
  }
}

TEST(FaultProfileParse, ActiveOnlyWithAFault) {
  EXPECT_FALSE(parse_profile("none")->active());
  EXPECT_FALSE(parse_profile("seed=3")->active());
  EXPECT_TRUE(parse_profile("latency=fixed:1ms")->active());
  EXPECT_TRUE(parse_profile("drip=1B/1ms")->active());
}

TEST(FaultProfileLoad, ReadsAFileElseASpecAndNamesTheOption) {
  const std::string path = ::testing::TempDir() + "fault_profile_test.txt";
  {
    std::ofstream f(path);
    f << "# outage\nerror=100%:503\nlatency=fixed:10ms\n";
  }
  auto from_file = load_profile(path);
  ASSERT_TRUE(from_file) << from_file.error();
  EXPECT_EQ(from_file->spec, "latency=fixed:10ms;error=1:503");
  std::remove(path.c_str());

  auto spec = load_profile("reset=0.5");
  ASSERT_TRUE(spec) << spec.error();
  EXPECT_EQ(spec->reset_rate, 0.5);

  auto missing = load_profile("/no/such/profile.txt");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().rfind("--fault-profile: ", 0), 0u) << missing.error();
  EXPECT_NE(missing.error().find("neither a readable file nor a spec"), std::string::npos);

  auto bad = load_profile("error=0.1:200");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().rfind("--fault-profile: ", 0), 0u) << bad.error();
}

TEST(FaultLatency, SamplesFollowTheDistribution) {
  auto fixed = parse_profile("latency=fixed:5ms")->latency;
  EXPECT_EQ(fixed.sample(0.3, 0.9), 5ms);
  auto ex = parse_profile("latency=exp:10ms")->latency;
  // Inverse CDF: the median of an exponential is mean * ln 2.
  EXPECT_NEAR(ms(ex.sample(0.5, 0)), 10 * std::log(2.0), 1e-6);
  auto ln = parse_profile("latency=lognormal:5ms,0.5")->latency;
  // u2 = 0.25: cos(pi/2) = 0, so z = 0 and the draw is the median.
  EXPECT_NEAR(ms(ln.sample(0.7, 0.25)), 5.0, 1e-6);
  auto bi = parse_profile("latency=bimodal:99%:5ms,1%:2s")->latency;
  EXPECT_EQ(bi.sample(0.5, 0), 5ms);
  EXPECT_EQ(bi.sample(0.989, 0), 5ms);
  EXPECT_EQ(bi.sample(0.995, 0), 2s);
  EXPECT_EQ(bi.mean(), std::chrono::nanoseconds(static_cast<std::int64_t>(0.99 * 5e6 + 0.01 * 2e9)));
}

}  // namespace
