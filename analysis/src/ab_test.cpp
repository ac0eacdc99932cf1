#include "perflab/analysis/ab.hpp"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "perflab/analysis/stats.hpp"
#include "perflab/core/exit_codes.hpp"

using namespace perflab;
using namespace perflab::analysis;

namespace {

// One side of an A/B run: a variant per repeat whose goodput and TTLB are `tps` and `ttlb_us`
// scaled by the repeat's factor (the run-to-run noise).
result::run side(const std::vector<double>& factors, double tps, double ttlb_us) {
  result::run r;
  r.complete = true;
  int rep = 0;
  for (double f : factors) {
    result::variant v;
    v.name = "model=reactor";
    v.repeat = rep++;
    v.complete = true;
    v.tps_mean = tps;
    v.rps_mean = tps;
    v.completed = 1000;
    v.ttlb.p50_us = ttlb_us * f;
    v.ttlb.p90_us = ttlb_us * 1.5 * f;
    v.ttlb.p99_us = ttlb_us * 3 * f;
    r.variants.push_back(v);
  }
  return r;
}

const std::vector<double> noise5 = {1.00, 1.02, 0.98, 1.01, 0.99};  // about 1.6 % per run

const metric_change* find(const ab_verdict& v, const std::string& metric) {
  for (const auto& c : v.cmp.changes)
    if (c.metric == metric) return &c;
  return nullptr;
}

}  // namespace

TEST(AbVerdict, TheSameNumbersOnBothSidesAreNoRegression) {
  auto a = side(noise5, 1000, 5000);
  auto b = side({0.99, 1.01, 1.00, 0.98, 1.02}, 1000, 5000);
  auto v = judge_ab(a, b, ab_options{});
  EXPECT_EQ(v.exit_code, exit_code::ok);
  EXPECT_EQ(v.headline, "NO REGRESSION");
  EXPECT_EQ(v.cmp.regressions, 0);
  ASSERT_EQ(v.detect.size(), v.cmp.changes.size());
  const auto* p50 = find(v, "ttlb.p50");
  ASSERT_NE(p50, nullptr);
  ASSERT_TRUE(p50->ratio_ci_low.has_value());
  EXPECT_LE(*p50->ratio_ci_low, 1.0);
  EXPECT_GE(*p50->ratio_ci_high, 1.0);
  EXPECT_NE(format_ab(v, ab_options{}).find("-> exit 0"), std::string::npos);
}

TEST(AbVerdict, ASlowerCandidateIsARegressionWithExitFourAndARatioIntervalAboveOne) {
  auto a = side(noise5, 1000, 5000);
  auto b = side(noise5, 1000, 6000);  // +20 % TTLB on every repeat
  auto v = judge_ab(a, b, ab_options{});
  EXPECT_EQ(v.exit_code, exit_code::regression);
  EXPECT_EQ(v.headline, "REGRESSION");
  const auto* p50 = find(v, "ttlb.p50");
  ASSERT_NE(p50, nullptr);
  EXPECT_EQ(p50->result, verdict::regressed);
  ASSERT_TRUE(p50->p_value.has_value());
  EXPECT_LT(*p50->p_value, 0.05);
  ASSERT_TRUE(p50->ratio_ci_low.has_value());
  EXPECT_GT(*p50->ratio_ci_low, 1.1);
  EXPECT_LT(*p50->ratio_ci_high, 1.3);
  // Goodput did not move: not a regression of that metric.
  EXPECT_EQ(find(v, "tps.mean")->result, verdict::unchanged);
  auto j = ab_json(v, ab_options{});
  EXPECT_EQ(j["exit_code"], exit_code::regression);
  EXPECT_EQ(j["headline"], "REGRESSION");
  EXPECT_TRUE(j["changes"][0].contains("smallest_detectable_change"));
}

TEST(AbVerdict, AChangeWithinTheToleranceIsNeverARegressionHoweverSignificant) {
  auto a = side({1.000, 1.001, 0.999, 1.000, 1.001}, 1000, 5000);
  auto b = side({1.030, 1.031, 1.029, 1.030, 1.031}, 1000, 5000);  // +3 %, every repeat above
  auto v = judge_ab(a, b, ab_options{});  // tolerance 5 %
  EXPECT_EQ(v.exit_code, exit_code::ok);
  EXPECT_EQ(find(v, "ttlb.p50")->result, verdict::unchanged);
}

TEST(AbVerdict, ASaturatedSideOverridesTheComparison) {
  auto a = side(noise5, 1000, 5000);
  auto b = side(noise5, 1000, 5000);
  b.variants[2].loadgen.saturated = true;
  auto v = judge_ab(a, b, ab_options{});
  EXPECT_EQ(v.exit_code, exit_code::saturated);
  EXPECT_EQ(v.headline, "NOT TRUSTED: SATURATED");
  ASSERT_FALSE(v.suspect.empty());
  EXPECT_NE(v.suspect.front().find("candidate model=reactor #3"), std::string::npos) << v.suspect.front();
}

TEST(AbVerdict, OnlyTheCandidatesThresholdsDecide) {
  result::threshold_verdict failed{"ttlb.p99 < 10ms", 15000, 10000, false};
  auto a = side(noise5, 1000, 5000);
  auto b = side(noise5, 1000, 5000);
  a.variants[0].thresholds.push_back(failed);
  auto v = judge_ab(a, b, ab_options{});
  EXPECT_EQ(v.exit_code, exit_code::ok) << "the baseline's failing threshold is context, not the change's doing";
  ASSERT_FALSE(v.notes.empty());
  EXPECT_NE(v.notes.front().find("baseline"), std::string::npos);

  b.variants[1].thresholds.push_back(failed);
  v = judge_ab(a, b, ab_options{});
  EXPECT_EQ(v.exit_code, exit_code::thresholds_failed);
}

TEST(AbVerdict, AnIncompleteRunIsInterruptedWhateverTheNumbers) {
  auto a = side(noise5, 1000, 5000);
  auto b = side(noise5, 1000, 5000);
  b.complete = false;
  auto v = judge_ab(a, b, ab_options{});
  EXPECT_EQ(v.exit_code, exit_code::interrupted);
}

TEST(AbNoise, RelativeValuesAreEachRepeatOverItsSidesMedian) {
  metric_change c;
  c.baseline = {100, 110, 90};
  c.candidate = {200, 220, 180};
  auto rel = relative_values(c);
  ASSERT_EQ(rel.size(), 6u);
  EXPECT_DOUBLE_EQ(rel[0], 1.0);
  EXPECT_DOUBLE_EQ(rel[1], 1.1);
  EXPECT_DOUBLE_EQ(rel[5], 0.9);
  c.baseline = {0, 0, 0};  // a zero median says nothing about relative noise
  EXPECT_EQ(relative_values(c).size(), 3u);
}

TEST(AbNoise, FalsePositivesStayNearAlphaAndPowerRisesWithTheShift) {
  // A 5 % per-run noise, judged with no tolerance so the test alone decides.
  std::vector<double> rel;
  for (int i = 0; i < 40; ++i) rel.push_back(1.0 + 0.05 * std::sin(i * 1.7));
  const metric m = *parse_metric("ttlb.p50");
  compare_options opt{0.0, 0.05, {m}, false};
  const double fp = regression_rate(rel, 5, 0.0, m, opt, 1000, 7);
  EXPECT_LT(fp, 0.06) << "an A/A run is flagged about alpha/2 of the time (one-sided), never much more";
  double last = fp;
  for (double shift : {0.02, 0.05, 0.10}) {
    const double r = regression_rate(rel, 5, shift, m, opt, 1000, 7);
    EXPECT_GE(r, last - 0.02) << shift;
    last = r;
  }
  EXPECT_GT(last, 0.9) << "a 10 % shift over a 5 % noise is seen almost always with 5 repeats";

  // A 5 % tolerance only lowers the rates: an observed change within it never counts (a true 4 %
  // shift can still be observed beyond 5 % in a noisy sample), and the smallest detectable change
  // is above it.
  compare_options tol{0.05, 0.05, {m}, false};
  EXPECT_LE(regression_rate(rel, 5, 0.0, m, tol, 1000, 7), fp);
  EXPECT_LT(regression_rate(rel, 5, 0.04, m, tol, 500, 7), regression_rate(rel, 5, 0.04, m, opt, 500, 7));
  auto sdc = smallest_detectable_change(rel, 5, m, tol, 0.8, 400, 1);
  ASSERT_TRUE(sdc.has_value());
  EXPECT_GT(*sdc, 0.05);
  EXPECT_LT(*sdc, 0.2);
  // More repeats see smaller changes (or the same).
  auto sdc10 = smallest_detectable_change(rel, 10, m, tol, 0.8, 400, 1);
  ASSERT_TRUE(sdc10.has_value());
  EXPECT_LE(*sdc10, *sdc);
  // Goodput is worse when lower: the shift moves the candidate down.
  const metric tps = *parse_metric("tps.mean");
  compare_options t0{0.0, 0.05, {tps}, false};
  EXPECT_GT(regression_rate(rel, 5, 0.10, tps, t0, 500, 7), 0.9);
}

TEST(AbStats, BootstrapMedianRatio) {
  std::vector<double> x = {100, 101, 99, 100, 102};
  std::vector<double> y = {120, 121, 119, 122, 120};
  auto ci = stats::bootstrap_median_ratio(x, y, 0.95, 2000, 1);
  EXPECT_GT(ci.low, 1.15);
  EXPECT_LT(ci.high, 1.25);
  EXPECT_LE(ci.low, ci.high);
  std::vector<double> zeros = {0, 0, 0};
  auto none = stats::bootstrap_median_ratio(zeros, y, 0.95, 200, 1);
  EXPECT_EQ(none.low, 0);
  EXPECT_EQ(none.high, 0);
}

TEST(AbVerdict, AChangeWithinTwiceTheRunsOwnNoiseIsNotCountedEvenWhenSignificant) {
  // +11 % at the median, p = 0.032 (one candidate repeat below the top baseline one), but the
  // repeats spread by about 8 % per run: 2 x 8 % is the floor, and 11 % is under it.
  auto a = side({0.90, 0.95, 1.00, 1.05, 1.10}, 1000, 5000);
  auto b = side({1.06, 1.08, 1.11, 1.12, 1.30}, 1000, 5000);
  const auto plain = compare_runs(a, b, ab_options{}.compare);
  const metric_change* p50 = nullptr;
  for (const auto& c : plain.changes)
    if (c.metric == "ttlb.p50") p50 = &c;
  ASSERT_NE(p50, nullptr);
  ASSERT_EQ(p50->result, verdict::regressed) << "compare alone counts it: beyond 5 % and p < 0.05";
  ASSERT_LT(*p50->p_value, 0.05);

  auto v = judge_ab(a, b, ab_options{});
  EXPECT_EQ(v.exit_code, exit_code::ok);
  EXPECT_EQ(find(v, "ttlb.p50")->result, verdict::unchanged);
  EXPECT_GT(find(v, "ttlb.p50")->tolerance, 0.11) << "the floor it was judged with";
  bool noted = false;
  for (const auto& n : v.notes) noted = noted || n.find("ttlb.p50") != std::string::npos;
  EXPECT_TRUE(noted) << "a note says which change the noise floor kept out";

  // Without the floor (0 sigmas) ab agrees with compare.
  ab_options no_floor;
  no_floor.noise_floor_sigmas = 0;
  EXPECT_EQ(judge_ab(a, b, no_floor).exit_code, exit_code::regression);
}
