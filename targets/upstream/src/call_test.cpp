// The upstream client against a scripted in-test server: pool reuse and its bound, timeouts,
// failures, chunked bodies, retries (never POST, within the budget), bulkhead, breaker,
// fallbacks; blocking and on an io_context. Meant to run under TSan too (threads share the pool).
#include <perflab/upstream/call.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <perflab/core/clock.hpp>

#include "test_server.hpp"

namespace {

using namespace std::chrono_literals;
using perflab::upstream::call;
using perflab::upstream::config;
using perflab::upstream::failure;
using perflab::upstream::service;
using perflab::upstream::testing::reply;
using perflab::upstream::testing::test_server;
namespace asio = boost::asio;

config config_for(std::uint16_t port) {
  auto t = perflab::upstream::parse_target("http://127.0.0.1:" + std::to_string(port));
  EXPECT_TRUE(t.has_value());
  config c;
  c.to = *t;
  c.attempt_timeout = 2s;
  return c;
}

struct outcome {
  int status = 0;
  std::string body;
  unsigned attempts = 0;
  bool fallback = false;
};

outcome get(service& svc, std::string_view method = "GET", std::string_view path = "/x") {
  call c(svc);
  c.prepare(method, path, {}, method == "POST" ? "payload" : "", {});
  c.run_blocking();
  return {c.status(), std::string(c.body()), c.attempts(), c.fallback().has_value()};
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

TEST(UpstreamTarget, ParsesNumericHostPortAndBase) {
  auto t = perflab::upstream::parse_target("http://127.0.0.1:8081/api/");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->port, 8081);
  EXPECT_EQ(t->base_path, "/api");
  EXPECT_FALSE(perflab::upstream::parse_target("127.0.0.1:80").has_value());
  EXPECT_FALSE(perflab::upstream::parse_target("http://127.0.0.1:0").has_value());
  EXPECT_FALSE(perflab::upstream::parse_target("http://:80").has_value());
  EXPECT_TRUE(perflab::upstream::parse_target("http://localhost:80").has_value());  // resolved once
}

TEST(UpstreamOptions, BadSpecsNameTheirOption) {
  perflab::upstream::options o;
  o.url = "http://127.0.0.1:1";
  auto bad = [&](auto set, std::string_view option) {
    auto copy = o;
    set(copy);
    auto r = perflab::upstream::parse_options(copy);
    ASSERT_FALSE(r.has_value()) << option;
    EXPECT_NE(r.error().find(option), std::string::npos) << r.error();
  };
  bad([](auto& x) { x.timeout = "fast"; }, "--upstream-timeout");
  bad([](auto& x) { x.pool = "0"; }, "--upstream-pool");
  bad([](auto& x) { x.retry = "3,jitter=wild"; }, "--upstream-retry");
  bad([](auto& x) { x.breaker = "count:0"; }, "--upstream-breaker");
  bad([](auto& x) { x.fallback = "ok"; }, "--upstream-fallback");
  bad([](auto& x) { x.bulkhead = "-1"; }, "--upstream-bulkhead");
  bad([](auto& x) { x.url = "ftp://x"; }, "--upstream");
  auto none = perflab::upstream::parse_options({});
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());
}

TEST(UpstreamPool, KeepAliveReusesOneConnection) {
  test_server srv([](auto&, auto&) { return reply{}; });
  service svc(config_for(srv.port()));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get(svc).status, 200);
  EXPECT_EQ(srv.connections(), 1u);
  const auto s = svc.pool().stats();
  EXPECT_EQ(s.opened, 1u);
  EXPECT_EQ(s.reused, 4u);
  EXPECT_EQ(s.idle, 1u);
}

TEST(UpstreamPool, ConnectionCloseIsNotReused) {
  test_server srv([](auto&, auto&) { return reply{.close = true}; });
  service svc(config_for(srv.port()));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get(svc).status, 200);
  EXPECT_EQ(srv.connections(), 3u);
}

TEST(UpstreamPool, IdleConnectionsCloseAfterIdleTimeout) {
  test_server srv([](auto&, auto&) { return reply{}; });
  auto c = config_for(srv.port());
  c.idle_timeout = 50ms;
  service svc(c);
  EXPECT_EQ(get(svc).status, 200);
  std::this_thread::sleep_for(120ms);
  EXPECT_EQ(get(svc).status, 200);
  EXPECT_EQ(srv.connections(), 2u);
  EXPECT_EQ(svc.pool().stats().closed_idle, 1u);
}

TEST(UpstreamPool, UpstreamClosingAnIdleConnectionIsNoticed) {
  test_server srv([](auto&, auto&) { return reply{}; });
  service svc(config_for(srv.port()));
  EXPECT_EQ(get(svc).status, 200);
  srv.kill();  // closes the pooled connection (and the listener)
  std::this_thread::sleep_for(50ms);
  test_server again([](auto&, auto&) { return reply{}; });
  (void)again;
  EXPECT_EQ(get(svc).status, 502);  // stale one dropped, the new connect refused
  EXPECT_EQ(svc.pool().stats().closed_stale, 1u);
}

TEST(UpstreamPool, NeverMoreConnectionsThanItsMaximum) {
  test_server srv([](auto&, auto&) { return reply{.delay = 20ms}; });
  auto c = config_for(srv.port());
  c.max_connections = 3;
  service svc(c);
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] {
      for (int j = 0; j < 4; ++j) ok += get(svc).status == 200;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok, 32);
  EXPECT_LE(srv.connections(), 3u);
  EXPECT_LE(srv.peak_in_flight(), 3u);
  EXPECT_EQ(svc.pool().stats().peak_in_use, 3u);
  EXPECT_GT(svc.pool().stats().waits, 0u);
}

TEST(UpstreamExchange, ChunkedBodyIsDecoded) {
  test_server srv([](auto&, auto&) { return reply{.body = "hello, chunked world", .chunked = true}; });
  service svc(config_for(srv.port()));
  const auto r = get(svc);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello, chunked world");
  EXPECT_EQ(get(svc).body, "hello, chunked world");  // and the connection was reusable
  EXPECT_EQ(srv.connections(), 1u);
}

TEST(UpstreamExchange, RefusedConnectIs502) {
  std::uint16_t port;
  {
    test_server gone([](auto&, auto&) { return reply{}; });
    port = gone.port();
  }
  service svc(config_for(port));
  EXPECT_EQ(get(svc).status, 502);
  EXPECT_EQ(svc.count().failures[static_cast<std::size_t>(failure::connect)].load(), 1u);
}

TEST(UpstreamExchange, AttemptTimeoutFiresWithinTenPercent) {
  test_server srv([](auto&, auto&) { return reply{.delay = 2s}; });
  auto c = config_for(srv.port());
  c.attempt_timeout = 200ms;
  service svc(c);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(get(svc).status, 504);
  const double took = ms_since(t0);
  EXPECT_GE(took, 200.0);
  EXPECT_LE(took, 220.0 + 30.0);  // 10 %, plus scheduling slack on a busy machine
  EXPECT_EQ(svc.count().failures[static_cast<std::size_t>(failure::timeout)].load(), 1u);
}

TEST(UpstreamExchange, DeadlineBoundsTheWholeCallWithRetries) {
  test_server srv([](auto&, auto&) { return reply{.delay = 2s}; });
  auto c = config_for(srv.port());
  c.attempt_timeout = 100ms;
  c.deadline = 250ms;
  c.retry = *perflab::resilience::parse_retry("5,base=10ms,jitter=none");
  service svc(c);
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = get(svc);
  const double took = ms_since(t0);
  EXPECT_EQ(r.status, 504);
  // 100 + 10 + 100 + 20 + (what is left of 250): three attempts, or two when the machine is so
  // busy that the third could not start 20 ms before the deadline. Never past the deadline.
  EXPECT_GE(r.attempts, 2u);
  EXPECT_LE(r.attempts, 3u);
  EXPECT_GE(took, 200.0);
  EXPECT_LE(took, 250.0 * 1.1 + 30.0);
}

TEST(UpstreamRetry, RetriesGetUntilSuccessButNeverPost) {
  std::atomic<int> n{0};
  test_server srv([&](auto&, auto&) { return reply{.status = ++n % 3 == 0 ? 200 : 503}; });
  auto c = config_for(srv.port());
  c.retry = *perflab::resilience::parse_retry("3,base=1ms,jitter=full");
  service svc(c);
  const auto g = get(svc);
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.attempts, 3u);
  EXPECT_EQ(srv.requests("GET"), 3u);
  const auto p = get(svc, "POST");
  EXPECT_EQ(p.status, 503);
  EXPECT_EQ(p.attempts, 1u);
  EXPECT_EQ(srv.requests("POST"), 1u);
  EXPECT_EQ(svc.count().not_idempotent.load(), 1u);
  EXPECT_EQ(svc.count().retries.load(), 2u);
}

TEST(UpstreamRetry, BudgetCapsRetriesAtItsShareOfCalls) {
  test_server srv([](auto&, auto&) { return reply{.status = 503}; });
  auto c = config_for(srv.port());
  c.retry = *perflab::resilience::parse_retry("4,base=1ms,jitter=none,budget=20%,budget-min=0/s");
  service svc(c);
  constexpr int calls = 100;
  for (int i = 0; i < calls; ++i) EXPECT_EQ(get(svc).status, 503);
  const auto retries = svc.count().retries.load();
  EXPECT_LE(retries, calls * 0.2 + 1);
  EXPECT_GE(retries, calls * 0.2 - 2);
  EXPECT_EQ(srv.requests(), calls + retries);  // attempts the dependency saw: calls plus the budgeted retries
  EXPECT_GT(svc.count().budget_refusals.load(), 0u);
}

TEST(UpstreamBulkhead, ExcessCallsAreRefusedAtOnce) {
  test_server srv([](auto&, auto&) { return reply{.delay = 150ms}; });
  auto c = config_for(srv.port());
  c.bulkhead = 2;
  service svc(c);
  std::vector<std::thread> ts;
  std::atomic<int> ok{0}, refused{0};
  for (int i = 0; i < 6; ++i)
    ts.emplace_back([&] {
      const auto t0 = std::chrono::steady_clock::now();
      const auto r = get(svc);
      if (r.status == 200) ++ok;
      if (r.status == 503) {
        ++refused;
        EXPECT_LT(ms_since(t0), 100.0);  // at once, not after the slow call
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok + refused, 6);
  EXPECT_GE(ok, 2);
  EXPECT_LE(srv.peak_in_flight(), 2u);
  EXPECT_LE(svc.bulkhead()->peak(), 2u);
  EXPECT_EQ(svc.count().bulkhead_rejections.load(), static_cast<std::uint64_t>(refused.load()));
}

TEST(UpstreamBreaker, OpensAtTheThresholdThenFailsFastAndRecoversThroughHalfOpen) {
  std::atomic<bool> failing{true};
  test_server srv([&](auto&, auto&) { return reply{.status = failing ? 500 : 200}; });
  auto c = config_for(srv.port());
  c.breaker = *perflab::resilience::parse_breaker("count:10,min=10,failure=50%,open=200ms,half-open=2");
  service svc(c);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(get(svc).status, 500);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get(svc).status, 200 * !failing + 500 * failing);
  EXPECT_EQ(svc.breaker()->state(), perflab::resilience::breaker_state::closed);  // 9 calls: below min
  EXPECT_EQ(get(svc).status, 500);  // the 10th: 10 of 10 failed
  EXPECT_EQ(svc.breaker()->state(), perflab::resilience::breaker_state::open);
  const auto seen = srv.requests();
  EXPECT_EQ(get(svc).status, 503);  // fails fast: the dependency sees nothing
  EXPECT_EQ(srv.requests(), seen);
  failing = false;
  std::this_thread::sleep_for(250ms);
  EXPECT_EQ(get(svc).status, 200);  // half-open trial 1
  EXPECT_EQ(svc.breaker()->state(), perflab::resilience::breaker_state::half_open);
  EXPECT_EQ(get(svc).status, 200);  // trial 2 closes it
  EXPECT_EQ(svc.breaker()->state(), perflab::resilience::breaker_state::closed);
  const auto s = svc.breaker()->stats();
  EXPECT_EQ(s.transitions[0][1], 1u);
  EXPECT_EQ(s.transitions[1][2], 1u);
  EXPECT_EQ(s.transitions[2][0], 1u);
}

TEST(UpstreamFallback, StaticAndCachedAnswersCarryTheirReason) {
  std::atomic<bool> up{true};
  test_server srv([&](auto&, auto&) { return up ? reply{.body = "fresh"} : reply{.hang_up = true}; });
  auto c = config_for(srv.port());
  c.fallback = *perflab::upstream::parse_fallback("cached");
  service svc(c);
  EXPECT_EQ(get(svc, "GET", "/a").body, "fresh");
  up = false;
  auto r = get(svc, "GET", "/a");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "fresh");
  EXPECT_TRUE(r.fallback);
  r = get(svc, "POST", "/a");  // a write is never answered from the cache
  EXPECT_EQ(r.status, 502);
  EXPECT_FALSE(r.fallback);
  r = get(svc, "GET", "/never-seen");
  EXPECT_EQ(r.status, 502);
  EXPECT_FALSE(r.fallback);
  auto f = config_for(srv.port());
  f.fallback = *perflab::upstream::parse_fallback("200:{}");
  service fixed(f);
  r = get(fixed);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");
  EXPECT_EQ(fixed.count().fallbacks[static_cast<std::size_t>(perflab::upstream::fallback_reason::error)].load(), 1u);
}

// The asynchronous path: calls on an io_context thread, each started from the loop, with
// several in flight at once sharing a pool of 2 (grants post back to the loop).
TEST(UpstreamAsync, CallsOnAnEventLoopShareThePoolWithoutBlockingIt) {
  test_server srv([](auto&, auto& target) { return reply{.body = target, .delay = 10ms}; });
  auto c = config_for(srv.port());
  c.max_connections = 2;
  service svc(c);
  asio::io_context ioc(1);
  auto guard = asio::make_work_guard(ioc);
  std::thread loop([&] { ioc.run(); });
  constexpr int n = 12;
  std::vector<std::unique_ptr<call>> calls;
  for (int i = 0; i < n; ++i) calls.push_back(std::make_unique<call>(svc));
  std::atomic<int> done{0}, ok{0}, ticks{0};
  bool stop_ticking = false;  // loop thread only
  asio::steady_timer tick(ioc);
  std::function<void()> on_tick = [&] {  // proves the loop keeps turning while calls wait
    ++ticks;
    tick.expires_after(5ms);
    tick.async_wait([&](const boost::system::error_code& ec) {
      if (!ec && !stop_ticking) on_tick();
    });
  };
  asio::post(ioc, [&] {
    on_tick();
    for (int i = 0; i < n; ++i) {
      const std::string path = "/p" + std::to_string(i);
      calls[i]->prepare("GET", path, {}, {}, {});
      calls[i]->async_run(ioc, std::make_shared<int>(i), [&, i, path](std::shared_ptr<void>) {
        ok += calls[i]->status() == 200 && calls[i]->body() == path;
        ++done;
      });
    }
  });
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (done < n && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  asio::post(ioc, [&] {
    stop_ticking = true;
    tick.cancel();
  });
  guard.reset();
  loop.join();
  EXPECT_EQ(ok, n);
  EXPECT_LE(srv.connections(), 2u);
  EXPECT_GE(ticks, 5);
  EXPECT_EQ(svc.pool().stats().peak_in_use, 2u);
}

TEST(UpstreamAsync, TimeoutAndDeadDependencyEndEveryCall) {
  test_server srv([](auto&, auto&) { return reply{.delay = 3s}; });
  auto c = config_for(srv.port());
  c.attempt_timeout = 150ms;
  c.max_connections = 1;  // the others time out waiting for the pool
  service svc(c);
  asio::io_context ioc(1);
  constexpr int n = 4;
  std::vector<std::unique_ptr<call>> calls;
  std::vector<double> took(n);
  std::atomic<int> done{0};
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    calls.push_back(std::make_unique<call>(svc));
    calls[i]->prepare("GET", "/slow", {}, {}, {});
    calls[i]->async_run(ioc, std::make_shared<int>(i), [&, i](std::shared_ptr<void>) {
      took[i] = ms_since(t0);
      ++done;
    });
  }
  ioc.run();
  EXPECT_EQ(done, n);
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(calls[i]->status(), 504) << i;
    EXPECT_GE(took[i], 150.0);
    EXPECT_LE(took[i], 150.0 * 1.1 + 40.0);
  }
  // Each timed out: the waiters in the pool mostly, but a waiter granted the slot in the same
  // instant its deadline came times out connecting or waiting for the response instead.
  auto failed = [&](failure f) { return svc.count().failures[static_cast<std::size_t>(f)].load(); };
  EXPECT_EQ(failed(failure::pool_timeout) + failed(failure::connect_timeout) + failed(failure::timeout), n + 0u);
  // Now the dependency dies while a call is in flight: an error, not a hang.
  test_server dying([](auto&, auto&) { return reply{.delay = 3s}; });
  auto d = config_for(dying.port());
  d.attempt_timeout = 2s;
  service svc2(d);
  asio::io_context ioc2(1);  // before the call: the call's timer must go before its io_context
  call one(svc2);
  one.prepare("GET", "/x", {}, {}, {});
  bool finished = false;
  one.async_run(ioc2, std::make_shared<int>(0), [&](std::shared_ptr<void>) { finished = true; });
  std::thread killer([&] {
    std::this_thread::sleep_for(50ms);
    dying.kill();
  });
  const auto k0 = std::chrono::steady_clock::now();
  ioc2.run();
  killer.join();
  EXPECT_TRUE(finished);
  EXPECT_EQ(one.status(), 502);
  EXPECT_LT(ms_since(k0), 1000.0);
}

}  // namespace
