#pragma once
// A database behind the targets: simulated (sim.hpp) or PostgreSQL (postgres.hpp). Opening a
// connection and running a query are offered as non-blocking steps (start, then resume after
// each wait until done), which an event loop drives with its own timer and socket readiness,
// and as blocking calls for the blocking models (by default the steps driven with poll() and
// sleeps; PostgreSQL uses libpq's blocking API instead).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <perflab/db/connection.hpp>
#include <perflab/db/pool.hpp>

namespace perflab::db {

// What a request asks of the database.
struct query {
  enum class kind : std::uint8_t {
    sleep,  // /db/query: hold a connection for `service` (sim: a query of that service time;
            // PostgreSQL: SELECT pg_sleep)
    item,   // /items/{id}: the row with key `id` (sim: a query of `service`; PostgreSQL: a SELECT)
  } what = kind::sleep;
  std::chrono::microseconds service{0};  // resolved before the query starts (config's distribution or ?ms=)
  std::uint64_t id = 0;
};

enum class outcome : std::uint8_t {
  ok,
  not_found,  // item: no such row (404)
  lost,       // the connection died during the query (503; the pool discards it)
  failed,     // the server answered with an error (503; the connection stays usable)
};

struct result {
  outcome what = outcome::ok;
  std::string body;  // ok: the response body (the row as JSON, or what was slept)
};

// The rows of the items table, the same in sim and PostgreSQL: ids 1..item_count.
inline constexpr std::uint64_t item_count = 1000;
// The row's JSON: {"id":N,"name":"item-N","price_cents":P}.
void item_json(std::uint64_t id, std::int64_t price_cents, std::string& out);
std::int64_t item_price_cents(std::uint64_t id) noexcept;
// The row a /cache/{key} miss reads when the database is the cache's origin (--db): a decimal
// key n (the loadgen's Zipf ranks) reads row n % item_count + 1, any other key the row its hash
// picks, so every key has a row and popular keys are distinct rows.
std::uint64_t item_for_key(std::string_view key) noexcept;

// What a step waits for before the next resume.
struct wait_for {
  enum class kind : std::uint8_t { done, until, readable, writable } what = kind::done;
  std::int64_t at_ns = 0;  // until: a now_ns() time
  int fd = -1;             // readable / writable
  static wait_for done() noexcept { return {}; }
  static wait_for until(std::int64_t t) noexcept { return {kind::until, t, -1}; }
  static wait_for readable(int fd) noexcept { return {kind::readable, 0, fd}; }
  static wait_for writable(int fd) noexcept { return {kind::writable, 0, fd}; }
};

class database : public opener {
 public:
  virtual std::string_view name() const noexcept = 0;  // "sim", "postgres"

  // Opening: c is set when it starts (and reset if it fails); done with c null means failure.
  virtual wait_for start_open(std::unique_ptr<connection>& c, std::int64_t now) = 0;
  virtual wait_for resume_open(std::unique_ptr<connection>& c, std::int64_t now) = 0;
  // A query on an open connection; r is filled when done.
  virtual wait_for start_query(connection& c, const query& q, result& r, std::int64_t now) = 0;
  virtual wait_for resume_query(connection& c, result& r, std::int64_t now) = 0;

  // Blocking forms (blocking models and the pool's housekeeper).
  std::unique_ptr<connection> open_blocking() override;
  virtual void query_blocking(connection& c, const query& q, result& r);
};

// Blocks until w is over (sleep_until, or poll() on the fd).
void wait_blocking(const wait_for& w);

}  // namespace perflab::db
