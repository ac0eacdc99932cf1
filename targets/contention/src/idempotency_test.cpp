// Idempotency keys: the work is done once per key however many repeats, concurrent or not.
#include "perflab/contention/idempotency.hpp"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using perflab::contention::fingerprint;
using perflab::contention::idempotency_store;
using verdict = idempotency_store::verdict;

TEST(Idempotency, TheFirstDoesTheWorkARepeatReplaysItsResponse) {
  idempotency_store store(1h);
  const auto fp = fingerprint("POST", "/orders", "{\"item\":1}");
  idempotency_store::stored_response got;
  EXPECT_EQ(store.begin("k1", fp, 0s, &got), verdict::first);
  EXPECT_EQ(store.begin("k1", fp, 1s, &got), verdict::in_flight) << "409 while the first is working";
  store.complete("k1", {201, "order 7"}, 2s);
  EXPECT_EQ(store.begin("k1", fp, 3s, &got), verdict::replay);
  EXPECT_EQ(got.status, 201);
  EXPECT_EQ(got.body, "order 7");
  EXPECT_EQ(store.begin("k1", fingerprint("POST", "/orders", "{\"item\":2}"), 3s, &got), verdict::mismatch)
      << "422: the key was used for another request";
  EXPECT_EQ(store.begin("k2", fp, 3s, &got), verdict::first) << "another key is another order";
  const auto s = store.stats();
  EXPECT_EQ(s.first, 2u);
  EXPECT_EQ(s.replays, 1u);
  EXPECT_EQ(s.in_flight, 1u);
  EXPECT_EQ(s.mismatches, 1u);
}

TEST(Idempotency, KeysExpireTheirTtlAfterTheResponseWasStored) {
  idempotency_store store(10s);
  const auto fp = fingerprint("POST", "/orders", "x");
  ASSERT_EQ(store.begin("k", fp, 0s, nullptr), verdict::first);
  store.complete("k", {201, "a"}, 5s);
  EXPECT_EQ(store.begin("k", fp, 15s - 1ns, nullptr), verdict::replay);
  EXPECT_EQ(store.begin("k", fp, 15s, nullptr), verdict::first) << "expired: the work is done again";
  EXPECT_EQ(store.stats().expired, 1u);
}

TEST(Idempotency, AnAbandonedKeyIsFreeForTheRetry) {
  idempotency_store store;
  const auto fp = fingerprint("POST", "/orders", "x");
  ASSERT_EQ(store.begin("k", fp, 0s, nullptr), verdict::first);
  store.abandon("k");
  EXPECT_EQ(store.begin("k", fp, 1s, nullptr), verdict::first);
}

TEST(Idempotency, ConcurrentRepeatsOfOneKeyDoTheWorkOnce) {
  idempotency_store store;
  const auto fp = fingerprint("POST", "/orders", "x");
  std::atomic<int> worked{0}, replayed{0}, conflicted{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 32; ++t)
    clients.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        idempotency_store::stored_response r;
        switch (store.begin("order-1", fp, 1s, &r)) {
          case verdict::first:
            ++worked;
            store.complete("order-1", {201, "done"}, 1s);
            break;
          case verdict::replay: ++replayed; EXPECT_EQ(r.body, "done"); break;
          case verdict::in_flight: ++conflicted; break;
          case verdict::mismatch: ADD_FAILURE(); break;
        }
      }
    });
  for (auto& c : clients) c.join();
  EXPECT_EQ(worked.load(), 1);
  EXPECT_EQ(worked + replayed + conflicted, 3200);
  EXPECT_EQ(store.keys(), 1u);
}

TEST(Idempotency, FingerprintsSeparateTheirParts) {
  EXPECT_NE(fingerprint("POST", "/ab", "c"), fingerprint("POST", "/a", "bc"));
  EXPECT_EQ(fingerprint("POST", "/a", "b"), fingerprint("POST", "/a", "b"));
}

}  // namespace
