#pragma once
// Internal to the contention parts that talk to a remote store: owning handles for a libpq
// result and a hiredis reply, so every exit path frees them, and the one way each part connects.
#include <memory>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <perflab/contention/stock_redis.hpp>

namespace perflab::contention::detail {

struct pg_result_deleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, pg_result_deleter>;

struct redis_reply_deleter {
  void operator()(void* r) const noexcept { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, redis_reply_deleter>;

// A hiredis connection to `where` with where.timeout on the connect and on every reply after it
// (SO_RCVTIMEO/SO_SNDTIMEO), so no command blocks longer; null when it cannot connect (`why`, if
// given, says why). Every Redis-backed part connects through this.
redisContext* redis_connect(const redis_stock_config& where, std::string* why = nullptr);

// libpq's message on one line, without its trailing newline.
std::string pg_message_line(const char* msg);

// Start-up of a PostgreSQL-backed part: the URL its connections use (db::bounded_url of `url`),
// after one connection ran `setup_sql` (schema, reset); else why not: "cannot connect to URL: ..."
// or "URL: cannot <what>: ...".
tl::expected<std::string, std::string> prepare_postgres(const std::string& url, const char* setup_sql,
                                                        std::string_view what);

}  // namespace perflab::contention::detail
