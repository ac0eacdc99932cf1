#pragma once
// lab-target's database and pool options (docs/targets.md, Database and pool), kept out of
// main.cpp. Only lab-target includes this (it alone links CLI11).
#include <CLI/CLI.hpp>

#include <perflab/db/service.hpp>

namespace perflab::targets {

inline void add_db_options(CLI::App& app, db::options& d) {
  app.add_option("--db", d.url, "sim (simulated database) or postgres://USER@HOST:PORT/DB; given: opened before listening")
      ->capture_default_str();
  app.add_option("--db-latency", d.latency, "query service time: 5ms, fixed:5ms, exp:5ms (mean), lognormal:5ms,0.5 (median, sigma)")
      ->capture_default_str();
  app.add_option("--db-connect-cost", d.connect_cost, "sim: time to open one connection")->capture_default_str();
  app.add_option("--db-cores", d.cores, "sim: queries the database runs at once, more queue inside it (0: no limit)")
      ->capture_default_str();
  app.add_option("--db-contention", d.contention, "sim: slowdown per query in the database beyond --db-cores (0.05 = 5 %)")
      ->capture_default_str();
  app.add_option("--db-fail-rate", d.fail_rate, "sim: probability a query kills its connection (503, replaced)")
      ->capture_default_str();
  app.add_option("--db-seed", d.seed, "seed of latency draws, faults and lifetime jitter")->capture_default_str();
  app.add_option("--pool-size", d.pool_size, "most connections open at once")->capture_default_str();
  app.add_option("--pool-min-idle", d.min_idle, "idle connections kept ready (default: --pool-size)");
  app.add_option("--pool-acquire-timeout", d.acquire_timeout, "longest wait for a connection, then 503 (counted)")
      ->capture_default_str();
  app.add_option("--pool-idle-timeout", d.idle_timeout, "close idle connections above min idle after this (0: never)")
      ->capture_default_str();
  app.add_option("--pool-max-lifetime", d.max_lifetime, "retire connections older than this, when idle (0: never)")
      ->capture_default_str();
  app.add_option("--pool-validation", d.validation, "none | on-borrow | background")->capture_default_str();
  app.add_option("--pool-validation-interval", d.validation_interval, "background validation: check idle connections this often")
      ->capture_default_str();
  app.add_flag("--no-pool", d.no_pool, "open a new connection for every request (and close it after)");
}

}  // namespace perflab::targets
