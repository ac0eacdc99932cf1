#pragma once
// The simulated database (--db sim): no server, reproducible. Opening a connection costs
// connect_cost. A query of service time s runs on one of `cores` cores, first come first served
// (more queue inside the database, as in a real one, so a pool larger than the database can run
// only moves the queue); with contention c, each query admitted while n > cores queries are in
// the database takes s * (1 + c * (n - cores)) (context switches and lock contention: why a pool
// far beyond the database's cores lowers goodput). With fail_rate p, a query kills its connection
// with probability p (the query fails, the connection is dead). Completion times are worked out
// when the query starts, so a query is one timed wait for any model.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <queue>
#include <random>
#include <vector>

#include <perflab/db/database.hpp>

namespace perflab::db {

struct sim_config {
  std::chrono::microseconds connect_cost{2000};  // --db-connect-cost: opening one connection
  unsigned cores = 0;                            // --db-cores: queries run at once (0: no limit)
  double contention = 0;                         // --db-contention: slowdown per query beyond cores
  double fail_rate = 0;                          // --db-fail-rate: probability a query kills its connection
  std::uint64_t seed = 1;                        // --db-seed: fault draws
};

class sim_database final : public database {
 public:
  explicit sim_database(const sim_config& cfg);
  std::string_view name() const noexcept override { return "sim"; }
  wait_for start_open(std::unique_ptr<connection>& c, std::int64_t now) override;
  wait_for resume_open(std::unique_ptr<connection>& c, std::int64_t now) override;
  wait_for start_query(connection& c, const query& q, result& r, std::int64_t now) override;
  wait_for resume_query(connection& c, result& r, std::int64_t now) override;

  // When a query of service s arriving at now completes (and books its core). Exposed for tests.
  std::int64_t schedule(std::int64_t now, std::chrono::microseconds s);
  std::size_t in_database(std::int64_t now);  // queries admitted and not yet complete at now

 private:
  sim_config cfg_;
  std::mutex mutex_;
  std::mt19937_64 rng_;                                   // guarded by mutex_
  std::vector<std::int64_t> core_free_;                   // guarded; min-heap: when each core is next free
  std::priority_queue<std::int64_t, std::vector<std::int64_t>, std::greater<>> ends_;  // guarded
};

}  // namespace perflab::db
