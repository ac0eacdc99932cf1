#pragma once
// A read-through cache in front of a simulated origin: what /cache/{key} is served from.
//
//   begin(key)     -> hit (the value), or lead (this request calls the origin), or join (another
//                     request's origin call for the key is in flight: wait for it; coalescing on)
//   the leader waits origin.latency (the model's wait primitive, as for /sleep), then
//   complete(key)  -> the origin's value, stored in the cache, and the flight's waiters released
//
// Without coalescing every miss leads, so N concurrent misses on one key make N origin calls;
// with it they make one. Invalidation (erase, purge) does not cancel a call in flight: its
// result is stored when it completes, as with most single-flight caches.
// Policy "none" (no store): every request goes to the origin, single-flight still applies.
#include <atomic>
#include <functional>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <perflab/cache/flight.hpp>
#include <perflab/cache/sharded.hpp>

namespace perflab::cache {

struct origin_config {
  std::chrono::nanoseconds latency = std::chrono::milliseconds(5);  // one origin call's wait
  std::size_t value_bytes = 100;  // bytes of each value (its text, padded); at least the text's length
};

// The simulated origin's value for a key: "key=<key> call=<n>\n", padded with '.' before the
// newline up to value_bytes. n numbers the origin call that produced it (0 for pre-warming), so a
// client can tell which call a response came from.
void origin_value(std::string_view key, std::uint64_t call, std::size_t value_bytes, std::string& out);

struct read_through_config {
  std::optional<cache_limits> cache;  // nullopt: --cache none (no store)
  bool coalesce = false;              // single-flight on misses
  origin_config origin;
};

struct read_through_stats {
  cache_stats cache;                  // hits, misses, stale, evictions, size (zeros without a store)
  std::uint64_t origin_calls = 0;     // origin calls started (leaders), pre-warming excluded
  std::uint64_t coalesced_waits = 0;  // misses that joined another request's origin call
  std::uint64_t abandoned = 0;        // flights whose leader went away without a result
  std::uint64_t deletes = 0;          // erase() calls (DELETE /cache/{key}), found or not
  std::uint64_t purges = 0;           // purge() calls (PURGE /cache)
  std::uint64_t prewarmed = 0;        // entries loaded by prewarm()
  std::uint64_t in_flight = 0;        // flights registered now (coalescing only)
};

class read_through {
 public:
  explicit read_through(const read_through_config& cfg);

  struct begin_result {
    enum class role : std::uint8_t { hit, lead, join } what = role::lead;
    lookup found = lookup::miss;       // what the cache held: hit, miss or stale
    std::uint64_t call = 0;            // lead: the origin call's number (1, 2, ...)
    std::shared_ptr<flight> shared;    // lead with coalescing: its flight; join: the one to wait for
  };
  // value: the cached value on a hit (a reused buffer).
  begin_result begin(std::string_view key, std::int64_t now_ns, std::string& value);
  // begin() in two parts, for a remote cache between them (session_cache.cpp):
  // The local store alone (a miss without a store); counted as begin's lookup is.
  lookup lookup_local(std::string_view key, std::int64_t now_ns, std::string& value);
  // After the local store and the remote cache missed: lead an origin call, or join the one in
  // flight for key (coalescing). found: what the local store held, kept in the result.
  begin_result begin_origin(std::string_view key, lookup found);
  // A value found in the remote cache is stored locally (two levels); nothing without a store.
  void fill(std::string_view key, std::string_view value, std::int64_t now_ns);
  // The leader's origin call is over: value is the origin's, stored in the cache; its flight's
  // waiters are released with it.
  void complete(std::string_view key, const begin_result& lead, std::int64_t now_ns, std::string& value);
  // The same with the value an outside origin produced (lab-target's --db: a database row).
  void complete_with(std::string_view key, const begin_result& lead, std::int64_t now_ns, const std::string& value);
  // The leader went away: its flight's waiters retry (begin again).
  void abandon(std::string_view key, const begin_result& lead);

  bool erase(std::string_view key);  // true if an entry was removed
  std::size_t purge();               // entries removed
  // Loads keys "0".."m-1", m = min(n, capacity): the most popular keys of the loadgen's Zipf key
  // space, where key k has rank k whatever the seed. No origin latency, and not counted as origin
  // calls; least popular first, so recency follows popularity. Returns m.
  std::size_t prewarm(std::size_t n, std::int64_t now_ns);

  read_through_stats stats() const;
  const read_through_config& config() const noexcept { return cfg_; }
  bool has_store() const noexcept { return store_ != nullptr; }

 private:
  // Lets the flight table be searched by string_view, without making a key string per request.
  struct key_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const noexcept { return std::hash<std::string_view>{}(k); }
  };
  struct alignas(64) flight_shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::shared_ptr<flight>, key_hash, std::equal_to<>> flights;  // guarded by mutex
  };
  flight_shard& flights_for(std::string_view key);
  lookup lookup_store(std::string_view key, std::int64_t now_ns, std::string& value);

  read_through_config cfg_;
  std::unique_ptr<sharded_cache> store_;
  std::vector<std::unique_ptr<flight_shard>> flight_shards_;
  std::atomic<std::uint64_t> origin_calls_{0};
  std::atomic<std::uint64_t> coalesced_{0};
  std::atomic<std::uint64_t> abandoned_{0};
  std::atomic<std::uint64_t> deletes_{0};
  std::atomic<std::uint64_t> purges_{0};
  std::atomic<std::uint64_t> prewarmed_{0};
  std::atomic<std::uint64_t> misses_without_store_{0};
};

}  // namespace perflab::cache
