#include <perflab/fault/injector.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace perflab::fault;

profile parse(std::string_view spec) {
  auto p = parse_profile(spec);
  EXPECT_TRUE(p) << p.error();
  return *p;
}

// |observed - n p| within 5 standard deviations of a binomial count: fails for a wrong rate, not
// by chance (p < 1e-6).
void expect_binomial(std::uint64_t observed, std::uint64_t n, double p) {
  const double sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(observed), static_cast<double>(n) * p, 5 * sd + 1);
}

TEST(FaultDecide, SameSeedSameDecisionsOtherSeedOthers) {
  const auto a = parse("error=0.3:503;reset=0.1;latency=exp:5ms;seed=42");
  const auto b = parse("error=0.3:503;reset=0.1;latency=exp:5ms;seed=43");
  int differ = 0;
  for (std::uint64_t n = 0; n < 1000; ++n) {
    const auto x = decide(a, n), y = decide(a, n), z = decide(b, n);
    EXPECT_EQ(x.delay, y.delay);
    EXPECT_EQ(x.status, y.status);
    EXPECT_EQ(x.reset, y.reset);
    if (x.delay != z.delay) ++differ;
  }
  EXPECT_GT(differ, 990);
}

TEST(FaultDecide, RatesAreBinomialAndExclusive) {
  const auto p = parse("error=0.1:503;reset=0.05;drip=10B/1ms");
  constexpr std::uint64_t n = 100000;
  std::uint64_t errors = 0, resets = 0, dripped = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto d = decide(p, i);
    errors += d.status == 503;
    resets += d.reset;
    dripped += d.drip_bytes == 10;
    EXPECT_LE(int(d.reset) + int(d.status != 0) + int(d.drip_bytes != 0), 1);
  }
  expect_binomial(errors, n, 0.1);
  expect_binomial(resets, n, 0.05);
  expect_binomial(dripped, n, 0.85);
}

TEST(FaultDecide, LatencyDrawsMatchTheDistribution) {
  constexpr std::uint64_t n = 50000;
  const auto ex = parse("latency=exp:10ms");
  double sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += std::chrono::duration<double, std::milli>(decide(ex, i).delay).count();
  EXPECT_NEAR(sum / n, 10.0, 10.0 * 5 / std::sqrt(double(n)));  // sd of an exponential = its mean

  const auto bi = parse("latency=bimodal:99%:5ms,1%:2s");
  std::uint64_t slow = 0;
  for (std::uint64_t i = 0; i < n; ++i) slow += decide(bi, i).delay == 2s;
  expect_binomial(slow, n, 0.01);

  const auto ln = parse("latency=lognormal:5ms,0.5");
  std::uint64_t below_median = 0;
  for (std::uint64_t i = 0; i < n; ++i) below_median += decide(ln, i).delay < 5ms;
  expect_binomial(below_median, n, 0.5);
}

TEST(FaultInjector, CountsDecisionsAndAppliedFaultsApartAndIsIdleWithoutAProfile) {
  injector inj;
  EXPECT_FALSE(inj.next().any());
  EXPECT_EQ(inj.stats().decided, 0u);
  inj.set(parse("error=1:502"));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(inj.next().status, 502);
  EXPECT_EQ(inj.stats().errors, 0u);  // decided, not yet applied
  for (int i = 0; i < 10; ++i) inj.count(applied::error);
  inj.set(parse("none"));
  EXPECT_FALSE(inj.next().any());
  const auto s = inj.stats();
  EXPECT_EQ(s.decided, 10u);
  EXPECT_EQ(s.errors, 10u);
  EXPECT_EQ(s.profile_changes, 2u);
  std::string text;
  inj.write_prometheus(text);
  EXPECT_NE(text.find("perflab_fault_errors_total 10\n"), std::string::npos) << text;
  EXPECT_NE(text.find("perflab_fault_profile_changes_total 2\n"), std::string::npos);
  EXPECT_NE(text.find("perflab_fault_profile_info{spec=\"none\"} 1\n"), std::string::npos);
}

TEST(FaultInjector, ThreadsDecideWithoutLosingCounts) {
  injector inj(parse("reset=0.5"));
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 5000; ++i)
        if (inj.next().reset) inj.count(applied::reset);
    });
  std::thread changer([&] {
    for (int i = 0; i < 50; ++i) inj.set(parse(i % 2 ? "reset=0.5" : "reset=0.5;seed=9"));
  });
  for (auto& th : ts) th.join();
  changer.join();
  const auto s = inj.stats();
  EXPECT_EQ(s.decided, 20000u);
  expect_binomial(s.resets, 20000, 0.5);
  EXPECT_EQ(s.profile_changes, 50u);
}

}  // namespace
