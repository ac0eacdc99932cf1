#include <perflab/cache/read_through.hpp>

#include <algorithm>
#include <functional>

namespace perflab::cache {

namespace {
constexpr std::size_t flight_shard_count = 16;
}

void origin_value(std::string_view key, std::uint64_t call, std::size_t value_bytes, std::string& out) {
  out.clear();
  out.append("key=").append(key).append(" call=").append(std::to_string(call));
  if (out.size() + 1 < value_bytes) out.append(value_bytes - out.size() - 1, '.');
  out.push_back('\n');
}

read_through::read_through(const read_through_config& cfg) : cfg_(cfg) {
  if (cfg.cache) store_ = std::make_unique<sharded_cache>(*cfg.cache);
  for (std::size_t i = 0; i < flight_shard_count; ++i) flight_shards_.push_back(std::make_unique<flight_shard>());
}

read_through::flight_shard& read_through::flights_for(std::string_view key) {
  return *flight_shards_[std::hash<std::string_view>{}(key) % flight_shard_count];
}

lookup read_through::lookup_store(std::string_view key, std::int64_t now_ns, std::string& value) {
  if (store_) return store_->get(key, now_ns, value);
  misses_without_store_.fetch_add(1, std::memory_order_relaxed);
  return lookup::miss;
}

read_through::begin_result read_through::begin(std::string_view key, std::int64_t now_ns, std::string& value) {
  begin_result r;
  // A hit, or this request leads an origin call (counted).
  auto hit_or_lead = [&] {
    r.found = lookup_store(key, now_ns, value);
    if (r.found == lookup::hit) {
      r.what = begin_result::role::hit;
      return false;
    }
    r.what = begin_result::role::lead;
    r.call = origin_calls_.fetch_add(1, std::memory_order_relaxed) + 1;
    return true;
  };
  if (!cfg_.coalesce) {
    hit_or_lead();
    return r;
  }
  // The flight table's lock is taken before the store's (and complete() stores under it too),
  // so a miss and the registration of its flight cannot straddle another flight's completion.
  flight_shard& fs = flights_for(key);
  std::lock_guard l(fs.mutex);
  if (const auto it = fs.flights.find(key); it != fs.flights.end()) {
    r.what = begin_result::role::join;
    r.shared = it->second;
    coalesced_.fetch_add(1, std::memory_order_relaxed);
    return r;
  }
  if (!hit_or_lead()) return r;
  r.shared = std::make_shared<flight>();
  fs.flights.emplace(std::string(key), r.shared);
  return r;
}

lookup read_through::lookup_local(std::string_view key, std::int64_t now_ns, std::string& value) {
  return lookup_store(key, now_ns, value);
}

read_through::begin_result read_through::begin_origin(std::string_view key, lookup found) {
  begin_result r;
  r.found = found;
  r.what = begin_result::role::lead;
  if (cfg_.coalesce) {
    flight_shard& fs = flights_for(key);
    std::lock_guard l(fs.mutex);
    if (const auto it = fs.flights.find(key); it != fs.flights.end()) {
      r.what = begin_result::role::join;
      r.shared = it->second;
      coalesced_.fetch_add(1, std::memory_order_relaxed);
      return r;
    }
    r.shared = std::make_shared<flight>();
    fs.flights.emplace(std::string(key), r.shared);
  }
  r.call = origin_calls_.fetch_add(1, std::memory_order_relaxed) + 1;
  return r;
}

void read_through::fill(std::string_view key, std::string_view value, std::int64_t now_ns) {
  if (store_) store_->put(key, value, now_ns);
}

void read_through::complete(std::string_view key, const begin_result& lead, std::int64_t now_ns, std::string& value) {
  origin_value(key, lead.call, cfg_.origin.value_bytes, value);
  complete_with(key, lead, now_ns, value);
}

void read_through::complete_with(std::string_view key, const begin_result& lead, std::int64_t now_ns,
                                 const std::string& value) {
  if (!lead.shared) {
    if (store_) store_->put(key, value, now_ns);
    return;
  }
  {
    flight_shard& fs = flights_for(key);
    std::lock_guard l(fs.mutex);
    if (store_) store_->put(key, value, now_ns);
    if (const auto it = fs.flights.find(key); it != fs.flights.end() && it->second == lead.shared) fs.flights.erase(it);
  }
  lead.shared->finish(value);
}

void read_through::abandon(std::string_view key, const begin_result& lead) {
  if (!lead.shared) return;
  abandoned_.fetch_add(1, std::memory_order_relaxed);
  {
    flight_shard& fs = flights_for(key);
    std::lock_guard l(fs.mutex);
    if (const auto it = fs.flights.find(key); it != fs.flights.end() && it->second == lead.shared) fs.flights.erase(it);
  }
  lead.shared->abandon();
}

bool read_through::erase(std::string_view key) {
  deletes_.fetch_add(1, std::memory_order_relaxed);
  return store_ && store_->erase(key);
}

std::size_t read_through::purge() {
  purges_.fetch_add(1, std::memory_order_relaxed);
  return store_ ? store_->clear() : 0;
}

std::size_t read_through::prewarm(std::size_t n, std::int64_t now_ns) {
  if (!store_) return 0;
  n = std::min(n, cfg_.cache->capacity);
  std::string value;
  for (std::size_t i = n; i-- > 0;) {
    const std::string key = std::to_string(i);
    origin_value(key, 0, cfg_.origin.value_bytes, value);
    store_->put(key, value, now_ns);
  }
  prewarmed_.fetch_add(n, std::memory_order_relaxed);
  return n;
}

read_through_stats read_through::stats() const {
  read_through_stats s;
  if (store_) s.cache = store_->stats();
  s.cache.misses += misses_without_store_.load(std::memory_order_relaxed);
  s.origin_calls = origin_calls_.load(std::memory_order_relaxed);
  s.coalesced_waits = coalesced_.load(std::memory_order_relaxed);
  s.abandoned = abandoned_.load(std::memory_order_relaxed);
  s.deletes = deletes_.load(std::memory_order_relaxed);
  s.purges = purges_.load(std::memory_order_relaxed);
  s.prewarmed = prewarmed_.load(std::memory_order_relaxed);
  for (const auto& fs : flight_shards_) {
    std::lock_guard l(fs->mutex);
    s.in_flight += fs->flights.size();
  }
  return s;
}

}  // namespace perflab::cache
