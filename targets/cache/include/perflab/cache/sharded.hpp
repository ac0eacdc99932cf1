#pragma once
// The local cache as the server uses it: stores (store.hpp) in shards chosen by a hash of the
// key, each behind its own mutex, so threads working on different keys rarely meet. A lock is
// held only for one O(1) store operation and a copy of one value: never across an origin call or
// any wait (those are single-flight's, flight.hpp), so a thread that finds a shard busy waits
// for at most one such operation. Such waits are counted (lock_contended), so the claim is
// measured, not assumed.
//
// The capacity and the byte budget are split evenly over the shards. A shard holding few
// entries approximates the policy badly (a global LRU of 100 entries is not 64 LRUs of 1 or 2),
// so the shard count is capped to keep at least min_entries_per_shard entries in each.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <perflab/cache/store.hpp>

namespace perflab::cache {

struct cache_limits {
  policy which = policy::lru;
  std::size_t capacity = 1000;              // entries in the whole cache (0: nothing is stored)
  std::size_t max_bytes = 0;                // byte budget of the whole cache (entry_bytes each); 0: none
  std::chrono::nanoseconds ttl{0};          // entries go stale this long after being stored; 0: never
  unsigned shards = 16;                     // wanted shard count (rounded down to a power of two, capped)
};

inline constexpr std::size_t min_entries_per_shard = 1024;

// The shard count used for limits: a power of two <= limits.shards, and no more than
// capacity / min_entries_per_shard (at least 1).
unsigned effective_shards(const cache_limits& limits) noexcept;

// Counters of the whole cache, summed over the shards.
struct cache_stats {
  std::uint64_t hits = 0;     // get: fresh entry found
  std::uint64_t misses = 0;   // get: no entry
  std::uint64_t stale = 0;    // get: expired entry found (and removed)
  std::array<std::uint64_t, evict_reason_count> evictions{};  // entries removed, by reason
  std::uint64_t entries = 0;  // entries held now
  std::uint64_t bytes = 0;    // entry_bytes held now
  std::uint64_t lock_contended = 0;  // operations that found their shard's lock taken and waited
};

class sharded_cache {
 public:
  explicit sharded_cache(const cache_limits& limits);

  // now_ns: perflab::now_ns() (steady clock), also the TTL's clock.
  lookup get(std::string_view key, std::int64_t now_ns, std::string& value);
  void put(std::string_view key, std::string_view value, std::int64_t now_ns);
  bool erase(std::string_view key);
  std::size_t clear();

  cache_stats stats() const;
  const cache_limits& limits() const noexcept { return limits_; }
  unsigned shard_count() const noexcept { return static_cast<unsigned>(shards_.size()); }
  // The shard a key lives in (std::hash of the key, high bits mixed).
  std::size_t shard_of(std::string_view key) const noexcept;

 private:
  struct alignas(64) shard {
    shard(policy p, std::size_t entries, std::size_t bytes) : data(p, entries, bytes) {}
    mutable std::mutex mutex;
    store data;                   // guarded by mutex
    std::uint64_t hits = 0, misses = 0, stale = 0;  // guarded by mutex
    std::atomic<std::uint64_t> contended{0};
  };
  // Locks s, counting a wait when another thread holds it.
  static std::unique_lock<std::mutex> lock(shard& s);

  cache_limits limits_;
  std::vector<std::unique_ptr<shard>> shards_;
  std::size_t mask_ = 0;
};

}  // namespace perflab::cache
