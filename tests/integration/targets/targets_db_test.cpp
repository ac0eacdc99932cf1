// /db/query and /items/{id} over real sockets against the simulated database, once per
// concurrency model: Little's law through the pool (5 connections x 100 ms queries cap goodput at
// 50/s whatever the offered concurrency), the acquire timeout, max lifetime, idle timeout and
// validation, each seen through responses and /metrics; and bad options exit 2 naming the option.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "target_harness.hpp"

namespace {

using namespace std::chrono_literals;
using namespace perflab::testing;
using clock_type = std::chrono::steady_clock;

class TargetDb : public model_test {};

std::string closed(std::string_view reason) {
  return "perflab_db_pool_closed_total{reason=\"" + std::string(reason) + "\"}";
}

int status_of(int port, std::string_view target, std::chrono::milliseconds timeout = 5s) {
  client c(port, timeout);
  auto r = c.request(get(target));
  return r ? r->status : 0;
}

TEST_P(TargetDb, PoolOfFiveWithHundredMillisecondQueriesServesFiftyPerSecond) {
  PERFLAB_SKIP_FIBER_UNDER_TSAN();
  // 50 closed-loop clients offer 500/s at 100 ms each; the pool admits 5 at a time: Little's law
  // gives 5 / 0.1 s = 50/s, the rest wait in the pool's queue (never timing out here).
  target_process t(model_args(GetParam(), {"--pool-size", "5", "--db-connect-cost", "1ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  ASSERT_EQ(status_of(t.port(), "/db/query?ms=1"), 200);  // opens the database and fills the pool
  constexpr int clients = 50;
  const auto start = clock_type::now();
  const auto from = start + 1s, to = start + 3s;  // measured after the queue has formed
  std::atomic<int> in_window{0}, failed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < clients; ++i) {
    ts.emplace_back([&] {
      client c(t.port(), 10s);
      while (clock_type::now() < to) {
        auto r = c.request(get("/db/query?ms=100"));
        if (!r || r->status != 200) {
          ++failed;
          return;
        }
        const auto now = clock_type::now();
        if (now >= from && now < to) ++in_window;
      }
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(failed, 0);
  const double goodput = in_window / 2.0;
  EXPECT_NEAR(goodput, 50, 2.5);
  EXPECT_LE(metric(t.port(), "perflab_db_pool_size"), 5);
  EXPECT_GE(metric(t.port(), "perflab_db_pool_waiting_peak"), 3);  // 8 thread-pool workers - 5
  EXPECT_EQ(metric(t.port(), "perflab_db_pool_acquire_timeouts_total"), 0);
}

TEST_P(TargetDb, AcquireTimeoutFiresOnTimeAndIsCounted) {
  target_process t(model_args(GetParam(), {"--pool-size", "1", "--pool-acquire-timeout", "1s"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client holder(t.port());
  ASSERT_TRUE(holder.send(get("/db/query?ms=1500")));  // holds the only connection
  ASSERT_TRUE(wait_for_metric(t.port(), "perflab_db_pool_connections{state=\"active\"} 1"));
  const auto t0 = clock_type::now();
  EXPECT_EQ(status_of(t.port(), "/db/query?ms=1"), 503);
  const auto waited = clock_type::now() - t0;
  EXPECT_GE(waited, 1s);
  EXPECT_LT(waited, 1100ms);  // within 10 %
  EXPECT_EQ(metric(t.port(), "perflab_db_pool_acquire_timeouts_total"), 1);
  auto r = holder.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);  // the holder is unaffected
}

TEST_P(TargetDb, MaxLifetimeRetiresConnectionsOnlyWhenReturned) {
  // Every query outlives the connection's lifetime: a pool that retired borrowed connections
  // would fail them; this one retires each when it comes back.
  target_process t(model_args(GetParam(), {"--pool-size", "1", "--pool-max-lifetime", "200ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  for (int i = 0; i < 3; ++i) {
    auto r = c.request(get("/db/query?ms=400"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_GE(metric(t.port(), closed("lifetime")), 3);
  EXPECT_EQ(metric(t.port(), closed("error")), 0);
}

TEST_P(TargetDb, IdleTimeoutShrinksThePoolToMinIdle) {
  target_process t(model_args(GetParam(), {"--pool-size", "4", "--pool-min-idle", "1", "--pool-idle-timeout", "300ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  std::vector<client> cs;
  for (int i = 0; i < 4; ++i) cs.emplace_back(t.port());
  for (auto& c : cs) ASSERT_TRUE(c.send(get("/db/query?ms=200")));
  for (auto& c : cs) {
    auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(metric(t.port(), "perflab_db_pool_size"), 4);
  EXPECT_TRUE(wait_for_metric(t.port(), "perflab_db_pool_size 1", 5s));
  EXPECT_EQ(metric(t.port(), closed("idle")), 3);
}

// Two idle connections whose backends are then terminated (the test hook), and one request.
int after_terminating_idle(target_process& t) {
  EXPECT_EQ(status_of(t.port(), "/db/query?ms=1"), 200);
  EXPECT_TRUE(wait_for_metric(t.port(), "perflab_db_pool_connections{state=\"idle\"} 2"));
  client c(t.port());
  auto r = c.request("POST /db/terminate HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(r && r->status == 200 && r->body == "terminated 2\n") << (r ? r->body : "no response");
  return status_of(t.port(), "/db/query?ms=1");
}

TEST_P(TargetDb, OnBorrowValidationReplacesDeadConnections) {
  target_process t(model_args(GetParam(), {"--pool-size", "2", "--pool-validation", "on-borrow"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  EXPECT_EQ(after_terminating_idle(t), 200);
  EXPECT_EQ(metric(t.port(), closed("validation")), 2);
  EXPECT_EQ(metric(t.port(), closed("error")), 0);
}

TEST_P(TargetDb, WithoutValidationADeadConnectionFailsOneRequestAndIsReplaced) {
  target_process t(model_args(GetParam(), {"--pool-size", "2", "--pool-validation", "none"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  EXPECT_EQ(after_terminating_idle(t), 503);  // detected by the query: 503, never a hang
  EXPECT_EQ(metric(t.port(), closed("error")), 1);
  EXPECT_TRUE(wait_for_metric(t.port(), "perflab_db_pool_size 2"));  // replaced
}

TEST_P(TargetDb, BackgroundValidationClosesDeadIdleConnections) {
  target_process t(model_args(GetParam(), {"--pool-size", "2", "--pool-validation", "background",
                                           "--pool-validation-interval", "100ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  EXPECT_EQ(status_of(t.port(), "/db/query?ms=1"), 200);
  EXPECT_TRUE(wait_for_metric(t.port(), "perflab_db_pool_connections{state=\"idle\"} 2"));
  client c(t.port());
  auto r = c.request("POST /db/terminate HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_TRUE(wait_for_metric(t.port(), closed("validation") + " 2", 5s));
  EXPECT_EQ(status_of(t.port(), "/db/query?ms=1"), 200);
  EXPECT_EQ(metric(t.port(), closed("error")), 0);
}

TEST_P(TargetDb, FaultInjectionGivesServiceUnavailableAndReplacesTheConnection) {
  target_process t(model_args(GetParam(), {"--pool-size", "2", "--db-fail-rate", "1"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(status_of(t.port(), "/db/query?ms=5"), 503);
  EXPECT_EQ(metric(t.port(), closed("error")), 3);
  EXPECT_GE(metric(t.port(), "perflab_db_pool_created_total"), 4);  // replacements opened
}

TEST_P(TargetDb, ItemsAreRowsByKey) {
  target_process t(model_args(GetParam(), {"--db-latency", "exp:2ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  auto r = c.request(get("/items/42"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"id\":42,\"name\":\"item-42\",\"price_cents\":2598}\n");
  EXPECT_EQ(status_of(t.port(), "/items/100000"), 404);
  EXPECT_EQ(status_of(t.port(), "/items/x"), 400);
}

TEST_P(TargetDb, NoPoolOpensAConnectionPerRequest) {
  target_process t(model_args(GetParam(), {"--no-pool", "--db-connect-cost", "50ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  const auto t0 = clock_type::now();
  for (int i = 0; i < 3; ++i) {
    auto r = c.request(get("/db/query?ms=10"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_GE(clock_type::now() - t0, 3 * 60ms);  // connect cost in every request
  EXPECT_EQ(metric(t.port(), "perflab_db_pool_created_total"), 3);
  EXPECT_EQ(metric(t.port(), closed("unpooled")), 3);
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetDb, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

TEST(TargetDbOptions, BadOptionsExit2NamingTheOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--pool-size", "-1"}, "--pool-size:"},
      {{"--pool-size", "4", "--pool-min-idle", "5"}, "--pool-min-idle:"},
      {{"--pool-acquire-timeout", "-1s"}, "--pool-acquire-timeout:"},
      {{"--pool-validation", "always"}, "--pool-validation:"},
      {{"--db", "mysql://127.0.0.1/x"}, "--db:"},
      {{"--db-latency", "gauss:1ms"}, "--db-latency:"},
      {{"--db-fail-rate", "2"}, "--db-fail-rate:"},
      {{"--db", "postgres://perflab@127.0.0.1:1/perflab"}, "--db:"},  // unreachable: nothing listens on port 1
      {{"--db", "postgres://perflab@no-such-host.invalid/perflab"}, "--db: postgres://perflab@no-such-host.invalid/perflab: cannot resolve"},
  };
  for (const auto& [extra, name] : cases) {
    SCOPED_TRACE(name);
    launch_options to_stdout;
    to_stdout.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
    target_process t(model_args("reactor", extra), to_stdout);
    EXPECT_EQ(t.wait_exit(5s), 2);
    EXPECT_NE(t.first_line().find(name), std::string::npos) << t.first_line();
  }
}

}  // namespace
