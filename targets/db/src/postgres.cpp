#include <perflab/db/postgres.hpp>

#include <cerrno>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>

#include <perflab/core/resolve.hpp>
#include <perflab/db/service.hpp>

namespace perflab::db {

namespace {

constexpr const char* sleep_sql = "SELECT pg_sleep($1::float8 / 1000000)";
constexpr const char* item_sql = "SELECT price_cents FROM items WHERE id = $1";
// Created and filled at start when missing; the same rows as the simulated database's.
constexpr const char* schema_sql =
    "CREATE TABLE IF NOT EXISTS items (id bigint PRIMARY KEY, name text NOT NULL, price_cents bigint NOT NULL);"
    "INSERT INTO items SELECT g, 'item-' || g, (g * 7919) % 10000 FROM generate_series(1, 1000) g "
    "ON CONFLICT DO NOTHING";

class pg_connection final : public connection {
 public:
  pg_connection(PGconn* c, std::string url) : conn_(c), url_(std::move(url)) {}
  ~pg_connection() override { PQfinish(conn_); }
  PGconn* get() const noexcept { return conn_; }

  // An idle connection has nothing to read: readable means the server sent something on its own
  // (a terminated backend's FATAL error, then EOF). Consumed here without blocking.
  bool alive() noexcept override {
    if (PQstatus(conn_) != CONNECTION_OK) return false;
    const int fd = PQsocket(conn_);
    for (int i = 0; i < 3; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) return true;
      char b;
      if (::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) return false;  // EOF
      if (!PQconsumeInput(conn_) || PQstatus(conn_) != CONNECTION_OK) return false;
    }
    return PQstatus(conn_) == CONNECTION_OK;
  }

  // pg_terminate_backend from a separate, short-lived connection (a test hook; blocking). On
  // PostgreSQL 14 and later it waits (up to 5 s) until the backend has exited, so its socket is
  // closed when the hook answers; older servers only have the form that signals and returns.
  void terminate() noexcept override { terminate_later()(); }
  std::function<void()> terminate_later() override {
    return [url = url_, pid = std::to_string(PQbackendPID(conn_))]() noexcept {
      PGconn* admin = PQconnectdb(url.c_str());
      if (PQstatus(admin) == CONNECTION_OK) {
        const char* values[] = {pid.c_str()};
        PGresult* r = PQexecParams(admin, "SELECT pg_terminate_backend($1::int, 5000)", 1, nullptr, values, nullptr,
                                   nullptr, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
          PQclear(r);
          r = PQexecParams(admin, "SELECT pg_terminate_backend($1::int)", 1, nullptr, values, nullptr, nullptr, 0);
        }
        PQclear(r);
      }
      PQfinish(admin);
    };
  }

  // The query in flight.
  query q;
  bool flushing = false;
  std::string param;

 private:
  PGconn* conn_;
  std::string url_;
};

// PQconnectPoll's answer as a wait. done with c reset on failure.
wait_for open_wait(std::unique_ptr<connection>& c, PostgresPollingStatusType st) {
  auto* pg = static_cast<pg_connection*>(c.get());
  switch (st) {
    case PGRES_POLLING_READING: return wait_for::readable(PQsocket(pg->get()));
    case PGRES_POLLING_WRITING: return wait_for::writable(PQsocket(pg->get()));
    case PGRES_POLLING_OK:
      PQsetnonblocking(pg->get(), 1);
      return wait_for::done();
    default:
      c.reset();
      return wait_for::done();
  }
}

// Reads the finished query's results into r.
void collect(pg_connection& pg, result& r) {
  r.what = outcome::ok;
  r.body.clear();
  bool got = false;
  while (PGresult* res = PQgetResult(pg.get())) {
    const auto st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      r.what = outcome::failed;
    } else if (pg.q.what == query::kind::item) {
      if (PQntuples(res) == 0) {
        r.what = outcome::not_found;
      } else {
        got = true;
        item_json(pg.q.id, std::strtoll(PQgetvalue(res, 0, 0), nullptr, 10), r.body);
      }
    }
    PQclear(res);
  }
  if (PQstatus(pg.get()) != CONNECTION_OK) {
    r.what = outcome::lost;
    return;
  }
  if (r.what == outcome::ok && pg.q.what == query::kind::sleep) r.body = "queried " + std::to_string(pg.q.service.count()) + " us\n";
  if (r.what == outcome::ok && pg.q.what == query::kind::item && !got) r.what = outcome::not_found;
}

wait_for lost(result& r) {
  r.what = outcome::lost;
  r.body.clear();
  return wait_for::done();
}

class pg_database final : public database {
 public:
  explicit pg_database(std::string url) : url_(std::move(url)) {}
  std::string_view name() const noexcept override { return "postgres"; }

  std::unique_ptr<connection> open_blocking() override {
    PGconn* c = PQconnectdb(url_.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      PQfinish(c);
      return nullptr;
    }
    PQsetnonblocking(c, 1);  // PQexecParams blocks anyway; the event loops need it non-blocking
    return std::make_unique<pg_connection>(c, url_);
  }

  wait_for start_open(std::unique_ptr<connection>& c, std::int64_t) override {
    PGconn* pc = PQconnectStart(url_.c_str());
    if (!pc) return wait_for::done();
    c = std::make_unique<pg_connection>(pc, url_);
    if (PQstatus(pc) == CONNECTION_BAD) {
      c.reset();
      return wait_for::done();
    }
    return open_wait(c, PGRES_POLLING_WRITING);  // libpq: start as if the poll asked for writing
  }

  wait_for resume_open(std::unique_ptr<connection>& c, std::int64_t) override {
    return open_wait(c, PQconnectPoll(static_cast<pg_connection&>(*c).get()));
  }

  wait_for start_query(connection& c, const query& q, result& r, std::int64_t) override {
    auto& pg = static_cast<pg_connection&>(c);
    pg.q = q;
    pg.param = std::to_string(q.what == query::kind::item ? q.id : static_cast<std::uint64_t>(q.service.count()));
    const char* values[] = {pg.param.c_str()};
    const char* sql = q.what == query::kind::item ? item_sql : sleep_sql;
    if (!PQsendQueryParams(pg.get(), sql, 1, nullptr, values, nullptr, nullptr, 0)) {
      if (PQstatus(pg.get()) != CONNECTION_OK) return lost(r);
      r.what = outcome::failed;
      return wait_for::done();
    }
    pg.flushing = true;
    return resume_query(c, r, 0);
  }

  wait_for resume_query(connection& c, result& r, std::int64_t) override {
    auto& pg = static_cast<pg_connection&>(c);
    if (pg.flushing) {
      const int f = PQflush(pg.get());
      if (f < 0) return lost(r);
      if (f > 0) return wait_for::writable(PQsocket(pg.get()));
      pg.flushing = false;
      return wait_for::readable(PQsocket(pg.get()));
    }
    if (!PQconsumeInput(pg.get())) return lost(r);
    if (PQisBusy(pg.get())) return wait_for::readable(PQsocket(pg.get()));
    collect(pg, r);
    return wait_for::done();
  }

  // libpq's blocking API.
  void query_blocking(connection& c, const query& q, result& r) override {
    auto& pg = static_cast<pg_connection&>(c);
    pg.q = q;
    pg.param = std::to_string(q.what == query::kind::item ? q.id : static_cast<std::uint64_t>(q.service.count()));
    const char* values[] = {pg.param.c_str()};
    PGresult* res = PQexecParams(pg.get(), q.what == query::kind::item ? item_sql : sleep_sql, 1, nullptr, values,
                                 nullptr, nullptr, 0);
    if (!res) {
      lost(r);
      return;
    }
    const auto st = PQresultStatus(res);
    r.body.clear();
    r.what = st == PGRES_TUPLES_OK ? outcome::ok : outcome::failed;
    if (r.what == outcome::ok && q.what == query::kind::item) {
      if (PQntuples(res) == 0) r.what = outcome::not_found;
      else item_json(q.id, std::strtoll(PQgetvalue(res, 0, 0), nullptr, 10), r.body);
    }
    PQclear(res);
    if (PQstatus(pg.get()) != CONNECTION_OK) r.what = outcome::lost;
    if (r.what == outcome::ok && q.what == query::kind::sleep) r.body = "queried " + std::to_string(q.service.count()) + " us\n";
  }

 private:
  std::string url_;
};

}  // namespace

std::string bounded_url(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (!opts) {
    std::string why = err ? err : "out of memory";
    PQfreemem(err);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    throw unavailable("--db: " + url + ": " + why);
  }
  std::map<std::string, std::string, std::less<>> set;
  for (auto* o = opts; o->keyword; ++o)
    if (o->val && *o->val) set.emplace(o->keyword, o->val);
  PQconninfoFree(opts);
  std::string out = url;
  const auto add = [&](std::string_view key, std::string_view value) {
    if (set.contains(key)) return;
    out += out.find('?') == std::string::npos ? '?' : '&';
    out.append(key).append("=").append(value);
  };
  // One host, by name: resolved now. Lists, socket directories and numeric hosts are left as given.
  if (const auto h = set.find("host"); h != set.end() && !h->second.starts_with('/') &&
                                       h->second.find(',') == std::string::npos && !net::is_numeric_host(h->second)) {
    auto address = net::numeric_host(h->second);
    if (!address) throw unavailable("--db: " + url + ": " + address.error());
    add("hostaddr", *address);
  }
  add("connect_timeout", "5");
  add("keepalives", "1");
  add("keepalives_idle", "5");
  add("keepalives_interval", "2");
  add("keepalives_count", "3");
  add("tcp_user_timeout", "10000");
  return out;
}

std::unique_ptr<database> make_postgres(const std::string& user_url) {
  const std::string url = bounded_url(user_url);
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = PQerrorMessage(c);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    for (auto& ch : why)
      if (ch == '\n' || ch == '\t') ch = ' ';
    PQfinish(c);
    throw unavailable("--db: cannot connect to " + user_url + ": " + why);
  }
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);  // "relation items already exists"
  PGresult* res = PQexec(c, schema_sql);
  const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  std::string why = ok ? "" : PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(c);
  if (!ok) throw unavailable("--db: " + user_url + ": cannot create the items table: " + why);
  return std::make_unique<pg_database>(url);
}

}  // namespace perflab::db
