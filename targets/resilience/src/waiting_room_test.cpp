// The waiting room admits at most its capacity, in arrival order, and turns away who waited too
// long or found the queue full; the bulkhead never exceeds its limit.
#include "perflab/resilience/waiting_room.hpp"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "perflab/resilience/bulkhead.hpp"

namespace {

using namespace std::chrono_literals;
using perflab::resilience::waiting_room;
using perflab::resilience::waiting_room_config;

TEST(WaitingRoom, AdmitsItsCapacityThenQueuesInOrderAndTellsThePlace) {
  waiting_room room({2, 5s, 3});
  std::vector<int> admitted;
  EXPECT_EQ(room.enter(0s, nullptr).result, waiting_room::outcome::admitted);
  EXPECT_EQ(room.enter(0s, nullptr).result, waiting_room::outcome::admitted);
  std::vector<waiting_room::ticket> queued;
  for (int i = 0; i < 3; ++i) {
    auto t = room.enter(1s, [&admitted, i] { admitted.push_back(i); });
    ASSERT_EQ(t.result, waiting_room::outcome::queued);
    EXPECT_EQ(t.position, static_cast<std::uint32_t>(i + 1));
    queued.push_back(t);
  }
  EXPECT_EQ(room.enter(1s, nullptr).result, waiting_room::outcome::refused) << "the queue holds 3";
  room.leave(2s);
  EXPECT_EQ(admitted, std::vector<int>{0}) << "first come, first admitted";
  EXPECT_TRUE(room.cancel(queued[1].id)) << "the second waiter gave up";
  EXPECT_FALSE(room.cancel(queued[0].id)) << "the first was admitted already";
  room.leave(3s);
  EXPECT_EQ(admitted, (std::vector<int>{0, 2}));
  auto s = room.stats();
  EXPECT_EQ(s.in_service, 2u) << "each leave passed its place on";
  EXPECT_EQ(s.admitted_at_once, 2u);
  EXPECT_EQ(s.admitted_after_wait, 2u);
  EXPECT_EQ(s.timed_out, 1u);
  EXPECT_EQ(s.refused, 1u);
  EXPECT_EQ(s.peak_waiting, 3u);
  EXPECT_EQ(s.wait_ns_total, static_cast<std::uint64_t>(std::chrono::nanoseconds(1s + 2s).count()));
  room.leave(4s);
  room.leave(4s);
  EXPECT_EQ(room.stats().in_service, 0u);
  EXPECT_EQ(room.enter(5s, nullptr).result, waiting_room::outcome::admitted);
}

TEST(WaitingRoom, ANewcomerDoesNotJumpTheQueueWhenAPlaceFreesUp) {
  waiting_room room({1, 5s, 0});
  ASSERT_EQ(room.enter(0s, nullptr).result, waiting_room::outcome::admitted);
  bool first_in = false;
  ASSERT_EQ(room.enter(0s, [&] { first_in = true; }).result, waiting_room::outcome::queued);
  room.leave(1s);
  EXPECT_TRUE(first_in);
  EXPECT_EQ(room.enter(1s, nullptr).result, waiting_room::outcome::queued) << "the place went to the waiter";
}

TEST(WaitingRoom, BlockingCallersWaitUpToMaxWait) {
  waiting_room room({1, 200ms, 0});
  ASSERT_TRUE(room.enter_blocking());
  std::atomic<int> result{-1};
  std::uint32_t position = 0;
  std::thread waiter([&] { result = room.enter_blocking(&position) ? 1 : 0; });
  while (room.stats().waiting == 0) std::this_thread::yield();
  room.leave(0s);
  waiter.join();
  EXPECT_EQ(result, 1) << "admitted when the place was given back";
  EXPECT_EQ(position, 1u);
  // Nobody leaves now: the next caller gives up after max-wait, counted.
  EXPECT_FALSE(room.enter_blocking());
  EXPECT_EQ(room.stats().timed_out, 1u);
  EXPECT_EQ(room.stats().waiting, 0u);
}

TEST(WaitingRoom, ManyThreadsNeverExceedTheCapacity) {
  waiting_room room({4, 10s, 1000});
  std::atomic<int> inside{0}, most{0}, served{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!room.enter_blocking()) continue;
        const int now = ++inside;
        for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {
        }
        --inside;
        ++served;
        room.leave(0s);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_LE(most.load(), 4);
  EXPECT_EQ(served.load(), 16 * 200);
  EXPECT_EQ(room.stats().in_service, 0u);
}

TEST(WaitingRoom, ParsesItsSpecAndNamesWhatIsWrong) {
  auto c = perflab::resilience::parse_waiting_room("200,max-wait=5s,queue=50");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->capacity, 200u);
  EXPECT_EQ(c->max_wait, 5s);
  EXPECT_EQ(c->queue_limit(), 50u);
  auto d = perflab::resilience::parse_waiting_room("10,max-wait=1s");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->queue_limit(), 100u) << "ten times the capacity by default";
  for (auto [spec, words] : std::vector<std::pair<const char*, const char*>>{
           {"0,max-wait=1s", "capacity=\"0\""},
           {"ten,max-wait=1s", "capacity=\"ten\""},
           {"10", "needs max-wait"},
           {"10,max-wait=0s", "max-wait=\"0s\""},
           {"10,max-wait=1s,size=3", "unknown key \"size\""}}) {
    auto r = perflab::resilience::parse_waiting_room(spec);
    ASSERT_FALSE(r) << spec;
    EXPECT_NE(r.error().find(words), std::string::npos) << spec << ": " << r.error();
  }
}

TEST(Bulkhead, NeverMoreThanItsLimitInsideAndEveryRefusalCounted) {
  perflab::resilience::bulkhead b(3);
  std::atomic<int> inside{0}, most{0};
  std::atomic<std::uint64_t> attempts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) {
        ++attempts;
        if (!b.try_enter()) continue;
        const int now = ++inside;
        for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {
        }
        --inside;
        b.leave();
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_LE(b.peak(), 3u);
  EXPECT_EQ(b.admitted() + b.rejected(), attempts.load());
  EXPECT_EQ(b.in_use(), 0u);
}

}  // namespace
