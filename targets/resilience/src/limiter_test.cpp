// Each rate limiter under 3x its limit for 10 simulated seconds accepts its limit (within 1 %),
// bursts as specified, and its headers agree with its decisions.
#include "perflab/resilience/limiter.hpp"

#include <cmath>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using perflab::resilience::limit_decision;
using perflab::resilience::limiter_algorithm;
using perflab::resilience::limiter_config;
using perflab::resilience::make_limiter;
using perflab::resilience::nanos;

limiter_config config(limiter_algorithm a, double rate) {
  limiter_config c;
  c.algorithm = a;
  c.rate = rate;
  return c;
}

// Arrivals evenly spaced at `offered` per second for `seconds`, starting at 1 s; accepted count.
std::uint64_t offer(perflab::resilience::rate_limiter& l, double offered, int seconds) {
  const auto n = static_cast<std::int64_t>(offered * seconds);
  const auto gap = static_cast<std::int64_t>(1e9 / offered);
  std::uint64_t accepted = 0;
  for (std::int64_t i = 0; i < n; ++i) accepted += l.acquire(1s + nanos(i * gap)).allowed;
  return accepted;
}

TEST(RateLimiter, EachAlgorithmAcceptsItsLimitUnderThreeTimesTheLoad) {
  // 100/s for 10 s = 1,000, plus what each lets through at once: the token bucket its burst
  // (default: one second of rate, 100) and the leaky bucket its queue (default 100), whose last
  // requests are accepted with a delay that ends after the 10 s.
  const struct {
    limiter_algorithm algorithm;
    double expected;
  } cases[] = {{limiter_algorithm::token_bucket, 1000 + 100},
               {limiter_algorithm::leaky_bucket, 1000 + 100},
               {limiter_algorithm::fixed_window, 1000},
               {limiter_algorithm::sliding_log, 1000},
               {limiter_algorithm::sliding_window, 1000}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(to_string(c.algorithm)));
    auto l = make_limiter(config(c.algorithm, 100));
    const double accepted = static_cast<double>(offer(*l, 300, 10));
    EXPECT_NEAR(accepted, c.expected, c.expected * 0.01);
  }
}

TEST(RateLimiter, TheTokenBucketLetsItsBurstThroughAtOnceThenPacesAtItsRate) {
  auto c = config(limiter_algorithm::token_bucket, 10);
  c.burst = 5;
  auto l = make_limiter(c);
  for (int i = 0; i < 5; ++i) {
    auto d = l->acquire(1s);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 4u - i);
    EXPECT_EQ(d.limit, 5u);
  }
  auto refused = l->acquire(1s);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0u);
  EXPECT_EQ(refused.retry_after, 100ms) << "one token comes back every 1/10 s";
  EXPECT_FALSE(l->acquire(1s + 99ms).allowed);
  EXPECT_TRUE(l->acquire(1s + 100ms).allowed);
  // At most b + r*t in any interval t: over the 2 s [1 s, 3 s) from a full bucket, the burst at
  // once and then one every 100 ms, at 1.1 s ... 2.9 s.
  auto m = make_limiter(c);
  EXPECT_EQ(offer(*m, 1000, 2), 5u + 19u);
}

TEST(RateLimiter, TheLeakyBucketQueuesWithGrowingDelaysThenRefuses) {
  auto c = config(limiter_algorithm::leaky_bucket, 10);  // one every 100 ms
  c.queue = 3;
  auto l = make_limiter(c);
  for (int i = 0; i < 4; ++i) {
    auto d = l->acquire(1s);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.delay, i * 100ms) << "served in arrival order, one per 100 ms";
  }
  auto d = l->acquire(1s);
  EXPECT_FALSE(d.allowed) << "the queue of 3 is full";
  EXPECT_EQ(d.retry_after, 100ms);
  EXPECT_TRUE(l->acquire(1s + 100ms).allowed);
}

TEST(RateLimiter, AFixedWindowPassesTwiceItsLimitAcrossAnEdgeAndASlidingLogNever) {
  for (auto a : {limiter_algorithm::fixed_window, limiter_algorithm::sliding_log, limiter_algorithm::sliding_window}) {
    SCOPED_TRACE(std::string(to_string(a)));
    auto l = make_limiter(config(a, 100));
    int accepted = 0;
    // 150 requests in the last 10 ms of one window and 150 in the first 10 ms of the next.
    for (int i = 0; i < 150; ++i) accepted += l->acquire(990ms + nanos(i * 10'000)).allowed;
    for (int i = 0; i < 150; ++i) accepted += l->acquire(1s + nanos(i * 10'000)).allowed;
    if (a == limiter_algorithm::fixed_window)
      EXPECT_EQ(accepted, 200) << "100 on each side of the edge, within 20 ms";
    else
      EXPECT_LE(accepted, 101) << "about 100 in any 1 s";
  }
}

TEST(RateLimiter, HeadersAgreeWithTheDecisions) {
  for (auto a : {limiter_algorithm::token_bucket, limiter_algorithm::leaky_bucket, limiter_algorithm::fixed_window,
                 limiter_algorithm::sliding_log, limiter_algorithm::sliding_window}) {
    SCOPED_TRACE(std::string(to_string(a)));
    auto l = make_limiter(config(a, 20));
    std::uint64_t previous = ~0ull;
    bool refused = false;
    for (int i = 0; i < 100 && !refused; ++i) {
      const limit_decision d = l->acquire(1s);  // all at one instant
      const std::string h = perflab::resilience::rate_limit_headers(d);
      EXPECT_NE(h.find("X-RateLimit-Limit: " + std::to_string(d.limit) + "\r\n"), std::string::npos) << h;
      EXPECT_NE(h.find("X-RateLimit-Remaining: " + std::to_string(d.remaining) + "\r\n"), std::string::npos) << h;
      EXPECT_NE(h.find("X-RateLimit-Reset: "), std::string::npos) << h;
      if (d.allowed) {
        EXPECT_EQ(h.find("Retry-After"), std::string::npos) << h;
        EXPECT_LT(d.remaining, previous) << "each acceptance uses one";
        previous = d.remaining;
      } else {
        refused = true;
        EXPECT_EQ(d.remaining, 0u);
        EXPECT_GT(d.retry_after.count(), 0);
        EXPECT_NE(h.find("Retry-After: "), std::string::npos) << h;
        // Retrying after Retry-After's time is accepted.
        EXPECT_TRUE(l->acquire(1s + d.retry_after).allowed);
      }
    }
    EXPECT_TRUE(refused);
  }
}

TEST(RateLimiter, KeysAreLimitedIndependentlyAndIdleKeysAreForgotten) {
  auto c = config(limiter_algorithm::token_bucket, 10);
  c.burst = 2;
  perflab::resilience::keyed_limiter l(c, 32);  // 2 keys per shard
  EXPECT_TRUE(l.acquire("10.0.0.1", 1s).allowed);
  EXPECT_TRUE(l.acquire("10.0.0.1", 1s).allowed);
  EXPECT_FALSE(l.acquire("10.0.0.1", 1s).allowed);
  EXPECT_TRUE(l.acquire("10.0.0.2", 1s).allowed) << "another client has its own bucket";
  for (int i = 0; i < 1000; ++i) l.acquire("client-" + std::to_string(i), 1s + std::chrono::seconds(i));
  EXPECT_LE(l.keys(), 64u) << "a scan of 1,000 keys, each idle a second later, stays bounded";
  const auto s = l.stats();
  EXPECT_EQ(s.allowed + s.refused, 1004u);
  EXPECT_EQ(s.refused, 1u);
}

TEST(RateLimiter, ManyThreadsShareOneLimit) {
  auto c = config(limiter_algorithm::fixed_window, 1000);
  perflab::resilience::keyed_limiter l(c);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) l.acquire("", 5s + nanos(i));  // all inside one window
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(l.stats().allowed, 1000u);
  EXPECT_EQ(l.stats().refused, 39'000u);
}

TEST(RateLimiter, ParsesItsSpecAndNamesWhatIsWrong) {
  auto c = perflab::resilience::parse_rate_limit("token-bucket:100/s,burst=10,key=header:X-User");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->algorithm, limiter_algorithm::token_bucket);
  EXPECT_DOUBLE_EQ(c->rate, 100);
  EXPECT_EQ(c->limit(), 10u);
  EXPECT_EQ(c->key, limiter_config::key_kind::header);
  EXPECT_EQ(c->key_header, "X-User");
  auto w = perflab::resilience::parse_rate_limit("fixed-window:50/s,window=10s,key=ip");
  ASSERT_TRUE(w) << w.error();
  EXPECT_EQ(w->limit(), 500u) << "the limit per window is rate x window";
  EXPECT_EQ(w->key, limiter_config::key_kind::ip);
  auto q = perflab::resilience::parse_rate_limit("leaky-bucket:6k/m,queue=0");
  ASSERT_TRUE(q) << q.error();
  EXPECT_DOUBLE_EQ(q->rate, 100);
  for (auto [spec, words] : std::vector<std::pair<const char*, const char*>>{
           {"token:100/s", "unknown algorithm \"token\""},
           {"token-bucket", "needs a rate"},
           {"token-bucket:0/s", "must be above 0"},
           {"token-bucket:100/s,burst=0", "burst=\"0\""},
           {"fixed-window:100/s,burst=5", "burst= is for token-bucket"},
           {"token-bucket:100/s,queue=5", "queue= is for leaky-bucket"},
           {"token-bucket:100/s,window=1s", "window= is for the window algorithms"},
           {"sliding-log:100/s,key=cookie", "key=\"cookie\""},
           {"sliding-log:100/s,per=ip", "unknown key \"per\""}}) {
    auto r = perflab::resilience::parse_rate_limit(spec);
    ASSERT_FALSE(r) << spec;
    EXPECT_NE(r.error().find(words), std::string::npos) << spec << ": " << r.error();
    EXPECT_NE(r.error().find("--rate-limit"), std::string::npos) << r.error();
  }
}

}  // namespace
