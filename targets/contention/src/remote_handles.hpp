#pragma once
// Internal to the contention strategies that talk to a remote store: owning handles for a libpq
// result and a hiredis reply, so every exit path frees them.
#include <memory>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

namespace perflab::contention::detail {

struct pg_result_deleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, pg_result_deleter>;

struct redis_reply_deleter {
  void operator()(void* r) const noexcept { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, redis_reply_deleter>;

}  // namespace perflab::contention::detail
