#include "perflab/core/verdict.hpp"

#include <gtest/gtest.h>

#include "perflab/core/exit_codes.hpp"

namespace perflab::result {
namespace {

TEST(SuccessStatuses, DefaultIsTwoAndThreeHundreds) {
  success_statuses s;
  EXPECT_FALSE(s.contains(199));
  EXPECT_TRUE(s.contains(200));
  EXPECT_TRUE(s.contains(304));
  EXPECT_FALSE(s.contains(404));
  EXPECT_FALSE(s.contains(503));
  EXPECT_EQ(s.text(), "2xx,3xx");
}

TEST(SuccessStatuses, ParsesClassesAndCodes) {
  auto s = success_statuses::parse(" 2XX , 404,429");
  ASSERT_TRUE(s) << s.error();
  EXPECT_TRUE(s->contains(201));
  EXPECT_TRUE(s->contains(404));
  EXPECT_TRUE(s->contains(429));
  EXPECT_FALSE(s->contains(302));
  EXPECT_FALSE(s->contains(500));
  EXPECT_EQ(s->text(), "2xx,404,429");
}

TEST(SuccessStatuses, RejectsWhatIsNotAStatus) {
  for (const char* bad : {"", "2xx,", "6xx", "99", "600", "abc", "2x", "20x"}) {
    auto s = success_statuses::parse(bad);
    EXPECT_FALSE(s) << bad;
  }
}

variant healthy() {
  variant v;
  v.completed = 1000;
  v.succeeded = 1000;
  v.load.max_error_rate = 0.01;
  return v;
}

TEST(Verdict, HealthyVariantIsOk) {
  auto v = healthy();
  EXPECT_EQ(status_word(v), "ok");
  EXPECT_EQ(exit_code_of(v), exit_code::ok);
}

TEST(Verdict, ErrorRateAboveTheBoundIsErrors) {
  auto v = healthy();
  v.error_rate = 0.994;  // a refusal storm: 99.4 % 503
  EXPECT_EQ(status_word(v), "ERRORS");
  EXPECT_EQ(exit_code_of(v), exit_code::target_failing);
  v.error_rate = 0.01;  // at the bound: still ok
  EXPECT_EQ(status_word(v), "ok");
  v.load.max_error_rate = 0.001;
  EXPECT_EQ(status_word(v), "ERRORS");
}

TEST(Verdict, StalledRequestsAreNotOk) {
  auto v = healthy();
  v.stalled = 56;
  EXPECT_EQ(status_word(v), "STALLED");
  EXPECT_EQ(exit_code_of(v), exit_code::target_failing);
}

TEST(Verdict, FlagsAreOrderedBySeverityAndExitCodesByPrecedence) {
  auto v = healthy();
  v.stalled = 1;
  v.error_rate = 0.5;
  v.loadgen.saturated = true;
  v.thresholds.push_back({"ttlb.p99 < 1ms", 2000, 1000, false});
  EXPECT_EQ(status_word(v, " "), "SATURATED ERRORS STALLED THRESHOLD FAILED");
  EXPECT_EQ(exit_code_of(v), exit_code::saturated);
  v.complete = false;
  v.incomplete_reason = "interrupted";
  EXPECT_EQ(exit_code_of(v), exit_code::interrupted);
  v.target.crashed = true;
  EXPECT_EQ(exit_code_of(v), exit_code::runtime_error);
}

TEST(ExitCodes, PrecedenceIsUsageRuntimeInterruptedSaturatedFailingThresholdsRegression) {
  using namespace exit_code;
  const int order[] = {usage, runtime_error, interrupted, saturated, target_failing, thresholds_failed, regression, ok};
  for (std::size_t i = 0; i < std::size(order); ++i)
    for (std::size_t j = i; j < std::size(order); ++j) {
      EXPECT_EQ(combine(order[i], order[j]), order[i]) << order[i] << " vs " << order[j];
      EXPECT_EQ(combine(order[j], order[i]), order[i]) << order[j] << " vs " << order[i];
    }
}

}  // namespace
}  // namespace perflab::result
