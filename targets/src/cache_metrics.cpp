// The cache's /metrics block (perflab_cache_*), summed from its shards at scrape time.
#include <perflab/targets/metrics.hpp>

#include <iterator>

#include <fmt/format.h>

namespace perflab::targets {

void write_cache_prometheus(const cache::read_through& rt, std::string& out) {
  const auto s = rt.stats();
  const auto& cfg = rt.config();
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "# HELP perflab_cache_info The cache's policy (none: no store) and whether misses are coalesced.\n"
                 "# TYPE perflab_cache_info gauge\n"
                 "perflab_cache_info{{policy=\"{}\",coalesce=\"{}\"}} 1\n",
                 cfg.cache ? cache::to_string(cfg.cache->which) : std::string_view("none"),
                 cfg.coalesce ? "on" : "off");
  fmt::format_to(it,
                 "# HELP perflab_cache_lookups_total Cache lookups of GET/HEAD /cache/{{key}} by result (coalesced waits "
                 "make no lookup).\n"
                 "# TYPE perflab_cache_lookups_total counter\n"
                 "perflab_cache_lookups_total{{result=\"hit\"}} {}\n"
                 "perflab_cache_lookups_total{{result=\"miss\"}} {}\n"
                 "perflab_cache_lookups_total{{result=\"stale\"}} {}\n",
                 s.cache.hits, s.cache.misses, s.cache.stale);
  fmt::format_to(it, "# HELP perflab_cache_evictions_total Entries removed from the cache, by reason.\n"
                     "# TYPE perflab_cache_evictions_total counter\n");
  for (std::size_t r = 0; r < cache::evict_reason_count; ++r)
    fmt::format_to(it, "perflab_cache_evictions_total{{reason=\"{}\"}} {}\n",
                   cache::to_string(static_cast<cache::evict_reason>(r)), s.cache.evictions[r]);
  fmt::format_to(it,
                 "# HELP perflab_cache_entries Entries held now.\n"
                 "# TYPE perflab_cache_entries gauge\n"
                 "perflab_cache_entries {}\n"
                 "# HELP perflab_cache_capacity_entries The cache's entry limit (0: no store).\n"
                 "# TYPE perflab_cache_capacity_entries gauge\n"
                 "perflab_cache_capacity_entries {}\n"
                 "# HELP perflab_cache_bytes Bytes held now (key, value and a fixed overhead per entry).\n"
                 "# TYPE perflab_cache_bytes gauge\n"
                 "perflab_cache_bytes {}\n",
                 s.cache.entries, cfg.cache ? cfg.cache->capacity : 0, s.cache.bytes);
  fmt::format_to(it,
                 "# HELP perflab_cache_origin_calls_total Calls to the origin (misses that led one), pre-warming "
                 "excluded.\n"
                 "# TYPE perflab_cache_origin_calls_total counter\n"
                 "perflab_cache_origin_calls_total {}\n"
                 "# HELP perflab_cache_coalesced_waits_total Misses that waited for another request's origin call.\n"
                 "# TYPE perflab_cache_coalesced_waits_total counter\n"
                 "perflab_cache_coalesced_waits_total {}\n"
                 "# HELP perflab_cache_abandoned_flights_total Origin calls whose request went away; their waiters "
                 "retried.\n"
                 "# TYPE perflab_cache_abandoned_flights_total counter\n"
                 "perflab_cache_abandoned_flights_total {}\n"
                 "# HELP perflab_cache_origin_in_flight Coalesced origin calls in progress now.\n"
                 "# TYPE perflab_cache_origin_in_flight gauge\n"
                 "perflab_cache_origin_in_flight {}\n",
                 s.origin_calls, s.coalesced_waits, s.abandoned, s.in_flight);
  fmt::format_to(it,
                 "# HELP perflab_cache_invalidations_total Invalidation requests: DELETE /cache/{{key}} (found or not) "
                 "and PURGE /cache.\n"
                 "# TYPE perflab_cache_invalidations_total counter\n"
                 "perflab_cache_invalidations_total{{kind=\"delete\"}} {}\n"
                 "perflab_cache_invalidations_total{{kind=\"purge\"}} {}\n"
                 "# HELP perflab_cache_prewarmed_total Entries loaded before listening (--cache-prewarm).\n"
                 "# TYPE perflab_cache_prewarmed_total counter\n"
                 "perflab_cache_prewarmed_total {}\n"
                 "# HELP perflab_cache_lock_contended_total Cache operations that found their shard locked by "
                 "another thread and waited (one O(1) operation at most).\n"
                 "# TYPE perflab_cache_lock_contended_total counter\n"
                 "perflab_cache_lock_contended_total {}\n",
                 s.deletes, s.purges, s.prewarmed, s.cache.lock_contended);
}

}  // namespace perflab::targets

namespace perflab::targets {

void write_remote_prometheus(const cache::remote_stats& s, std::string& out) {
  auto it = std::back_inserter(out);
  auto load = [](const auto& a) { return a.load(std::memory_order_relaxed); };
  fmt::format_to(it, "# HELP perflab_cache_remote_round_trips_total Replies received from the remote cache (Redis), by "
                     "operation.\n"
                     "# TYPE perflab_cache_remote_round_trips_total counter\n");
  for (std::size_t op = 0; op < cache::remote_op_count; ++op)
    fmt::format_to(it, "perflab_cache_remote_round_trips_total{{op=\"{}\"}} {}\n",
                   cache::to_string(static_cast<cache::remote_op>(op)), load(s.round_trips[op]));
  fmt::format_to(it,
                 "# HELP perflab_cache_remote_lookups_total Remote gets by result.\n"
                 "# TYPE perflab_cache_remote_lookups_total counter\n"
                 "perflab_cache_remote_lookups_total{{result=\"hit\"}} {}\n"
                 "perflab_cache_remote_lookups_total{{result=\"miss\"}} {}\n",
                 load(s.hits), load(s.misses));
  fmt::format_to(it, "# HELP perflab_cache_remote_errors_total Remote operations that failed, by reason (unavailable: "
                     "no connection; timeout; io: connection lost or error reply).\n"
                     "# TYPE perflab_cache_remote_errors_total counter\n");
  for (std::size_t e = 0; e < cache::remote_error_count; ++e)
    fmt::format_to(it, "perflab_cache_remote_errors_total{{reason=\"{}\"}} {}\n",
                   cache::to_string(static_cast<cache::remote_error>(e)), load(s.errors[e]));
  fmt::format_to(it,
                 "# HELP perflab_cache_remote_fallbacks_total Lookups whose remote get failed and went to the origin.\n"
                 "# TYPE perflab_cache_remote_fallbacks_total counter\n"
                 "perflab_cache_remote_fallbacks_total {}\n"
                 "# HELP perflab_cache_remote_connects_total Connections to the remote cache established (first and "
                 "reconnects).\n"
                 "# TYPE perflab_cache_remote_connects_total counter\n"
                 "perflab_cache_remote_connects_total {}\n"
                 "# HELP perflab_cache_remote_connect_failures_total Connection attempts that failed or timed out.\n"
                 "# TYPE perflab_cache_remote_connect_failures_total counter\n"
                 "perflab_cache_remote_connect_failures_total {}\n"
                 "# HELP perflab_cache_remote_connections Connections to the remote cache open now.\n"
                 "# TYPE perflab_cache_remote_connections gauge\n"
                 "perflab_cache_remote_connections {}\n",
                 load(s.fallbacks), load(s.connects), load(s.connect_failures), load(s.connected));
}

}  // namespace perflab::targets
