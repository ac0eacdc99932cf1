// One write-deadline rule on every model: a deadline on progress (no byte taken by the client
// for --send-timeout), not on the whole response, as nginx's send_timeout.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "target_harness.hpp"

namespace {

using namespace perflab::testing;

class TargetSend : public model_test {};

TEST_P(TargetSend, SlowButSteadyReaderGetsTheWholeBody) {
  // The body takes about two seconds at this pace, far longer than either timeout: only a
  // deadline that moves with progress lets it through. 12 MiB is well above what the socket
  // buffers hold (about 4 MiB on loopback), so the server really waits for the reader.
  target_process t(model_args(GetParam(), {"--send-timeout", "1s", "--idle-timeout", "500ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port(), 10s, 64 * 1024);
  constexpr std::uint64_t size = 12 << 20;
  ASSERT_TRUE(c.send("GET /bytes/" + std::to_string(size) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read_head();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->content_length, size);
  std::uint64_t got = c.drain(std::min<std::uint64_t>(size, c.buffered().size()));
  while (got < size) {
    const auto n = c.drain(std::min<std::uint64_t>(64 * 1024, size - got));
    if (n == 0) break;
    got += n;
    // The client's pace: about 6 MiB/s, a read every 10 ms.
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(got, size) << "cut off mid-body";
  // (The connection itself may be gone by now: the idle timeout runs from the last byte the
  // server wrote, and the client was still reading what the socket buffers held.)
  EXPECT_EQ(metric_value(t.port(), "perflab_target_send_timeouts_total"), 0);
}

TEST_P(TargetSend, ClientThatStopsReadingIsDisconnectedAfterTheSendTimeoutAndCounted) {
  target_process t(model_args(GetParam(), {"--send-timeout", "500ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port(), 10s, 64 * 1024);
  constexpr std::uint64_t size = 64 << 20;
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send("GET /bytes/" + std::to_string(size) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
  // The client reads nothing: once the socket buffers are full the server makes no progress.
  ASSERT_TRUE(wait_for_metric(t.port(), "perflab_target_send_timeouts_total 1\n", 10s));
  EXPECT_GE(std::chrono::steady_clock::now() - sent, 500ms);
  // What the buffers held still arrives, then the connection ends short of the body.
  auto r = c.read_head();
  ASSERT_TRUE(r);
  EXPECT_LT(c.drain(size), size);
  EXPECT_TRUE(c.closed_by_peer());
  expect_still_serving(t.port());
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetSend, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

}  // namespace
