// --waiting-room over real sockets, once per concurrency model: never more than CAPACITY requests
// in service at once (service intervals seen by the clients overlap at most CAPACITY deep), the
// others wait FIFO and are told their place (X-Queue-Position) or, after max-wait, get 503 with
// Retry-After about max-wait after they came; a full queue refuses at once; /health is not held
// back; the /metrics counters add up to what the clients saw. Bad values exit 2 naming the option.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "target_harness.hpp"

namespace {

using namespace std::chrono_literals;
using namespace perflab::testing;
using clock_type = std::chrono::steady_clock;

double ms(clock_type::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct seen {
  int status = 0;
  double sent_ms = 0, done_ms = 0;
  std::string position, retry_after;
};

// n clients at once, each one GET of target on its own connection.
std::vector<seen> burst(int port, int n, const std::string& target) {
  std::vector<seen> out(n);
  std::vector<std::thread> ts;
  const auto t0 = clock_type::now();
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&, i] {
      client c(port);
      out[i].sent_ms = ms(clock_type::now() - t0);
      auto r = c.request(get(target));
      out[i].done_ms = ms(clock_type::now() - t0);
      if (!r) return;
      out[i].status = r->status;
      out[i].position = field(*r, "X-Queue-Position");
      out[i].retry_after = field(*r, "Retry-After");
    });
  for (auto& t : ts) t.join();
  return out;
}

class TargetWaitingRoom : public model_test {};

TEST_P(TargetWaitingRoom, AtMostCapacityInServiceOthersWaitThenTimeOut) {
  target_process t(model_args(GetParam(), {"--waiting-room", "2,max-wait=300ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const auto r = burst(t.port(), 6, "/sleep?ms=200");
  int ok = 0, waited = 0, timed_out = 0;
  std::vector<std::pair<double, double>> service;  // [start, end] of each 200, as the client saw it
  for (const auto& s : r) {
    if (s.status == 200) {
      ++ok;
      EXPECT_FALSE(s.position.empty());
      waited += s.position != "0" && !s.position.empty();
      service.emplace_back(s.done_ms - 200, s.done_ms);
    } else {
      EXPECT_EQ(s.status, 503);
      ++timed_out;
      EXPECT_EQ(s.retry_after, "1");
      const double waited_ms = s.done_ms - s.sent_ms;
      EXPECT_GE(waited_ms, 300 - 5);
      EXPECT_LE(waited_ms, 300 * 1.1 + 60);  // max-wait, within 10 % plus a busy machine's slack
    }
  }
  EXPECT_GE(ok, 2);
  EXPECT_GE(waited, 1);
  // Never more than 2 in service: no instant lies inside 3 service intervals (shrunk by 20 ms at
  // each end for the clients' own timing noise).
  for (const auto& [a, b] : service) {
    for (double at : {a + 20, b - 20}) {
      int deep = 0;
      for (const auto& [x, y] : service) deep += x + 20 <= at && at <= y - 20;
      EXPECT_LE(deep, 2) << "at " << at << " ms";
    }
  }
  EXPECT_EQ(counter(t.port(), R"(perflab_waitingroom_requests_total{result="admitted"})") +
                counter(t.port(), R"(perflab_waitingroom_requests_total{result="admitted_after_wait"})"),
            ok);
  EXPECT_EQ(counter(t.port(), R"(perflab_waitingroom_requests_total{result="timed_out"})"), timed_out);
  EXPECT_EQ(counter(t.port(), "perflab_waitingroom_in_service"), 0);
  EXPECT_EQ(counter(t.port(), "perflab_waitingroom_waiting"), 0);
  expect_still_serving(t.port());
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetWaitingRoom, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

TEST(TargetWaitingRoomQueue, FullQueueRefusesAtOnceAndHealthIsNotHeldBack) {
  target_process t(model_args("reactor", {"--waiting-room", "1,max-wait=2s,queue=1"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  std::vector<seen> r;
  std::thread load([&] { r = burst(t.port(), 3, "/sleep?ms=400"); });
  ASSERT_TRUE(poll_until([&] { return counter(t.port(), "perflab_waitingroom_in_service") >= 1; }, 3s));
  const auto h0 = clock_type::now();
  client c(t.port());
  auto h = c.request(get("/health"));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_LT(ms(clock_type::now() - h0), 200);
  load.join();
  int ok = 0, refused_fast = 0;
  for (const auto& s : r) {
    ok += s.status == 200;
    refused_fast += s.status == 503 && s.done_ms - s.sent_ms < 200 && s.retry_after == "2";
  }
  EXPECT_EQ(ok, 2);  // one in service, one waiting for it
  EXPECT_EQ(refused_fast, 1);
  EXPECT_EQ(counter(t.port(), R"(perflab_waitingroom_requests_total{result="refused"})"), 1);
}

TEST(TargetWaitingRoomQueue, BadValuesExit2NamingTheOption) {
  for (const std::string bad : {"0,max-wait=1s", "10,max-wait=soon", "ten", "10,wait=1s"}) {
    SCOPED_TRACE(bad);
    launch_options to_stdout;
    to_stdout.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
    target_process t(model_args("reactor", {"--waiting-room", bad}), to_stdout);
    EXPECT_EQ(t.wait_exit(5s), 2);
    EXPECT_NE(t.first_line().find("--waiting-room"), std::string::npos) << t.first_line();
  }
}

}  // namespace
