#pragma once
// lab-target's /stock, /orders and /jobs options (docs/targets.md, Contention), kept out of
// main.cpp. Only lab-target includes this (it alone links CLI11).
#include <cmath>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <perflab/contention/service.hpp>
#include <perflab/core/units.hpp>

namespace perflab::targets {

// As typed on the command line.
struct contention_options {
  std::string strategy = "mutex";    // --stock-strategy
  std::string redis;                 // --stock-redis redis://HOST:PORT (the redis strategy)
  std::string db;                    // --stock-db postgres://... (the pg-row-lock and pg-optimistic strategies)
  std::string db_connections = "8";  // --stock-db-connections
  std::string initial = "1000";      // --stock-initial: units per item
  std::string items = "1";           // --stock-items
  std::string shards = "0";          // --stock-shards (sharded; 0: one per hardware thread)
  std::string ttl = "24h";           // --idempotency-ttl
  std::string store = "memory";      // --idempotency-store memory | redis://... | postgres://...
  std::string order_work = "0";      // --order-work
  std::string job_workers = "4";     // --job-workers
  std::string job_queue = "1000";    // --job-queue
  std::string job_work = "20ms";     // --job-work
  std::string job_reply = "accepted";  // --job-reply accepted|done
  std::string job_backend = "local";   // --job-queue-backend local|redis
  std::string job_redis;               // --job-redis redis://HOST:PORT (the redis backend)
  bool job_redis_reset = false;        // --job-redis-reset
  std::string job_redis_claim_after = "30s";  // --job-redis-claim-after
  std::string outbox_db;               // --outbox-db postgres://... (POST /orders writes order + event)
  std::string outbox_redis;            // --outbox-redis redis://HOST:PORT (the stream)
  std::string outbox_connections = "8";  // --outbox-connections
  std::string outbox_relays = "1";     // --outbox-relays
  std::string outbox_batch = "100";    // --outbox-batch
  std::string outbox_poll = "10ms";    // --outbox-poll
  std::string outbox_mode = "at-least-once";  // --outbox-mode
};

inline void add_contention_options(CLI::App& app, contention_options& o) {
  app.add_option("--stock-strategy", o.strategy,
                 "/stock: mutex | atomic | sharded | single-writer | redis | pg-row-lock | pg-optimistic")
      ->capture_default_str();
  app.add_option("--stock-redis", o.redis, "/stock redis: redis://HOST:PORT holding the counters (a Lua script per buy)");
  app.add_option("--stock-db", o.db,
                 "/stock pg-row-lock, pg-optimistic: postgres://... holding the counters (table perflab_stock, reset at start)");
  app.add_option("--stock-db-connections", o.db_connections,
                 "/stock pg-*: connections (and worker threads), the transactions in flight at most")
      ->capture_default_str();
  app.add_option("--stock-initial", o.initial, "/stock: units of each item at start")->capture_default_str();
  app.add_option("--stock-items", o.items, "/stock: items 0..K-1")->capture_default_str();
  app.add_option("--stock-shards", o.shards, "/stock sharded: shards per item (0: one per hardware thread, at least 2)")
      ->capture_default_str();
  app.add_option("--idempotency-ttl", o.ttl, "POST /orders: a stored response is replayed for this long after it was stored")
      ->capture_default_str();
  app.add_option("--idempotency-store", o.store,
                 "POST /orders: where keys live: memory (this process) | redis://HOST:PORT | postgres://... (shared by "
                 "servers, table perflab_idempotency)")
      ->capture_default_str();
  app.add_option("--order-work", o.order_work, "POST /orders: the wait creating one order takes (0: none)")
      ->capture_default_str();
  app.add_option("--job-workers", o.job_workers, "POST /jobs: worker threads")->capture_default_str();
  app.add_option("--job-queue", o.job_queue, "POST /jobs: jobs waiting at most; more get 503")->capture_default_str();
  app.add_option("--job-work", o.job_work, "POST /jobs: one job's work (a worker is busy this long)")->capture_default_str();
  app.add_option("--job-reply", o.job_reply,
                 "POST /jobs: accepted (202 once queued) | done (200 once a worker did it: the synchronous baseline)")
      ->capture_default_str();
  app.add_option("--job-queue-backend", o.job_backend,
                 "POST /jobs: local (a queue in this process) | redis (a Redis stream shared by every server using "
                 "--job-redis: any of them does the job and answers GET /jobs/{id})")
      ->capture_default_str();
  app.add_option("--job-redis", o.job_redis,
                 "POST /jobs redis: redis://HOST:PORT holding the stream perflab:jobs and each job's state");
  app.add_flag("--job-redis-reset", o.job_redis_reset,
               "POST /jobs redis: delete the queue (stream, counters) at start, e.g. for a scenario's variants run "
               "one after another; not when other servers already share it");
  app.add_option("--job-redis-claim-after", o.job_redis_claim_after,
                 "POST /jobs redis: a job a worker has held this long unfinished (its server died) is taken and done "
                 "by another worker; at least twice --job-work (0: never)")
      ->capture_default_str();
  app.add_option("--outbox-db", o.outbox_db,
                 "POST /orders: postgres://... where each order and its event are written in one transaction (tables "
                 "perflab_orders, perflab_outbox, emptied at start); needs --outbox-redis");
  app.add_option("--outbox-redis", o.outbox_redis,
                 "the outbox's Redis: redis://HOST:PORT, the stream perflab:outbox the relay publishes to and the "
                 "consumer reads (deleted at start)");
  app.add_option("--outbox-connections", o.outbox_connections, "outbox: order transactions in flight at most")
      ->capture_default_str();
  app.add_option("--outbox-relays", o.outbox_relays,
                 "outbox: relay threads (0: none until POST /admin/outbox/relay/start)")
      ->capture_default_str();
  app.add_option("--outbox-batch", o.outbox_batch, "outbox: events a relay claims per round (FOR UPDATE SKIP LOCKED)")
      ->capture_default_str();
  app.add_option("--outbox-poll", o.outbox_poll, "outbox: a relay's wait after a round short of a batch")
      ->capture_default_str();
  app.add_option("--outbox-mode", o.outbox_mode,
                 "outbox: at-least-once (publish, then mark sent) | at-most-once (mark sent, then publish)")
      ->capture_default_str();
}

// The service config; the error names the offending option and what it accepts.
inline tl::expected<contention::service_config, std::string> parse_contention_options(const contention_options& o) {
  contention::service_config c;
  const auto strategy = contention::parse_stock_strategy(o.strategy);
  if (!strategy)
    return tl::unexpected("--stock-strategy: unknown strategy '" + o.strategy +
                          "' (accepted: mutex, atomic, sharded, single-writer, redis, pg-row-lock, pg-optimistic)");
  c.strategy = *strategy;
  if (!o.redis.empty()) {
    const auto url = contention::parse_stock_redis_url(o.redis);
    if (!url) return tl::unexpected("--stock-redis: expected redis://HOST[:PORT], got '" + o.redis + "'");
    c.redis = *url;
  }
  if (c.strategy == contention::stock_strategy::redis && o.redis.empty())
    return tl::unexpected(std::string("--stock-strategy: redis needs --stock-redis redis://HOST:PORT"));
  const bool pg = c.strategy == contention::stock_strategy::pg_row_lock || c.strategy == contention::stock_strategy::pg_optimistic;
  if (!o.db.empty() && !o.db.starts_with("postgres://") && !o.db.starts_with("postgresql://"))
    return tl::unexpected("--stock-db: expected a postgres:// (or postgresql://) URL, got '" + o.db + "'");
  if (pg && o.db.empty())
    return tl::unexpected("--stock-strategy: " + o.strategy + " needs --stock-db postgres://USER@HOST:PORT/DB");
  c.pg.url = o.db;
  if (o.store != "memory") {
    if (!o.store.starts_with("postgres://") && !o.store.starts_with("postgresql://") &&
        !contention::parse_stock_redis_url(o.store))
      return tl::unexpected("--idempotency-store: expected memory, redis://HOST[:PORT] or postgres://..., got '" +
                            o.store + "'");
    c.idempotency_store = o.store;
  }
  // A whole number from lo to hi (SI suffixes allowed: 10k).
  auto whole = [](const std::string& name, const std::string& text, double lo, double hi) -> tl::expected<double, std::string> {
    const auto v = units::parse_count(text);
    if (!v || *v != std::floor(*v) || *v < lo || *v > hi)
      return tl::unexpected(name + ": expected a whole number from " + fmt::format("{:g}", lo) + " to " +
                            fmt::format("{:g}", hi) + ", got '" + text + "'");
    return *v;
  };
  auto duration = [](const std::string& name, const std::string& text, bool zero_ok) -> tl::expected<std::chrono::nanoseconds, std::string> {
    const auto d = units::parse_duration(text);
    if (!d) return tl::unexpected(name + ": " + d.error());
    if (!zero_ok && d->count() <= 0) return tl::unexpected(name + ": must be more than 0, got '" + text + "'");
    if (*d > std::chrono::hours(24 * 365)) return tl::unexpected(name + ": at most a year, got '" + text + "'");
    return *d;
  };
  const auto initial = whole("--stock-initial", o.initial, 0, 1e15);
  if (!initial) return tl::unexpected(initial.error());
  const auto items = whole("--stock-items", o.items, 1, 10'000'000);
  if (!items) return tl::unexpected(items.error());
  const auto shards = whole("--stock-shards", o.shards, 0, 1024);
  if (!shards) return tl::unexpected(shards.error());
  if (*shards == 1) return tl::unexpected(std::string("--stock-shards: 1 shard is the atomic strategy; give 0 or at least 2"));
  const auto db_connections = whole("--stock-db-connections", o.db_connections, 1, 1000);
  if (!db_connections) return tl::unexpected(db_connections.error());
  c.pg.connections = static_cast<unsigned>(*db_connections);
  const auto ttl = duration("--idempotency-ttl", o.ttl, false);
  if (!ttl) return tl::unexpected(ttl.error());
  const auto order_work = duration("--order-work", o.order_work, true);
  if (!order_work) return tl::unexpected(order_work.error());
  const auto workers = whole("--job-workers", o.job_workers, 1, 4096);
  if (!workers) return tl::unexpected(workers.error());
  const auto queue = whole("--job-queue", o.job_queue, 1, 10'000'000);
  if (!queue) return tl::unexpected(queue.error());
  const auto job_work = duration("--job-work", o.job_work, true);
  if (!job_work) return tl::unexpected(job_work.error());
  if (o.job_reply != "accepted" && o.job_reply != "done")
    return tl::unexpected("--job-reply: expected accepted or done, got '" + o.job_reply + "'");
  c.job_reply_done = o.job_reply == "done";
  const auto backend = contention::parse_job_backend(o.job_backend);
  if (!backend) return tl::unexpected("--job-queue-backend: expected local or redis, got '" + o.job_backend + "'");
  c.job_queue_backend = *backend;
  if (!o.job_redis.empty()) {
    const auto url = contention::parse_stock_redis_url(o.job_redis);
    if (!url) return tl::unexpected("--job-redis: expected redis://HOST[:PORT], got '" + o.job_redis + "'");
    c.job_redis = *url;
  }
  c.job_redis_reset = o.job_redis_reset;
  const auto claim_after = duration("--job-redis-claim-after", o.job_redis_claim_after, true);
  if (!claim_after) return tl::unexpected(claim_after.error());
  c.job_redis_claim_after = std::chrono::ceil<std::chrono::milliseconds>(*claim_after);
  // A live worker holds a job for its work plus round trips and a late wake-up: claiming sooner
  // than twice the work would take live workers' jobs and do them again.
  if (c.job_queue_backend == contention::job_backend::redis && c.job_redis_claim_after.count() > 0 &&
      *claim_after < 2 * *job_work)
    return tl::unexpected("--job-redis-claim-after: " + o.job_redis_claim_after + " is less than twice --job-work " +
                          o.job_work + " (a live worker's job would be done again); 0 turns claiming off");
  if (c.job_queue_backend == contention::job_backend::redis && o.job_redis.empty())
    return tl::unexpected(std::string("--job-queue-backend: redis needs --job-redis redis://HOST:PORT"));
  if (!o.outbox_db.empty() || !o.outbox_redis.empty()) {
    if (!o.outbox_db.starts_with("postgres://") && !o.outbox_db.starts_with("postgresql://"))
      return tl::unexpected("--outbox-db: expected a postgres:// (or postgresql://) URL, got '" + o.outbox_db + "'");
    if (!contention::parse_stock_redis_url(o.outbox_redis))
      return tl::unexpected("--outbox-redis: expected redis://HOST[:PORT], got '" + o.outbox_redis + "'");
    if (order_work->count() > 0)
      return tl::unexpected(std::string("--order-work: not with --outbox-db (the order's transaction is its work)"));
    const auto writers = whole("--outbox-connections", o.outbox_connections, 1, 1000);
    if (!writers) return tl::unexpected(writers.error());
    const auto relays = whole("--outbox-relays", o.outbox_relays, 0, 64);
    if (!relays) return tl::unexpected(relays.error());
    const auto batch = whole("--outbox-batch", o.outbox_batch, 1, 100'000);
    if (!batch) return tl::unexpected(batch.error());
    const auto poll = duration("--outbox-poll", o.outbox_poll, false);
    if (!poll) return tl::unexpected(poll.error());
    const auto mode = contention::parse_outbox_mode(o.outbox_mode);
    if (!mode) return tl::unexpected("--outbox-mode: expected at-least-once or at-most-once, got '" + o.outbox_mode + "'");
    c.outbox.db_url = o.outbox_db;
    c.outbox.redis_url = o.outbox_redis;
    c.outbox.writers = static_cast<unsigned>(*writers);
    c.outbox.relays = static_cast<unsigned>(*relays);
    c.outbox.batch = static_cast<unsigned>(*batch);
    c.outbox.poll = std::chrono::ceil<std::chrono::milliseconds>(*poll);
    c.outbox.mode = *mode;
  }
  c.initial = static_cast<std::int64_t>(*initial);
  c.items = static_cast<std::uint64_t>(*items);
  c.shards = static_cast<unsigned>(*shards);
  c.idempotency_ttl = *ttl;
  c.order_work = *order_work;
  c.jobs.workers = static_cast<unsigned>(*workers);
  c.jobs.capacity = static_cast<std::size_t>(*queue);
  c.jobs.work = *job_work;
  return c;
}

}  // namespace perflab::targets
