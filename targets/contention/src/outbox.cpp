// The outbox's set-up, its order writers and its counts (outbox_parts.hpp; the relays are in
// outbox_relay.cpp, the consumer in outbox_consumer.cpp).
#include "perflab/contention/outbox.hpp"

#include "outbox_parts.hpp"

#include <array>
#include <cstdlib>
#include <future>

#include <fmt/format.h>


namespace perflab::contention {

namespace {

using detail::result_ptr;

constexpr const char* outbox_schema_sql =
    "CREATE TABLE IF NOT EXISTS perflab_orders (id bigserial PRIMARY KEY, "
    "created_at timestamptz NOT NULL DEFAULT clock_timestamp()); "
    "CREATE TABLE IF NOT EXISTS perflab_outbox (id bigserial PRIMARY KEY, order_id bigint NOT NULL, "
    "payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp(), sent_at timestamptz); "
    "CREATE INDEX IF NOT EXISTS perflab_outbox_unsent ON perflab_outbox (id) WHERE sent_at IS NULL; "
    "CREATE INDEX IF NOT EXISTS perflab_outbox_sent ON perflab_outbox (sent_at); "
    "TRUNCATE perflab_orders, perflab_outbox RESTART IDENTITY";

// Every statement, prepared on every connection (each thread uses its own few).
// One statement is one transaction: the order and its event are both written, or neither.
constexpr std::array<std::pair<const char*, const char*>, 6> outbox_statements{{
    {"order",
     "WITH o AS (INSERT INTO perflab_orders DEFAULT VALUES RETURNING id) "
     "INSERT INTO perflab_outbox (order_id, payload) SELECT id, '{\"order\":' || id || '}' FROM o "
     "RETURNING order_id, id"},
    {"claim",
     "SELECT id, order_id, payload FROM perflab_outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1 "
     "FOR UPDATE SKIP LOCKED"},
    {"mark", "UPDATE perflab_outbox SET sent_at = clock_timestamp() WHERE id = ANY($1::bigint[])"},
    {"unsent", "SELECT id FROM perflab_outbox WHERE sent_at IS NULL"},
    // committed, unsent, and the cutoff before which every event marked sent must have arrived.
    {"audit",
     "SELECT count(*), count(*) FILTER (WHERE sent_at IS NULL), "
     "clock_timestamp() - $1::bigint * interval '1 millisecond' FROM perflab_outbox"},
    {"marked", "SELECT id FROM perflab_outbox WHERE sent_at >= $1::timestamptz AND sent_at < $2::timestamptz"},
}};

}  // namespace

std::string_view to_string(outbox_mode m) noexcept {
  return m == outbox_mode::at_most_once ? "at-most-once" : "at-least-once";
}

std::optional<outbox_mode> parse_outbox_mode(std::string_view s) noexcept {
  if (s == "at-least-once") return outbox_mode::at_least_once;
  if (s == "at-most-once") return outbox_mode::at_most_once;
  return std::nullopt;
}

std::string_view to_string(relay_step s) noexcept {
  switch (s) {
    case relay_step::claim: return "claim";
    case relay_step::publish: return "publish";
    case relay_step::commit: return "commit";
    case relay_step::midway: return "midway";
    case relay_step::any: break;
  }
  return "any";
}

std::optional<relay_step> parse_relay_step(std::string_view s) noexcept {
  for (auto v : {relay_step::any, relay_step::claim, relay_step::publish, relay_step::commit, relay_step::midway})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

outbox_order outbox::create_order() {
  std::promise<outbox_order> p;
  auto f = p.get_future();
  create_order_async([&p](outbox_order o) { p.set_value(o); });
  return f.get();
}

namespace detail {

bool outbox_pg::ready() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) return true;
  close();
  conn_ = PQconnectdb(url_.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) return close(), false;
  for (const auto& [name, sql] : outbox_statements) {
    result_ptr r(PQprepare(conn_, name, sql, 0, nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return close(), false;
  }
  return true;
}

result_ptr outbox_pg::run(const char* statement, std::initializer_list<const char*> args) {
  std::array<const char*, 4> values{};
  int n = 0;
  for (auto a : args) values[static_cast<std::size_t>(n++)] = a;
  return result_ptr(PQexecPrepared(conn_, statement, n, values.data(), nullptr, nullptr, 0));
}

redisContext* outbox_redis::ready() {
  if (c_ && !c_->err) return c_;
  close();
  c_ = redis_connect(where_);
  return c_;
}

outbox_impl::outbox_impl(outbox_config cfg, std::string pg_url, redis_stock_config redis)
    : cfg_(std::move(cfg)), pg_url_(std::move(pg_url)), redis_(std::move(redis)) {
  for (unsigned i = 0; i < cfg_.writers; ++i) writers_.emplace_back([this] { writer_loop(); });
  consumer_ = std::thread([this] { consumer_loop(); });
  std::lock_guard lock(rm_);
  if (cfg_.relays > 0) start_relays(false);
}

outbox_impl::~outbox_impl() {
  {
    std::lock_guard lock(rm_);
    relays_stop_ = true;
  }
  rcv_.notify_all();
  for (auto& t : relays_) t.join();
  {
    std::lock_guard lock(wm_);
    writers_stop_ = true;
  }
  wcv_.notify_all();
  for (auto& t : writers_) t.join();
  consumer_stop_.store(true, std::memory_order_release);
  ccv_.notify_all();
  consumer_.join();
}

void outbox_impl::create_order_async(std::function<void(outbox_order)> done) {
  {
    std::lock_guard lock(wm_);
    queue_.push_back(std::move(done));
  }
  wcv_.notify_one();
}

void outbox_impl::writer_loop() {
  outbox_pg pg(pg_url_);
  for (;;) {
    std::function<void(outbox_order)> done;
    {
      std::unique_lock lock(wm_);
      wcv_.wait(lock, [&] { return writers_stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every queued order answered
      done = std::move(queue_.front());
      queue_.pop_front();
    }
    outbox_order o;
    o.error = true;
    if (pg.ready()) {
      auto r = pg.run("order", {});
      if (PQresultStatus(r.get()) == PGRES_TUPLES_OK && PQntuples(r.get()) == 1) {
        o.order = std::strtoull(PQgetvalue(r.get(), 0, 0), nullptr, 10);
        o.event = std::strtoull(PQgetvalue(r.get(), 0, 1), nullptr, 10);
        o.error = false;
      }  // else: refused (503); a lost connection is opened again for the next order
    }
    (o.error ? order_errors_ : orders_).fetch_add(1, std::memory_order_relaxed);
    done(o);
  }
}

unsigned outbox_impl::start_relays(bool restart) {
  if (up_ > 0 || relays_stop_) return 0;
  for (auto& t : relays_) t.join();  // dead ones: each returned right after saying so
  relays_.clear();
  const unsigned n = std::max(1u, cfg_.relays);
  if (restart) {
    restarts_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(cm_);
    restart_at_ = std::chrono::steady_clock::now();
    recovering_ = true;
    recovery_s_ = -1;
    snapshot_pending_ = true;  // relay 0 reads the backlog before any relay claims a row
  }
  up_ = n;
  for (unsigned i = 0; i < n; ++i) relays_.emplace_back([this, i, restart] { relay_loop(i, restart); });
  return n;
}

unsigned outbox_impl::start_relay() {
  std::lock_guard lock(rm_);
  return start_relays(true);
}

unsigned outbox_impl::crash_relay(relay_step after) {
  {
    std::lock_guard lock(rm_);
    if (up_ == 0) return 0;
    crash_at_ = after;
  }
  rcv_.notify_all();  // an idle relay dies at once when any step will do
  std::lock_guard lock(rm_);
  return up_;
}

outbox_stats outbox_impl::stats() const {
  outbox_stats s;
  s.orders = orders_.load(std::memory_order_relaxed);
  s.order_errors = order_errors_.load(std::memory_order_relaxed);
  s.rounds = rounds_.load(std::memory_order_relaxed);
  s.published = published_.load(std::memory_order_relaxed);
  s.marked = marked_.load(std::memory_order_relaxed);
  s.relay_errors = relay_errors_.load(std::memory_order_relaxed);
  s.crashes = crashes_.load(std::memory_order_relaxed);
  s.restarts = restarts_.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(rm_);
    s.relays_up = up_;
  }
  std::lock_guard lock(cm_);
  s.entries = entries_;
  s.consumed = seen_.size();
  s.duplicates = duplicates_;
  s.committed = committed_;
  s.backlog = backlog_;
  s.lost = lost_;
  s.audits = audits_;
  s.backlog_at_restart = backlog_at_restart_;
  s.recovery_s = recovery_s_;
  s.recovering = recovering_;
  return s;
}

}  // namespace detail

tl::expected<std::unique_ptr<outbox>, std::string> make_outbox(const outbox_config& cfg) {
  if (cfg.writers == 0) return tl::unexpected(std::string("at least one writer connection is needed"));
  if (cfg.batch == 0) return tl::unexpected(std::string("a relay batch of at least one event is needed"));
  const auto where = parse_stock_redis_url(cfg.redis_url);
  if (!where) return tl::unexpected("expected redis://HOST[:PORT] for the stream, got '" + cfg.redis_url + "'");
  auto url = detail::prepare_postgres(cfg.db_url, outbox_schema_sql, "set up perflab_orders and perflab_outbox");
  if (!url) return tl::unexpected(url.error());
  detail::outbox_redis redis(*where);
  auto* ctx = redis.ready();
  if (!ctx) return tl::unexpected(fmt::format("cannot connect to {}", cfg.redis_url));
  detail::reply_ptr del(static_cast<redisReply*>(redisCommand(ctx, "DEL %b", cfg.stream.data(), cfg.stream.size())));
  if (!del || del->type != REDIS_REPLY_INTEGER)
    return tl::unexpected(fmt::format("{}: cannot delete the stream {}", cfg.redis_url, cfg.stream));
  return std::make_unique<detail::outbox_impl>(cfg, std::move(*url), *where);
}

}  // namespace perflab::contention
