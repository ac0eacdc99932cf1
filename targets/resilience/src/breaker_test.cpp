// The circuit breaker against scripted timelines: each transition happens at the documented
// threshold and not one call earlier.
#include "perflab/resilience/breaker.hpp"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using perflab::resilience::breaker_config;
using perflab::resilience::breaker_state;
using perflab::resilience::circuit_breaker;
using perflab::resilience::nanos;

breaker_config count_window(std::uint32_t size, std::uint32_t min, double failure) {
  breaker_config c;
  c.window = breaker_config::window_kind::count;
  c.window_size = size;
  c.minimum_calls = min;
  c.failure_rate_threshold = failure;
  c.slow_call_rate_threshold = 1.0;
  c.slow_call_duration = 1s;
  c.wait_in_open = 5s;
  c.permitted_in_half_open = 3;
  return c;
}

// One call at `now` with the given outcome; false if the breaker refused it.
bool call(circuit_breaker& b, nanos now, bool fail, nanos took = 1ms) {
  auto p = b.try_acquire(now);
  if (!p) return false;
  fail ? b.on_failure(p, took, now + took) : b.on_success(p, took, now + took);
  return true;
}

TEST(Breaker, OpensAtTheFailureRateThresholdOnceTheMinimumCallsAreIn) {
  circuit_breaker b(count_window(10, 10, 0.5));
  nanos t = 0s;
  // 5 failures in the first 9 calls: above 50 %, but 9 calls are below the minimum of 10.
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(call(b, t += 1ms, i % 2 == 0));
  EXPECT_EQ(b.state(), breaker_state::closed);
  // The 10th call (a success) makes 5 failures in 10 = 50 %: the threshold is reached.
  ASSERT_TRUE(call(b, t += 1ms, false));
  EXPECT_EQ(b.state(), breaker_state::open);
  EXPECT_EQ(b.stats().transitions[0][1], 1u);
}

TEST(Breaker, StaysClosedJustBelowTheThreshold) {
  circuit_breaker b(count_window(10, 10, 0.5));
  nanos t = 0s;
  // 4 failures in every 10 calls, for 100 calls: the rate never reaches 50 %.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(call(b, t += 1ms, i % 10 < 4));
  EXPECT_EQ(b.state(), breaker_state::closed);
  EXPECT_DOUBLE_EQ(b.failure_rate(), 0.4);
}

TEST(Breaker, TheCountWindowForgetsCallsOlderThanItsSize) {
  circuit_breaker b(count_window(10, 10, 0.5));
  nanos t = 0s;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(call(b, t += 1ms, true));   // 4 failures
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(call(b, t += 1ms, false));  // pushed out by 10 successes
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(call(b, t += 1ms, true));   // 4 in the last 10
  EXPECT_EQ(b.state(), breaker_state::closed);
  ASSERT_TRUE(call(b, t += 1ms, true));  // 5 in the last 10
  EXPECT_EQ(b.state(), breaker_state::open);
}

TEST(Breaker, OpenRefusesUntilItsWaitThenHalfOpenLetsThePermittedTrialsThrough) {
  circuit_breaker b(count_window(4, 4, 0.5));
  nanos t = 0s;
  for (int i = 0; i < 4; ++i) call(b, t, true);
  ASSERT_EQ(b.state(), breaker_state::open);
  const nanos opened = t + 1ms;  // the fourth failure was reported 1 ms after its call began
  EXPECT_FALSE(b.try_acquire(opened + 5s - 1ns)) << "still open one nanosecond before the wait ends";
  EXPECT_EQ(b.state(), breaker_state::open);
  auto p1 = b.try_acquire(opened + 5s);
  ASSERT_TRUE(p1) << "the first call after the wait is a trial";
  EXPECT_EQ(b.state(), breaker_state::half_open);
  auto p2 = b.try_acquire(opened + 5s);
  auto p3 = b.try_acquire(opened + 5s);
  ASSERT_TRUE(p2 && p3);
  EXPECT_FALSE(b.try_acquire(opened + 5s)) << "only 3 trials in half-open";
  // A trial given back unused frees its place.
  b.release(p3);
  auto p4 = b.try_acquire(opened + 5s);
  ASSERT_TRUE(p4);
  b.on_success(p1, 1ms, opened + 6s);
  b.on_success(p2, 1ms, opened + 6s);
  EXPECT_EQ(b.state(), breaker_state::half_open) << "2 of 3 trial outcomes are in";
  b.on_failure(p4, 1ms, opened + 6s);  // 1 failure in 3: 33 % < 50 %
  EXPECT_EQ(b.state(), breaker_state::closed);
  EXPECT_DOUBLE_EQ(b.failure_rate(), 0.0) << "closing starts a fresh window";
  const auto s = b.stats();
  EXPECT_EQ(s.transitions[1][2], 1u);
  EXPECT_EQ(s.transitions[2][0], 1u);
  EXPECT_EQ(s.rejected, 2u);
}

TEST(Breaker, FailingTrialsOpenItAgainForAnotherFullWait) {
  circuit_breaker b(count_window(4, 4, 0.5));
  for (int i = 0; i < 4; ++i) call(b, 0s, true);  // opens at 1 ms, when the last failure is reported
  ASSERT_TRUE(call(b, 5s + 1ms, true));
  ASSERT_TRUE(call(b, 5s + 1ms, true));
  ASSERT_TRUE(call(b, 5s + 1ms, false));  // 2 failures of 3 trials: 67 % >= 50 %, reported at 5 s + 2 ms
  EXPECT_EQ(b.state(), breaker_state::open);
  EXPECT_FALSE(b.try_acquire(5s + 2ms + 5s - 1ns)) << "the wait restarts when it reopens";
  EXPECT_TRUE(b.try_acquire(5s + 2ms + 5s));
  EXPECT_EQ(b.stats().transitions[2][1], 1u);
}

TEST(Breaker, SlowCallsOpenItEvenWhenEveryCallSucceeds) {
  auto c = count_window(10, 10, 1.0);
  c.slow_call_rate_threshold = 0.5;
  c.slow_call_duration = 100ms;
  circuit_breaker b(c);
  nanos t = 0s;
  for (int i = 0; i < 9; ++i) call(b, t += 1s, false, i < 5 ? 150ms : 99ms);
  EXPECT_EQ(b.state(), breaker_state::closed) << "9 calls, below the minimum";
  call(b, t += 1s, false, 100ms);  // exactly the slow duration counts as slow: 6 of 10
  EXPECT_EQ(b.state(), breaker_state::open);
  EXPECT_EQ(b.stats().slow, 6u);
  EXPECT_EQ(b.stats().failures, 0u);
}

TEST(Breaker, TheTimeWindowCountsOnlyTheLastSeconds) {
  breaker_config c = count_window(0, 5, 0.5);
  c.window = breaker_config::window_kind::time;
  c.window_size = 10;  // seconds
  circuit_breaker b(c);
  // 4 failures at t = 0..3 s; 6 seconds of nothing; then at t = 12 s the first four are out of
  // the window [3 s, 12 s] except the one at 3 s.
  for (int i = 0; i < 4; ++i) call(b, std::chrono::seconds(i), true);
  call(b, 12s, true);
  call(b, 12s, true);
  EXPECT_EQ(b.state(), breaker_state::closed) << "3 calls in the window, below the minimum of 5";
  call(b, 12s, true);
  call(b, 12s, false);
  EXPECT_EQ(b.state(), breaker_state::open) << "5 calls in [3 s, 12 s], 4 failed";
}

TEST(Breaker, AnAnswerFromBeforeATransitionIsNotCountedInTheNewState) {
  circuit_breaker b(count_window(4, 4, 0.5));
  auto early = b.try_acquire(0s);  // granted while closed
  for (int i = 0; i < 4; ++i) call(b, 1s, true);
  ASSERT_EQ(b.state(), breaker_state::open);
  auto trial = b.try_acquire(7s);
  ASSERT_TRUE(trial);
  b.on_failure(early, 7s, 7s);  // the slow early call finally fails, during half-open
  EXPECT_EQ(b.stats().late, 1u);
  EXPECT_EQ(b.state(), breaker_state::half_open);
  EXPECT_DOUBLE_EQ(b.failure_rate(), 0.0) << "the trials' rate is untouched";
}

TEST(Breaker, ManyThreadsNeverLoseACall) {
  auto c = count_window(50, 20, 0.5);
  c.wait_in_open = 1ms;
  circuit_breaker b(c);
  std::atomic<std::int64_t> clock{0};
  std::atomic<std::uint64_t> attempts{0}, granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20'000; ++i) {
        const nanos now(clock.fetch_add(1000));
        auto p = b.try_acquire(now);
        ++attempts;
        if (!p) continue;
        ++granted;
        (i + t) % 3 == 0 ? b.on_failure(p, 1us, now) : b.on_success(p, 1us, now);
      }
    });
  for (auto& th : threads) th.join();
  const auto s = b.stats();
  EXPECT_EQ(s.permitted + s.rejected, attempts.load());
  EXPECT_EQ(s.permitted, granted.load());
  EXPECT_EQ(s.successes + s.failures, granted.load());
}

TEST(Breaker, ParsesItsSpecAndNamesWhatIsWrong) {
  auto c = perflab::resilience::parse_breaker("count:20,min=10,failure=40%,slow=80%,slow-call=250ms,open=2s,half-open=4");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->window, breaker_config::window_kind::count);
  EXPECT_EQ(c->window_size, 20u);
  EXPECT_EQ(c->minimum_calls, 10u);
  EXPECT_DOUBLE_EQ(c->failure_rate_threshold, 0.4);
  EXPECT_DOUBLE_EQ(c->slow_call_rate_threshold, 0.8);
  EXPECT_EQ(c->slow_call_duration, 250ms);
  EXPECT_EQ(c->wait_in_open, 2s);
  EXPECT_EQ(c->permitted_in_half_open, 4u);
  auto t = perflab::resilience::parse_breaker("time:30s");
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->window, breaker_config::window_kind::time);
  EXPECT_EQ(t->window_size, 30u);
  auto d = perflab::resilience::parse_breaker("count");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->window_size, 100u) << "resilience4j's defaults";
  EXPECT_EQ(d->minimum_calls, 100u);
  EXPECT_EQ(d->wait_in_open, 60s);

  for (auto [spec, words] : std::vector<std::pair<const char*, const char*>>{
           {"window:10", "is not a window"},
           {"count:0", "count=\"0\""},
           {"time:1500ms", "whole seconds"},
           {"count:10,failure=0%", "failure=\"0%\""},
           {"count:10,failure=150%", "failure=\"150%\""},
           {"count:10,open=-1s", "open=\"-1s\""},
           {"count:10,half=3", "unknown key \"half\""},
           {"count:10,min", "is not key=value"},
           {"", "empty"}}) {
    auto r = perflab::resilience::parse_breaker(spec);
    ASSERT_FALSE(r) << spec;
    EXPECT_NE(r.error().find(words), std::string::npos) << spec << ": " << r.error();
    EXPECT_NE(r.error().find("--circuit-breaker"), std::string::npos) << r.error();
  }
}

}  // namespace
