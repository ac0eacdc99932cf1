#pragma once
// One cache shard: a map of entries and an eviction order, every operation O(1). Not
// thread-safe; sharded_cache (sharded.hpp) puts a lock around each shard.
//
// Semantics every policy shares (the reference model in store_test.cpp is written from them):
// - get: a present, unexpired entry is a hit (the policy sees an access); a present, expired
//   entry is stale and is removed (an eviction for reason `expired`); anything else a miss.
// - put: replaces a present entry (value, expiry; the policy sees an access), else inserts one.
//   Before an insert, victims are evicted while the shard holds max_entries entries (reason
//   `capacity`), then while the new entry would not fit in max_bytes (reason `bytes`). After a
//   replace that grew the value, victims go while the bytes exceed max_bytes, the replaced entry
//   included if it is the victim. An entry larger than max_bytes on its own is not stored.
// - Victims: LRU the least recently used; FIFO the oldest inserted (hits do not matter); LFU the
//   least frequently used since it entered the cache (a new entry counts 1), ties broken by
//   least recent use at that count. LFU is the frequency-list design (Shah, Mitra, Matani 2010):
//   a list of count buckets, each a list of entries, so an access moves an entry to the next bucket.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace perflab::cache {

enum class policy : std::uint8_t { lru, lfu, fifo };
// "lru", "lfu", "fifo".
std::optional<policy> parse_policy(std::string_view name) noexcept;
std::string_view to_string(policy p) noexcept;

enum class lookup : std::uint8_t {
  hit,    // present and fresh
  miss,   // absent
  stale,  // present but expired (now removed)
};
std::string_view to_string(lookup l) noexcept;  // "HIT", "MISS", "STALE" (the X-Cache values)

// Why an entry left the cache.
enum class evict_reason : std::uint8_t {
  capacity,  // the entry limit was reached by an insert
  bytes,     // the byte budget was exceeded by an insert
  expired,   // found past its TTL by a get
  deleted,   // erase() (DELETE /cache/{key})
  purged,    // clear() (PURGE /cache)
  count_
};
inline constexpr std::size_t evict_reason_count = static_cast<std::size_t>(evict_reason::count_);
std::string_view to_string(evict_reason r) noexcept;

// Bytes an entry is charged for against a byte budget: key, value and a fixed overhead for the
// node and its map slot, so that a budget bounds memory and not only payload.
inline constexpr std::size_t entry_overhead_bytes = 96;
inline std::size_t entry_bytes(std::size_t key_size, std::size_t value_size) noexcept {
  return key_size + value_size + entry_overhead_bytes;
}

class store {
 public:
  // max_entries >= 0 (0: nothing is stored); max_bytes 0: no byte budget.
  store(policy p, std::size_t max_entries, std::size_t max_bytes = 0);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // On a hit, copies the value into `value` (a reused buffer: no allocation once it is large
  // enough). now_ns and expiry are in the same clock (perflab::now_ns() in the server).
  lookup get(std::string_view key, std::int64_t now_ns, std::string& value);
  // expires_ns: the entry is stale from then on (INT64_MAX: never).
  void put(std::string_view key, std::string_view value, std::int64_t expires_ns);
  bool erase(std::string_view key);  // true if it was present
  std::size_t clear();               // entries removed

  bool contains(std::string_view key) const { return map_.count(key) != 0; }
  std::size_t size() const noexcept { return map_.size(); }
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t max_entries() const noexcept { return max_entries_; }
  std::size_t max_bytes() const noexcept { return max_bytes_; }
  policy which() const noexcept { return policy_; }
  std::uint64_t evictions(evict_reason r) const noexcept { return evictions_[static_cast<std::size_t>(r)]; }
  // Key of the entry the policy would evict next (empty when the store is empty); for tests.
  std::string_view next_victim() const noexcept;

  struct entry;
  struct bucket;

 private:
  void remove(entry* e, evict_reason why);
  void evict_one(evict_reason why);
  // Policy hooks: the order of entries (recency, insertion, or count buckets).
  void order_insert(entry* e);
  void order_access(entry* e);
  void order_remove(entry* e);
  entry* order_victim() const noexcept;
  bucket* new_bucket(std::uint64_t count);  // from the spares when there is one
  void drop_bucket(bucket* b) noexcept;     // an emptied bucket leaves the list for the spares

  policy policy_;
  std::size_t max_entries_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::unordered_map<std::string_view, entry*> map_;  // keys view into their entries
  // LRU/FIFO: one list, most recent (or newest) at head_, victim at tail_.
  entry* head_ = nullptr;
  entry* tail_ = nullptr;
  // LFU: buckets in ascending count; the victim is the tail of the first bucket.
  bucket* buckets_ = nullptr;
  bucket* spare_buckets_ = nullptr;  // emptied buckets kept for reuse
  std::array<std::uint64_t, evict_reason_count> evictions_{};
};

}  // namespace perflab::cache
