#pragma once
// Internal to the Redis clients: a request as a hiredis argv, and a reply as a remote_status.
#include <array>
#include <cstddef>
#include <string>

#include <hiredis/hiredis.h>

#include <perflab/cache/remote.hpp>

namespace perflab::cache::detail {

// The argv of one command. Keeps "perflab:<key>" and the TTL's digits in its own buffers: valid
// while it lives and is not re-built. Reused per client (no allocation once grown).
struct redis_argv {
  std::array<const char*, 5> argv{};
  std::array<std::size_t, 5> len{};
  int argc = 0;
  std::string key;
  std::string ttl;

  void build(const remote_request& r, std::chrono::milliseconds ttl_ms);
};

// Interprets a reply to r (nullptr: the connection failed). On a get's hit the value goes into
// `value`. Counts the round trip (a reply came) and hits/misses.
remote_status interpret(const remote_request& r, const redisReply* reply, std::string& value, remote_stats& stats);

}  // namespace perflab::cache::detail
