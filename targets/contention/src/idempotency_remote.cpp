#include "perflab/contention/idempotency_remote.hpp"

#include "remote_handles.hpp"
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <fmt/format.h>

#include <perflab/contention/stock_redis.hpp>

namespace perflab::contention {

namespace {

using detail::reply_ptr;
using detail::result_ptr;

using verdict = idempotency_store::verdict;
using stored_response = idempotency_store::stored_response;

// What begin() found: the verdict, and for a replay the stored response.
struct begun {
  verdict v = verdict::first;
  stored_response stored;
};

// One worker's connection to the store.
class store_conn {
 public:
  virtual ~store_conn() = default;
  virtual bool ready() = 0;                                      // connected (again, if it was lost)
  virtual std::optional<begun> begin(const std::string& key, std::uint64_t fp) = 0;  // nullopt: failed
  virtual bool complete(const std::string& key, std::uint64_t fp, const stored_response& r) = 0;
  virtual std::uint64_t expired() { return 0; }                  // stale keys it took over since the last call
};

// ---- Redis ----------------------------------------------------------------------------------

// KEYS[1] the key, ARGV[1] "<fp>|-", ARGV[2] the lease (ms): the stored value, or nil when the
// key was free and is now taken (in flight).
constexpr std::string_view begin_script =
    "local v = redis.call('GET', KEYS[1]) "
    "if v then return v end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "return false";

class redis_conn final : public store_conn {
 public:
  redis_conn(redis_stock_config where, const remote_idempotency_config& cfg)
      : where_(std::move(where)),
        ttl_ms_(std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(cfg.ttl).count())),
        lease_ms_(cfg.inflight_lease.count()) {}
  ~redis_conn() override { close(); }
  bool ready() override {
    if (c_ && !c_->err) return true;
    close();
    c_ = detail::redis_connect(where_);
    return c_ != nullptr;
  }
  std::optional<begun> begin(const std::string& key, std::uint64_t fp) override {
    const auto k = "perflab:idem:" + key, mark = fmt::format("{}|-", fp), lease = std::to_string(lease_ms_);
    reply_ptr r(static_cast<redisReply*>(redisCommand(c_, "EVAL %b 1 %b %b %b", begin_script.data(), begin_script.size(),
                                                      k.data(), k.size(), mark.data(), mark.size(), lease.data(),
                                                      lease.size())));
    if (!r) return std::nullopt;
    if (r->type == REDIS_REPLY_NIL) return begun{};
    if (r->type != REDIS_REPLY_STRING) return std::nullopt;
    // "<fp>|-" in flight, "<fp>|<status>|<body>" done.
    const std::string_view v(r->str, r->len);
    const auto bar = v.find('|');
    std::uint64_t stored_fp = 0;
    if (bar == std::string_view::npos || std::from_chars(v.data(), v.data() + bar, stored_fp).ec != std::errc{})
      return std::nullopt;
    const auto rest = v.substr(bar + 1);
    if (stored_fp != fp) return begun{verdict::mismatch, {}};
    if (rest == "-") return begun{verdict::in_flight, {}};
    const auto bar2 = rest.find('|');
    int status = 0;
    if (bar2 == std::string_view::npos || std::from_chars(rest.data(), rest.data() + bar2, status).ec != std::errc{})
      return std::nullopt;
    return begun{verdict::replay, {status, std::string(rest.substr(bar2 + 1))}};
  }
  bool complete(const std::string& key, std::uint64_t fp, const stored_response& s) override {
    const auto k = "perflab:idem:" + key, value = fmt::format("{}|{}|{}", fp, s.status, s.body);
    const auto ttl = std::to_string(ttl_ms_);
    reply_ptr r(static_cast<redisReply*>(
        redisCommand(c_, "SET %b %b PX %b", k.data(), k.size(), value.data(), value.size(), ttl.data(), ttl.size())));
    return r && r->type == REDIS_REPLY_STATUS;
  }

 private:
  void close() {
    if (c_) redisFree(c_);
    c_ = nullptr;
  }
  redis_stock_config where_;
  std::int64_t ttl_ms_, lease_ms_;
  redisContext* c_ = nullptr;
};

// ---- PostgreSQL -----------------------------------------------------------------------------

constexpr const char* pg_schema_sql =
    "CREATE TABLE IF NOT EXISTS perflab_idempotency (key text PRIMARY KEY, fingerprint bigint NOT NULL, "
    "status int, body text, started_at timestamptz NOT NULL, expires_at timestamptz)";
// A row is stale when done and past its expiry, or in flight for longer than the lease ($2 ms).
#define PERFLAB_STALE                                                 \
  "((status IS NOT NULL AND expires_at <= clock_timestamp()) OR "     \
  "(status IS NULL AND started_at <= clock_timestamp() - $2::bigint * interval '1 millisecond'))"
constexpr const char* pg_insert_sql =
    "INSERT INTO perflab_idempotency (key, fingerprint, started_at) VALUES ($1, $2, clock_timestamp()) "
    "ON CONFLICT (key) DO NOTHING";
constexpr const char* pg_read_sql = "SELECT fingerprint, status, body, " PERFLAB_STALE
                                    " FROM perflab_idempotency WHERE key = $1";
constexpr const char* pg_drop_stale_sql = "DELETE FROM perflab_idempotency WHERE key = $1 AND " PERFLAB_STALE;
#undef PERFLAB_STALE
constexpr const char* pg_done_sql =
    "UPDATE perflab_idempotency SET status = $2, body = $3, "
    "expires_at = clock_timestamp() + $4::bigint * interval '1 millisecond' WHERE key = $1";

class pg_conn final : public store_conn {
 public:
  pg_conn(std::string url, const remote_idempotency_config& cfg)
      : url_(std::move(url)),
        ttl_ms_(std::to_string(std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(cfg.ttl).count()))),
        lease_ms_(std::to_string(cfg.inflight_lease.count())) {}
  ~pg_conn() override { close(); }
  bool ready() override {
    if (c_ && PQstatus(c_) == CONNECTION_OK) return true;
    close();
    c_ = PQconnectdb(url_.c_str());
    if (PQstatus(c_) != CONNECTION_OK) return close(), false;
    for (auto [name, sql] : {std::pair{"ins", pg_insert_sql}, {"read", pg_read_sql}, {"drop", pg_drop_stale_sql},
                             {"done", pg_done_sql}}) {
      result_ptr r(PQprepare(c_, name, sql, 0, nullptr));
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return close(), false;
    }
    return true;
  }
  std::optional<begun> begin(const std::string& key, std::uint64_t fp) override {
    const auto fps = std::to_string(static_cast<std::int64_t>(fp));  // bigint holds the bits
    // A free key is taken by the INSERT; a taken one is read; a stale one dropped and tried again
    // (twice at most: a concurrent request may take it first, and then it is simply taken).
    for (int round = 0; round < 3; ++round) {
      auto ins = run("ins", {key.c_str(), fps.c_str()});
      if (PQresultStatus(ins.get()) != PGRES_COMMAND_OK) return std::nullopt;
      if (std::string_view(PQcmdTuples(ins.get())) == "1") return begun{};
      auto row = run("read", {key.c_str(), lease_ms_.c_str()});
      if (PQresultStatus(row.get()) != PGRES_TUPLES_OK) return std::nullopt;
      if (PQntuples(row.get()) == 0) continue;  // dropped meanwhile: try to take it
      if (*PQgetvalue(row.get(), 0, 3) == 't') {
        auto drop = run("drop", {key.c_str(), lease_ms_.c_str()});
        if (PQresultStatus(drop.get()) != PGRES_COMMAND_OK) return std::nullopt;
        expired_ += std::string_view(PQcmdTuples(drop.get())) == "1";
        continue;
      }
      if (fps != PQgetvalue(row.get(), 0, 0)) return begun{verdict::mismatch, {}};
      if (PQgetisnull(row.get(), 0, 1)) return begun{verdict::in_flight, {}};
      return begun{verdict::replay, {std::atoi(PQgetvalue(row.get(), 0, 1)), PQgetvalue(row.get(), 0, 2)}};
    }
    return std::nullopt;
  }
  bool complete(const std::string& key, std::uint64_t, const stored_response& s) override {
    const auto status = std::to_string(s.status);
    auto r = run("done", {key.c_str(), status.c_str(), s.body.c_str(), ttl_ms_.c_str()});
    return PQresultStatus(r.get()) == PGRES_COMMAND_OK;
  }
  std::uint64_t expired() override { return std::exchange(expired_, 0); }

 private:
  result_ptr run(const char* statement, std::initializer_list<const char*> args) {
    std::array<const char*, 4> values{};
    std::size_t n = 0;
    for (auto a : args) values[n++] = a;
    return result_ptr(PQexecPrepared(c_, statement, static_cast<int>(n), values.data(), nullptr, nullptr, 0));
  }
  void close() {
    if (c_) PQfinish(c_);
    c_ = nullptr;
  }
  std::string url_, ttl_ms_, lease_ms_;
  PGconn* c_ = nullptr;
  std::uint64_t expired_ = 0;
};

// ---- the workers ----------------------------------------------------------------------------

class worker_store final : public remote_idempotency {
 public:
  using conn_factory = std::function<std::unique_ptr<store_conn>()>;
  worker_store(std::string_view kind, unsigned workers, conn_factory make) : kind_(kind) {
    for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this, c = make()]() mutable { run(*c); });
  }
  ~worker_store() override {
    {
      std::lock_guard lock(m_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  void run_async(std::string key, std::uint64_t fp, work_fn work, std::function<void(keyed_result)> done) override {
    {
      std::lock_guard lock(m_);
      queue_.push_back(request{std::move(key), fp, std::move(work), std::move(done)});
    }
    cv_.notify_one();
  }
  idempotency_store::stats_t stats() const override {
    return {first_.load(std::memory_order_relaxed), replays_.load(std::memory_order_relaxed),
            in_flight_.load(std::memory_order_relaxed), mismatches_.load(std::memory_order_relaxed),
            expired_.load(std::memory_order_relaxed)};
  }
  std::string_view kind() const noexcept override { return kind_; }

 private:
  struct request {
    std::string key;
    std::uint64_t fp;
    work_fn work;
    std::function<void(keyed_result)> done;
  };
  void run(store_conn& c) {
    for (;;) {
      request r;
      {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        r = std::move(queue_.front());
        queue_.pop_front();
      }
      keyed_result res;
      res.error = true;
      if (c.ready()) {
        if (auto b = c.begin(r.key, r.fp)) {
          res.error = false;
          res.verdict = b->v;
          res.response = std::move(b->stored);
          count(b->v);
          if (b->v == verdict::first) {
            try {
              res.response = r.work();
              // Not stored (the store failed after the work): the client still gets its order;
              // the key stays in flight until its lease ends.
              c.complete(r.key, r.fp, res.response);
            } catch (...) {  // no memory for the response: 503; the key stays in flight (lease)
              res.error = true;
            }
          }
        }
        expired_.fetch_add(c.expired(), std::memory_order_relaxed);
      }
      r.done(std::move(res));
    }
  }
  void count(verdict v) {
    switch (v) {
      case verdict::first: first_.fetch_add(1, std::memory_order_relaxed); break;
      case verdict::replay: replays_.fetch_add(1, std::memory_order_relaxed); break;
      case verdict::in_flight: in_flight_.fetch_add(1, std::memory_order_relaxed); break;
      case verdict::mismatch: mismatches_.fetch_add(1, std::memory_order_relaxed); break;
    }
  }

  std::string_view kind_;
  std::atomic<std::uint64_t> first_{0}, replays_{0}, in_flight_{0}, mismatches_{0}, expired_{0};
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<request> queue_;  // guarded by m_
  bool stopping_ = false;      // guarded by m_
  std::vector<std::thread> workers_;
};

}  // namespace

tl::expected<std::unique_ptr<remote_idempotency>, std::string> make_remote_idempotency(const remote_idempotency_config& cfg) {
  if (cfg.workers == 0) return tl::unexpected(std::string("at least one worker is needed"));
  if (cfg.url.starts_with("redis://")) {
    const auto where = parse_stock_redis_url(cfg.url);
    if (!where) return tl::unexpected("expected redis://HOST[:PORT], got '" + cfg.url + "'");
    redis_conn probe(*where, cfg);
    if (!probe.ready()) return tl::unexpected(fmt::format("cannot connect to {}", cfg.url));
    return std::make_unique<worker_store>("redis", cfg.workers,
                                          [where = *where, cfg] { return std::make_unique<redis_conn>(where, cfg); });
  }
  if (cfg.url.starts_with("postgres://") || cfg.url.starts_with("postgresql://")) {
    auto prepared = detail::prepare_postgres(cfg.url, pg_schema_sql, "create perflab_idempotency");
    if (!prepared) return tl::unexpected(prepared.error());
    std::string url = std::move(*prepared);
    return std::make_unique<worker_store>("postgres", cfg.workers,
                                          [url, cfg] { return std::make_unique<pg_conn>(url, cfg); });
  }
  return tl::unexpected("expected memory, redis://HOST[:PORT] or postgres://..., got '" + cfg.url + "'");
}

}  // namespace perflab::contention
