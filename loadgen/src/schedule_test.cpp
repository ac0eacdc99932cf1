#include "perflab/loadgen/schedule.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace perflab::loadgen {
namespace {

std::vector<std::int64_t> take(arrival_schedule& s, std::int64_t until_ns) {
  std::vector<std::int64_t> out;
  for (std::int64_t t = s.next(); t < until_ns; t = s.next()) out.push_back(t);
  return out;
}

TEST(RateProfile, ConstantRateSpacesArrivalsEvenly) {
  rate_profile p(1000, 0, {});
  arrival_schedule s(p, false, 0, 1, 1);
  const auto t = take(s, 1'000'000'000);
  ASSERT_EQ(t.size(), 1000u);
  EXPECT_EQ(t[0], 0);
  EXPECT_EQ(t[1], 1'000'000);
  EXPECT_EQ(t[999], 999'000'000);
}

TEST(RateProfile, WorkersInterleaveIntoTheGlobalSchedule) {
  rate_profile p(1000, 0, {});
  std::vector<std::int64_t> all;
  for (int w = 0; w < 3; ++w) {
    arrival_schedule s(p, false, w, 3, 1);
    auto t = take(s, 1'000'000'000);
    all.insert(all.end(), t.begin(), t.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 1000u);
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<std::int64_t>(i) * 1'000'000);
}

TEST(RateProfile, LinearRampCountsTheAreaUnderTheRate) {
  // Warm-up 1 s at 100/s, then 0 -> 1000/s... from 100 to 1100 over 2 s: 100 + 1200 arrivals.
  rate_profile p(100, 1'000'000'000, {{2.0, 1100}});
  EXPECT_NEAR(p.arrivals_before(1'000'000'000), 100, 1e-9);
  EXPECT_NEAR(p.arrivals_before(3'000'000'000), 100 + 1200, 1e-6);
  EXPECT_NEAR(p.rate_at(2'000'000'000), 600, 1e-9);
  EXPECT_NEAR(p.rate_at(10'000'000'000), 1100, 1e-9);
  arrival_schedule s(p, false, 0, 1, 1);
  const auto t = take(s, 3'000'000'000);
  EXPECT_EQ(t.size(), 1300u);
  // Arrivals get denser along the ramp.
  EXPECT_GT(t[101] - t[100], t[1299] - t[1298]);
  // time_of inverts arrivals_before.
  std::size_t hint = 0;
  for (double n : {0.0, 50.0, 100.0, 700.5, 1299.0}) {
    const std::int64_t at = p.time_of(n, hint);
    EXPECT_NEAR(p.arrivals_before(at), n, 1e-3) << n;
  }
}

TEST(RateProfile, RampDownToZeroEndsTheSchedule) {
  rate_profile p(0, 0, {{1.0, 1000}, {1.0, 0}});
  arrival_schedule s(p, false, 0, 1, 1);
  const auto t = take(s, 2'000'000'000);
  EXPECT_EQ(t.size(), 1000u);  // area of the triangle: 1000 * 2 / 2, in [0 s, 2 s)
  // take() consumed arrival 1000 (exactly at 2 s, outside [0, 2 s)); then the rate is 0 for good.
  EXPECT_EQ(s.next(), rate_profile::never);
}

TEST(PoissonSchedule, MeanRateAndExponentialGapsFromAFixedSeed) {
  rate_profile p(10000, 0, {});
  arrival_schedule a(p, true, 0, 1, 42), b(p, true, 0, 1, 42), c(p, true, 0, 1, 43);
  const auto ta = take(a, 10'000'000'000), tb = take(b, 10'000'000'000), tc = take(c, 10'000'000'000);
  EXPECT_EQ(ta, tb);  // reproducible
  EXPECT_NE(ta, tc);
  EXPECT_NEAR(static_cast<double>(ta.size()), 100000, 1500);  // ~4.7 sigma
  // Coefficient of variation of exponential gaps is 1 (constant arrivals would give 0).
  double sum = 0, sq = 0;
  for (std::size_t i = 1; i < ta.size(); ++i) {
    const double g = static_cast<double>(ta[i] - ta[i - 1]);
    sum += g;
    sq += g * g;
  }
  const double n = static_cast<double>(ta.size() - 1), mean = sum / n;
  const double cv = std::sqrt(sq / n - mean * mean) / mean;
  EXPECT_NEAR(cv, 1.0, 0.05);
}

TEST(Rng, BelowStaysInRangeAndCoversIt) {
  rng r(7);
  std::vector<int> seen(10, 0);
  for (int i = 0; i < 10000; ++i) {
    const auto v = r.below(10);
    ASSERT_LT(v, 10u);
    ++seen[v];
  }
  for (int n : seen) EXPECT_NEAR(n, 1000, 150);
}

}  // namespace
}  // namespace perflab::loadgen

namespace perflab::loadgen {
namespace {
TEST(RateProfile, WarmupRunsAtItsOwnRateBeforeARampFromZero) {
  rate_profile p(0, 1'000'000'000, {{1.0, 1000}}, 1000);
  EXPECT_NEAR(p.arrivals_before(1'000'000'000), 1000, 1e-9);        // warm-up at 1000/s
  EXPECT_NEAR(p.arrivals_before(2'000'000'000), 1000 + 500, 1e-6);  // then 0 -> 1000/s
  EXPECT_NEAR(p.rate_at(1'000'000'000), 0, 1e-9);
}
}  // namespace
}  // namespace perflab::loadgen
