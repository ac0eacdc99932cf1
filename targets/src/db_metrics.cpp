// The database pool's /metrics block (perflab_db_pool_*), read under the pool's lock at scrape time.
#include <perflab/targets/metrics.hpp>

#include <iterator>

#include <fmt/format.h>

#include <perflab/db/service.hpp>

namespace perflab::targets {

void write_db_prometheus(const db::service& svc, std::string& out) {
  const auto& p = svc.connections();
  const auto s = p.stats();
  const auto& c = p.config();
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "# HELP perflab_db_info The database behind /db/query and /items (sim or postgres) and the pool's "
                 "settings.\n"
                 "# TYPE perflab_db_info gauge\n"
                 "perflab_db_info{{database=\"{}\",pool=\"{}\",validation=\"{}\"}} 1\n"
                 "# HELP perflab_db_pool_max_size Connections the pool may hold (--pool-size; 0: --no-pool).\n"
                 "# TYPE perflab_db_pool_max_size gauge\n"
                 "perflab_db_pool_max_size {}\n"
                 "# HELP perflab_db_pool_min_idle Idle connections the housekeeper keeps ready (--pool-min-idle).\n"
                 "# TYPE perflab_db_pool_min_idle gauge\n"
                 "perflab_db_pool_min_idle {}\n",
                 svc.db().name(), c.enabled ? "on" : "off", db::to_string(c.validate), c.enabled ? c.max_size : 0,
                 c.min_idle);
  fmt::format_to(it,
                 "# HELP perflab_db_pool_connections Connections open or being opened, by state.\n"
                 "# TYPE perflab_db_pool_connections gauge\n"
                 "perflab_db_pool_connections{{state=\"active\"}} {}\n"
                 "perflab_db_pool_connections{{state=\"idle\"}} {}\n"
                 "perflab_db_pool_connections{{state=\"opening\"}} {}\n"
                 "# HELP perflab_db_pool_size Connections open or being opened (active + idle + opening).\n"
                 "# TYPE perflab_db_pool_size gauge\n"
                 "perflab_db_pool_size {}\n"
                 "# HELP perflab_db_pool_waiting Requests waiting for a connection now.\n"
                 "# TYPE perflab_db_pool_waiting gauge\n"
                 "perflab_db_pool_waiting {}\n"
                 "# HELP perflab_db_pool_waiting_peak Most requests waiting for a connection at once since start.\n"
                 "# TYPE perflab_db_pool_waiting_peak gauge\n"
                 "perflab_db_pool_waiting_peak {}\n"
                 "# HELP perflab_db_pool_acquire_timeouts_total Requests that waited --pool-acquire-timeout without "
                 "a connection (answered 503).\n"
                 "# TYPE perflab_db_pool_acquire_timeouts_total counter\n"
                 "perflab_db_pool_acquire_timeouts_total {}\n"
                 "# HELP perflab_db_pool_created_total Connections opened.\n"
                 "# TYPE perflab_db_pool_created_total counter\n"
                 "perflab_db_pool_created_total {}\n"
                 "# HELP perflab_db_pool_open_failures_total Connection opens that failed.\n"
                 "# TYPE perflab_db_pool_open_failures_total counter\n"
                 "perflab_db_pool_open_failures_total {}\n",
                 s.active, s.idle, s.opening, s.total, s.waiting, s.waiting_peak, s.timeouts, s.created,
                 s.open_failures);
  fmt::format_to(it,
                 "# HELP perflab_db_queries_total Queries sent to the database on a connection, by kind "
                 "(sleep: /db/query; item: /items and /cache misses with --db).\n"
                 "# TYPE perflab_db_queries_total counter\n"
                 "perflab_db_queries_total{{kind=\"sleep\"}} {}\n"
                 "perflab_db_queries_total{{kind=\"item\"}} {}\n",
                 svc.queries(db::query::kind::sleep), svc.queries(db::query::kind::item));
  fmt::format_to(it, "# HELP perflab_db_pool_closed_total Connections closed, by reason.\n"
                     "# TYPE perflab_db_pool_closed_total counter\n");
  for (std::size_t r = 0; r < db::close_reason_count; ++r)
    fmt::format_to(it, "perflab_db_pool_closed_total{{reason=\"{}\"}} {}\n",
                   db::to_string(static_cast<db::close_reason>(r)), s.closed[r]);
  fmt::format_to(it, "# HELP perflab_db_pool_acquire_wait_seconds Time from asking the pool for a connection to "
                     "getting one (served acquisitions).\n"
                     "# TYPE perflab_db_pool_acquire_wait_seconds histogram\n");
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < db::acquire_wait_bounds_s.size(); ++b) {
    cumulative += s.wait_buckets[b];
    fmt::format_to(it, "perflab_db_pool_acquire_wait_seconds_bucket{{le=\"{}\"}} {}\n", db::acquire_wait_bounds_s[b],
                   cumulative);
  }
  cumulative += s.wait_buckets.back();
  fmt::format_to(it,
                 "perflab_db_pool_acquire_wait_seconds_bucket{{le=\"+Inf\"}} {}\n"
                 "perflab_db_pool_acquire_wait_seconds_sum {}\n"
                 "perflab_db_pool_acquire_wait_seconds_count {}\n",
                 cumulative, s.wait_sum_s, cumulative);
}

}  // namespace perflab::targets
