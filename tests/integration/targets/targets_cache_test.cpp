// /cache/{key} over real sockets, once per concurrency model: single-flight (N concurrent misses
// on one key make exactly one origin call), TTL expiry, invalidation and pre-warming, each seen
// through X-Cache and /metrics; with --db, the database as the origin (one pooled query per
// miss); and bad cache options exit 2 naming the option.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "target_harness.hpp"

namespace {

using namespace std::chrono_literals;
using namespace perflab::testing;

class TargetCache : public model_test {};

// The X-Cache value of a response ("" when absent).
std::string x_cache(const response& r) {
  const auto at = r.head.find("\r\nX-Cache: ");
  if (at == std::string::npos) return {};
  const auto from = at + 11;
  return r.head.substr(from, r.head.find("\r\n", from) - from);
}

// GET /cache/{key} on a fresh connection: (X-Cache, body), or ("", "") when not answered 200.
std::pair<std::string, std::string> fetch(int port, std::string_view key) {
  client c(port);
  auto r = c.request(get_cache(key));
  if (!r || r->status != 200) return {};
  return {x_cache(*r), r->body};
}

// N clients miss one key at the same moment (all requests are written before the first origin
// call can end). Returns the bodies.
std::vector<std::string> concurrent_misses(int port, int n) {
  std::vector<client> clients;
  for (int i = 0; i < n; ++i) clients.emplace_back(port);
  for (auto& c : clients) EXPECT_TRUE(c.send(get_cache("hot")));
  std::vector<std::string> bodies;
  for (auto& c : clients) {
    auto r = c.read();
    EXPECT_TRUE(r);
    if (!r) continue;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(x_cache(*r), "MISS");
    bodies.push_back(r->body);
  }
  return bodies;
}

TEST_P(TargetCache, ConcurrentMissesOnOneKeyMakeOneOriginCallWhenCoalesced) {
  constexpr int n = 6;  // under the thread-pool's 8 workers, so every request is being served at once
  target_process t(model_args(GetParam(), {"--cache", "lru", "--cache-coalesce", "on", "--origin-latency", "400ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const auto bodies = concurrent_misses(t.port(), n);
  ASSERT_EQ(bodies.size(), static_cast<std::size_t>(n));
  for (const auto& b : bodies) EXPECT_EQ(b, bodies.front());  // one origin call's value for all
  EXPECT_EQ(bodies.front().rfind("key=hot call=1", 0), 0u) << bodies.front();
  EXPECT_EQ(metric(t.port(), "perflab_cache_origin_calls_total"), 1);
  EXPECT_EQ(metric(t.port(), "perflab_cache_coalesced_waits_total"), n - 1);
  EXPECT_EQ(metric(t.port(), "perflab_cache_origin_in_flight"), 0);
  EXPECT_EQ(fetch(t.port(), "hot").first, "HIT");
}

TEST_P(TargetCache, ConcurrentMissesEachCallTheOriginWithoutCoalescing) {
  constexpr int n = 6;
  target_process t(model_args(GetParam(), {"--cache", "lru", "--cache-coalesce", "off", "--origin-latency", "400ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const auto bodies = concurrent_misses(t.port(), n);
  ASSERT_EQ(bodies.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(metric(t.port(), "perflab_cache_origin_calls_total"), n);
  EXPECT_EQ(metric(t.port(), "perflab_cache_coalesced_waits_total"), 0);
}

TEST_P(TargetCache, EntriesGoStaleAfterTheTtl) {
  target_process t(model_args(GetParam(), {"--cache", "lfu", "--cache-ttl", "300ms", "--origin-latency", "1ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const auto first = fetch(t.port(), "k");
  EXPECT_EQ(first.first, "MISS");
  const auto second = fetch(t.port(), "k");
  EXPECT_EQ(second.first, "HIT");
  EXPECT_EQ(second.second, first.second);
  // Once the TTL has passed the entry is found stale and fetched again (a new origin call).
  std::pair<std::string, std::string> later;
  ASSERT_TRUE(poll_until([&] { return (later = fetch(t.port(), "k")).first == "STALE"; }, 5s, 50ms));
  EXPECT_EQ(later.second.rfind("key=k call=2", 0), 0u) << later.second;
  EXPECT_EQ(metric(t.port(), "perflab_cache_lookups_total{result=\"stale\"}"), 1);
  EXPECT_EQ(metric(t.port(), "perflab_cache_evictions_total{reason=\"expired\"}"), 1);
  EXPECT_EQ(metric(t.port(), "perflab_cache_origin_calls_total"), 2);
}

TEST_P(TargetCache, DeleteAndPurgeInvalidate) {
  target_process t(model_args(GetParam(), {"--cache", "fifo", "--origin-latency", "1ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  for (const char* k : {"a", "b", "c"}) EXPECT_EQ(fetch(t.port(), k).first, "MISS");
  EXPECT_EQ(fetch(t.port(), "a").first, "HIT");
  client c(t.port());
  auto del = c.request("DELETE /cache/a HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  auto again = c.request("DELETE /cache/a HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 404);
  EXPECT_EQ(fetch(t.port(), "a").first, "MISS");
  EXPECT_EQ(fetch(t.port(), "b").first, "HIT");
  auto purge = c.request("PURGE /cache HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(purge);
  EXPECT_EQ(purge->status, 200);
  EXPECT_EQ(purge->body, "purged 3\n");
  EXPECT_EQ(fetch(t.port(), "b").first, "MISS");
  EXPECT_EQ(metric(t.port(), "perflab_cache_invalidations_total{kind=\"delete\"}"), 2);
  EXPECT_EQ(metric(t.port(), "perflab_cache_invalidations_total{kind=\"purge\"}"), 1);
  EXPECT_EQ(metric(t.port(), "perflab_cache_evictions_total{reason=\"deleted\"}"), 1);
  EXPECT_EQ(metric(t.port(), "perflab_cache_evictions_total{reason=\"purged\"}"), 3);
  auto wrong = c.request("PURGE /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
}

TEST_P(TargetCache, PrewarmLoadsTheMostPopularKeysBeforeListening) {
  target_process t(model_args(GetParam(), {"--cache", "lru", "--cache-capacity", "100", "--cache-prewarm", "50"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  EXPECT_EQ(metric(t.port(), "perflab_cache_entries"), 50);  // before any /cache request
  EXPECT_EQ(metric(t.port(), "perflab_cache_prewarmed_total"), 50);
  EXPECT_EQ(fetch(t.port(), "0").first, "HIT");
  EXPECT_EQ(fetch(t.port(), "49").first, "HIT");
  EXPECT_EQ(fetch(t.port(), "50").first, "MISS");
  EXPECT_EQ(metric(t.port(), "perflab_cache_origin_calls_total"), 1);
  EXPECT_EQ(metric(t.port(), "perflab_cache_lookups_total{result=\"hit\"}"), 2);
}

TEST_P(TargetCache, NoCacheSendsEveryRequestToTheOrigin) {
  target_process t(model_args(GetParam(), {"--origin-latency", "1ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fetch(t.port(), "k").first, "MISS");
  client c(t.port());
  auto head = c.request("HEAD /cache/k HTTP/1.1\r\nHost: t\r\n\r\n", true);
  ASSERT_TRUE(head);
  EXPECT_EQ(x_cache(*head), "MISS");
  EXPECT_TRUE(head->body.empty());
  EXPECT_EQ(metric(t.port(), "perflab_cache_origin_calls_total"), 4);
  EXPECT_EQ(metric(t.port(), "perflab_cache_entries"), 0);
}

TEST_P(TargetCache, WithDbEveryMissIsOneQueryThroughThePoolAndHitsMakeNone) {
  // --db: the origin is the database. Each MISS is one item query through the pool, a HIT none,
  // and coalesced misses share their leader's query.
  target_process t(model_args(GetParam(), {"--cache", "lru", "--cache-coalesce", "on", "--db", "sim",
                                           "--db-latency", "300ms", "--pool-size", "4"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const std::string queries = "perflab_db_queries_total{kind=\"item\"}";
  ASSERT_EQ(metric(t.port(), queries), 0);
  int misses = 0, hits = 0;
  for (const std::string key : {"1", "2", "1", "word", "2", "1", "word"}) {
    const auto [x, body] = fetch(t.port(), key);
    if (x == "MISS") ++misses;
    if (x == "HIT") ++hits;
    if (key == "1") {
      EXPECT_EQ(body, "{\"id\":2,\"name\":\"item-2\",\"price_cents\":5838}\n");  // row 1 % 1000 + 1
    }
  }
  EXPECT_EQ(misses, 3);
  EXPECT_EQ(hits, 4);
  EXPECT_EQ(metric(t.port(), queries), misses);
  constexpr int n = 6;
  const auto bodies = concurrent_misses(t.port(), n);  // all MISS, one query between them
  ASSERT_EQ(bodies.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(metric(t.port(), queries), misses + 1);
  EXPECT_EQ(metric(t.port(), "perflab_cache_coalesced_waits_total"), n - 1);
  EXPECT_EQ(metric(t.port(), "perflab_db_queries_total{kind=\"sleep\"}"), 0);
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetCache, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

TEST(TargetCacheOptions, BadOptionsExit2NamingTheOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--cache", "arc"}, "--cache:"},
      {{"--cache", "lru", "--cache-capacity", "0"}, "--cache-capacity:"},
      {{"--cache", "lru", "--cache-capacity", "ten"}, "--cache-capacity:"},
      {{"--cache", "lru", "--cache-ttl", "soon"}, "--cache-ttl:"},
      {{"--cache", "lru", "--cache-bytes", "lots"}, "--cache-bytes:"},
      {{"--cache", "lru", "--cache-capacity", "10", "--cache-prewarm", "11"}, "--cache-prewarm:"},
      {{"--cache-prewarm", "5"}, "--cache-prewarm:"},
      {{"--cache-coalesce", "maybe"}, "--cache-coalesce:"},
      {{"--origin-latency", "-5ms"}, "--origin-latency:"},
      {{"--origin-bytes", "99999999999"}, "--origin-bytes:"},
  };
  for (const auto& [extra, name] : cases) {
    SCOPED_TRACE(name);
    // Through a shell that sends stderr (the message) to stdout, which the harness reads.
    launch_options to_stdout;
    to_stdout.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
    target_process t(model_args("reactor", extra), to_stdout);
    EXPECT_EQ(t.wait_exit(5s), 2);
    EXPECT_NE(t.first_line().find(name), std::string::npos) << t.first_line();
  }
}

}  // namespace
