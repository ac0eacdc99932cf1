#include <perflab/cache/read_through.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace perflab::cache {
namespace {

using role = read_through::begin_result::role;

read_through_config config(bool coalesce, std::size_t capacity = 100) {
  read_through_config c;
  c.cache = cache_limits{policy::lru, capacity, 0, std::chrono::nanoseconds(0), 4};
  c.coalesce = coalesce;
  c.origin.value_bytes = 32;
  return c;
}

TEST(CacheOrigin, ValueNamesKeyAndCallAndIsPadded) {
  std::string v;
  origin_value("42", 7, 32, v);
  EXPECT_EQ(v, "key=42 call=7..................\n");
  EXPECT_EQ(v.size(), 32u);
  origin_value("a-very-long-key", 123, 4, v);  // longer than value_bytes: the text is kept whole
  EXPECT_EQ(v, "key=a-very-long-key call=123\n");
}

TEST(CacheReadThrough, MissLeadsThenHitsServeTheStoredValue) {
  read_through rt(config(false));
  std::string v;
  auto first = rt.begin("k", 0, v);
  EXPECT_EQ(first.what, role::lead);
  EXPECT_EQ(first.found, lookup::miss);
  EXPECT_EQ(first.call, 1u);
  rt.complete("k", first, 0, v);
  EXPECT_EQ(v.substr(0, 12), "key=k call=1");
  std::string hit;
  auto second = rt.begin("k", 0, hit);
  EXPECT_EQ(second.what, role::hit);
  EXPECT_EQ(hit, v);
  const auto s = rt.stats();
  EXPECT_EQ(s.origin_calls, 1u);
  EXPECT_EQ(s.cache.hits, 1u);
  EXPECT_EQ(s.cache.misses, 1u);
}

TEST(CacheReadThrough, WithoutCoalescingEveryConcurrentMissCallsTheOrigin) {
  read_through rt(config(false));
  std::string v;
  std::vector<read_through::begin_result> leads;
  for (int i = 0; i < 5; ++i) leads.push_back(rt.begin("k", 0, v));
  for (const auto& l : leads) EXPECT_EQ(l.what, role::lead);
  EXPECT_EQ(rt.stats().origin_calls, 5u);
  EXPECT_EQ(rt.stats().coalesced_waits, 0u);
}

TEST(CacheReadThrough, CoalescedMissesShareOneOriginCall) {
  read_through rt(config(true));
  std::string v;
  const auto lead = rt.begin("k", 0, v);
  ASSERT_EQ(lead.what, role::lead);
  constexpr int waiters = 8;
  std::atomic<int> released{0};
  std::vector<std::thread> threads;
  std::vector<std::string> values(waiters);
  for (int i = 0; i < waiters; ++i)
    threads.emplace_back([&, i] {
      std::string scratch;
      auto r = rt.begin("k", 0, scratch);
      if (r.what == role::join && r.shared->wait(values[i])) released.fetch_add(1);
    });
  // Every waiter has joined before the leader completes (so none can find the value stored).
  while (lead.shared->waiters() < waiters) std::this_thread::yield();
  rt.complete("k", lead, 0, v);
  for (auto& t : threads) t.join();
  EXPECT_EQ(released.load(), waiters);
  for (const auto& got : values) EXPECT_EQ(got, v);
  const auto s = rt.stats();
  EXPECT_EQ(s.origin_calls, 1u);
  EXPECT_EQ(s.coalesced_waits, static_cast<std::uint64_t>(waiters));
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(rt.begin("k", 0, v).what, role::hit);
}

TEST(CacheReadThrough, SubscribersAreCalledOnceAndLateSubscribersGoOnAtOnce) {
  read_through rt(config(true));
  std::string v;
  const auto lead = rt.begin("k", 0, v);
  const auto join = rt.begin("k", 0, v);
  ASSERT_EQ(join.what, role::join);
  int calls = 0;
  EXPECT_TRUE(join.shared->subscribe([&] { ++calls; }));
  rt.complete("k", lead, 0, v);
  EXPECT_EQ(calls, 1);
  std::string got;
  EXPECT_TRUE(join.shared->result(got));
  EXPECT_EQ(got, v);
  EXPECT_FALSE(join.shared->subscribe([&] { ++calls; }));
  EXPECT_EQ(calls, 1);
}

TEST(CacheReadThrough, AnAbandonedFlightReleasesWaitersToRetry) {
  read_through rt(config(true));
  std::string v;
  const auto lead = rt.begin("k", 0, v);
  const auto join = rt.begin("k", 0, v);
  ASSERT_EQ(join.what, role::join);
  rt.abandon("k", lead);
  std::string got;
  EXPECT_FALSE(join.shared->wait(got));
  const auto retry = rt.begin("k", 0, v);  // the retry leads a new call
  EXPECT_EQ(retry.what, role::lead);
  EXPECT_EQ(retry.call, 2u);
  EXPECT_EQ(rt.stats().abandoned, 1u);
}

TEST(CacheReadThrough, EraseAndPurgeInvalidate) {
  read_through rt(config(false));
  std::string v;
  for (const char* k : {"a", "b", "c"}) rt.complete(k, rt.begin(k, 0, v), 0, v);
  EXPECT_TRUE(rt.erase("a"));
  EXPECT_FALSE(rt.erase("a"));
  EXPECT_EQ(rt.begin("a", 0, v).what, role::lead);
  EXPECT_EQ(rt.purge(), 2u);
  EXPECT_EQ(rt.begin("b", 0, v).what, role::lead);
  const auto s = rt.stats();
  EXPECT_EQ(s.deletes, 2u);
  EXPECT_EQ(s.purges, 1u);
  EXPECT_EQ(s.cache.evictions[static_cast<std::size_t>(evict_reason::deleted)], 1u);
  EXPECT_EQ(s.cache.evictions[static_cast<std::size_t>(evict_reason::purged)], 2u);
}

TEST(CacheReadThrough, PrewarmLoadsTheMostPopularKeysUpToCapacity) {
  read_through rt(config(false, 50));
  EXPECT_EQ(rt.prewarm(80, 0), 50u);
  std::string v;
  EXPECT_EQ(rt.begin("0", 0, v).what, role::hit);
  EXPECT_EQ(v.substr(0, 12), "key=0 call=0");
  EXPECT_EQ(rt.begin("49", 0, v).what, role::hit);
  EXPECT_EQ(rt.begin("50", 0, v).what, role::lead);
  const auto s = rt.stats();
  EXPECT_EQ(s.prewarmed, 50u);
  EXPECT_EQ(s.origin_calls, 1u);  // pre-warming is not an origin call
  EXPECT_EQ(s.cache.evictions[static_cast<std::size_t>(evict_reason::capacity)], 0u);
}

TEST(CacheReadThrough, NoStoreSendsEveryRequestToTheOrigin) {
  read_through_config c;
  c.coalesce = false;
  read_through rt(c);
  std::string v;
  for (int i = 0; i < 3; ++i) rt.complete("k", rt.begin("k", 0, v), 0, v);
  EXPECT_EQ(rt.stats().origin_calls, 3u);
  EXPECT_EQ(rt.stats().cache.misses, 3u);
  EXPECT_EQ(rt.prewarm(10, 0), 0u);
}

}  // namespace
}  // namespace perflab::cache
