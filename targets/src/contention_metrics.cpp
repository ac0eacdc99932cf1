// perflab::contention's /metrics blocks (perflab_stock_*, perflab_orders_*, perflab_idempotency_*,
// perflab_jobs_*, perflab_outbox_*), read at scrape time from the parts that have been used.
#include <perflab/targets/metrics.hpp>

#include <iterator>

#include <fmt/format.h>

#include <perflab/contention/service.hpp>

namespace perflab::targets {

namespace {

void write_stock(const contention::stock& s, std::string& out) {
  const auto a = s.audit();
  fmt::format_to(std::back_inserter(out),
                 "# HELP perflab_stock_info The --stock-strategy and the stock's shape.\n"
                 "# TYPE perflab_stock_info gauge\n"
                 "perflab_stock_info{{strategy=\"{}\",items=\"{}\"}} 1\n"
                 "# HELP perflab_stock_buys_total Buys of a known item: bought, refused as sold out (409), or refused "
                 "while units remained scattered over shards (sharded only, 409).\n"
                 "# TYPE perflab_stock_buys_total counter\n"
                 "perflab_stock_buys_total{{result=\"bought\"}} {}\n"
                 "perflab_stock_buys_total{{result=\"sold_out\"}} {}\n"
                 "perflab_stock_buys_total{{result=\"fragmented\"}} {}\n"
                 "# HELP perflab_stock_units Units over all items: at start, sold, remaining (sold + remaining = "
                 "initial).\n"
                 "# TYPE perflab_stock_units gauge\n"
                 "perflab_stock_units{{state=\"initial\"}} {}\n"
                 "perflab_stock_units{{state=\"sold\"}} {}\n"
                 "perflab_stock_units{{state=\"remaining\"}} {}\n"
                 "# HELP perflab_stock_invariant_violations Items whose sold + remaining differs from the initial "
                 "stock or whose remaining is negative (0 expected).\n"
                 "# TYPE perflab_stock_invariant_violations gauge\n"
                 "perflab_stock_invariant_violations {}\n"
                 "# HELP perflab_stock_retries_total Buys tried again after losing a race (pg-optimistic: a version "
                 "conflict, the row changed between the read and the update).\n"
                 "# TYPE perflab_stock_retries_total counter\n"
                 "perflab_stock_retries_total {}\n"
                 "# HELP perflab_stock_errors_total Buys answered 503 because the stock's server (redis, PostgreSQL) "
                 "could not be asked, or pg-optimistic lost the race too often.\n"
                 "# TYPE perflab_stock_errors_total counter\n"
                 "perflab_stock_errors_total {}\n",
                 to_string(s.strategy()), a.items, a.buys - a.sold_out - a.fragmented, a.sold_out, a.fragmented,
                 a.initial, a.sold, a.remaining, a.violations, a.retries, a.errors);
}

void write_orders(const contention::service& svc, std::string& out) {
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "# HELP perflab_orders_created_total Orders whose work was done (POST /orders; a replay creates "
                 "none).\n"
                 "# TYPE perflab_orders_created_total counter\n"
                 "perflab_orders_created_total {}\n",
                 svc.orders_created());
  const auto* store = svc.idempotency_if_built();
  const auto* remote = svc.remote_keys_if_built();
  const auto s = remote ? remote->stats() : store ? store->stats() : contention::idempotency_store::stats_t{};
  fmt::format_to(it,
                 "# HELP perflab_idempotency_requests_total POST /orders by Idempotency-Key verdict: none (no key), "
                 "first (did the work), replay (the stored response), in_flight (409), mismatch (422).\n"
                 "# TYPE perflab_idempotency_requests_total counter\n"
                 "perflab_idempotency_requests_total{{result=\"none\"}} {}\n"
                 "perflab_idempotency_requests_total{{result=\"first\"}} {}\n"
                 "perflab_idempotency_requests_total{{result=\"replay\"}} {}\n"
                 "perflab_idempotency_requests_total{{result=\"in_flight\"}} {}\n"
                 "perflab_idempotency_requests_total{{result=\"mismatch\"}} {}\n"
                 "# HELP perflab_idempotency_expired_total Stored responses dropped because their key's TTL "
                 "passed (in process and PostgreSQL; Redis expires keys itself, uncounted).\n"
                 "# TYPE perflab_idempotency_expired_total counter\n"
                 "perflab_idempotency_expired_total {}\n"
                 "# HELP perflab_idempotency_keys Keys held now in process (in flight and stored; 0 with "
                 "--idempotency-store redis or postgres).\n"
                 "# TYPE perflab_idempotency_keys gauge\n"
                 "perflab_idempotency_keys {}\n",
                 svc.unkeyed(), s.first, s.replays, s.in_flight, s.mismatches, s.expired, store ? store->keys() : 0);
}

// The job counters as either queue reports them (a Redis queue's are this server's share).
struct job_counts {
  std::string_view backend;
  std::uint64_t accepted = 0, refused = 0, done = 0;
  std::size_t queued = 0, running = 0;
  unsigned workers = 0;
};

void write_jobs(const contention::service& svc, const job_counts& s, std::string& out) {
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "# HELP perflab_jobs_backend_info The --job-queue-backend: local (this process) or redis (shared).\n"
                 "# TYPE perflab_jobs_backend_info gauge\n"
                 "perflab_jobs_backend_info{{backend=\"{}\"}} 1\n"
                 "# HELP perflab_jobs_total POST /jobs: accepted (202), refused (queue full, 503), done by a worker "
                 "(of this server).\n"
                 "# TYPE perflab_jobs_total counter\n"
                 "perflab_jobs_total{{result=\"accepted\"}} {}\n"
                 "perflab_jobs_total{{result=\"refused\"}} {}\n"
                 "perflab_jobs_total{{result=\"done\"}} {}\n"
                 "# HELP perflab_jobs_queued Jobs waiting for a worker (redis: the shared queue when this server last "
                 "saw it).\n"
                 "# TYPE perflab_jobs_queued gauge\n"
                 "perflab_jobs_queued {}\n"
                 "# HELP perflab_jobs_running Jobs a worker of this server is doing.\n"
                 "# TYPE perflab_jobs_running gauge\n"
                 "perflab_jobs_running {}\n"
                 "# HELP perflab_jobs_workers Worker threads (--job-workers).\n"
                 "# TYPE perflab_jobs_workers gauge\n"
                 "perflab_jobs_workers {}\n"
                 "# HELP perflab_jobs_completion_seconds From a job's 202 (accepted) to a worker of this server "
                 "finishing it.\n"
                 "# TYPE perflab_jobs_completion_seconds histogram\n",
                 s.backend, s.accepted, s.refused, s.done, s.queued, s.running, s.workers);
  const auto h = svc.job_completion();
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < contention::job_latency_bounds_s.size(); ++i) {
    cumulative += h.buckets[i];
    fmt::format_to(it, "perflab_jobs_completion_seconds_bucket{{le=\"{}\"}} {}\n", contention::job_latency_bounds_s[i],
                   cumulative);
  }
  fmt::format_to(it,
                 "perflab_jobs_completion_seconds_bucket{{le=\"+Inf\"}} {}\n"
                 "perflab_jobs_completion_seconds_sum {}\n"
                 "perflab_jobs_completion_seconds_count {}\n",
                 h.count, h.sum_s, h.count);
}

void write_local_jobs(const contention::service& svc, const contention::job_queue& q, std::string& out) {
  const auto s = q.stats();
  write_jobs(svc, {"local", s.accepted, s.refused, s.done, s.queued, s.running, q.config().workers}, out);
}

void write_redis_jobs(const contention::service& svc, const contention::redis_job_queue& q, std::string& out) {
  const auto s = q.stats();
  write_jobs(svc, {"redis", s.accepted, s.refused, s.done, s.queued, s.running, q.config().queue.workers}, out);
  fmt::format_to(std::back_inserter(out),
                 "# HELP perflab_jobs_redis_errors_total Redis commands of the job queue that failed (submits, "
                 "lookups, workers' reads and updates, the done channel).\n"
                 "# TYPE perflab_jobs_redis_errors_total counter\n"
                 "perflab_jobs_redis_errors_total {}\n"
                 "# HELP perflab_jobs_unavailable_total POST /jobs answered 503 because Redis could not be asked, or "
                 "(--job-reply done) the done channel was lost while the job was waited for.\n"
                 "# TYPE perflab_jobs_unavailable_total counter\n"
                 "perflab_jobs_unavailable_total {}\n"
                 "# HELP perflab_jobs_reclaimed_total Jobs a worker of this server claimed from one that held them "
                 "past --job-redis-claim-after (its server died mid-job) and did again.\n"
                 "# TYPE perflab_jobs_reclaimed_total counter\n"
                 "perflab_jobs_reclaimed_total {}\n",
                 s.errors, s.submit_errors + s.lost_waiters, s.reclaimed);
}

// Unlabelled samples, so the scenario runner's sampler reads them (target_metrics in run.json).
void write_outbox(const contention::outbox& o, std::string& out) {
  const auto s = o.stats();
  auto it = std::back_inserter(out);
  auto one = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
    fmt::format_to(it, "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
  };
  one("perflab_outbox_orders_total", "counter", "Orders committed with their event by this process (POST /orders).", s.orders);
  one("perflab_outbox_order_errors_total", "counter", "Orders refused (503) because their transaction failed.", s.order_errors);
  one("perflab_outbox_committed", "gauge", "Events in the outbox table at the consumer's last audit.", s.committed);
  one("perflab_outbox_backlog", "gauge", "Events not yet marked sent at the last audit.", s.backlog);
  one("perflab_outbox_published_total", "counter", "Stream entries the relays added (duplicates included).", s.published);
  one("perflab_outbox_marked_total", "counter", "Events marked sent by committed relay rounds.", s.marked);
  one("perflab_outbox_relay_rounds_total", "counter", "Relay rounds committed with at least one event.", s.rounds);
  one("perflab_outbox_relay_errors_total", "counter", "Relay rounds abandoned because PostgreSQL or Redis failed.",
      s.relay_errors);
  one("perflab_outbox_relays_up", "gauge", "Relay threads running.", s.relays_up);
  one("perflab_outbox_relay_crashes_total", "counter", "Relay deaths asked for by POST /admin/outbox/relay/crash.",
      s.crashes);
  one("perflab_outbox_relay_restarts_total", "counter", "Relay restarts (POST /admin/outbox/relay/start).", s.restarts);
  one("perflab_outbox_stream_entries_total", "counter", "Stream entries the consumer read.", s.entries);
  one("perflab_outbox_consumed_total", "counter", "Distinct events the consumer applied.", s.consumed);
  one("perflab_outbox_duplicates_total", "counter", "Entries whose event the consumer had applied already: dropped.",
      s.duplicates);
  one("perflab_outbox_lost", "gauge",
      "Events marked sent at least the grace (1 s) before the last audit that the consumer never received (0 "
      "expected at least once).",
      s.lost);
  one("perflab_outbox_backlog_at_restart", "gauge", "Unsent events when the relays were last restarted.",
      s.backlog_at_restart);
  if (s.recovery_s >= 0)
    one("perflab_outbox_recovery_seconds", "gauge",
        "From the last relay restart until the consumer had every event unsent at the restart.", s.recovery_s);
}

}  // namespace

void write_contention_prometheus(const contention::service& svc, std::string& out) {
  if (const auto* s = svc.stocks_if_built()) write_stock(*s, out);
  write_orders(svc, out);
  if (const auto* q = svc.jobs_if_built()) write_local_jobs(svc, *q, out);
  if (const auto* q = svc.redis_jobs_if_built()) write_redis_jobs(svc, *q, out);
  if (const auto* o = svc.order_outbox_if_built()) write_outbox(*o, out);
}

}  // namespace perflab::targets
