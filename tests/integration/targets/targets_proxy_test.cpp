// /proxy/{path} over real sockets: a lab-target (the dependency, reactor) behind another lab-target
// (the proxy, once per concurrency model). Forwarding (method, path, query, body) on kept-alive
// pooled connections; 504 when an attempt times out, within a band of its value; a dependency that
// dies mid-run gives counted 502s, never a hang. Then the policies through /proxy: the breaker
// opens at its threshold and recovers through half-open, retries never retry POST and stay within
// the budget (attempts counted at the dependency), the bulkhead never lets more than its limit
// through, fallbacks carry X-Fallback. Bad --upstream* values exit 2 naming the option.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "target_harness.hpp"

namespace {

using namespace std::chrono_literals;
using namespace perflab::testing;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t) { return std::chrono::duration<double, std::milli>(clock_type::now() - t).count(); }
std::string upstream(const target_process& dep) { return "http://127.0.0.1:" + std::to_string(dep.port()); }
std::vector<std::string> dependency_args(std::vector<std::string> extra = {}) { return model_args("reactor", std::move(extra)); }

class TargetProxy : public model_test {};

TEST_P(TargetProxy, ForwardsMethodPathQueryAndBodyOnPooledConnections) {
  target_process dep(dependency_args());
  ASSERT_GT(dep.port(), 0) << dep.first_line();
  target_process t(model_args(GetParam(), {"--upstream", upstream(dep)}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  auto r = c.request(get("/proxy/hello"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Hello, World!");
  EXPECT_EQ(field(*r, "X-Upstream-Attempts"), "1");
  r = c.request(post("/proxy/echo", "payload-123", "Content-Type: text/plain\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "payload-123");
  r = c.request(get("/proxy/json?items=2"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"count\":2"), std::string::npos) << r->body;
  EXPECT_NE(r->head.find("Content-Type: application/json"), std::string::npos);
  r = c.request(get("/proxy/no-such-thing"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);  // the dependency's answer, passed on
  r = c.request("HEAD /proxy/hello HTTP/1.1\r\nHost: t\r\n\r\n", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(counter(dep.port(), R"(perflab_target_requests_total{endpoint="hello",status="200"})"), 2);
  EXPECT_EQ(counter(dep.port(), R"(perflab_target_requests_total{endpoint="echo",status="200"})"), 1);
  // Five sequential calls, one connection kept alive.
  EXPECT_EQ(counter(t.port(), "perflab_upstream_pool_opened_total"), 1);
  EXPECT_EQ(counter(t.port(), "perflab_upstream_pool_reused_total"), 4);
  EXPECT_EQ(counter(t.port(), "perflab_upstream_attempts_total"), 5);
  EXPECT_EQ(counter(t.port(), R"(perflab_target_requests_total{endpoint="proxy",status="200"})"), 4);
}

TEST_P(TargetProxy, AttemptTimeoutIs504NearItsValue) {
  target_process dep(dependency_args());
  ASSERT_GT(dep.port(), 0) << dep.first_line();
  target_process t(model_args(GetParam(), {"--upstream", upstream(dep), "--upstream-timeout", "300ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  for (int i = 0; i < 2; ++i) {
    const auto t0 = clock_type::now();
    auto r = c.request(get("/proxy/sleep?ms=3000"));
    const double took = ms_since(t0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 504);
    EXPECT_GE(took, 300);
    EXPECT_LE(took, 300 * 1.1 + 60);  // 10 %, plus a loaded machine's scheduling
  }
  EXPECT_EQ(counter(t.port(), "perflab_upstream_timeouts_total"), 2);
  expect_still_serving(t.port());
}

TEST_P(TargetProxy, DependencyDyingMidRunGivesCountedErrorsNotAHang) {
  auto dep = std::make_unique<target_process>(dependency_args());
  ASSERT_GT(dep->port(), 0) << dep->first_line();
  target_process t(model_args(GetParam(), {"--upstream", upstream(*dep), "--upstream-timeout", "2s"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  // Two clients: one waits in a slow call when the dependency dies, one keeps calling after.
  std::atomic<int> in_flight_status{0};
  std::thread slow([&] {
    client c(t.port());
    auto r = c.request(get("/proxy/sleep?ms=1500"));
    in_flight_status = r ? r->status : -1;
  });
  ASSERT_TRUE(poll_until([&] { return counter(dep->port(), "perflab_target_in_flight_requests") >= 1; }, 3s));
  const auto t0 = clock_type::now();
  ::kill(dep->pid(), SIGKILL);
  slow.join();
  EXPECT_EQ(in_flight_status, 502);  // the connection reset: an error at once, not the 2 s timeout
  EXPECT_LT(ms_since(t0), 1000);
  dep.reset();
  client c(t.port());
  int errors = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = c.request(get("/proxy/hello"));
    ASSERT_TRUE(r);
    errors += r->status == 502;
  }
  EXPECT_EQ(errors, 10);
  EXPECT_EQ(counter(t.port(), R"(perflab_upstream_attempt_failures_total{cause="closed"})") +
                counter(t.port(), R"(perflab_upstream_attempt_failures_total{cause="connect"})"),
            11);
  EXPECT_EQ(counter(t.port(), R"(perflab_target_requests_total{endpoint="proxy",status="502"})"), 11);
  expect_still_serving(t.port());
}

INSTANTIATE_TEST_SUITE_P(Models, TargetProxy, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

// The policies, on one event-loop model and one thread model each.
class TargetProxyPolicies : public model_test {};

TEST_P(TargetProxyPolicies, BreakerOpensAtItsThresholdAndClosesThroughHalfOpen) {
  // Every /db/query of this dependency fails (503); /hello works.
  target_process dep(dependency_args({"--db-fail-rate", "1"}));
  ASSERT_GT(dep.port(), 0) << dep.first_line();
  target_process t(model_args(GetParam(), {"--upstream", upstream(dep), "--upstream-breaker",
                                           "count:10,min=10,failure=50%,open=500ms,half-open=2"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  for (int i = 0; i < 10; ++i) {
    auto r = c.request(get("/proxy/db/query?ms=1"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(field(*r, "X-Upstream-Attempts"), "1") << i;  // the dependency's 503
    EXPECT_EQ(counter(t.port(), "perflab_upstream_breaker_state"), i < 9 ? 0 : 1) << i;
  }
  for (int i = 0; i < 5; ++i) {  // open: refused at once, nothing reaches the dependency
    auto r = c.request(get("/proxy/hello"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(field(*r, "X-Upstream-Attempts"), "0");
  }
  EXPECT_EQ(counter(dep.port(), R"(perflab_target_requests_total{endpoint="db_query",status="503"})"), 10);
  EXPECT_EQ(counter(dep.port(), R"(perflab_target_requests_total{endpoint="hello",status="200"})"), 0);
  EXPECT_EQ(counter(t.port(), "perflab_upstream_breaker_rejections_total"), 5);
  std::this_thread::sleep_for(600ms);
  for (int i = 0; i < 2; ++i) {  // two trials in half-open, both fine: closed
    auto r = c.request(get("/proxy/hello"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(counter(t.port(), "perflab_upstream_breaker_state"), 0);
  EXPECT_EQ(counter(t.port(), R"(perflab_upstream_breaker_transitions_total{from="closed",to="open"})"), 1);
  EXPECT_EQ(counter(t.port(), R"(perflab_upstream_breaker_transitions_total{from="open",to="half-open"})"), 1);
  EXPECT_EQ(counter(t.port(), R"(perflab_upstream_breaker_transitions_total{from="half-open",to="closed"})"), 1);
}

TEST_P(TargetProxyPolicies, RetriesStayWithinTheBudgetAndNeverRetryPost) {
  target_process dep(dependency_args({"--db-fail-rate", "1"}));
  ASSERT_GT(dep.port(), 0) << dep.first_line();
  target_process t(model_args(GetParam(), {"--upstream", upstream(dep), "--upstream-retry",
                                           "3,base=1ms,cap=2ms,jitter=full,budget=20%,budget-min=0/s"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  constexpr int calls = 50;
  for (int i = 0; i < calls; ++i) {
    auto r = c.request(get("/proxy/db/query?ms=1"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
  }
  const double seen = counter(dep.port(), R"(perflab_target_requests_total{endpoint="db_query",status="503"})");
  const double retries = counter(t.port(), "perflab_upstream_retries_total");
  EXPECT_EQ(seen, calls + retries);  // the dependency saw each call once plus the retries
  EXPECT_LE(retries, calls * 0.2 + 1);
  EXPECT_GE(retries, calls * 0.2 - 2);
  EXPECT_GT(counter(t.port(), "perflab_upstream_retry_budget_refusals_total"), 0);
  // POST is never retried: a POST the dependency answers 503 (refused at its connection cap)...
  target_process full(dependency_args({"--max-connections", "0"}));
  ASSERT_GT(full.port(), 0) << full.first_line();
  target_process t2(model_args(GetParam(), {"--upstream", upstream(full), "--upstream-retry", "3,base=1ms"}));
  ASSERT_GT(t2.port(), 0) << t2.first_line();
  client c2(t2.port());
  auto r = c2.request(post("/proxy/echo", "x", "Content-Type: text/plain\r\n"));
  ASSERT_TRUE(r);
  // 503, or 502 when the refusal's close reset the connection before its 503 was read.
  EXPECT_TRUE(r->status == 503 || r->status == 502) << r->status;
  EXPECT_EQ(field(*r, "X-Upstream-Attempts"), "1");
  r = c2.request(get("/proxy/hello"));  // ...while GET is, up to its attempts
  ASSERT_TRUE(r);
  EXPECT_EQ(field(*r, "X-Upstream-Attempts"), "3");
  EXPECT_EQ(counter(t2.port(), "perflab_upstream_attempts_total"), 4);
  EXPECT_EQ(counter(t2.port(), "perflab_upstream_retries_not_idempotent_total"), 1);
}

TEST_P(TargetProxyPolicies, BulkheadNeverLetsMoreThanItsLimitThrough) {
  target_process dep(dependency_args());
  ASSERT_GT(dep.port(), 0) << dep.first_line();
  target_process t(model_args(GetParam(), {"--upstream", upstream(dep), "--upstream-bulkhead", "2",
                                           "--upstream-timeout", "3s"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  constexpr int n = 6;
  std::atomic<int> ok{0}, refused{0}, fast_refusals{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&] {
      client c(t.port());
      const auto t0 = clock_type::now();
      auto r = c.request(get("/proxy/sleep?ms=400"));
      if (r && r->status == 200) ++ok;
      if (r && r->status == 503) {
        ++refused;
        fast_refusals += ms_since(t0) < 300;
      }
    });
  for (auto& th : ts) th.join();
  EXPECT_EQ(ok + refused, n);
  EXPECT_GE(ok, 2);
  EXPECT_GT(refused, 0);
  EXPECT_EQ(fast_refusals, refused);  // at once, not after waiting for a place
  EXPECT_LE(counter(t.port(), "perflab_upstream_bulkhead_peak"), 2);
  EXPECT_EQ(counter(t.port(), "perflab_upstream_bulkhead_rejections_total"), refused);
  EXPECT_EQ(counter(dep.port(), R"(perflab_target_requests_total{endpoint="sleep",status="200"})"), ok);
}

TEST_P(TargetProxyPolicies, FallbackAnswersRefusedOrFailedCallsWithTheirReason) {
  auto dep = std::make_unique<target_process>(dependency_args());
  ASSERT_GT(dep->port(), 0) << dep->first_line();
  target_process t(model_args(GetParam(), {"--upstream", upstream(*dep), "--upstream-fallback", "cached"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  auto r = c.request(get("/proxy/hello"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(field(*r, "X-Fallback"), "");
  dep.reset();  // killed
  r = c.request(get("/proxy/hello"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Hello, World!");
  EXPECT_EQ(field(*r, "X-Fallback"), "error");
  r = c.request(get("/proxy/json"));  // never answered well: no cached copy, the error stands
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(counter(t.port(), R"(perflab_upstream_fallbacks_total{reason="error"})"), 1);
}

INSTANTIATE_TEST_SUITE_P(Models, TargetProxyPolicies, ::testing::Values("reactor", "thread-pool"),
                         [](const auto& p) { return model_test_name(p.param); });

TEST(TargetProxyOptions, BadValuesExit2NamingTheOption) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--upstream", "127.0.0.1:80"},          {"--upstream-timeout", "soon"},
      {"--upstream-retry", "3,jitter=wild"},   {"--upstream-breaker", "count:0"},
      {"--upstream-bulkhead", "x"},            {"--upstream-fallback", "maybe"},
      {"--upstream-pool", "0"},                {"--upstream-deadline", "-1s"}};
  for (const auto& [option, value] : cases) {
    SCOPED_TRACE(option + " " + value);
    launch_options to_stdout;
    to_stdout.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
    std::vector<std::string> extra = {"--upstream", "http://127.0.0.1:9", option, value};
    if (option == "--upstream") extra = {option, value};
    target_process t(model_args("reactor", extra), to_stdout);
    EXPECT_EQ(t.wait_exit(5s), 2);
    EXPECT_NE(t.first_line().find(option + ":"), std::string::npos) << t.first_line();
  }
  // Without --upstream, /proxy is no resource here.
  target_process t(model_args("reactor"));
  ASSERT_GT(t.port(), 0);
  client c(t.port());
  auto r = c.request(get("/proxy/hello"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

}  // namespace
