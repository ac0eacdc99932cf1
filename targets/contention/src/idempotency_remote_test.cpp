// Idempotency keys in Redis and in PostgreSQL (one real server per test, started by
// scripts/services.sh and stopped at the end; skipped, with the reason printed, when it cannot be
// installed here): the in-process store's semantics. 32 concurrent requests with one key do the
// work once (the others replay it or get in-flight), a later repeat replays the same response, a
// different request with the key is a mismatch, and a key is free again after its TTL.
#include "perflab/contention/idempotency_remote.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "test_services.hpp"

namespace {

using namespace std::chrono_literals;
using perflab::contention::keyed_result;
using perflab::contention::make_remote_idempotency;
using perflab::contention::remote_idempotency;
using verdict = perflab::contention::idempotency_store::verdict;
using stored_response = perflab::contention::idempotency_store::stored_response;

keyed_result call(remote_idempotency& keys, const std::string& key, std::uint64_t fp, remote_idempotency::work_fn work) {
  std::promise<keyed_result> p;
  auto f = p.get_future();
  keys.run_async(key, fp, std::move(work), [&p](keyed_result r) { p.set_value(std::move(r)); });
  return f.get();
}

class RemoteIdempotency : public ::testing::TestWithParam<std::string> {};

TEST_P(RemoteIdempotency, OneKeyDoesTheWorkOnceReplaysItRefusesAnotherRequestAndExpires) {
  perflab::contention::testing::service_instance server(GetParam());
  if (server.code() == 3) GTEST_SKIP() << GetParam() << " cannot be installed on this machine (scripts/services.sh exit 3)";
  ASSERT_EQ(server.code(), 0) << "scripts/services.sh start " << GetParam() << " failed";
  auto made = make_remote_idempotency({server.url(), std::chrono::hours(1), 8});
  ASSERT_TRUE(made) << made.error();
  auto& keys = **made;
  EXPECT_EQ(keys.kind(), GetParam());

  std::atomic<int> work_done{0};
  auto work = [&] {
    std::this_thread::sleep_for(100ms);  // long enough for the repeats to find it in flight
    return stored_response{201, "{\"order\":" + std::to_string(++work_done) + "}\n"};
  };
  std::vector<std::future<keyed_result>> answers;
  for (int i = 0; i < 32; ++i) answers.push_back(std::async(std::launch::async, [&] { return call(keys, "k1", 7, work); }));
  int first = 0, replays = 0, in_flight = 0;
  for (auto& a : answers) {
    const auto r = a.get();
    ASSERT_FALSE(r.error);
    first += r.verdict == verdict::first;
    in_flight += r.verdict == verdict::in_flight;
    if (r.verdict == verdict::replay) {
      ++replays;
      EXPECT_EQ(r.response.body, "{\"order\":1}\n");
    }
  }
  EXPECT_EQ(work_done, 1) << "32 requests with one key did the work once";
  EXPECT_EQ(first, 1);
  EXPECT_EQ(replays + in_flight, 31);
  const auto again = call(keys, "k1", 7, work);
  EXPECT_EQ(again.verdict, verdict::replay);
  EXPECT_EQ(again.response.status, 201);
  EXPECT_EQ(again.response.body, "{\"order\":1}\n") << "the stored response, status and body";
  EXPECT_EQ(call(keys, "k1", 8, work).verdict, verdict::mismatch) << "another request with the key";
  EXPECT_EQ(work_done, 1);
  const auto s = keys.stats();
  EXPECT_EQ(s.first, 1u);
  EXPECT_EQ(s.replays, static_cast<std::uint64_t>(replays) + 1);
  EXPECT_EQ(s.mismatches, 1u);

  // A short TTL (another store on the same server): the key is free again once it has passed.
  auto brief = make_remote_idempotency({server.url(), 200ms, 2});
  ASSERT_TRUE(brief) << brief.error();
  EXPECT_EQ(call(**brief, "k2", 1, work).verdict, verdict::first);
  EXPECT_EQ(work_done, 2);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  verdict v = verdict::replay;
  while (v == verdict::replay && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    v = call(**brief, "k2", 1, work).verdict;
  }
  EXPECT_EQ(v, verdict::first) << "still stored 10 s after a TTL of 200 ms";
  EXPECT_EQ(work_done, 3);
}

INSTANTIATE_TEST_SUITE_P(Stores, RemoteIdempotency, ::testing::Values("redis", "postgres"),
                         [](const auto& p) { return p.param; });

TEST(RemoteIdempotencySetup, BadOrUnreachableStoresAreErrorsNamingThem) {
  auto r = make_remote_idempotency({"redis://127.0.0.1:1"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cannot connect to redis://127.0.0.1:1"), std::string::npos) << r.error();
  auto p = make_remote_idempotency({"postgres://perflab@127.0.0.1:1/perflab"});
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("cannot connect to postgres://perflab@127.0.0.1:1/perflab"), std::string::npos) << p.error();
  EXPECT_FALSE(make_remote_idempotency({"memcached://x"}));
}

}  // namespace
