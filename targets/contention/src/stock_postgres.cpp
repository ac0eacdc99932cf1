#include "perflab/contention/stock_postgres.hpp"

#include "stock_remote.hpp"
#include "remote_handles.hpp"

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include <libpq-fe.h>

#include <fmt/format.h>

#include <perflab/db/postgres.hpp>

namespace perflab::contention {

namespace {

using detail::result_ptr;

constexpr const char* schema_sql =
    "CREATE TABLE IF NOT EXISTS perflab_stock (item bigint PRIMARY KEY, remaining bigint NOT NULL, "
    "sold bigint NOT NULL, version bigint NOT NULL)";
// Prepared on every worker's connection.
constexpr const char* lock_sql = "SELECT remaining FROM perflab_stock WHERE item = $1 FOR UPDATE";
constexpr const char* take_sql =
    "UPDATE perflab_stock SET remaining = remaining - $2, sold = sold + $2, version = version + 1 "
    "WHERE item = $1 RETURNING remaining";
constexpr const char* read_sql = "SELECT remaining, version FROM perflab_stock WHERE item = $1";
constexpr const char* cas_sql =
    "UPDATE perflab_stock SET remaining = remaining - $2, sold = sold + $2, version = version + 1 "
    "WHERE item = $1 AND version = $3 RETURNING remaining";

// libpq's message on one line, without its trailing newline.
std::string one_line(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  return s;
}

std::int64_t int_at(const PGresult* r, int row, int col) { return std::strtoll(PQgetvalue(r, row, col), nullptr, 10); }

// One worker's connection, opened (again) when needed, with the statements prepared.
class pg_session {
 public:
  explicit pg_session(std::string url) : url_(std::move(url)) {}
  ~pg_session() { close(); }
  pg_session(const pg_session&) = delete;
  pg_session& operator=(const pg_session&) = delete;

  bool ready() {
    if (conn_ && PQstatus(conn_) == CONNECTION_OK) return true;
    close();
    conn_ = PQconnectdb(url_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) return close(), false;
    for (auto [name, sql] : {std::pair{"lock", lock_sql}, {"take", take_sql}, {"read", read_sql}, {"cas", cas_sql}}) {
      result_ptr r(PQprepare(conn_, name, sql, 0, nullptr));
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return close(), false;
    }
    return true;
  }
  result_ptr exec(const char* sql) { return result_ptr(PQexec(conn_, sql)); }
  result_ptr run(const char* statement, std::initializer_list<std::string_view> args) {
    std::array<std::string, 3> text;
    std::array<const char*, 3> values{};
    int n = 0;
    for (auto a : args) {
      text[n] = a;
      values[n] = text[n].c_str();
      ++n;
    }
    return result_ptr(PQexecPrepared(conn_, statement, n, values.data(), nullptr, nullptr, 0));
  }

 private:
  void close() {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
  }
  std::string url_;
  PGconn* conn_ = nullptr;
};

bool ok(const result_ptr& r, ExecStatusType want) { return r && PQresultStatus(r.get()) == want; }

class pg_stock_impl final : public detail::remote_stock<pg_stock> {
 public:
  pg_stock_impl(stock_strategy s, std::string url, const pg_stock_config& cfg, std::uint64_t items, std::int64_t initial)
      : remote_stock(items, initial), strategy_(s), url_(std::move(url)), max_attempts_(cfg.max_attempts) {
    for (unsigned i = 0; i < cfg.connections; ++i) workers_.emplace_back([this] { run(); });
  }
  ~pg_stock_impl() override {
    stop();
    for (auto& w : workers_) w.join();
  }
  stock_strategy strategy() const override { return strategy_; }

  tl::expected<pg_stock_totals, std::string> audit_db() const override {
    pg_session s(url_);
    if (!s.ready()) return tl::unexpected(std::string("cannot connect"));
    const auto sql = fmt::format(
        "SELECT coalesce(sum(remaining), 0), coalesce(sum(sold), 0), "
        "count(*) FILTER (WHERE remaining < 0 OR remaining + sold <> {}) FROM perflab_stock WHERE item < {}",
        initial_, items());
    auto r = s.exec(sql.c_str());
    if (!ok(r, PGRES_TUPLES_OK)) return tl::unexpected(one_line(PQresultErrorMessage(r.get())));
    return pg_stock_totals{int_at(r.get(), 0, 0), int_at(r.get(), 0, 1), static_cast<std::uint64_t>(int_at(r.get(), 0, 2))};
  }

 private:
  // Each worker has its own connection and takes one buy at a time.
  void run() {
    pg_session session(url_);
    std::deque<request> one;
    while (take(one, 1)) {
      const request r = std::move(one.front());
      one.pop_front();
      buy_result res{false, true, 0, true};
      if (session.ready()) res = strategy_ == stock_strategy::pg_row_lock ? row_lock(session, r) : optimistic(session, r);
      record(r, res);
      r.done(res);
    }
  }

  // BEGIN; SELECT ... FOR UPDATE; UPDATE or nothing; COMMIT (or ROLLBACK). Any failure: error,
  // and the transaction is rolled back (a lost connection rolls it back on the server).
  buy_result row_lock(pg_session& s, const request& r) {
    const auto item = std::to_string(r.item), qty = std::to_string(r.qty);
    buy_result res{false, true, 0, true};
    if (!ok(s.exec("BEGIN"), PGRES_COMMAND_OK)) return res;
    auto locked = s.run("lock", {item});
    if (!ok(locked, PGRES_TUPLES_OK) || PQntuples(locked.get()) != 1) {
      s.exec("ROLLBACK");
      return res;
    }
    const auto left = int_at(locked.get(), 0, 0);
    if (left < r.qty) {
      s.exec("ROLLBACK");
      return {false, true, left, false};
    }
    auto taken = s.run("take", {item, qty});
    if (!ok(taken, PGRES_TUPLES_OK) || PQntuples(taken.get()) != 1) {
      s.exec("ROLLBACK");
      return res;
    }
    const auto after = int_at(taken.get(), 0, 0);
    if (!ok(s.exec("COMMIT"), PGRES_COMMAND_OK)) return res;  // not known to be committed: 503
    return {true, true, after, false};
  }

  // Read the row and its version; UPDATE only that version; no row updated: retry.
  buy_result optimistic(pg_session& s, const request& r) {
    const auto item = std::to_string(r.item), qty = std::to_string(r.qty);
    buy_result res{false, true, 0, true};
    for (unsigned attempt = 0; attempt < max_attempts_; ++attempt) {
      if (attempt > 0) retries_.fetch_add(1, std::memory_order_relaxed);
      auto read = s.run("read", {item});
      if (!ok(read, PGRES_TUPLES_OK) || PQntuples(read.get()) != 1) return res;
      const auto left = int_at(read.get(), 0, 0);
      if (left < r.qty) return {false, true, left, false};
      auto cas = s.run("cas", {item, qty, PQgetvalue(read.get(), 0, 1)});
      if (!ok(cas, PGRES_TUPLES_OK)) return res;
      if (PQntuples(cas.get()) == 1) return {true, true, int_at(cas.get(), 0, 0), false};
    }
    return res;  // lost the race max_attempts times: 503 rather than spin on
  }

  const stock_strategy strategy_;
  const std::string url_;
  const unsigned max_attempts_;
  std::vector<std::thread> workers_;
};

}  // namespace

tl::expected<std::unique_ptr<pg_stock>, std::string> make_pg_stock(stock_strategy strategy, const pg_stock_config& cfg,
                                                                   std::uint64_t items, std::int64_t initial) {
  if (strategy != stock_strategy::pg_row_lock && strategy != stock_strategy::pg_optimistic)
    return tl::unexpected(fmt::format("{} is not a PostgreSQL strategy", to_string(strategy)));
  if (cfg.connections == 0) return tl::unexpected(std::string("at least one connection is needed"));
  std::string url;
  try {
    url = db::bounded_url(cfg.url);
  } catch (const std::exception& e) {  // db::unavailable, worded for --db: keep the why
    std::string_view why = e.what();
    if (why.starts_with("--db: ")) why.remove_prefix(6);
    return tl::unexpected(std::string(why));
  }
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    auto why = one_line(PQerrorMessage(c));
    PQfinish(c);
    return tl::unexpected(fmt::format("cannot connect to {}: {}", cfg.url, why));
  }
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);  // "relation perflab_stock already exists"
  const auto reset = fmt::format(
      "BEGIN; DELETE FROM perflab_stock; INSERT INTO perflab_stock SELECT g, {}, 0, 0 FROM generate_series(0, {}) g; "
      "COMMIT",
      initial, items - 1);
  std::string why;
  for (const char* sql : {schema_sql, reset.c_str()}) {
    result_ptr r(PQexec(c, sql));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      why = one_line(PQresultErrorMessage(r.get()));
      break;
    }
  }
  PQfinish(c);
  if (!why.empty()) return tl::unexpected(fmt::format("{}: cannot set up the perflab_stock table: {}", cfg.url, why));
  return std::make_unique<pg_stock_impl>(strategy, std::move(url), cfg, items, initial);
}

}  // namespace perflab::contention
