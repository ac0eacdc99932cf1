#include "perflab/analysis/stats.hpp"

#include <vector>

#include <gtest/gtest.h>

using namespace perflab::analysis;

TEST(StatsBasics, MeanMedianStddev) {
  std::vector<double> odd{3, 1, 2}, even{4, 1, 3, 2}, one{7};
  EXPECT_DOUBLE_EQ(stats::mean(odd), 2.0);
  EXPECT_DOUBLE_EQ(stats::median(odd), 2.0);
  EXPECT_DOUBLE_EQ(stats::median(even), 2.5);
  EXPECT_DOUBLE_EQ(stats::stddev(even), 1.2909944487358056);  // sqrt(5/3)
  EXPECT_DOUBLE_EQ(stats::stddev(one), 0.0);
  EXPECT_DOUBLE_EQ(stats::median(std::vector<double>{}), 0.0);
}

// Exact two-sided p-values worked out by hand from the null distribution of U.
//   n = m = 3: U counts for U = 0..9 are 1,1,2,3,3,3,3,2,1,1 over C(6,3) = 20 arrangements.
//   n = m = 4: C(8,4) = 70 arrangements, U = 0 or 16 only once each.
TEST(MannWhitney, ExactTwoSidedMatchesHandComputedValues) {
  struct row {
    std::vector<double> x, y;
    double u, p;
  };
  const row rows[] = {
      {{1, 2, 3}, {4, 5, 6}, 0, 2.0 / 20},           // completely separated: the two extremes
      {{4, 5, 6}, {1, 2, 3}, 9, 2.0 / 20},           // same, other direction
      {{1, 3, 5}, {2, 4, 6}, 3, 14.0 / 20},          // P(U <= 3) + P(U >= 6) = (1+1+2+3) * 2 / 20
      {{1, 2, 4}, {3, 5, 6}, 1, 4.0 / 20},           // P(U <= 1) + P(U >= 8)
      {{1, 2, 3, 4}, {5, 6, 7, 8}, 0, 2.0 / 70},     // 0.02857
      {{1, 2, 3, 5}, {4, 6, 7, 8}, 1, 4.0 / 70},     // U in {0, 1, 15, 16}: 1 + 1 + 1 + 1
  };
  for (const auto& r : rows) {
    auto res = stats::mann_whitney(r.x, r.y);
    EXPECT_TRUE(res.exact);
    EXPECT_DOUBLE_EQ(res.u, r.u) << "x[0]=" << r.x[0];
    EXPECT_NEAR(res.p_value, r.p, 1e-12) << "x[0]=" << r.x[0];
  }
}

TEST(MannWhitney, MinimumAchievablePValueShowsWhenRepeatsAreTooFew) {
  std::vector<double> a{1, 2, 3}, b{4, 5, 6};
  EXPECT_NEAR(stats::mann_whitney(a, b).min_p, 0.1, 1e-12);  // 3 vs 3 can never reach 0.05
  std::vector<double> c{1, 2, 3, 4, 5}, d{6, 7, 8, 9, 10};
  EXPECT_NEAR(stats::mann_whitney(c, d).min_p, 2.0 / 252, 1e-12);
}

TEST(MannWhitney, TiesUseMidranks) {
  // x = {1, 2, 2}, y = {2, 3, 4}: midranks 1, 3, 3 | 3, 5, 6; U_x = 7 - 6 = 1.
  // Null distribution over the 20 subsets of the doubled ranks {2,6,6,6,10,12}: the doubled rank
  // sum S of x is 14, its null mean 21; |S - 21| >= 7 for {2,6,6} (3 subsets, S = 14) and
  // {6,10,12} (3 subsets, S = 28): p = 6/20.
  std::vector<double> x{1, 2, 2}, y{2, 3, 4};
  auto res = stats::mann_whitney(x, y);
  EXPECT_DOUBLE_EQ(res.u, 1.0);
  EXPECT_NEAR(res.p_value, 6.0 / 20, 1e-12);
  // All values equal: no evidence at all.
  std::vector<double> same{5, 5, 5};
  EXPECT_NEAR(stats::mann_whitney(same, same).p_value, 1.0, 1e-12);
}

// The two null models on tied samples, worked out by hand.
//   x = {0,0,0,0}, y = {0,1,1,1}: U_x = 4 ties / 2 = 2. Untied null of 4 vs 4 (70 splits): U = 0, 1
//   once each, U = 2 twice, so P(U <= 2) = 4/70 and two-sided 8/70; the smallest p is 2/70.
//   Conditional null (midranks 3,3,3,3,3 | 7,7,7): x holds k of the three 7s with weights
//   5, 30, 30, 5 for k = 0..3; k = 0 and k = 3 are the extremes: p = min_p = 10/70.
//   x = {1,1,1,1}, y = {0,2,2,2,2,2} then one more 2 in y: the conditional p rises from 1/21 to
//   2/33 (an agreeing value made the evidence look weaker); the untied p falls, 24/210 -> 24/330.
TEST(MannWhitney, TiedSamplesUnderBothNullModels) {
  struct row {
    std::vector<double> x, y;
    stats::tie_null null;
    double p, min_p;
  };
  const row rows[] = {
      {{0, 0, 0, 0}, {0, 1, 1, 1}, stats::tie_null::untied, 8.0 / 70, 2.0 / 70},
      {{0, 0, 0, 0}, {0, 1, 1, 1}, stats::tie_null::conditional, 10.0 / 70, 10.0 / 70},
      {{1, 1, 1, 1}, {0, 2, 2, 2, 2, 2}, stats::tie_null::conditional, 1.0 / 21, 0},
      {{1, 1, 1, 1}, {0, 2, 2, 2, 2, 2, 2}, stats::tie_null::conditional, 2.0 / 33, 0},
      {{1, 1, 1, 1}, {0, 2, 2, 2, 2, 2}, stats::tie_null::untied, 24.0 / 210, 2.0 / 210},
      {{1, 1, 1, 1}, {0, 2, 2, 2, 2, 2, 2}, stats::tie_null::untied, 24.0 / 330, 2.0 / 330},
  };
  for (const auto& r : rows) {
    auto res = stats::mann_whitney(r.x, r.y, 60, r.null);
    EXPECT_TRUE(res.exact);
    EXPECT_NEAR(res.p_value, r.p, 1e-12) << "|y| = " << r.y.size();
    if (r.min_p > 0) {
      EXPECT_NEAR(res.min_p, r.min_p, 1e-12) << "|y| = " << r.y.size();
    }
  }
  // Untied samples: both nulls are the same test.
  std::vector<double> a{1, 2, 4}, b{3, 5, 6};
  EXPECT_DOUBLE_EQ(stats::mann_whitney(a, b, 60, stats::tie_null::untied).p_value,
                   stats::mann_whitney(a, b, 60, stats::tie_null::conditional).p_value);
}

TEST(MannWhitney, NormalApproximationForLargeSamples) {
  // 40 vs 40, shifted: exact limit 60 exceeded, so the normal approximation is used.
  std::vector<double> x, y;
  for (int i = 0; i < 40; ++i) {
    x.push_back(i);
    y.push_back(i + 20.5);
  }
  auto res = stats::mann_whitney(x, y);
  EXPECT_FALSE(res.exact);
  // U_x = pairs x > y: for x = i, y = j + 20.5 < i means j <= i - 21: sum_{i=21}^{39} (i - 20) = 190.
  EXPECT_DOUBLE_EQ(res.u, 190.0);
  // mu = 800, sigma = sqrt(40*40*81/12) = 103.923; z = (610 - 0.5)/103.923 = 5.8649; p = 4.49e-9.
  EXPECT_NEAR(res.p_value, 4.49e-9, 0.05e-9);
  // Same sample twice: nothing to see.
  EXPECT_GT(stats::mann_whitney(x, x).p_value, 0.99);
}

TEST(MannWhitney, ExactAndApproximationAgreeRoughlyOnModerateSamples) {
  std::vector<double> x{10, 12, 11, 14, 13, 9, 15, 12.5}, y{14, 16, 15.5, 17, 13.5, 18, 16.5, 19};
  auto exact = stats::mann_whitney(x, y, 60);
  auto approx = stats::mann_whitney(x, y, 0);
  EXPECT_TRUE(exact.exact);
  EXPECT_FALSE(approx.exact);
  EXPECT_DOUBLE_EQ(exact.u, approx.u);
  EXPECT_LT(exact.p_value, 0.01);
  EXPECT_NEAR(exact.p_value, approx.p_value, 0.01);
}

TEST(Bootstrap, SameSeedSameIntervalAndItCoversTheShift) {
  std::vector<double> x{100, 102, 98, 101, 99}, y{110, 112, 108, 111, 109};
  auto a = stats::bootstrap_median_difference(x, y, 0.95, 2000, 42);
  auto b = stats::bootstrap_median_difference(x, y, 0.95, 2000, 42);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  EXPECT_LE(a.low, 10.0);
  EXPECT_GE(a.high, 10.0);
  EXPECT_GT(a.low, 0.0);  // a clear shift: the interval excludes 0
  // Identical samples: the interval straddles 0.
  auto c = stats::bootstrap_median_difference(x, x, 0.95, 2000, 7);
  EXPECT_LE(c.low, 0.0);
  EXPECT_GE(c.high, 0.0);
}

TEST(Bootstrap, DifferentSeedsGiveSlightlyDifferentButSimilarIntervals) {
  std::vector<double> x{1, 5, 2, 8, 4, 6, 3, 7}, y{2, 6, 3, 9, 5, 7, 4, 8};
  auto a = stats::bootstrap_median_difference(x, y, 0.9, 4000, 1);
  auto b = stats::bootstrap_median_difference(x, y, 0.9, 4000, 2);
  EXPECT_LT(a.low, a.high);
  EXPECT_NEAR(a.low, b.low, 1.5);
  EXPECT_NEAR(a.high, b.high, 1.5);
}
