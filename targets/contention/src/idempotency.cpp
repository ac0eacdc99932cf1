#include "perflab/contention/idempotency.hpp"

#include <algorithm>

namespace perflab::contention {

idempotency_store::idempotency_store(nanos ttl, std::size_t max_keys)
    : ttl_(ttl), max_per_shard_(std::max<std::size_t>(1, max_keys / 32)), shards_(32) {}

idempotency_store::shard& idempotency_store::shard_of(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % shards_.size()];
}

idempotency_store::verdict idempotency_store::begin(std::string_view key, std::uint64_t fp, nanos now,
                                                    stored_response* stored) {
  shard& s = shard_of(key);
  verdict v = verdict::first;
  bool expired = false;
  {
    std::lock_guard lock(s.m);
    auto it = s.map.find(std::string(key));
    if (it != s.map.end() && it->second.done && it->second.expires <= now) {
      s.map.erase(it);
      it = s.map.end();
      expired = true;
    }
    if (it == s.map.end()) {
      if (s.map.size() >= max_per_shard_)  // drop what has expired before growing further
        std::erase_if(s.map, [&](const auto& kv) { return kv.second.done && kv.second.expires <= now; });
      s.map.emplace(std::string(key), entry{fp, false, nanos(0), {}});
    } else if (it->second.fingerprint != fp) {
      v = verdict::mismatch;
    } else if (!it->second.done) {
      v = verdict::in_flight;
    } else {
      v = verdict::replay;
      if (stored) *stored = it->second.response;
    }
  }
  std::lock_guard lock(stats_m_);
  stats_.expired += expired;
  switch (v) {
    case verdict::first: ++stats_.first; break;
    case verdict::replay: ++stats_.replays; break;
    case verdict::in_flight: ++stats_.in_flight; break;
    case verdict::mismatch: ++stats_.mismatches; break;
  }
  return v;
}

void idempotency_store::complete(std::string_view key, stored_response response, nanos now) {
  shard& s = shard_of(key);
  std::lock_guard lock(s.m);
  auto it = s.map.find(std::string(key));
  if (it == s.map.end()) return;
  it->second.done = true;
  it->second.expires = now + ttl_;
  it->second.response = std::move(response);
}

void idempotency_store::abandon(std::string_view key) {
  shard& s = shard_of(key);
  std::lock_guard lock(s.m);
  auto it = s.map.find(std::string(key));
  if (it != s.map.end() && !it->second.done) s.map.erase(it);
}

idempotency_store::stats_t idempotency_store::stats() const {
  std::lock_guard lock(stats_m_);
  return stats_;
}

std::size_t idempotency_store::keys() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.m);
    n += s.map.size();
  }
  return n;
}

std::uint64_t fingerprint(std::string_view method, std::string_view path, std::string_view body) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&](std::string_view part) {
    for (unsigned char c : part) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;  // a separator, so ("ab", "c") differs from ("a", "bc")
  };
  mix(method);
  mix(path);
  mix(body);
  return h;
}

}  // namespace perflab::contention
