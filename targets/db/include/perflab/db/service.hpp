#pragma once
// The database a lab-target talks to and the pool in front of it, built from the --db* and
// --pool-* options. One per server, shared by every connection and model.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include <tl/expected.hpp>

#include <perflab/db/database.hpp>
#include <perflab/db/latency.hpp>
#include <perflab/db/pool.hpp>
#include <perflab/db/sim.hpp>

namespace perflab::db {

struct config {
  std::string url = "sim";    // --db: "sim" or a postgres:// (postgresql://) connection URL
  bool given = false;         // --db was given: open (and check) the database before listening
  latency_dist latency{};     // --db-latency: service time of /db/query without ?ms= and of /items
  std::uint64_t seed = 1;     // --db-seed: latency draws, faults, lifetime jitter
  sim_config sim{};           // --db-connect-cost, --db-cores, --db-contention, --db-fail-rate
  pool_config pool{};         // --pool-*, --no-pool
};

// The options as typed on the command line.
struct options {
  std::string url = "sim";
  std::string latency = "5ms";
  std::string connect_cost = "2ms";
  std::string cores = "0";
  std::string contention = "0";
  std::string fail_rate = "0";
  std::string seed = "1";
  std::string pool_size = "10";
  std::string min_idle = "";            // empty: pool_size (HikariCP's default)
  std::string acquire_timeout = "30s";
  std::string idle_timeout = "10min";
  std::string max_lifetime = "30min";
  std::string validation = "none";
  std::string validation_interval = "30s";
  bool no_pool = false;
  bool given = false;                   // --db was on the command line
};
// The error names the offending option and what it accepts.
tl::expected<config, std::string> parse_options(const options& o);

// The database named by --db cannot be used (unreachable, refused, schema failure).
struct unavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class service {
 public:
  // Opens the database (PostgreSQL: connects once and creates the items table when missing).
  // Throws db::unavailable naming --db when the server cannot be reached.
  explicit service(const config& cfg);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  const config& cfg() const noexcept { return cfg_; }
  database& db() noexcept { return *db_; }
  const database& db() const noexcept { return *db_; }
  pool& connections() noexcept { return *pool_; }
  const pool& connections() const noexcept { return *pool_; }
  std::chrono::microseconds draw_latency() { return latency_.draw(); }
  // Queries sent on a connection (not those that timed out waiting for one), by kind.
  void count_query(query::kind k) noexcept { queries_[static_cast<std::size_t>(k)].fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t queries(query::kind k) const noexcept {
    return queries_[static_cast<std::size_t>(k)].load(std::memory_order_relaxed);
  }

 private:
  config cfg_;
  std::unique_ptr<database> db_;
  latency_sampler latency_;
  std::array<std::atomic<std::uint64_t>, 2> queries_{};  // by query::kind (sleep, item)
  std::unique_ptr<pool> pool_;  // after db_: destroyed first (it closes connections db_ opened)
};

}  // namespace perflab::db
