#include <perflab/encode/link.hpp>

#include <algorithm>
#include <cstdint>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using perflab::encode::link_options;
using perflab::encode::link_shaper;

// Writes `bytes` through the shaper starting at `now`, the socket taking at most `socket_take`
// bytes per write and no time passing but the waits; returns when the last byte went out.
std::int64_t send_all(link_shaper& l, std::uint64_t bytes, std::int64_t now, std::size_t socket_take = 1 << 30) {
  std::uint64_t left = bytes;
  while (left > 0) {
    const auto slot = l.next(static_cast<std::size_t>(std::min<std::uint64_t>(left, 1 << 20)), now);
    now = std::max(now, slot.at_ns);
    const auto n = std::min<std::size_t>(slot.bytes, socket_take);
    left -= n;
    l.sent(n, left > 0);
  }
  return now;
}

TEST(EncodeLink, OneMegabyteAtOneMegabytePerSecondTakesOneSecond) {
  link_shaper l(link_options{1'000'000, 0ns});
  ASSERT_TRUE(l.enabled());
  const std::int64_t t0 = 5'000'000'000;
  EXPECT_NEAR(static_cast<double>(send_all(l, 1'000'000, t0) - t0), 1e9, 1e3);
  // Partial socket writes do not change the schedule.
  link_shaper m(link_options{1'000'000, 0ns});
  EXPECT_NEAR(static_cast<double>(send_all(m, 1'000'000, t0, 700) - t0), 1e9, 1e3);
  // Released in chunks of about 2 ms of the link.
  EXPECT_EQ(l.quantum(), 2000u);
}

TEST(EncodeLink, LatencyDelaysEachResponseOnceNotEachChunk) {
  link_shaper l(link_options{1'000'000, 20ms});
  const std::int64_t t0 = 1'000'000'000;
  const auto end = send_all(l, 100'000, t0);
  EXPECT_NEAR(static_cast<double>(end - t0), 120e6, 1e3);  // 100 ms on the wire + 20 ms
  // The next response, ready 1 s later on the same connection: the link is idle again.
  const auto t1 = end + 1'000'000'000;
  EXPECT_NEAR(static_cast<double>(send_all(l, 1000, t1) - t1), 21e6, 1e3);
  // Latency alone: everything at once, 20 ms late.
  link_shaper only_latency(link_options{0, 20ms});
  EXPECT_EQ(send_all(only_latency, 5'000'000, t0) - t0, 20'000'000);
}

TEST(EncodeLink, FirstByteWaitsOneChunkAtMost) {
  link_shaper l(link_options{1'000'000, 0ns});
  const auto slot = l.next(1'000'000, 0);
  EXPECT_EQ(slot.bytes, l.quantum());
  EXPECT_LE(slot.at_ns, 2'000'000);  // the first 2000 bytes leave after 2 ms
  EXPECT_FALSE(link_shaper(link_options{}).enabled());
}

}  // namespace
