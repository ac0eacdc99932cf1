// --fault-profile and --admin over real sockets, once per concurrency model: an error rate within
// its binomial band on kept connections, a latency that delays without blocking the other
// connections of an event loop, a reset that aborts the connection (an RST) without a response, a
// reset after the handler (the order made, the answer lost, the keyed retry replayed), and POST
// /admin/fault changing a running target's profile (400 with the reason for a bad spec, the
// server still serving). A bad --fault-profile exits 2 naming the option.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "target_harness.hpp"

namespace {

using namespace std::chrono_literals;
using namespace perflab::testing;
using clock_type = std::chrono::steady_clock;

class TargetFault : public model_test {};

TEST_P(TargetFault, ErrorRateIsBinomialOnKeptConnections) {
  target_process t(model_args(GetParam(), {"--fault-profile", "error=0.2:503;seed=11"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  constexpr int n = 400;
  int errors = 0, ok = 0;
  client c(t.port());
  for (int i = 0; i < n; ++i) {
    auto r = c.request(get_hello);
    ASSERT_TRUE(r) << "request " << i;
    ASSERT_FALSE(r->close);
    errors += r->status == 503;
    ok += r->status == 200;
  }
  EXPECT_EQ(errors + ok, n);
  const double sd = std::sqrt(n * 0.2 * 0.8);
  EXPECT_NEAR(errors, n * 0.2, 5 * sd);
  EXPECT_EQ(metric_value(t.port(), "perflab_fault_errors_total"), errors);
  EXPECT_EQ(metric_value(t.port(), "perflab_target_requests_total{endpoint=\"hello\",status=\"503\"}"), errors);
}

TEST_P(TargetFault, LatencyDelaysEveryFaultedRequestButNotHealth) {
  // Two connections at once: on an event loop neither waits for the other's delay.
  target_process t(model_args(GetParam(), {"--fault-profile", "latency=fixed:300ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client a(t.port()), b(t.port()), h(t.port());
  const auto t0 = clock_type::now();
  ASSERT_TRUE(a.send(get_hello));
  ASSERT_TRUE(b.send(get_hello));
  auto health = h.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_LT(clock_type::now() - t0, 250ms);  // not faulted, not queued behind the delays
  auto ra = a.read(), rb = b.read();
  ASSERT_TRUE(ra && rb);
  EXPECT_EQ(ra->status, 200);
  EXPECT_EQ(rb->status, 200);
  const auto took = clock_type::now() - t0;
  EXPECT_GE(took, 295ms);
  EXPECT_LT(took, 590ms);  // concurrent, not one after the other
  EXPECT_EQ(metric_value(t.port(), "perflab_fault_delayed_total"), 2);
}

TEST_P(TargetFault, ResetAbortsWithoutAResponseAndAdminChangesTheProfile) {
  target_process t(model_args(GetParam(), {"--fault-profile", "reset=1", "--admin"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  {
    client c(t.port(), 3s);
    ASSERT_TRUE(c.send(get_hello));
    EXPECT_TRUE(c.reset_by_peer());  // an RST (SO_LINGER 0), not a FIN
    EXPECT_TRUE(c.buffered().empty()) << c.buffered();
  }
  client admin(t.port());
  auto bad = admin.request(post("/admin/fault", "latency=fixed"));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("expected latency=fixed:D"), std::string::npos) << bad->body;
  auto set = admin.request(post("/admin/fault", "error=1:502"));
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 200);
  EXPECT_EQ(set->body, "fault profile: error=1:502\n");
  client c(t.port());
  auto r = c.request(get_hello);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  auto cleared = admin.request(post("/admin/fault", "none"));
  ASSERT_TRUE(cleared && cleared->status == 200);
  expect_still_serving(t.port());
  EXPECT_EQ(metric_value(t.port(), "perflab_fault_resets_total"), 1);
  EXPECT_EQ(metric_value(t.port(), "perflab_fault_profile_changes_total"), 2);
}

TEST_P(TargetFault, ResetAfterDoesTheWorkThenAbortsAndTheKeyedRetryReplays) {
  target_process t(model_args(GetParam(), {"--fault-profile", "reset-after=1", "--admin"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const std::string order =
      "POST /orders HTTP/1.1\r\nHost: t\r\nIdempotency-Key: k-7\r\nContent-Length: 2\r\n\r\n{}";
  {
    client c(t.port(), 3s);
    ASSERT_TRUE(c.send(order));
    EXPECT_TRUE(c.reset_by_peer());  // an RST where the answer should be
    EXPECT_TRUE(c.buffered().empty()) << c.buffered();
  }
  EXPECT_EQ(metric_value(t.port(), "perflab_orders_created_total"), 1) << "the order was made before the reset";
  client admin(t.port());
  auto cleared = admin.request(post("/admin/fault", "none"));
  ASSERT_TRUE(cleared && cleared->status == 200);
  client c(t.port());
  auto r = c.request(order);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(metric_value(t.port(), "perflab_orders_created_total"), 1) << "the retry with its key replays";
  EXPECT_EQ(metric_value(t.port(), "perflab_idempotency_requests_total{result=\"replay\"}"), 1);
  EXPECT_EQ(metric_value(t.port(), "perflab_fault_resets_after_total"), 1);
  EXPECT_EQ(metric_value(t.port(), "perflab_fault_resets_total"), 0);
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetFault, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

TEST(TargetFaultOptions, AdminIs404WithoutTheFlagAndBadProfilesExit2) {
  target_process t(model_args("reactor", {"--fault-profile", "none"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  auto r = c.request(post("/admin/fault", "error=1"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  expect_still_serving(t.port());
  for (const std::string bad : {"error=0.1:200", "latency=gauss:5ms", "/no/such/profile"}) {
    SCOPED_TRACE(bad);
    launch_options to_stdout;
    to_stdout.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
    target_process bad_target(model_args("reactor", {"--fault-profile", bad}), to_stdout);
    EXPECT_EQ(bad_target.wait_exit(5s), 2);
    EXPECT_NE(bad_target.first_line().find("--fault-profile:"), std::string::npos) << bad_target.first_line();
  }
}

}  // namespace
