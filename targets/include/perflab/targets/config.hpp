#pragma once
// lab-target configuration: which concurrency model, how many threads, where to listen, limits.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include <perflab/cache/read_through.hpp>
#include <perflab/cache/remote.hpp>
#include <perflab/contention/service.hpp>
#include <perflab/core/http.hpp>
#include <perflab/db/service.hpp>
#include <perflab/encode/link.hpp>
#include <perflab/encode/policy.hpp>
#include <perflab/cors/cors.hpp>
#include <perflab/fault/profile.hpp>
#include <perflab/push/hub.hpp>
#include <perflab/resilience/limiter.hpp>
#include <perflab/resilience/waiting_room.hpp>
#include <perflab/targets/auth_gate.hpp>
#include <perflab/upstream/config.hpp>

namespace perflab::targets {

enum class model { thread_per_request, thread_pool, reactor, coroutine, fiber, io_uring };

// "thread-per-request", "thread-pool", "reactor", "coroutine", "fiber", "io-uring".
std::optional<model> parse_model(std::string_view name) noexcept;
std::string_view to_string(model m) noexcept;

struct listen_address {
  std::string host;        // numeric IPv4, e.g. "127.0.0.1"
  std::uint16_t port = 0;  // 0: the kernel picks a free port
};
// "127.0.0.1:8080", "0.0.0.0:0", ":8080" (host defaults to 127.0.0.1).
tl::expected<listen_address, std::string> parse_listen(std::string_view text);

struct server_config {
  model which = model::reactor;
  // Worker threads. reactor/coroutine/fiber: event-loop (carrier) threads; io-uring: rings; thread-pool: workers;
  // thread-per-request: cap on connection threads (0 = no cap). 0 elsewhere: the model's default
  // (effective_threads).
  unsigned threads = 0;
  listen_address listen{"127.0.0.1", 8080};
  std::vector<int> cpus;                               // pin the whole process to these CPUs (empty: no pinning)
  std::size_t max_connections = 100000;                // open connections; more are refused with 503
  std::size_t queue = 1024;                            // thread-pool: connections waiting for a worker
  std::chrono::milliseconds header_timeout{10000};     // a request must arrive completely within this from its first byte
  std::chrono::milliseconds idle_timeout{60000};       // keep-alive connection without a request
  std::chrono::milliseconds send_timeout{60000};       // a response whose client takes no byte for this long: close
  std::chrono::milliseconds shutdown_timeout{5000};    // SIGTERM: in-flight work gets this long
  http::request_limits limits{};                       // request line, header bytes, body (nginx defaults)
  std::chrono::nanoseconds test_slowdown{0};           // --test-slowdown: CPU burnt per request, A/B tests of
                                                       // perflab only (handlers.hpp, set_test_slowdown); 0 = off
  // /cache/{key}: the read-through cache and its simulated origin (--cache, --cache-capacity,
  // --cache-bytes, --cache-ttl, --cache-coalesce, --origin-latency, --origin-bytes). Default: no
  // store (--cache none), every request an origin call of 5 ms.
  cache::read_through_config cache{};
  std::size_t cache_prewarm = 0;                       // keys 0..N-1 loaded before listening (--cache-prewarm)
  // The remote cache (Redis) behind the local one, or alone (--cache redis://H:P, --cache-remote,
  // --cache-remote-timeout). nullopt: none. Its ttl is --cache-ttl.
  std::optional<cache::remote_config> cache_remote;
  // Response content codings (--gzip-level, --gzip-min-length, --gzip-types). Default: off, no
  // request's Accept-Encoding is even looked at.
  encode::policy encoding{};
  // /db/query and /items/{id}: the database and its pool (--db, --db-*, --pool-*, --no-pool).
  // Default: the simulated database, opened when a /db endpoint is first used.
  db::config db{};
  // A slow link per connection on the server's output (--link-rate, --link-latency). Default: none.
  encode::link_options link{};
  // --rate-limit: every request but /metrics and /health is decided by it first (429 when
  // refused, a leaky bucket's delay waited). nullopt: no limit.
  std::optional<resilience::limiter_config> rate_limit;
  // /proxy/{path}: the upstream it forwards to, the client's pool and timeouts, and the policies
  // (--upstream, --upstream-*). nullopt: /proxy answers 404.
  std::optional<upstream::config> upstream;
  // --waiting-room: at most capacity requests in service (every one but /metrics and /health),
  // the others waiting FIFO up to max-wait, then 503 with Retry-After. nullopt: none.
  std::optional<resilience::waiting_room_config> waiting_room;
  // /stock, /orders and /jobs (--stock-*, --idempotency-ttl, --order-work, --job-*): the
  // contention experiments' state, built at its first use.
  contention::service_config contention{};
  // --push: the topic hub behind /publish, /messages, /poll and /events (its bounds and SSE timing).
  push::hub_config push{};
  // --fault-profile: the faults injected into every request but /metrics, /health and /admin/*
  // (docs/targets.md, Faults). nullopt: none (and no injector unless --admin).
  std::optional<fault::profile> fault_profile;
  // --cors, --cors-headers, --cors-max-age: answer CORS preflights and give allowed origins
  // Access-Control-Allow-Origin (docs/targets.md, CORS). nullopt: no CORS at all.
  std::optional<cors::policy> cors;
  // --admin: serve /admin/* (POST /admin/fault changes the fault profile at run time); off: 404.
  bool admin = false;
  // --auth: what every request but /metrics, /health and /admin/* must carry (auth_gate.hpp).
  // Default: nothing.
  auth_config auth{};
  // fiber: bytes of each connection's stack (--fiber-stack), rounded up to whole pages, plus one
  // PROT_NONE guard page below it. Only touched pages count in RSS.
  std::size_t fiber_stack = 64 * 1024;
  // --test-fiber-overflow (hidden, tests only): on the fiber model, GET /test/overflow recurses
  // past the end of its stack, to show the guard page stops it (docs/targets.md, Fibers).
  bool fiber_overflow_probe = false;
};

// --fiber-stack as typed ("64KiB", "256k", "65536"): 32 KiB to 64 MiB; the error names the option.
tl::expected<std::size_t, std::string> parse_fiber_stack(std::string_view text);

// The cache options as typed on the command line (lab-target's --cache* and --origin-*).
struct cache_options {
  std::string policy = "none";      // --cache lru|lfu|fifo|none|redis://HOST:PORT (remote only)
  std::string remote = "none";      // --cache-remote redis://HOST:PORT|none: Redis behind the local cache
  std::string remote_timeout = "100ms";  // --cache-remote-timeout: connect, and each reply
  std::string capacity = "1000";    // --cache-capacity: entries
  std::string bytes = "0";          // --cache-bytes: byte budget (0: none), e.g. 64MiB
  std::string ttl = "0";            // --cache-ttl: entries go stale after this (0: never)
  std::string prewarm = "0";        // --cache-prewarm: keys 0..N-1 loaded before listening
  std::string coalesce = "off";     // --cache-coalesce on|off: single-flight on misses
  std::string origin_latency = "5ms";  // --origin-latency: one origin call
  std::string origin_bytes = "100";    // --origin-bytes: bytes of each value
};
// Fills cfg.cache and cfg.cache_prewarm; the error names the offending option and what it accepts.
tl::expected<void, std::string> apply_cache_options(const cache_options& o, server_config& cfg);

// The compression options as typed on the command line.
struct encode_options {
  std::string gzip_level = "0";                          // --gzip-level 0..9 (0: off)
  std::string br_level = "0";                            // --br-level 0..11 (0: off)
  std::string gzip_min_length = "20";                    // --gzip-min-length: bytes, e.g. 1KiB
  std::string gzip_types = "text/plain,application/json";  // --gzip-types: comma-separated; * or type/*
  std::string zstd_level = "0";                          // --zstd-level 0..19 (0: off)
  bool gzip_static = false;                              // --gzip-static: encode static bodies once
  std::string link_rate = "0";                           // --link-rate: bytes per second, "1MB/s" (0: unlimited)
  std::string link_latency = "0";                        // --link-latency: one-way delay, "20ms" (0: none)
};
// Fills cfg.encoding and cfg.link; the error names the offending option and what it accepts.
tl::expected<void, std::string> apply_encode_options(const encode_options& o, server_config& cfg);

// thread-pool's default workers per usable CPU. Its workers block on I/O and /sleep, so it needs
// far more threads than CPUs; 32 per CPU is the 64 the lab's 2-CPU figures were measured with.
inline constexpr unsigned pool_workers_per_cpu = 32;

// The CPUs the thread defaults are sized for (>= 1): cpus::available() (affinity mask capped by a
// cgroup CPU quota), or --cpu's list capped by the quota.
unsigned usable_cpus(const server_config& cfg) noexcept;
// The number of threads a model actually runs with for cfg (resolves the 0 defaults): event
// loops, one per usable CPU; thread-pool workers, pool_workers_per_cpu per usable CPU;
// thread-per-request, its cap as given (0: none).
unsigned effective_threads(const server_config& cfg) noexcept;

}  // namespace perflab::targets
