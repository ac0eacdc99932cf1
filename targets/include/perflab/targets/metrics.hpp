#pragma once
// Server metrics, cheap enough for every request: counters live in shards (a thread picks one
// at its first request) and are bumped with relaxed atomics, so there is no lock and, as long as
// there are fewer threads than shards, no shared cache line per request. A scrape sums shards.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <perflab/cache/read_through.hpp>
#include <perflab/cache/remote.hpp>

namespace perflab::db {
class service;
}
namespace perflab::resilience {
class keyed_limiter;
class waiting_room;
}
namespace perflab::contention {
class service;
}
namespace perflab::push {
class hub;
}

namespace perflab::targets {

// What a request was answered by; a label of every per-request metric.
enum class endpoint : std::uint8_t {
  hello, bytes, json, cpu, sleep, health, metrics, echo,
  cache,         // GET/HEAD /cache/{key}
  cache_delete,  // DELETE /cache/{key}
  cache_purge,   // PURGE /cache
  db_query,      // GET/HEAD /db/query: one database query (pool, then the database)
  items,         // GET/HEAD /items/{id}: a row by key
  db_terminate,  // POST /db/terminate: test hook, the idle pooled connections' backends end
  proxy,         // /proxy/{path}: forwarded to --upstream
  stock,         // GET/HEAD /stock/{item} and /stock: the stock invariant
  stock_buy,     // POST /stock/{item}/buy?qty=N
  orders,        // POST /orders (Idempotency-Key)
  jobs,          // POST /jobs: 202 once queued
  job,           // GET/HEAD /jobs/{id}: a job's status
  admin,         // /admin/* with --admin (POST /admin/fault)
  login,         // POST /auth/login?user=NAME with --auth session-*: a new session
  publish,       // POST /publish/{topic}: a message to the topic hub
  messages,      // GET/HEAD /messages/{topic}?after=SEQ: short polling
  poll,          // GET /poll/{topic}?after=SEQ&timeout=D: long polling
  events,        // GET /events/{topic}: an SSE stream (counted when it starts)
  ws,            // GET /ws/{topic}: a WebSocket stream (counted when its 101 is written)
  api_order,     // GET/HEAD /api/orders/{id}: the order document as JSON (REST)
  graphql,       // POST /graphql: a GraphQL query over the order document
  options,    // OPTIONS, on * or on a resource
  not_found,  // no such path (404)
  invalid,    // the request could not be parsed or timed out (4xx/5xx before routing)
  count_
};
inline constexpr std::size_t endpoint_count = static_cast<std::size_t>(endpoint::count_);
std::string_view to_string(endpoint e) noexcept;

// Statuses counted individually; anything else is counted as "other".
inline constexpr std::array<int, 23> tracked_statuses = {200, 400, 404, 405, 408, 413, 414, 417,
                                                         431, 500, 501, 503, 505, 204, 206, 429, 502, 504,
                                                         201, 202, 409, 422, 401};
inline constexpr std::size_t status_slots = tracked_statuses.size() + 1;

// Upper bounds (seconds) of the latency histogram buckets; +Inf is implied.
inline constexpr std::array<double, 17> latency_bounds_s = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0};
inline constexpr std::size_t latency_slots = latency_bounds_s.size() + 1;

class metrics {
 public:
  metrics() = default;
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  // A request was answered. latency: from the parsed request to the response being ready.
  void record(endpoint e, int status, std::chrono::nanoseconds latency) noexcept;
  void request_started() noexcept;
  void request_finished() noexcept;
  // Bytes the sockets carried (HTTP heads and bodies, as the client sees them): counted per
  // read and per write, in the thread's shard.
  void bytes_read(std::size_t n) noexcept { local().read.fetch_add(n, std::memory_order_relaxed); }
  void bytes_written(std::size_t n) noexcept { local().written.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t bytes_read_total() const noexcept;
  std::uint64_t bytes_written_total() const noexcept;

  // Per connection, not per request.
  void connection_opened() noexcept { open_.fetch_add(1, std::memory_order_relaxed); accepted_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() noexcept { open_.fetch_sub(1, std::memory_order_relaxed); }
  // connection_opened() if fewer than `cap` connections are open, else false and nothing counted:
  // an exact cap when several threads accept (io-uring's rings), where a check of
  // open_connections() followed by connection_opened() lets two threads take the last place.
  bool connection_opened_below(std::size_t cap) noexcept {
    std::int64_t n = open_.load(std::memory_order_relaxed);
    do {
      if (n >= 0 && static_cast<std::size_t>(n) >= cap) return false;
    } while (!open_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    accepted_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  void connection_refused() noexcept { refused_.fetch_add(1, std::memory_order_relaxed); }
  // A connection closed because its client took no byte of a response for --send-timeout.
  void send_timed_out() noexcept { send_timeouts_.fetch_add(1, std::memory_order_relaxed); }
  // An allocation failed (std::bad_alloc) and was answered with 503 or a close instead of a crash.
  void allocation_failed() noexcept { alloc_failures_.fetch_add(1, std::memory_order_relaxed); }

  std::int64_t open_connections() const noexcept { return open_.load(std::memory_order_relaxed); }
  std::uint64_t accepted_connections() const noexcept { return accepted_.load(std::memory_order_relaxed); }
  std::uint64_t refused_connections() const noexcept { return refused_.load(std::memory_order_relaxed); }
  std::uint64_t send_timeouts() const noexcept { return send_timeouts_.load(std::memory_order_relaxed); }
  std::uint64_t allocation_failures() const noexcept { return alloc_failures_.load(std::memory_order_relaxed); }
  std::int64_t in_flight() const noexcept;
  // Sum over shards of requests answered with this endpoint and status.
  std::uint64_t requests(endpoint e, int status) const noexcept;
  std::uint64_t requests_total() const noexcept;

  // Appends the Prometheus text exposition (version 0.0.4) of everything, plus process gauges
  // (resident memory, threads) read from /proc/self. Allocates: /metrics only, never per request.
  void write_prometheus(std::string& out, std::string_view model) const;

 private:
  static constexpr std::size_t shard_count = 64;
  struct alignas(64) shard {
    std::atomic<std::uint64_t> requests[endpoint_count][status_slots] = {};
    std::atomic<std::uint64_t> latency[endpoint_count][latency_slots] = {};
    std::atomic<std::uint64_t> latency_sum_ns[endpoint_count] = {};
    std::atomic<std::int64_t> in_flight{0};
    std::atomic<std::uint64_t> read{0};     // bytes received
    std::atomic<std::uint64_t> written{0};  // bytes sent
  };
  shard& local() noexcept;

  std::array<shard, shard_count> shards_{};
  std::atomic<std::uint32_t> next_shard_{0};
  std::atomic<std::int64_t> open_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> send_timeouts_{0};
  std::atomic<std::uint64_t> alloc_failures_{0};
};

// Appends the cache's counters (perflab_cache_*) in the same exposition format: lookups by
// result, evictions by reason, entries, bytes, origin calls, coalesced waits, invalidations.
void write_cache_prometheus(const cache::read_through& cache, std::string& out);
// The remote cache's block (perflab_cache_remote_*), when there is one.
void write_remote_prometheus(const cache::remote_stats& remote, std::string& out);

// Appends the database pool's metrics (perflab_db_pool_*): size, active, idle, waiting, the
// acquire-wait histogram, timeouts, connections created and closed by reason.
void write_db_prometheus(const db::service& db, std::string& out);

// --rate-limit's block: perflab_ratelimit_decisions_total{result=allowed|delayed|refused} and
// perflab_ratelimit_keys.
void write_ratelimit_prometheus(const resilience::keyed_limiter& limiter, std::string& out);
// --waiting-room's block (session_room.cpp): perflab_waitingroom_* (capacity, requests by result,
// in service, waiting, peak, time waited).
void write_waiting_room_prometheus(const resilience::waiting_room& room, std::string& out);

// perflab::contention's blocks, for what has been used: perflab_stock_* (strategy, buys by
// result, units initial/sold/remaining, invariant violations), perflab_orders_created_total and
// perflab_idempotency_* (requests by verdict, keys), perflab_jobs_* (by result, queued, running,
// the accepted -> done histogram).
void write_contention_prometheus(const contention::service& svc, std::string& out);
// The topic hub's counters (session_push.cpp).
void write_push_prometheus(const push::hub& hub, std::string& out);

// Process gauges from /proc/self/status (0 when unavailable).
std::uint64_t resident_memory_bytes() noexcept;
std::uint64_t thread_count() noexcept;

}  // namespace perflab::targets
