#pragma once
// Routing, handlers and response serialization, written once and shared by every concurrency
// model. Nothing here does I/O: responses are appended to a caller-owned buffer that the
// connection reuses, so a warm connection answers /hello without allocating.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <perflab/api/api_stats.hpp>
#include <perflab/cors/cors.hpp>
#include <perflab/encode/policy.hpp>
#include <perflab/encode/static_cache.hpp>
#include <perflab/encode/stats.hpp>
#include <perflab/fault/injector.hpp>
#include <perflab/targets/metrics.hpp>
#include <perflab/targets/payloads.hpp>

namespace perflab::upstream {
class service;
}
namespace perflab::push {
class hub;
}

namespace perflab::targets {

class auth_gate;  // perflab/targets/auth_gate.hpp

inline constexpr std::string_view server_name = "perflab-lab-target";
inline constexpr std::string_view hello_body = "Hello, World!";
// Handler argument caps, so one request cannot exhaust the server.
inline constexpr std::uint64_t max_bytes_arg = 64ull << 20;   // /bytes/{n}
inline constexpr std::uint64_t max_json_items = 100000;       // /json?items=n
inline constexpr std::uint64_t max_cpu_us = 10'000'000;       // /cpu?us=n
inline constexpr std::uint64_t max_sleep_ms = 600'000;        // /sleep?ms=n
inline constexpr std::size_t max_cache_key = 256;             // /cache/{key}: key bytes

// The parts of a parsed request the handlers look at (views into the connection's buffer).
struct request_view {
  std::string_view method;
  std::string_view path;
  std::string_view query;
  std::string_view body;
  int version_minor = 1;
  bool keep_alive = true;  // what the client asked for (HTTP/1.1 default on, 1.0 needs keep-alive)
  // The content coding its Accept-Encoding negotiated against the server's policy (identity when
  // compression is off); a value, so it survives a deferred response.
  encode::coding accepted = encode::coding::identity;
};

// The routing decision for a request, made from method and target alone.
struct dispatch {
  // Largest fields first: a deferred request keeps its dispatch in the session (64 bytes, not 80).
  std::uint64_t arg = 0;   // bytes / items / microseconds / milliseconds, by endpoint
  std::uint64_t seed = 0;  // /bytes/{n}, /json ?seed=: which of the bodies
  std::string_view allow;  // the resource's methods, for Allow (405 and OPTIONS)
  std::string_view key;    // /cache/{key}: the key (a view into the request, like path)
  int status = 200;        // != 200: answer with this error status (400, 404, 405, 501)
  endpoint ep = endpoint::not_found;
  payload_kind kind = payload_kind::pattern;  // /bytes/{n}?kind=: what the n bytes are (payloads.hpp)
  bool head = false;       // HEAD: same headers, no body
  bool options = false;    // OPTIONS: 200 with Allow and no content
  bool arg_given = false;  // /db/query: ?ms= was given (else the configured distribution)
};
// path is the request's path ("*" for OPTIONS *, see http::request_parser::path()).
// /bytes/{n} takes ?kind=pattern|text|json|random (default pattern) and ?seed=N (default 0);
// an unknown kind, a bad seed or n below the kind's minimum is 400. /json takes ?items=N
// (default 10) and ?seed=N: N user records from payloads.hpp's generator.
// /db/query takes ?ms=N (the query's service time; default: --db-latency's distribution);
// /items/{id} a decimal id; POST /db/terminate (test hook) ends the idle pooled connections.
// GET resources allow GET, HEAD, OPTIONS; /echo POST, PUT, OPTIONS; /cache/{key} GET, HEAD,
// DELETE (endpoint cache_delete), OPTIONS; /cache PURGE, OPTIONS; "*" every method we
// implement. An unknown method, and CONNECT (we are no proxy), get 501.
dispatch resolve(std::string_view method, std::string_view path, std::string_view query) noexcept;

// Value of key in an application/x-www-form-urlencoded query ("items=5&x=1"), or empty.
std::string_view query_param(std::string_view query, std::string_view key) noexcept;
// Strict decimal; false on empty, non-digits or overflow.
bool parse_u64(std::string_view text, std::uint64_t& out) noexcept;

// The outcome of a cache request, worked out by the session before the response is written.
struct cache_reply {
  std::string_view x_cache;   // GET/HEAD /cache/{key}: "HIT", "MISS" or "STALE" (the X-Cache header)
  std::string_view value;     // GET/HEAD: the body (from the cache or the origin)
  std::string_view tier;      // with a remote cache: "local", "remote" or "origin" (X-Cache-Tier)
  bool erased = false;        // DELETE: an entry was removed (else 404)
  std::uint64_t purged = 0;   // PURGE: entries removed
};

// The outcome of a database request (/db/query, /items/{id}, /db/terminate), worked out by the
// session before the response is written (an error status is answered as d.status).
struct db_reply {
  std::string_view body;            // 200: the query's result (items: the row as JSON)
  std::uint64_t terminated = 0;     // /db/terminate: idle connections whose backend was ended
};

// The outcome of a /proxy request (session_proxy.cpp): the upstream's answer, or the error or
// fallback the client made of it.
struct proxy_reply {
  int status = 502;
  std::string_view content_type;
  std::string_view body;
  std::string_view fallback;  // X-Fallback's reason when a fallback answered (else empty)
  unsigned attempts = 0;      // X-Upstream-Attempts
};

// The outcome of /stock, /orders or /jobs, worked out by the session (status, a JSON body and
// extra header lines such as "Idempotent-Replayed: true\r\n"), written as it is.
struct contention_reply {
  int status = 200;
  std::string_view body;
  std::string_view headers;
};

// What a response needs besides the request itself.
struct response_context {
  const metrics* stats = nullptr;   // for /metrics
  std::string_view model;           // for /metrics and /health
  const cache::read_through* cache = nullptr;  // for /metrics (the cache's counters)
  const cache::remote_stats* remote = nullptr; // for /metrics, when there is a remote cache
  const cache_reply* cached = nullptr;         // for the /cache endpoints
  const encode::policy* encoding = nullptr;    // response compression (null: none)
  encode::stats* encode_stats = nullptr;       // where encoding is counted, and /metrics reads it
  const db::service* db = nullptr;             // for /metrics (the pool's metrics), once the database is open
  const db_reply* db_result = nullptr;         // for the /db endpoints
  encode::static_cache* encoded_bodies = nullptr;  // --gzip-static: encoded static bodies (null: off)
  const resilience::keyed_limiter* limiter = nullptr;  // for /metrics, with --rate-limit
  const proxy_reply* proxied = nullptr;        // for /proxy/{path}
  const upstream::service* upstream = nullptr;  // for /metrics, with --upstream
  const resilience::waiting_room* room = nullptr;  // for /metrics, with --waiting-room
  const contention::service* contention = nullptr;     // for /metrics (what of it has been used)
  const contention_reply* contended = nullptr;         // for /stock, /orders, /jobs and /publish, /messages, /poll
  const push::hub* push = nullptr;                     // for /metrics (the topic hub's counters)
  const fault::injector* faults = nullptr;             // for /metrics, with --fault-profile or --admin
  const auth_gate* auth = nullptr;                     // for /metrics, with --auth
  api::api_stats* api = nullptr;                       // /api/orders and /graphql count here; /metrics reads it
  const cors::stats* cors = nullptr;                   // for /metrics, with --cors
  // Field lines every head write_response writes carries besides its own, e.g. --cors'
  // "Access-Control-Allow-Origin: ...\r\nVary: Origin\r\n" for an allowed Origin (empty: none).
  std::string_view fields{};
};

// What write_response wrote.
struct response_info {
  int status = 200;          // the status written
  std::uint64_t stream = 0;  // body bytes not in `out` that follow it: filler() from offset 0
};

// The /bytes body: byte i is 'a' + i % 26. A body up to max_inline_bytes is copied into the
// response; a longer one is sent from one shared read-only block instead, so a response costs no
// memory of its own however large it is. filler(offset, max) is the body from byte `offset` on,
// at most min(max, filler_slice) bytes, as a view into that block.
inline constexpr std::uint64_t max_inline_bytes = 16 * 1024;
inline constexpr std::size_t filler_slice = 256 * 1024;
std::string_view filler(std::uint64_t offset, std::uint64_t max) noexcept;

// Appends the response for d (status line, Date, Server, Content-Length, Connection when
// needed, body unless HEAD), except a streamed /bytes body (see response_info).
// Compression: a 200 response whose Content-Type ctx.encoding encodes carries
// "Vary: Accept-Encoding"; its body is encoded with req.accepted when that is not identity and
// the body has at least min_length bytes, and then carries "Content-Encoding" and the encoded
// Content-Length. HEAD encodes the body too, so its fields are GET's. An encoded /bytes body is
// built whole in `out` (not streamed). With ctx.encoded_bodies, the encoded bodies of /bytes,
// /json and /hello (functions of the URL alone) are stored on first use and copied afterwards. keep_alive:
// whether the connection stays open after it; the Connection header follows from it and the
// request's version. /cpu burns the CPU here; /sleep must already have waited (the wait is the
// model's). Bodies are built in `out` itself (no per-thread scratch that would keep the largest
// body's memory). Throws std::bad_alloc when out cannot grow.
response_info write_response(const dispatch& d, const request_view& req, bool keep_alive,
                             const response_context& ctx, std::string& out);

// An error response without a request to answer (parse error, 408, 503 refusal): always
// "Connection: close". head_only: the request was HEAD (same fields, no body). detail: why, in
// the body after the reason phrase (e.g. the parser's message, as RFC 9112 5.2 asks for obs-fold).
void write_error(int status, std::string& out, bool head_only = false, std::string_view detail = {});

// --test-slowdown: CPU burnt at the start of every request a handler answers, for A/B tests of
// perflab itself (`loadgen ab` must see a deliberately slower candidate as a regression). Off (0)
// by default; process-wide because it describes the binary under test, not a connection. Set once
// in main before any server thread starts (thread creation orders it before every read).
void set_test_slowdown(std::chrono::nanoseconds per_request) noexcept;
std::chrono::nanoseconds test_slowdown() noexcept;

// The current "Date" header value (IMF-fixdate, 29 characters), cached per thread and refreshed
// when the second changes.
std::string_view http_date() noexcept;

}  // namespace perflab::targets
