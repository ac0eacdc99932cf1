#include <perflab/encode/static_cache.hpp>

#include <iterator>
#include <mutex>

#include <fmt/format.h>

namespace perflab::encode {

static_cache::shard& static_cache::shard_of(coding c, std::string_view key) noexcept {
  return shards_[static_cast<std::size_t>(c) % coding_count][hash{}(key) % shard_count];
}

std::optional<std::size_t> static_cache::append(coding c, std::string_view key, std::string& out) {
  auto& s = shard_of(c, key);
  {
    std::shared_lock lock(s.mutex);
    if (const auto it = s.map.find(key); it != s.map.end()) {
      out.append(it->second.encoded);  // may throw std::bad_alloc: the caller's to handle
      hits_.fetch_add(1, std::memory_order_relaxed);
      return it->second.plain_length;
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

bool static_cache::insert(coding c, std::string_view key, std::string_view encoded, std::size_t plain_length) {
  // Reserve the room first, so concurrent inserts never overshoot the budget together.
  std::uint64_t used = bytes_.load(std::memory_order_relaxed);
  do {
    if (used + encoded.size() > budget_) return false;
  } while (!bytes_.compare_exchange_weak(used, used + encoded.size(), std::memory_order_relaxed));
  auto& s = shard_of(c, key);
  std::unique_lock lock(s.mutex);
  const bool added = s.map.try_emplace(std::string(key), entry{std::string(encoded), plain_length}).second;
  lock.unlock();
  if (added) entries_.fetch_add(1, std::memory_order_relaxed);
  else bytes_.fetch_sub(encoded.size(), std::memory_order_relaxed);
  return added;
}

void static_cache::write_prometheus(std::string& out) const {
  fmt::format_to(std::back_inserter(out),
                 "# HELP perflab_encode_static_hits_total Static responses served from the encoded-body cache "
                 "(--gzip-static), not encoded again.\n"
                 "# TYPE perflab_encode_static_hits_total counter\n"
                 "perflab_encode_static_hits_total {}\n"
                 "# HELP perflab_encode_static_misses_total Static responses to an encoding client whose body was "
                 "not in the cache (built and encoded).\n"
                 "# TYPE perflab_encode_static_misses_total counter\n"
                 "perflab_encode_static_misses_total {}\n"
                 "# HELP perflab_encode_static_entries Encoded bodies in the cache.\n"
                 "# TYPE perflab_encode_static_entries gauge\n"
                 "perflab_encode_static_entries {}\n"
                 "# HELP perflab_encode_static_bytes Bytes of encoded bodies in the cache (budget {}).\n"
                 "# TYPE perflab_encode_static_bytes gauge\n"
                 "perflab_encode_static_bytes {}\n",
                 hits(), misses(), entries(), budget_, bytes());
}

}  // namespace perflab::encode
