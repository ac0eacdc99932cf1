#include "perflab/loadgen/thresholds.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace perflab::loadgen {
namespace {

struct threshold_case {
  const char* expression;
  const char* metric;
  const char* op;
  double limit;
};

TEST(ThresholdParse, AcceptsEveryMetricFamilyAndUnit) {
  const std::vector<threshold_case> cases = {
      {"ttlb.p99 < 50ms", "ttlb.p99", "<", 50000},
      {"ttfb.p99.9<=1s", "ttfb.p99.9", "<=", 1e6},
      {"connect.max < 250us", "connect.max", "<", 250},
      {"send_lag.p99 < 1ms", "send_lag.p99", "<", 1000},
      {"ttlb_uncorrected.mean < 2ms", "ttlb_uncorrected.mean", "<", 2000},
      {"errors.rate < 0.1%", "errors.rate", "<", 0.001},
      {"errors.rate <= 0.05", "errors.rate", "<=", 0.05},
      {"errors.count < 1", "errors.count", "<", 1},
      {"tps.mean > 1000", "tps.mean", ">", 1000},
      {"tps.mean >= 1.5k/s", "tps.mean", ">=", 1500},
  };
  for (const auto& c : cases) {
    auto th = parse_threshold(c.expression);
    ASSERT_TRUE(th.has_value()) << c.expression << ": " << th.error();
    EXPECT_EQ(th->metric, c.metric) << c.expression;
    EXPECT_EQ(th->op, c.op) << c.expression;
    EXPECT_NEAR(th->limit, c.limit, 1e-9) << c.expression;
  }
}

TEST(ThresholdEvaluate, ComparesMeasuredValuesAndFailsWithoutSamples) {
  result::variant v;
  v.ttlb.count = 100;
  v.ttlb.p99_us = 40000;
  v.tps_mean = 900;
  v.completed = 1000;
  v.errors.status_5xx = 2;
  v.error_rate = 0.002;
  std::vector<threshold> ths;
  for (const char* e : {"ttlb.p99 < 50ms", "tps.mean > 1000", "errors.rate < 0.1%", "errors.count <= 2",
                        "connect.p99 < 1s"}) {
    ths.push_back(*parse_threshold(e));
  }
  auto verdicts = evaluate_thresholds(ths, v);
  ASSERT_EQ(verdicts.size(), 5u);
  EXPECT_TRUE(verdicts[0].passed);
  EXPECT_DOUBLE_EQ(verdicts[0].actual, 40000);
  EXPECT_DOUBLE_EQ(verdicts[0].limit, 50000);
  EXPECT_FALSE(verdicts[1].passed);
  EXPECT_FALSE(verdicts[2].passed);
  EXPECT_TRUE(verdicts[3].passed);
  EXPECT_FALSE(verdicts[4].passed) << "no connect samples: a threshold must not pass vacuously";
}

// A stop condition as the engine sees it: nothing while none holds, the first that holds with its
// value and when; recorded afterwards as a failing check, so the exit code says the run was hopeless.
TEST(StopConditions, FireOnTheFirstThatHoldsAndAreRecordedAsFailedChecks) {
  const std::vector<threshold> conditions = {*parse_threshold("errors.count > 100"),
                                             *parse_threshold("ttlb.p99 > 5s")};
  const auto check = stop_check_of(conditions);
  ASSERT_TRUE(check);
  result::variant so_far;
  so_far.measured_s = 2;
  so_far.errors.status_5xx = 100;
  EXPECT_EQ(check(so_far), "") << "100 is not above 100";
  so_far.errors.status_5xx = 140;
  EXPECT_EQ(check(so_far), "errors.count > 100 (140 after 2.0 s)");
  so_far.errors.status_5xx = 0;
  so_far.ttlb.count = 10;
  so_far.ttlb.p99_us = 6e6;
  EXPECT_EQ(check(so_far), "ttlb.p99 > 5s (6s after 2.0 s)");
  EXPECT_FALSE(stop_check_of({})) << "no conditions, no check";

  result::variant v;
  v.stopped_early = true;
  v.stop_condition = "errors.count > 100 (140 after 2.0 s)";
  v.errors.status_5xx = 90;  // the final numbers no longer hold it: it fired all the same
  record_stop_conditions(conditions, v);
  ASSERT_EQ(v.thresholds.size(), 2u);
  EXPECT_EQ(v.thresholds[0].expression, "stop_when errors.count > 100");
  EXPECT_FALSE(v.thresholds[0].passed);
  EXPECT_EQ(v.thresholds[1].expression, "stop_when ttlb.p99 > 5s");
  EXPECT_TRUE(v.thresholds[1].passed) << "did not fire, does not hold";
}

}  // namespace
}  // namespace perflab::loadgen
