// The start-up shared by the parts kept in PostgreSQL (remote_handles.hpp): the idempotency keys
// and the outbox.
#include "remote_handles.hpp"

#include <fmt/format.h>

#include <perflab/db/postgres.hpp>

namespace perflab::contention::detail {

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
