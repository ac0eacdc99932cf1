#include <perflab/cache/store.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace perflab::cache {
namespace {

constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

// The reference: every entry in a vector, victims found by scanning, written from the
// semantics in store.hpp and nothing else.
class reference_store {
 public:
  reference_store(policy p, std::size_t max_entries, std::size_t max_bytes)
      : p_(p), max_entries_(max_entries), max_bytes_(max_bytes) {}

  lookup get(const std::string& key, std::int64_t now, std::string& value) {
    auto it = find(key);
    if (it == items_.end()) return lookup::miss;
    if (now >= it->expires) {
      drop(it, evict_reason::expired);
      return lookup::stale;
    }
    touch(*it);
    value = it->value;
    return lookup::hit;
  }

  void put(const std::string& key, const std::string& value, std::int64_t expires) {
    const std::size_t size = entry_bytes(key.size(), value.size());
    if (auto it = find(key); it != items_.end()) {
      it->value = value;
      it->expires = expires;
      touch(*it);
      if (max_bytes_ && size > max_bytes_) {
        drop(it, evict_reason::bytes);
        return;
      }
      while (max_bytes_ && bytes() > max_bytes_) drop(victim(), evict_reason::bytes);
      return;
    }
    if (max_entries_ == 0 || (max_bytes_ && size > max_bytes_)) return;
    while (items_.size() >= max_entries_) drop(victim(), evict_reason::capacity);
    while (max_bytes_ && !items_.empty() && bytes() + size > max_bytes_) drop(victim(), evict_reason::bytes);
    ++tick_;
    items_.push_back({key, value, expires, tick_, tick_, 1});
  }

  bool erase(const std::string& key) {
    auto it = find(key);
    if (it == items_.end()) return false;
    drop(it, evict_reason::deleted);
    return true;
  }

  std::size_t clear() {
    const std::size_t n = items_.size();
    evictions[static_cast<std::size_t>(evict_reason::purged)] += n;
    items_.clear();
    return n;
  }

  std::string next_victim() const {
    if (items_.empty()) return {};
    return const_cast<reference_store*>(this)->victim()->key;
  }
  bool contains(const std::string& key) const {
    return std::any_of(items_.begin(), items_.end(), [&](const item& i) { return i.key == key; });
  }
  std::size_t size() const { return items_.size(); }
  std::size_t bytes() const {
    std::size_t b = 0;
    for (const auto& i : items_) b += entry_bytes(i.key.size(), i.value.size());
    return b;
  }

  std::uint64_t evictions[evict_reason_count] = {};

 private:
  struct item {
    std::string key, value;
    std::int64_t expires;
    std::uint64_t inserted;   // tick of insertion (FIFO)
    std::uint64_t touched;    // tick of insertion or last access (LRU; LFU's tie-break)
    std::uint64_t count;      // accesses since insertion, the insertion included (LFU)
  };
  using iter = std::vector<item>::iterator;

  iter find(const std::string& key) {
    return std::find_if(items_.begin(), items_.end(), [&](const item& i) { return i.key == key; });
  }
  void touch(item& i) {
    i.touched = ++tick_;
    ++i.count;
  }
  iter victim() {
    return std::min_element(items_.begin(), items_.end(), [&](const item& a, const item& b) {
      switch (p_) {
        case policy::lru: return a.touched < b.touched;
        case policy::fifo: return a.inserted < b.inserted;
        case policy::lfu: return std::tie(a.count, a.touched) < std::tie(b.count, b.touched);
      }
      return false;
    });
  }
  void drop(iter it, evict_reason why) {
    ++evictions[static_cast<std::size_t>(why)];
    items_.erase(it);
  }

  policy p_;
  std::size_t max_entries_, max_bytes_;
  std::vector<item> items_;
  std::uint64_t tick_ = 0;
};

struct trace_case {
  policy which;
  std::size_t max_entries;
  std::size_t max_bytes;
  bool ttl;
};

std::string name_of(const trace_case& c) {
  return std::string(to_string(c.which)) + " entries=" + std::to_string(c.max_entries) +
         " bytes=" + std::to_string(c.max_bytes) + (c.ttl ? " ttl" : "");
}

// Runs a random trace of every operation on both stores and compares them after each one: the
// result, the value, the keys held, the next victim, bytes and every eviction counter.
void run_trace(const trace_case& c, std::uint64_t seed, int ops) {
  std::mt19937_64 rng(seed);
  store s(c.which, c.max_entries, c.max_bytes);
  reference_store ref(c.which, c.max_entries, c.max_bytes);
  constexpr int trace_keys = 40;
  std::int64_t now = 1'000;
  std::string got, want;
  for (int op = 0; op < ops; ++op) {
    SCOPED_TRACE(name_of(c) + " seed " + std::to_string(seed) + " op " + std::to_string(op));
    // Keys 0..39 with a skew (small numbers more often), so entries collect hits and counts.
    const auto k = std::min<std::uint64_t>(rng() % trace_keys, rng() % trace_keys);
    const std::string key = "k" + std::to_string(k);
    now += static_cast<std::int64_t>(rng() % 5);
    const auto dice = rng() % 100;
    if (dice < 55) {
      got.clear();
      want.clear();
      const auto a = s.get(key, now, got);
      const auto b = ref.get(key, now, want);
      ASSERT_EQ(a, b);
      if (a == lookup::hit) {
        ASSERT_EQ(got, want);
      }
    } else if (dice < 88) {
      const std::string value(rng() % 60, static_cast<char>('a' + op % 26));
      const std::int64_t expires = c.ttl ? now + static_cast<std::int64_t>(rng() % 200) : never;
      s.put(key, value, expires);
      ref.put(key, value, expires);
    } else if (dice < 99) {
      ASSERT_EQ(s.erase(key), ref.erase(key));
    } else {
      ASSERT_EQ(s.clear(), ref.clear());
    }
    ASSERT_EQ(s.size(), ref.size());
    ASSERT_EQ(s.bytes(), ref.bytes());
    ASSERT_EQ(std::string(s.next_victim()), ref.next_victim());
    for (int i = 0; i < trace_keys; ++i) {
      const std::string probe = "k" + std::to_string(i);
      ASSERT_EQ(s.contains(probe), ref.contains(probe)) << probe;
    }
    for (std::size_t r = 0; r < evict_reason_count; ++r)
      ASSERT_EQ(s.evictions(static_cast<evict_reason>(r)), ref.evictions[r]) << to_string(static_cast<evict_reason>(r));
    if (c.max_entries) {
      ASSERT_LE(s.size(), c.max_entries);
    }
    if (c.max_bytes) {
      ASSERT_LE(s.bytes(), c.max_bytes);
    }
  }
}

TEST(CacheStore, EveryPolicyMatchesTheReferenceOnRandomTraces) {
  const std::vector<trace_case> cases = {
      {policy::lru, 8, 0, false},   {policy::fifo, 8, 0, false},   {policy::lfu, 8, 0, false},
      {policy::lru, 8, 0, true},    {policy::fifo, 8, 0, true},    {policy::lfu, 8, 0, true},
      {policy::lru, 30, 1200, true}, {policy::fifo, 30, 1200, true}, {policy::lfu, 30, 1200, true},
      {policy::lru, 1, 0, false},   {policy::lfu, 1, 0, true},     {policy::fifo, 0, 0, false},
  };
  for (const auto& c : cases)
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      run_trace(c, seed, 3000);
      if (HasFatalFailure()) return;
    }
}

TEST(CacheStore, LruEvictsTheLeastRecentlyUsed) {
  store s(policy::lru, 3);
  std::string v;
  for (const char* k : {"a", "b", "c"}) s.put(k, k, never);
  EXPECT_EQ(s.get("a", 0, v), lookup::hit);  // a is now the most recent
  s.put("d", "d", never);                     // evicts b
  EXPECT_FALSE(s.contains("b"));
  EXPECT_TRUE(s.contains("a"));
  EXPECT_EQ(s.evictions(evict_reason::capacity), 1u);
}

TEST(CacheStore, FifoIgnoresHits) {
  store s(policy::fifo, 3);
  std::string v;
  for (const char* k : {"a", "b", "c"}) s.put(k, k, never);
  EXPECT_EQ(s.get("a", 0, v), lookup::hit);
  s.put("d", "d", never);  // evicts a, the oldest, despite its hit
  EXPECT_FALSE(s.contains("a"));
  EXPECT_TRUE(s.contains("b"));
}

TEST(CacheStore, LfuKeepsTheFrequentAndBreaksTiesByRecency) {
  store s(policy::lfu, 3);
  std::string v;
  for (const char* k : {"a", "b", "c"}) s.put(k, k, never);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s.get("a", 0, v), lookup::hit);
  EXPECT_EQ(s.get("c", 0, v), lookup::hit);
  // Counts: a 4, c 2, b 1: b goes first, then the new d (count 1, the only one left at 1).
  EXPECT_EQ(s.next_victim(), "b");
  s.put("d", "d", never);
  EXPECT_FALSE(s.contains("b"));
  EXPECT_EQ(s.next_victim(), "d");
  EXPECT_EQ(s.get("d", 0, v), lookup::hit);  // d 2, c 2: c reached 2 first, so c is the victim
  EXPECT_EQ(s.next_victim(), "c");
}

TEST(CacheStore, ExpiredEntryIsStaleOnceThenMissing) {
  store s(policy::lru, 4);
  std::string v;
  s.put("a", "1", 100);
  EXPECT_EQ(s.get("a", 99, v), lookup::hit);
  EXPECT_EQ(v, "1");
  EXPECT_EQ(s.get("a", 100, v), lookup::stale);
  EXPECT_EQ(s.get("a", 101, v), lookup::miss);
  EXPECT_EQ(s.evictions(evict_reason::expired), 1u);
  EXPECT_EQ(s.size(), 0u);
}

TEST(CacheStore, ByteBudgetBoundsBytesAndRefusesAnOversizedEntry) {
  const std::size_t budget = 3 * entry_bytes(1, 100);
  store s(policy::lru, 100, budget);
  for (char k = 'a'; k <= 'z'; ++k) s.put(std::string(1, k), std::string(100, k), never);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_LE(s.bytes(), budget);
  EXPECT_EQ(s.evictions(evict_reason::bytes), 23u);
  EXPECT_EQ(s.evictions(evict_reason::capacity), 0u);
  s.put("big", std::string(budget, 'x'), never);
  EXPECT_FALSE(s.contains("big"));
  EXPECT_EQ(s.size(), 3u);
}

TEST(CacheStore, ParsesPolicyNames) {
  EXPECT_EQ(parse_policy("lru"), policy::lru);
  EXPECT_EQ(parse_policy("lfu"), policy::lfu);
  EXPECT_EQ(parse_policy("fifo"), policy::fifo);
  EXPECT_FALSE(parse_policy("LRU"));
  EXPECT_FALSE(parse_policy("none"));
}

}  // namespace
}  // namespace perflab::cache
