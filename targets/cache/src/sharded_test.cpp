#include <perflab/cache/sharded.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace perflab::cache {
namespace {

constexpr std::size_t key_space = 10'000;

// A seeded Zipf trace over key_space keys, P(k) proportional to 1/(k+1)^s (as the loadgen draws
// {key}), by inverse CDF.
std::vector<std::uint32_t> zipf_trace(double s, std::size_t length, std::uint64_t seed) {
  std::vector<double> cdf(key_space);
  double sum = 0;
  for (std::size_t k = 0; k < key_space; ++k) cdf[k] = sum += 1.0 / std::pow(static_cast<double>(k + 1), s);
  for (auto& c : cdf) c /= sum;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::uint32_t> trace(length);
  for (auto& k : trace) {
    const auto at = std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin();
    k = static_cast<std::uint32_t>(std::min<std::ptrdiff_t>(at, key_space - 1));
  }
  return trace;
}

// The exact simulation the cache is held to: each policy's victim order kept as an ordered set
// of (rank, key), written independently of store.cpp's lists. Returns hits over the trace after
// `warmup` requests (misses insert the key, as a read-through cache does).
double exact_hit_ratio(policy p, std::size_t capacity, const std::vector<std::uint32_t>& trace, std::size_t warmup) {
  std::set<std::tuple<std::uint64_t, std::uint64_t, std::uint32_t>> order;  // (count or 0, tick, key)
  std::unordered_map<std::uint32_t, std::tuple<std::uint64_t, std::uint64_t, std::uint32_t>> where;
  std::uint64_t tick = 0, hits = 0;
  for (std::size_t i = 0; i < trace.size(); ++i) {
    const std::uint32_t k = trace[i];
    ++tick;
    if (auto it = where.find(k); it != where.end()) {
      if (i >= warmup) ++hits;
      if (p == policy::fifo) continue;
      order.erase(it->second);
      const std::uint64_t count = p == policy::lfu ? std::get<0>(it->second) + 1 : 0;
      it->second = {count, tick, k};
      order.insert(it->second);
      continue;
    }
    if (where.size() >= capacity) {
      where.erase(std::get<2>(*order.begin()));
      order.erase(order.begin());
    }
    where[k] = {p == policy::lfu ? 1 : 0, tick, k};
    order.insert(where[k]);
  }
  return static_cast<double>(hits) / static_cast<double>(trace.size() - warmup);
}

template <class Cache>
double cache_hit_ratio(Cache& c, const std::vector<std::uint32_t>& trace, std::size_t warmup) {
  std::vector<std::string> names(key_space);
  for (std::size_t k = 0; k < key_space; ++k) names[k] = std::to_string(k);
  std::string value;
  std::uint64_t hits = 0;
  for (std::size_t i = 0; i < trace.size(); ++i) {
    const auto& key = names[trace[i]];
    if (c.get(key, 0, value) == lookup::hit) {
      if (i >= warmup) ++hits;
    } else {
      c.put(key, "v", 0);
    }
  }
  return static_cast<double>(hits) / static_cast<double>(trace.size() - warmup);
}

struct reference_row {
  double capacity_fraction;
  double lru, fifo, lfu;
};
// LAB.md section 5: Zipf s=0.99 over 10,000 keys.
const std::vector<reference_row> lab_reference = {
    {0.01, .377, .330, .485}, {0.05, .573, .526, .653}, {0.10, .664, .619, .726},
    {0.20, .760, .719, .803}, {0.50, .895, .867, .909},
};

TEST(CacheHitRatio, ZipfTraceMatchesTheExactSimulationAndTheLabReference) {
  constexpr std::size_t warmup = 200'000, measured = 500'000;
  const auto trace = zipf_trace(0.99, warmup + measured, 20261201);
  for (const auto& row : lab_reference) {
    const auto capacity = static_cast<std::size_t>(row.capacity_fraction * key_space + 0.5);
    for (const auto& [p, reference] : {std::pair{policy::lru, row.lru}, std::pair{policy::fifo, row.fifo},
                                       std::pair{policy::lfu, row.lfu}}) {
      SCOPED_TRACE(std::string(to_string(p)) + " capacity " + std::to_string(capacity));
      const double exact = exact_hit_ratio(p, capacity, trace, warmup);
      store one(p, capacity);
      // The store adapter: TTL never ends (expiry INT64_MAX), now is irrelevant.
      struct store_cache {
        store& s;
        lookup get(const std::string& k, std::int64_t now, std::string& v) { return s.get(k, now, v); }
        void put(const std::string& k, std::string_view v, std::int64_t) { s.put(k, v, INT64_MAX); }
      } adapter{one};
      const double single = cache_hit_ratio(adapter, trace, warmup);
      sharded_cache sharded(cache_limits{p, capacity, 0, std::chrono::nanoseconds(0), 16});
      const double many = cache_hit_ratio(sharded, trace, warmup);
      // One shard is the exact policy; shards approximate it (each holds capacity / shards).
      EXPECT_NEAR(single, exact, 1e-12);
      EXPECT_NEAR(many, exact, 0.02) << sharded.shard_count() << " shards";
      EXPECT_NEAR(many, reference, 0.02);
      const auto stats = sharded.stats();
      EXPECT_EQ(stats.hits + stats.misses, warmup + measured);
      EXPECT_EQ(stats.entries, capacity);
    }
  }
}

TEST(CacheHitRatio, UniformAccessHitsCapacityOverKeys) {
  std::mt19937_64 rng(7);
  std::vector<std::uint32_t> trace(300'000);
  for (auto& k : trace) k = static_cast<std::uint32_t>(rng() % key_space);
  for (policy p : {policy::lru, policy::fifo, policy::lfu}) {
    sharded_cache c(cache_limits{p, 2000, 0, std::chrono::nanoseconds(0), 16});
    EXPECT_NEAR(cache_hit_ratio(c, trace, 100'000), 0.2, 0.01) << to_string(p);
  }
}

TEST(CacheSharded, ShardCountKeepsEnoughEntriesPerShard) {
  EXPECT_EQ(effective_shards({policy::lru, 100, 0, {}, 16}), 1u);
  EXPECT_EQ(effective_shards({policy::lru, 5000, 0, {}, 16}), 4u);
  EXPECT_EQ(effective_shards({policy::lru, 1'000'000, 0, {}, 16}), 16u);
  EXPECT_EQ(effective_shards({policy::lru, 1'000'000, 0, {}, 12}), 8u);
  EXPECT_EQ(effective_shards({policy::lru, 0, 0, {}, 16}), 1u);
}

TEST(CacheSharded, TtlMakesEntriesStaleAndCountsExpiry) {
  sharded_cache c(cache_limits{policy::lru, 10, 0, std::chrono::nanoseconds(1000), 4});
  std::string v;
  c.put("a", "1", 5000);
  EXPECT_EQ(c.get("a", 5999, v), lookup::hit);
  EXPECT_EQ(c.get("a", 6000, v), lookup::stale);
  EXPECT_EQ(c.get("a", 6001, v), lookup::miss);
  const auto s = c.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.stale, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.evictions[static_cast<std::size_t>(evict_reason::expired)], 1u);
}

TEST(CacheSharded, ConcurrentThreadsKeepCountsAndLimits) {
  sharded_cache c(cache_limits{policy::lfu, 4096, 0, std::chrono::nanoseconds(0), 4});
  constexpr int per_thread = 50'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&c, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t));
      std::string v;
      for (int i = 0; i < per_thread; ++i) {
        const std::string key = std::to_string(rng() % 10'000);
        if (c.get(key, 0, v) != lookup::hit) c.put(key, "value", 0);
      }
    });
  for (auto& t : threads) t.join();
  const auto s = c.stats();
  EXPECT_EQ(s.hits + s.misses, 4u * per_thread);
  EXPECT_LE(s.entries, 4096u);
  // Every miss stores its key, except when two threads missed the same key at once (the second
  // put replaces): entries plus capacity evictions can only fall short of the misses.
  EXPECT_LE(s.entries + s.evictions[static_cast<std::size_t>(evict_reason::capacity)], s.misses);
  EXPECT_EQ(s.entries, 4096u);
}

}  // namespace
}  // namespace perflab::cache
