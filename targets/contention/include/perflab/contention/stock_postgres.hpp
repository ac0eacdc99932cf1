#pragma once
// The PostgreSQL stock strategies: the counters are rows of perflab_stock (item, remaining, sold,
// version), and each buy is a transaction against a real server:
//   pg-row-lock    BEGIN; SELECT remaining ... FOR UPDATE (the row is locked until COMMIT, so
//                  buyers of one item queue on the lock, each holding it over two client round
//                  trips); refuse when short (ROLLBACK), else UPDATE remaining and sold; COMMIT
//   pg-optimistic  SELECT remaining, version (no lock); refuse when short; else UPDATE ... WHERE
//                  version = the one read, bumping it. No row updated: another buyer won the
//                  race; read again and retry (counted in stock_audit::retries), up to
//                  max_attempts, then the buy fails (503) rather than spinning forever
// A fixed set of `connections` worker threads, each with its own blocking libpq connection, take
// the queued buys in arrival order and answer each by callback, as the redis strategy's owner
// thread does, so no event loop waits on the database (the models use the same handoff). The
// connections bound the transactions in flight: the pool of this strategy.
// remaining()/sold() are this process's view: sold counts the units its buys sold, remaining the
// lowest remaining any reply reported (replies of concurrent transactions arrive in any order,
// and the stock only goes down). After the buys in flight are answered, sold + remaining =
// initial holds exactly when nothing was oversold; audit_db() asks the table itself.
// Database lost: buys are answered with error set (503), never guessed; the worker reconnects.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include <perflab/contention/stock.hpp>

namespace perflab::contention {

struct pg_stock_config {
  std::string url;              // --stock-db: postgres://... (or postgresql://)
  unsigned connections = 8;     // --stock-db-connections: worker threads = connections = transactions in flight
  unsigned max_attempts = 100;  // pg-optimistic: version conflicts tolerated per buy before it fails
};

// The sums the table holds (a blocking query), for tests and checks after a run.
struct pg_stock_totals {
  std::int64_t remaining = 0, sold = 0;
  std::uint64_t bad_rows = 0;  // rows with remaining < 0 or remaining + sold != initial
};

class pg_stock : public stock {
 public:
  virtual tl::expected<pg_stock_totals, std::string> audit_db() const = 0;
};

// Connects, creates perflab_stock when missing and resets `items` rows to `initial` (sold 0,
// version 0) before returning; the error says why it could not (start-up, before listening).
// strategy: pg_row_lock or pg_optimistic.
tl::expected<std::unique_ptr<pg_stock>, std::string> make_pg_stock(stock_strategy strategy, const pg_stock_config& cfg,
                                                                   std::uint64_t items, std::int64_t initial);

}  // namespace perflab::contention
