#pragma once
// The load engine's entry point: one load run (one variant) from a run_config to a
// result::variant, writing its interval log and per-second CSV into output_dir.
// Used by `loadgen attack` and by the scenario runner (`loadgen run`).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/core/result.hpp"
#include "perflab/loadgen/auth.hpp"
#include "perflab/loadgen/follow.hpp"
#include "perflab/loadgen/browser_cors.hpp"
#include "perflab/loadgen/retry.hpp"

namespace perflab::loadgen {

namespace detail {
class rank_link;  // loadgen/src/distributed.hpp
}

// One field of a gRPC request message (protobuf wire format): a value that is all digits or
// exactly `{key}` is a varint (uint64, int32/64 >= 0, bool), any other text a length-delimited
// field (string, bytes). `{key}` is replaced per key before the run.
struct grpc_field {
  std::uint32_t number = 0;  // the field number, 1..536870911
  std::string value;
};

// One request of the mix. `{key}` in path, header values or body is replaced per request by a
// key drawn from key_distribution (pre-rendered before the run: no formatting per request).
struct request_spec {
  std::string method = "GET";
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  double weight = 1.0;
  // A gRPC unary call to this method ("/package.Service/Method"; "" for an HTTP request): POST
  // with content-type application/grpc and te: trailers, over HTTP/2 (the curl engine), its body
  // the length-prefixed message of grpc_fields, serialized per key before the run. method, path
  // and body are then not used. A mix is all gRPC or all HTTP (loadgen/include/.../grpc.hpp).
  std::string grpc;
  std::vector<grpc_field> grpc_fields;
};

struct key_distribution {
  std::string kind = "uniform";  // "uniform" or "zipf"
  std::uint64_t keys = 0;        // number of distinct keys (0: no {key} placeholders allowed)
  double zipf_s = 0.99;          // Zipf exponent
};

enum class keepalive_policy { keep_alive, new_connection, max_requests };

struct run_config {
  std::string url;                         // base URL, "http://127.0.0.1:8080"; request paths are appended
  // The engine: "asio" (cleartext HTTP/1.1, the lowest overhead), "curl" (libcurl multi: HTTPS and
  // HTTP/2) or "" (automatic: curl for https:// or http2, asio otherwise). See docs/loadgen.md.
  std::string engine;
  bool http2 = false;                      // curl: HTTP/2 (ALPN over TLS, prior knowledge on http://)
  std::int64_t max_streams = 100;          // curl with http2: concurrent streams per connection
  bool insecure = false;                   // curl: do not verify the server's certificate
  std::string cacert;                      // curl: CA bundle file to verify the server with ("": system's)
  bool tls_resume = true;                  // curl over TLS: a new connection resumes a TLS session from
                                           // the worker's session cache (false: a full handshake each time)
  std::string kind = "closed";             // "open" (scheduled arrivals) or "closed" (fixed connections)
  std::string arrival = "constant";        // open loop: "constant" or "poisson"
  double rate = 0;                         // open loop: requests/s when stages is empty
  std::vector<result::stage> stages;       // open loop: linear ramps, the first from `rate` (0 allowed);
                                           // their total length is the measured phase (duration ignored)
  std::uint64_t seed = 1;                  // Poisson arrivals, request mix and keys
  std::int64_t connections = 0;            // closed: connections; open: cap (0 = automatic: 1024)
  std::chrono::nanoseconds think_time{0};  // closed loop pause between response and next request
  std::chrono::nanoseconds duration{std::chrono::seconds(10)};  // measured phase (0: until max_requests)
  std::chrono::nanoseconds warmup{0};      // before the measured phase, dropped by phase; open loop runs it
                                           // at `rate` (or the first stage's target when rate is 0)
  std::int64_t max_requests = 0;           // stop after this many measured requests (0 = no limit)
  keepalive_policy keepalive = keepalive_policy::keep_alive;
  std::int64_t max_requests_per_connection = 0;  // with keepalive_policy::max_requests
  std::chrono::nanoseconds connect_timeout{std::chrono::seconds(2)};
  std::chrono::nanoseconds request_timeout{std::chrono::seconds(10)};
  int threads = 0;                         // 0: one per CPU the loadgen may use
  std::vector<int> cpus;                   // pin the loadgen to these CPUs (empty: no pinning)
  std::vector<request_spec> requests;      // the mix (empty: GET of the URL's path)
  key_distribution keys;
  double send_lag_bound_us = 1000;         // p99 send lag above this marks the run saturated
  std::string success = "2xx,3xx";         // statuses counted as success (goodput): classes and codes
  double max_error_rate = 0.01;            // error_rate above this marks the run ERRORS (exit 7)
  bool verify = false;                     // decode every measured response's body (Content-Encoding) and check
                                           // it; a failure counts as errors.verify_failed. Off: nothing decoded
  std::int64_t verify_length = -1;         // with verify: the decoded body's expected bytes (-1: only that it decodes)
  std::filesystem::path output_dir;        // where the interval log and CSV go (empty: not written)
  std::string file_prefix = "run";         // <prefix>.hlog, <prefix>.csv
  bool progress = false;                   // live progress line on stderr each second
  std::chrono::nanoseconds drain_timeout{std::chrono::seconds(2)};  // wait for in-flight on stop
  // Client retries ([load] retry): an idempotent request answered with one of retry.on is sent
  // again, up to retry.max times, after its backoff. Open loop: on a free or new connection (the
  // schedule goes on); closed loop: the connection retries before its next request. Off by default.
  retry_policy retry;
  // Credentials ([load] auth, --auth): every request carries one of auth.tokens bearer tokens or
  // session cookies, made before the run (perflab/loadgen/auth.hpp). Off by default.
  auth_config auth;
  // [load] follow, --follow-every/--follow-until/--follow-timeout (asio engine): a request answered
  // 202 Accepted with a Location is complete when a poll of it finds its work done
  // (perflab/loadgen/follow.hpp). Off by default.
  follow_policy follow;
  // Browser mode ([load] cors, --cors-origin; asio engine only): every request carries Origin, and a
  // non-simple one (Fetch: a method other than GET/HEAD/POST, or a non-safelisted header) is
  // preceded on its connection by a preflight OPTIONS unless the connection's preflight cache holds
  // a fresh answer (perflab/loadgen/browser_cors.hpp). Off by default (origin "").
  cors_config cors;
  // Open loop: the arrival timer fires this much before the due time and the rest is awaited by
  // polling the worker's io_context. A timer alone wakes the thread tens of microseconds late (in a
  // VM, 50-200 us), which is all send lag, and a sleeping thread also stamps responses late. The
  // cost: a worker whose arrivals are closer than this (>= 5k/s at 200 us) keeps its core busy.
  // 0: timers only.
  std::chrono::nanoseconds spin_window{std::chrono::microseconds(200)};
  // Called on the collecting thread at the measured phase's start and end (the planned end, the
  // stop by Ctrl-C or when every worker reached its --requests share), so a caller can sample
  // what the target spent over exactly that phase. Empty: not called.
  std::function<void()> on_measure_start;
  std::function<void()> on_measure_end;
  // Stop conditions ([load] stop_when): called on the collecting thread after each second of the
  // measured phase with what the phase measured so far (counts, errors, error_rate, tps_mean,
  // rps_mean and the latency summaries of the seconds merged; measured_s is their length). A
  // non-empty return ends the measured phase there, as a Ctrl-C would but without marking the
  // run interrupted: in-flight requests drain, and the result says stopped_early with the
  // returned text as its stop_condition. Empty: not called.
  std::function<std::string(const result::variant& so_far)> stop_check;
  // A distributed run (`mpirun -np N loadgen ...`, docs/distributed.md): this process's link to the
  // others. run_load agrees the start with them, and rank 0 merges their seconds and totals into
  // its own (the config is this rank's share: see rank_share_config). Null: a single process.
  detail::rank_link* link = nullptr;
  // A distributed run: rank 0 declares another rank lost when nothing came from it for this long
  // (it sends a heartbeat each second of the warm-up, then a second each second; past the measured
  // phase's planned end the drain timeout is added), and waits this long for the ranks' check-ins
  // at the start. Above the 1 s heartbeat period (--rank-timeout, [load] rank_timeout).
  std::chrono::nanoseconds rank_timeout{std::chrono::seconds(5)};
};

// Set by SIGINT/SIGTERM handlers (the program installs them); the engine polls it, stops the
// load, drains in-flight requests for drain_timeout and returns a result marked incomplete.
std::atomic<bool>& interrupt_flag() noexcept;

// What a SIGINT/SIGTERM handler calls (async-signal-safe: lock-free atomics only): counts the
// signal and sets interrupt_flag. The first stops the load and drains; a later one, or one
// that comes while the run is already draining, stops waiting for the responses in flight.
// Returns how many signals have been noted, this one included.
int note_interrupt_signal() noexcept;
int interrupt_signals() noexcept;  // signals noted so far
// Under mpirun: what a SIGCONT handler calls (async-signal-safe). Open MPI ends a job by sending
// every rank SIGCONT, then SIGTERM a budget later (detail::teardown_budget_ns), then SIGKILL: a
// stop signal that follows a SIGCONT within that budget (and a second's slack) is Open MPI ending
// the job, which leaves the budget to write the result; one without is a signal sent to this
// process alone, and the other ranks are still there to report.
void note_continue_signal() noexcept;
bool stop_follows_continue(std::int64_t within_ns) noexcept;

// Runs the load. Errors are configuration or set-up failures (bad URL, cannot resolve, cannot
// write output); measurement failures are counted in the result instead.
tl::expected<result::variant, std::string> run_load(const run_config& cfg);

}  // namespace perflab::loadgen
