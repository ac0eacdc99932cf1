// --rate-limit over real sockets, once per concurrency model: a token bucket of 100/s with a
// burst of 10 under about three times that load accepts 10 + 100/s x the duration; every 429
// carries Retry-After, every decided response the X-RateLimit-* fields, consistent with it; the
// /metrics counters match what the client saw; /health is not limited; a leaky bucket delays
// instead of refusing. Bad values exit 2 naming the option.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "target_harness.hpp"

namespace {

using namespace std::chrono_literals;
using namespace perflab::testing;
using clock_type = std::chrono::steady_clock;

class TargetRateLimit : public model_test {};

// A field's value as a number (nullopt when absent).
std::optional<long> number_field(const response& r, std::string_view name) {
  const auto at = r.head.find("\r\n" + std::string(name) + ": ");
  if (at == std::string::npos) return std::nullopt;
  return std::stol(r.head.substr(at + name.size() + 4));
}

TEST_P(TargetRateLimit, TokenBucketAcceptsBurstPlusRateTimesDuration) {
  PERFLAB_SKIP_FIBER_UNDER_TSAN();
  target_process t(model_args(GetParam(), {"--rate-limit", "token-bucket:100/s,burst=10"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  // Three keep-alive clients, each on a fixed schedule of 100/s (late sends go at once): ~300/s.
  constexpr int clients = 3;
  constexpr auto period = 10ms;
  constexpr auto duration = 2500ms;
  std::atomic<int> ok{0}, refused{0}, other{0}, bad_headers{0};
  std::mutex m;
  clock_type::time_point first = clock_type::time_point::max(), last = clock_type::time_point::min();
  const auto start = clock_type::now() + 50ms;
  std::vector<std::thread> ts;
  for (int i = 0; i < clients; ++i) {
    ts.emplace_back([&, i] {
      client c(t.port(), 5s);
      for (auto due = start + i * period / clients; due < start + duration; due += period) {
        std::this_thread::sleep_until(due);
        const auto sent = clock_type::now();
        auto r = c.request(get("/hello"));
        if (!r) {
          ++other;
          return;
        }
        {
          std::lock_guard l(m);
          first = std::min(first, sent);
          last = std::max(last, sent);
        }
        const auto limit = number_field(*r, "X-RateLimit-Limit"), remaining = number_field(*r, "X-RateLimit-Remaining");
        const auto reset = number_field(*r, "X-RateLimit-Reset");
        if (limit != 10 || !remaining || *remaining > 10 || !reset || *reset < 0 || r->close) ++bad_headers;
        if (r->status == 200) {
          ++ok;
          if (number_field(*r, "Retry-After")) ++bad_headers;
        } else if (r->status == 429) {
          ++refused;
          const auto retry = number_field(*r, "Retry-After");
          if (!retry || *retry < 1 || remaining != 0) ++bad_headers;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(other, 0);
  EXPECT_EQ(bad_headers, 0);
  // The bucket starts full: 10, then 100/s over the time the requests were sent. The upper
  // bound is the limiter's promise (b + r*t in any interval t); the lower one also needs the
  // clients to keep the bucket drained, which a stall of all three (a busy machine) would not, so
  // it has a little more room.
  const double seconds = std::chrono::duration<double>(last - first).count();
  const double expected = 10 + 100 * seconds;
  EXPECT_LE(ok, expected * 1.03 + 2) << "over " << seconds << " s";
  EXPECT_GE(ok, expected * 0.95 - 3) << "over " << seconds << " s";
  EXPECT_GT(refused, ok);  // ~3x the rate was offered
  EXPECT_EQ(metric(t.port(), "perflab_ratelimit_decisions_total{result=\"allowed\"}"), ok);
  EXPECT_EQ(metric(t.port(), "perflab_ratelimit_decisions_total{result=\"refused\"}"), refused);
  EXPECT_EQ(metric(t.port(), "perflab_ratelimit_keys"), 1);
  client h(t.port());
  auto health = h.request(get("/health"));  // never limited, even with the bucket empty
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_FALSE(number_field(*health, "X-RateLimit-Limit"));
}

TEST_P(TargetRateLimit, LeakyBucketDelaysTheQueueAndRefusesBeyondIt) {
  // 10/s with a queue of 4: six requests at once on six connections: one at once, four queued
  // (served 100 ms apart), one refused.
  target_process t(model_args(GetParam(), {"--rate-limit", "leaky-bucket:10/s,queue=4,key=ip"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  std::vector<client> cs;
  for (int i = 0; i < 6; ++i) cs.emplace_back(t.port());
  // Each connection's handler (a thread, a fiber) is running before the six go: /health is never
  // limited. Otherwise a model slow to start them (thread-per-request or fiber under TSan) spreads
  // the six over more than the bucket's 100 ms.
  for (auto& c : cs) {
    auto h = c.request(get("/health"));
    ASSERT_TRUE(h);
    ASSERT_EQ(h->status, 200);
  }
  const auto t0 = clock_type::now();
  for (auto& c : cs) ASSERT_TRUE(c.send(get("/hello")));
  int ok = 0, refused = 0;
  for (auto& c : cs) {
    auto r = c.read();
    ASSERT_TRUE(r);
    if (r->status == 200) ++ok;
    if (r->status == 429) ++refused;
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(refused, 1);
  EXPECT_GE(clock_type::now() - t0, 4 * 100ms - 10ms);  // the last queued one waited its place
  EXPECT_EQ(metric(t.port(), "perflab_ratelimit_decisions_total{result=\"delayed\"}"), 4);
  EXPECT_EQ(metric(t.port(), "perflab_ratelimit_keys"), 1);  // one client address: 127.0.0.1
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetRateLimit, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

TEST(TargetRateLimitOptions, BadValuesExit2NamingTheOption) {
  for (const std::string bad : {"bogus:100/s", "token-bucket:0/s", "token-bucket:100/s,queue=5",
                                "token-bucket:100/s,key=cookie", "token-bucket"}) {
    SCOPED_TRACE(bad);
    launch_options to_stdout;
    to_stdout.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
    target_process t(model_args("reactor", {"--rate-limit", bad}), to_stdout);
    EXPECT_EQ(t.wait_exit(5s), 2);
    EXPECT_NE(t.first_line().find("--rate-limit:"), std::string::npos) << t.first_line();
  }
}

}  // namespace
