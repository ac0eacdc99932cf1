#include <perflab/cache/sharded.hpp>

#include <algorithm>
#include <bit>
#include <functional>
#include <limits>

namespace perflab::cache {

unsigned effective_shards(const cache_limits& limits) noexcept {
  const std::size_t by_capacity = std::max<std::size_t>(1, limits.capacity / min_entries_per_shard);
  const std::size_t wanted = std::clamp<std::size_t>(limits.shards, 1, by_capacity);
  return static_cast<unsigned>(std::bit_floor(std::min<std::size_t>(wanted, 1u << 16)));
}

sharded_cache::sharded_cache(const cache_limits& limits) : limits_(limits) {
  const unsigned n = effective_shards(limits);
  mask_ = n - 1;
  for (unsigned i = 0; i < n; ++i) {
    // An even split; the first shards take the remainder.
    const std::size_t entries = limits.capacity / n + (i < limits.capacity % n ? 1 : 0);
    const std::size_t bytes = limits.max_bytes == 0 ? 0 : limits.max_bytes / n + (i < limits.max_bytes % n ? 1 : 0);
    shards_.push_back(std::make_unique<shard>(limits.which, entries, bytes));
  }
}

std::size_t sharded_cache::shard_of(std::string_view key) const noexcept {
  std::uint64_t h = std::hash<std::string_view>{}(key);
  h ^= h >> 33;  // libstdc++ hashes are good, but mix so the low bits use the whole hash
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return static_cast<std::size_t>(h) & mask_;
}

std::unique_lock<std::mutex> sharded_cache::lock(shard& s) {
  std::unique_lock l(s.mutex, std::try_to_lock);
  if (!l.owns_lock()) {
    s.contended.fetch_add(1, std::memory_order_relaxed);
    l.lock();
  }
  return l;
}

lookup sharded_cache::get(std::string_view key, std::int64_t now_ns, std::string& value) {
  shard& s = *shards_[shard_of(key)];
  auto l = lock(s);
  const lookup r = s.data.get(key, now_ns, value);
  switch (r) {
    case lookup::hit: ++s.hits; break;
    case lookup::miss: ++s.misses; break;
    case lookup::stale: ++s.stale; break;
  }
  return r;
}

void sharded_cache::put(std::string_view key, std::string_view value, std::int64_t now_ns) {
  const std::int64_t expires = limits_.ttl.count() > 0 ? now_ns + limits_.ttl.count()
                                                       : std::numeric_limits<std::int64_t>::max();
  shard& s = *shards_[shard_of(key)];
  auto l = lock(s);
  s.data.put(key, value, expires);
}

bool sharded_cache::erase(std::string_view key) {
  shard& s = *shards_[shard_of(key)];
  auto l = lock(s);
  return s.data.erase(key);
}

std::size_t sharded_cache::clear() {
  std::size_t n = 0;
  for (auto& s : shards_) {
    auto l = lock(*s);
    n += s->data.clear();
  }
  return n;
}

cache_stats sharded_cache::stats() const {
  cache_stats out;
  for (const auto& s : shards_) {
    std::lock_guard l(s->mutex);
    out.hits += s->hits;
    out.misses += s->misses;
    out.stale += s->stale;
    for (std::size_t r = 0; r < evict_reason_count; ++r) out.evictions[r] += s->data.evictions(static_cast<evict_reason>(r));
    out.entries += s->data.size();
    out.bytes += s->data.bytes();
    out.lock_contended += s->contended.load(std::memory_order_relaxed);
  }
  return out;
}

}  // namespace perflab::cache
