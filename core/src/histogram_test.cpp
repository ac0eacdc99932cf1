#include "perflab/core/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using perflab::histogram;

constexpr std::int64_t one_hour_ns = 3'600'000'000'000;

// Log-uniform values between 1 and ~1e10 with a fixed seed: every bucket gets traffic.
std::vector<std::int64_t> random_values(std::size_t n, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> exponent(0.0, 10.0);
  std::vector<std::int64_t> v(n);
  for (auto& x : v) x = static_cast<std::int64_t>(std::pow(10.0, exponent(rng)));
  return v;
}

// The exact percentile from a sorted array, by HdrHistogram's rank rule: rank ceil(p/100 * n).
std::int64_t oracle_percentile(const std::vector<std::int64_t>& sorted, double p) {
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::int64_t>(std::ceil(std::nextafter(p, 0.0) / 100.0 * n));
  rank = std::clamp<std::int64_t>(rank, 1, static_cast<std::int64_t>(sorted.size()));
  return sorted[static_cast<std::size_t>(rank - 1)];
}

struct layout_case {
  std::int64_t lowest;
  std::int64_t highest;
  int digits;
  std::int32_t counts_len;  // as HdrHistogram computes it
};

TEST(HistogramLayout, CountsLengthMatchesHdrHistogram) {
  const layout_case cases[] = {
      {1, 3'600'000'000, 3, 23552},  // HdrHistogram_c's own test value (1 h in us, 3 digits)
      {1, 2, 3, 2048},               // one bucket of 2048 slots (the LAB.md worked example)
      {1, one_hour_ns, 3, 33792},    // 32 buckets
      {1000, 3'600'000'000, 2, 2176},  // unit magnitude 9, 256 sub-buckets: 16 buckets of 128 new slots
      {1, 1'000'000, 1, 272},          // 32 sub-buckets: 16 buckets of 16 new slots
  };
  for (const auto& c : cases) {
    histogram h(c.lowest, c.highest, c.digits);
    EXPECT_EQ(h.counts_len(), c.counts_len) << c.lowest << ".." << c.highest << " digits " << c.digits;
    // The last slot must cover highest_trackable.
    EXPECT_GE(h.highest_equivalent(h.value_at_index(h.counts_len() - 1)), c.highest);
  }
}

TEST(HistogramLayout, RejectsBadParameters) {
  EXPECT_THROW(histogram(0, 100, 3), std::invalid_argument);
  EXPECT_THROW(histogram(10, 19, 3), std::invalid_argument);
  EXPECT_THROW(histogram(1, 100, 0), std::invalid_argument);
  EXPECT_THROW(histogram(1, 100, 6), std::invalid_argument);
  EXPECT_THROW(histogram(std::int64_t{1} << 60, std::numeric_limits<std::int64_t>::max(), 5), std::invalid_argument);
  EXPECT_NO_THROW(histogram(1, std::numeric_limits<std::int64_t>::max(), 3));
}

TEST(HistogramSlots, EquivalentValuesFollowHdrHistogram) {
  histogram h(1, one_hour_ns, 3);
  struct row {
    std::int64_t value, lowest, highest;
  };
  // Width 1 below 2048, then 2, 4, 8 ... per power of two.
  const row rows[] = {{0, 0, 0},          {1, 1, 1},          {2047, 2047, 2047}, {2048, 2048, 2049},
                      {2049, 2048, 2049}, {8180, 8180, 8183}, {8191, 8188, 8191}, {8193, 8192, 8199},
                      {10007, 10000, 10007}, {10009, 10008, 10015}};
  for (const auto& r : rows) {
    EXPECT_EQ(h.lowest_equivalent(r.value), r.lowest) << r.value;
    EXPECT_EQ(h.highest_equivalent(r.value), r.highest) << r.value;
    EXPECT_EQ(h.value_at_index(h.index_of(r.value)), r.lowest) << r.value;
  }
  EXPECT_TRUE(h.values_equivalent(10000, 10007));
  EXPECT_FALSE(h.values_equivalent(10007, 10008));
}

TEST(HistogramSlots, IndexAndValueAreInverse) {
  histogram h(1, one_hour_ns, 3);
  for (std::int32_t i = 0; i < h.counts_len(); ++i) ASSERT_EQ(h.index_of(h.value_at_index(i)), i);
}

TEST(HistogramRecord, TooLargeAndNegativeAreCountedNotRecorded) {
  histogram h(1, 1'000'000, 3);
  EXPECT_TRUE(h.record(1'000'000));
  EXPECT_FALSE(h.record(1'000'001));
  EXPECT_FALSE(h.record(5'000'000, 3));
  EXPECT_FALSE(h.record(-1));
  EXPECT_EQ(h.total_count(), 1);
  EXPECT_EQ(h.too_large(), 4);
  EXPECT_EQ(h.max(), h.highest_equivalent(1'000'000));
}

TEST(HistogramRecord, CountsWithMultiplicity) {
  histogram h(1, one_hour_ns, 3);
  h.record(100, 5);
  h.record(200);
  EXPECT_EQ(h.total_count(), 6);
  EXPECT_EQ(h.count_between(100, 100), 5);
  EXPECT_EQ(h.value_at_percentile(50), 100);
  EXPECT_EQ(h.value_at_percentile(100), 200);
  EXPECT_TRUE(h.record(300, 0));
  EXPECT_EQ(h.total_count(), 6);
  EXPECT_EQ(h.max(), 200);
}

TEST(HistogramQuery, EmptyHistogramGivesZeros) {
  histogram h(1, one_hour_ns, 3);
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stddev(), 0.0);
  EXPECT_EQ(h.value_at_percentile(99), 0);
  EXPECT_TRUE(h.percentile_spectrum().empty());
}

TEST(HistogramQuery, MatchesSortedArrayOracle) {
  struct layout {
    std::int64_t lowest, highest;
    int digits;
  };
  const layout layouts[] = {{1, one_hour_ns, 3}, {1, one_hour_ns, 2}, {1, one_hour_ns, 5}, {1000, one_hour_ns, 3}};
  for (const auto& l : layouts) {
    SCOPED_TRACE(testing::Message() << "lowest " << l.lowest << " digits " << l.digits);
    histogram h(l.lowest, l.highest, l.digits);
    auto values = random_values(100'000, static_cast<std::uint32_t>(l.digits + l.lowest));
    for (auto v : values) ASSERT_TRUE(h.record(v));
    std::sort(values.begin(), values.end());
    ASSERT_EQ(h.total_count(), static_cast<std::int64_t>(values.size()));

    // Relative precision of a slot: 1 / sub_bucket_half_count (< 10^-digits * 2), plus the
    // lowest discernible unit for small values.
    const double rel = 2.0 * std::pow(10.0, -l.digits);
    for (double p : {0.001, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0}) {
      const std::int64_t exact = oracle_percentile(values, p);
      const std::int64_t got = h.value_at_percentile(p);
      EXPECT_EQ(got, h.highest_equivalent(exact)) << "p" << p;
      EXPECT_GE(got, exact) << "p" << p;
      EXPECT_LE(static_cast<double>(got - exact), rel * static_cast<double>(exact) + 2.0 * l.lowest) << "p" << p;
    }
    EXPECT_EQ(h.value_at_percentile(0), h.lowest_equivalent(values.front()));
    EXPECT_EQ(h.min(), h.lowest_equivalent(values.front()));
    EXPECT_EQ(h.max(), h.highest_equivalent(values.back()));

    double sum = 0, sum_sq = 0;
    for (auto v : values) sum += static_cast<double>(v);
    const double mean = sum / static_cast<double>(values.size());
    for (auto v : values) sum_sq += (static_cast<double>(v) - mean) * (static_cast<double>(v) - mean);
    const double sd = std::sqrt(sum_sq / static_cast<double>(values.size()));
    EXPECT_NEAR(h.mean(), mean, rel * mean + l.lowest);
    EXPECT_NEAR(h.stddev(), sd, rel * sd + l.lowest);

    // count_between: values v with lowest_equivalent(low) <= v <= highest_equivalent(high).
    for (auto [lo, hi] : {std::pair<std::int64_t, std::int64_t>{1000, 2000}, {12345, 987654}, {0, 10}, {5e9, 9e9}}) {
      const auto a = std::lower_bound(values.begin(), values.end(), h.lowest_equivalent(lo));
      const auto b = std::upper_bound(values.begin(), values.end(), h.highest_equivalent(hi));
      EXPECT_EQ(h.count_between(lo, hi), b - a) << lo << ".." << hi;
    }
  }
}

TEST(HistogramMerge, SumsCountsAcrossThreads) {
  const auto values = random_values(200'000, 7);
  histogram expected(1, one_hour_ns, 3);
  for (auto v : values) expected.record(v);
  expected.record(one_hour_ns * 2);  // too large, must survive the merge

  // One histogram per thread, merged after join (the pattern the load generator uses).
  constexpr int threads = 4;
  std::vector<histogram> parts(threads, histogram(1, one_hour_ns, 3));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (std::size_t i = static_cast<std::size_t>(t); i < values.size(); i += threads) parts[static_cast<std::size_t>(t)].record(values[i]);
    });
  for (auto& th : pool) th.join();
  parts[2].record(one_hour_ns * 2);

  histogram merged(1, one_hour_ns, 3);
  for (const auto& p : parts) merged.add(p);
  EXPECT_EQ(merged, expected);
  EXPECT_EQ(merged.too_large(), 1);
  EXPECT_EQ(merged.min(), expected.min());
  EXPECT_EQ(merged.max(), expected.max());
  EXPECT_EQ(merged.value_at_percentile(99.9), expected.value_at_percentile(99.9));
}

TEST(HistogramMerge, DifferentLayoutsKeepCountsAndTopOfSlot) {
  histogram coarse(1, 1'000'000, 2);
  histogram fine(1, one_hour_ns, 3);
  for (std::int64_t v = 1; v <= 1'000'000; v += 37) coarse.record(v);
  coarse.record(2'000'000);  // too large in coarse
  fine.add(coarse);
  EXPECT_EQ(fine.total_count(), coarse.total_count());
  EXPECT_EQ(fine.too_large(), 1);
  // Each coarse slot lands at its highest-equivalent value: percentiles agree within the fine slot.
  for (double p : {50.0, 90.0, 99.0, 100.0})
    EXPECT_TRUE(fine.values_equivalent(fine.value_at_percentile(p), coarse.value_at_percentile(p))) << p;

  // Going the other way, what does not fit becomes too_large.
  histogram small(1, 1000, 3);
  histogram big(1, one_hour_ns, 3);
  big.record(10);
  big.record(5000);
  small.add(big);
  EXPECT_EQ(small.total_count(), 1);
  EXPECT_EQ(small.too_large(), 1);
}

TEST(HistogramReset, ClearsEverything) {
  histogram h(1, one_hour_ns, 3);
  h.record(42, 3);
  h.record(one_hour_ns + 1);
  h.reset();
  EXPECT_EQ(h, histogram(1, one_hour_ns, 3));
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.too_large(), 0);
  EXPECT_EQ(h.max(), 0);
  h.record(7);
  EXPECT_EQ(h.min(), 7);
  EXPECT_EQ(h.max(), 7);
}

TEST(HistogramRawCounts, SetCountKeepsTotalsAndExtremes) {
  histogram h(1, one_hour_ns, 3);
  h.set_count_at_index(h.index_of(500), 4);
  h.set_count_at_index(h.index_of(100), 1);
  EXPECT_EQ(h.total_count(), 5);
  EXPECT_EQ(h.min(), 100);
  EXPECT_EQ(h.max(), 500);
  h.set_count_at_index(h.index_of(500), 0);
  EXPECT_EQ(h.total_count(), 1);
  EXPECT_EQ(h.max(), 100);
}

TEST(HistogramSpectrum, FollowsHdrHistogramPercentileIterator) {
  histogram h(1, one_hour_ns, 3);
  for (std::int64_t v = 1; v <= 10'000; ++v) h.record(v);
  const auto spectrum = h.percentile_spectrum(5);
  ASSERT_GE(spectrum.size(), 20u);
  // Steps of 10% up to 50%, then halving: 5% up to 75%, 2.5% up to 87.5% ...
  const double levels[] = {0, 10, 20, 30, 40, 50, 55, 60, 65, 70, 75, 77.5, 80, 82.5, 85, 87.5, 88.75};
  for (std::size_t i = 0; i < std::size(levels); ++i) {
    EXPECT_DOUBLE_EQ(spectrum[i].percentile, levels[i]) << i;
    if (levels[i] > 0) {
      EXPECT_EQ(spectrum[i].value, h.value_at_percentile(levels[i])) << levels[i];
    }
  }
  EXPECT_EQ(spectrum.front().value, 1);
  EXPECT_EQ(spectrum.back().percentile, 100.0);
  EXPECT_EQ(spectrum.back().value, h.max());
  EXPECT_EQ(spectrum.back().cumulative_count, 10'000);
  std::int64_t sum = 0;
  for (std::size_t i = 1; i < spectrum.size(); ++i) {
    EXPECT_GE(spectrum[i].value, spectrum[i - 1].value);
    EXPECT_GT(spectrum[i].percentile, spectrum[i - 1].percentile);
  }
  for (const auto& pt : spectrum) sum += pt.count_at_value;
  EXPECT_EQ(sum, 10'000);
}

TEST(HistogramSpectrum, SingleValueEndsAtHundred) {
  histogram h(1, one_hour_ns, 3);
  h.record(1000, 10);
  const auto spectrum = h.percentile_spectrum();
  ASSERT_EQ(spectrum.size(), 2u);
  EXPECT_EQ(spectrum[0].percentile, 0.0);
  EXPECT_EQ(spectrum[0].value, 1000);
  EXPECT_EQ(spectrum[0].cumulative_count, 10);
  EXPECT_EQ(spectrum[1].percentile, 100.0);
}

TEST(HistogramSpectrum, HugeCountsStillTerminate) {
  // Found by the fuzzer: near 100% the level stops moving in double precision.
  histogram h(1, one_hour_ns, 3);
  h.record(1, std::int64_t{1} << 61);
  h.record(2, 3);
  h.record(1000, 1);
  const auto spectrum = h.percentile_spectrum();
  ASSERT_LT(spectrum.size(), 10'000u);
  EXPECT_EQ(spectrum.back().percentile, 100.0);
  EXPECT_EQ(spectrum.back().value, 1000);
  std::int64_t sum = 0;
  for (const auto& pt : spectrum) sum += pt.count_at_value;
  EXPECT_EQ(sum, h.total_count());
}

}  // namespace
