// Backoff delays follow their jitter's distribution, retries stay within their budget, and only
// idempotent methods and transient failures are retried.
#include "perflab/resilience/retry.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using perflab::resilience::backoff;
using perflab::resilience::backoff_config;
using perflab::resilience::jitter;
using perflab::resilience::nanos;

double ms(nanos d) { return static_cast<double>(d.count()) / 1e6; }

TEST(Backoff, WithoutJitterItDoublesUpToTheCap) {
  backoff b({100ms, 1s, jitter::none}, 1);
  std::vector<nanos> got;
  for (unsigned n = 1; n <= 7; ++n) got.push_back(b.next(n));
  EXPECT_EQ(got, (std::vector<nanos>{100ms, 200ms, 400ms, 800ms, 1s, 1s, 1s}));
  EXPECT_EQ(b.next(200), 1s) << "no overflow however many retries";
}

// The mean and range of many draws, for retry n: full jitter is uniform on [0, t], equal jitter
// on [t/2, t], where t = min(cap, base * 2^(n-1)).
TEST(Backoff, FullAndEqualJitterAreUniformOnTheirRanges) {
  constexpr int draws = 20'000;
  for (unsigned n : {1u, 3u, 6u}) {
    const double t = std::min(1000.0, 100.0 * std::pow(2.0, n - 1));
    backoff full({100ms, 1s, jitter::full}, 42), equal({100ms, 1s, jitter::equal}, 43);
    double sum_full = 0, sum_equal = 0, lo_full = 1e18, hi_full = 0, lo_equal = 1e18, hi_equal = 0;
    for (int i = 0; i < draws; ++i) {
      const double f = ms(full.next(n)), e = ms(equal.next(n));
      sum_full += f, sum_equal += e;
      lo_full = std::min(lo_full, f), hi_full = std::max(hi_full, f);
      lo_equal = std::min(lo_equal, e), hi_equal = std::max(hi_equal, e);
    }
    SCOPED_TRACE(n);
    EXPECT_GE(lo_full, 0.0);
    EXPECT_LE(hi_full, t);
    EXPECT_NEAR(sum_full / draws, t / 2, t * 0.02) << "uniform on [0, t]: mean t/2";
    EXPECT_LT(lo_full, t * 0.01) << "the whole range is used";
    EXPECT_GT(hi_full, t * 0.99);
    EXPECT_GE(lo_equal, t / 2);
    EXPECT_LE(hi_equal, t);
    EXPECT_NEAR(sum_equal / draws, 0.75 * t, t * 0.02) << "uniform on [t/2, t]: mean 3t/4";
  }
}

TEST(Backoff, DecorrelatedJitterStaysBetweenBaseAndThreeTimesTheLastSleepUnderTheCap) {
  backoff b({50ms, 2s, jitter::decorrelated}, 7);
  for (int call = 0; call < 200; ++call) {
    b.reset();
    nanos previous = 50ms;
    for (unsigned n = 1; n <= 12; ++n) {
      const nanos s = b.next(n);
      ASSERT_GE(s, 50ms);
      ASSERT_LE(s, 2s);
      ASSERT_LE(s, std::max<nanos>(50ms, previous * 3));
      previous = s;
    }
  }
  // It grows: after several retries the sleeps are well above base on average.
  double late = 0;
  for (int call = 0; call < 500; ++call) {
    b.reset();
    nanos s{};
    for (unsigned n = 1; n <= 8; ++n) s = b.next(n);
    late += ms(s);
  }
  EXPECT_GT(late / 500, 500.0);
}

TEST(Backoff, TheSameSeedGivesTheSameSleeps) {
  backoff a({10ms, 1s, jitter::full}, 99), b({10ms, 1s, jitter::full}, 99);
  for (unsigned n = 1; n < 50; ++n) ASSERT_EQ(a.next(n % 8 + 1), b.next(n % 8 + 1));
}

TEST(RetryBudget, RetriesNeverExceedTheShareOfCallsPlusTheFloor) {
  perflab::resilience::retry_budget budget({0.2, 1.0, 10s});  // 20 % of calls + 1/s over 10 s
  // A dependency that fails everything: every call wants 2 retries. 100 calls per second for
  // 30 seconds; count what the budget let through in every 10-second window.
  std::vector<int> calls(30), retries(30);
  for (int sec = 0; sec < 30; ++sec)
    for (int i = 0; i < 100; ++i) {
      const nanos now = std::chrono::seconds(sec) + std::chrono::milliseconds(i * 10);
      budget.on_call(now);
      ++calls[sec];
      for (int r = 0; r < 2; ++r) retries[sec] += budget.try_retry(now);
    }
  for (int end = 9; end < 30; ++end) {
    int c = 0, r = 0;
    for (int s = end - 9; s <= end; ++s) c += calls[s], r += retries[s];
    EXPECT_LE(r, 0.2 * c + 10) << "window ending at second " << end;
  }
  // Steady state: the budget is used, not just respected.
  int c = 0, r = 0;
  for (int s = 20; s < 30; ++s) c += calls[s], r += retries[s];
  EXPECT_GE(r, 0.2 * c * 0.95);
  const auto st = budget.stats();
  EXPECT_EQ(st.calls, 3000u);
  EXPECT_EQ(st.retries + st.refused, 6000u);
}

TEST(RetryBudget, AQuietServiceStillRetriesALoneFailureFromTheFloor) {
  perflab::resilience::retry_budget budget({0.1, 0.5, 10s});  // floor: 5 retries per 10 s
  budget.on_call(0s);
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += budget.try_retry(0s);
  EXPECT_EQ(allowed, 5) << "0.1 x 1 call + 0.5/s x 10 s = 5.1";
}

TEST(Retry, OnlyIdempotentMethodsAndTransientFailures) {
  using perflab::resilience::idempotent;
  using perflab::resilience::retryable_status;
  for (auto m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"}) EXPECT_TRUE(idempotent(m)) << m;
  for (auto m : {"POST", "PATCH", "CONNECT", "get"}) EXPECT_FALSE(idempotent(m)) << m;
  for (int s : {0, 502, 503, 504}) EXPECT_TRUE(retryable_status(s)) << s;
  for (int s : {200, 404, 429, 500, 501}) EXPECT_FALSE(retryable_status(s)) << s;
}

TEST(Retry, ParsesItsSpecAndNamesWhatIsWrong) {
  auto c = perflab::resilience::parse_retry("3,base=50ms,cap=2s,jitter=decorrelated,budget=20%,budget-min=5/s");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->max_attempts, 3u);
  EXPECT_EQ(c->backoff.base, 50ms);
  EXPECT_EQ(c->backoff.cap, 2s);
  EXPECT_EQ(c->backoff.kind, jitter::decorrelated);
  EXPECT_TRUE(c->budgeted);
  EXPECT_DOUBLE_EQ(c->budget.ratio, 0.2);
  EXPECT_DOUBLE_EQ(c->budget.min_per_second, 5);
  auto plain = perflab::resilience::parse_retry("2");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->budgeted);
  EXPECT_EQ(plain->backoff.kind, jitter::full);
  for (auto [spec, words] : std::vector<std::pair<const char*, const char*>>{
           {"0", "number of attempts"},
           {"three", "number of attempts"},
           {"3,jitter=random", "jitter=\"random\""},
           {"3,base=0ms", "base=\"0ms\""},
           {"3,base=2s,cap=1s", "cap (1s) is below base (2s)"},
           {"3,budget=120%", "budget=\"120%\""},
           {"3,tries=4", "unknown key \"tries\""}}) {
    auto r = perflab::resilience::parse_retry(spec);
    ASSERT_FALSE(r) << spec;
    EXPECT_NE(r.error().find(words), std::string::npos) << spec << ": " << r.error();
  }
}

}  // namespace
