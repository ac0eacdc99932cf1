#pragma once
// The remote cache (Redis) as the server sees it: where it is, what one request asks of it, what
// it answered, and its counters. Two clients speak it (hiredis underneath): redis_pool, blocking,
// for the thread models (redis_pool.hpp), and redis_asio, an asynchronous context driven by an
// Asio event loop's socket readiness, for the event-loop models (redis_asio.hpp).
//
// Keys live in Redis as "perflab:<key>", values as plain strings with the cache's TTL (SET .. PX).
// A failure of any kind (not connected, connect refused, timeout, connection lost, error reply)
// is a value (remote_status::error), never an exception and never a wait longer than the
// timeout: the caller falls back to the origin.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace perflab::cache {

struct remote_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::chrono::milliseconds timeout{100};  // connect, and each reply (from its send)
  std::chrono::milliseconds ttl{0};        // SET's expiry (PX); 0: none
};

// "redis://host:port" or "redis://host" (port 6379); host a name or numeric address. nullopt
// when it is not such a URL (user, password, database and query are not supported).
std::optional<remote_config> parse_redis_url(std::string_view url);

inline constexpr std::string_view remote_key_prefix = "perflab:";

enum class remote_op : std::uint8_t {
  get,    // GET perflab:<key>
  set,    // SET perflab:<key> <value> [PX ttl]
  del,    // DEL perflab:<key>
  purge,  // FLUSHDB: the target owns its Redis database (PURGE /cache)
};
inline constexpr std::size_t remote_op_count = 4;
std::string_view to_string(remote_op op) noexcept;  // "get", "set", "del", "purge"

struct remote_request {
  remote_op op = remote_op::get;
  std::string_view key;
  std::string_view value;  // set
};

enum class remote_status : std::uint8_t {
  hit,    // get: found (the value is given); del: removed
  miss,   // get: absent; del: nothing to remove
  ok,     // set, purge: done
  error,  // not connected, timeout, connection lost or an error reply
};

// Why a remote operation failed.
enum class remote_error : std::uint8_t {
  unavailable,  // no connection (connect failed or backing off before the next attempt)
  timeout,      // no reply within the timeout (the connection is dropped and made again)
  io,           // connection lost, or a protocol or error reply
  count_
};
inline constexpr std::size_t remote_error_count = static_cast<std::size_t>(remote_error::count_);
std::string_view to_string(remote_error e) noexcept;  // "unavailable", "timeout", "io"

// Counters of every client of one server (relaxed atomics; read at /metrics scrapes).
struct remote_stats {
  std::atomic<std::uint64_t> round_trips[remote_op_count]{};  // replies received, by op
  std::atomic<std::uint64_t> hits{0};        // get found the key
  std::atomic<std::uint64_t> misses{0};      // get did not
  std::atomic<std::uint64_t> errors[remote_error_count]{};  // failed operations, by reason
  std::atomic<std::uint64_t> fallbacks{0};   // lookups that failed and went to the origin instead
  std::atomic<std::uint64_t> connects{0};    // connections established (the first and reconnects)
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::int64_t> connected{0};    // connections open now

  void error(remote_error e) noexcept { errors[static_cast<std::size_t>(e)].fetch_add(1, std::memory_order_relaxed); }
};

// Reconnect backoff: 50 ms after the first failure, doubling to 2 s; reset by a success.
class backoff {
 public:
  static constexpr std::chrono::milliseconds first{50};
  static constexpr std::chrono::milliseconds cap{2000};
  // A failure at now_ns: the next attempt is allowed from the returned time on.
  std::int64_t failed(std::int64_t now_ns) noexcept;
  void succeeded() noexcept { next_ = first; }
  std::chrono::milliseconds next() const noexcept { return next_; }

 private:
  std::chrono::milliseconds next_ = first;
};

}  // namespace perflab::cache
