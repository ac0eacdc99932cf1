#pragma once
// Encoded bodies of static resources, kept so each is encoded once (lab-target's --gzip-static,
// nginx's gzip_static without the files): a resource whose body is a function of its URL alone
// (/bytes/{n}?kind=&seed=, /json?items=N, /hello) is encoded on its first request per coding,
// and every later request copies the stored bytes. A level-9 or quality-11 body then costs a
// copy per request instead of milliseconds of CPU.
//
// Bounded by a byte budget: once full, new bodies are encoded per request as without the cache
// (and counted as misses); nothing is evicted, since the set of static resources a run asks for
// is small and fixed. Thread-safe: sharded, a reader lock per lookup.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <perflab/encode/negotiate.hpp>

namespace perflab::encode {

class static_cache {
 public:
  static constexpr std::size_t default_budget = 64u << 20;  // bytes of encoded bodies kept (64 MiB)

  explicit static_cache(std::size_t budget_bytes = default_budget) : budget_(budget_bytes) {}
  static_cache(const static_cache&) = delete;
  static_cache& operator=(const static_cache&) = delete;

  // On a hit, appends the stored encoding of `key` in coding c to `out` and returns the length of
  // the body before encoding; nullopt on a miss (out unchanged). Counts the hit or miss.
  std::optional<std::size_t> append(coding c, std::string_view key, std::string& out);
  // Stores `encoded`, the encoding in c of a body of plain_length bytes, under key. False when
  // the budget has no room for it, or the key is already stored (a racing first request).
  bool insert(coding c, std::string_view key, std::string_view encoded, std::size_t plain_length);

  std::uint64_t hits() const noexcept { return hits_.load(std::memory_order_relaxed); }
  std::uint64_t misses() const noexcept { return misses_.load(std::memory_order_relaxed); }
  std::uint64_t entries() const noexcept { return entries_.load(std::memory_order_relaxed); }
  std::uint64_t bytes() const noexcept { return bytes_.load(std::memory_order_relaxed); }
  std::size_t budget() const noexcept { return budget_; }

  // Appends perflab_encode_static_{hits,misses}_total (counters) and
  // perflab_encode_static_{entries,bytes} (gauges), Prometheus text 0.0.4.
  void write_prometheus(std::string& out) const;

 private:
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct entry {
    std::string encoded;
    std::size_t plain_length = 0;
  };
  struct shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::string, entry, hash, std::equal_to<>> map;
  };
  static constexpr std::size_t shard_count = 16;
  static constexpr std::size_t coding_count = 4;  // indexed by coding (identity unused)
  shard& shard_of(coding c, std::string_view key) noexcept;

  std::size_t budget_;
  std::array<std::array<shard, shard_count>, coding_count> shards_{};
  // Thread-shared counters, touched once per static request: a relaxed add each, no lock.
  std::atomic<std::uint64_t> hits_{0}, misses_{0}, entries_{0}, bytes_{0};
};

}  // namespace perflab::encode
