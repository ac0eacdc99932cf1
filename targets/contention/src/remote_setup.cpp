// The start-up shared by the parts kept in PostgreSQL (the idempotency keys and the outbox) and
// the connect shared by those kept in Redis (remote_handles.hpp).
#include "remote_handles.hpp"

#include <fmt/format.h>

#include <perflab/db/postgres.hpp>

namespace perflab::contention::detail {

redisContext* redis_connect(const redis_stock_config& where, std::string* why) {
  const timeval tv{static_cast<time_t>(where.timeout.count() / 1000),
                   static_cast<suseconds_t>(where.timeout.count() % 1000 * 1000)};
  redisContext* c = redisConnectWithTimeout(where.host.c_str(), where.port, tv);
  if (!c || c->err) {
    if (why) *why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, tv);
  return c;
}

std::string pg_message_line(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  return s;
}

tl::expected<std::string, std::string> prepare_postgres(const std::string& url, const char* setup_sql,
                                                        std::string_view what) {
  std::string bounded;
  try {
    bounded = db::bounded_url(url);
  } catch (const std::exception& e) {  // worded for --db: keep the why
    std::string_view why = e.what();
    if (why.starts_with("--db: ")) why.remove_prefix(6);
    return tl::unexpected(std::string(why));
  }
  PGconn* c = PQconnectdb(bounded.c_str());
  std::string why;
  if (PQstatus(c) != CONNECTION_OK) {
    why = fmt::format("cannot connect to {}: {}", url, pg_message_line(PQerrorMessage(c)));
  } else {
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);  // "relation ... already exists"
    result_ptr r(PQexec(c, setup_sql));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      why = fmt::format("{}: cannot {}: {}", url, what, pg_message_line(PQresultErrorMessage(r.get())));
  }
  PQfinish(c);
  if (!why.empty()) return tl::unexpected(why);
  return bounded;
}

}  // namespace perflab::contention::detail
