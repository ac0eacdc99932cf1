#pragma once
// The result data model: what a run measured, as written to run.json and read back by
// `loadgen report` and `loadgen compare`. docs/result.schema.json is the schema of its JSON form;
// the conversions to and from JSON are in result_json.hpp (only the readers and writers pay for it).
// Latencies are in microseconds (double) in the summary; histograms (interval logs) hold nanoseconds.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace perflab::result {

// 2: goodput (tps_mean counts successful responses in the measured window; rps_mean all of them),
//    carried-in and stalled requests, unanswered requests in error_rate, error classes unsolicited,
//    io_other and client_resources, a drain row in the series, success statuses and the error-rate
//    bound in the load model.
// 3: capacity searches (`searches`: per searched variant its capacity, band, verdict and every
//    step as a measured run), and runs ended early by a [load] stop_when condition
//    (`stopped_early`, `stop_condition`). Versions 1 and 2 are still read (the new fields default).
// 4: responses by X-Cache header (`cache` in a variant, cache_* in each series point) and the
//    hit ratio they give. Versions 1-3 are still read (no X-Cache counted).
// 5: bytes on the wire: `bytes_in` / `bytes_out` (and MB/s, bytes per response) in a variant,
//    bytes_in / bytes_out in each series point; errors.verify_failed (--verify). Versions 1-4 are still read (zeros: not counted).
// 6: several targets and timed events: `dependencies` (each named [[target]] with its CPU, RSS and
//    the requests it answered), `target.name` and `target.requests`, and `events` (each [[fault]]
//    and [[action]] with its scheduled and actual start and end). Versions 1-5 are still read
//    (no dependencies, no events, requests -1).
// 7: client retries ([load] retry): `attempts` (every write: first sends and retries),
//    `client_retries`, `retried_succeeded`, `retries_exhausted` in a variant, attempts and
//    client_retries in each series point, and the policy as `load.retry`. Versions 1-6 are still
//    read (attempts = sent: no client retried then).
// 8: the load engine (`load.engine`: "asio" or "curl", and `load.http`: "1.1" or "2"), errors.tls,
//    and the curl engine's own clock: `tls_handshake` and `curl_start_transfer` in a variant;
//    push delivery (`loadgen subscribe`): `delivery` (publish-to-receive latency), `published`,
//    `expected`, `received`, `lost`, `duplicated`, `out_of_order`, `reconnects`,
//    `requests_per_delivered`, `bytes_per_delivered` in a variant; `delivered` and `delivery_p50_us`
//    / `delivery_p99_us` in each series point; `style`, `subscribers`, `topics`, `publish_rate`,
//    `poll_interval_s`, `poll_timeout_s` in the load model (kind "subscribe"). Versions 1-7 are
//    still read (engine "asio", HTTP/1.1, the only engine then; zeros: not a subscribe run).
//    Distributed runs (`mpirun -np N loadgen attack`, docs/distributed.md) share version 8: `ranks`
//    in a variant, one rank_summary per process (empty for a single process). So do gRPC calls
//    (issue 23): `load.grpc` (the method, "" otherwise), `grpc_statuses` in a variant and
//    errors.grpc_status / errors.grpc_missing (zeros and empty when the run made no gRPC calls).
//    So does following asynchronous work ([load] follow, issue 18): `load.follow`, `accepted` (the
//    202's latency), `follow_polls`, `followed` in a variant and errors.follow_timeout (zeros and ""
//    when the run followed nothing).
inline constexpr int schema_version = 8;

// Summary of one latency distribution. All values in microseconds; zeros when count == 0.
struct latency_summary {
  std::int64_t count = 0;      // samples recorded in the measured phase (TTFB/TTLB: responses + timed-out requests)
  std::int64_t too_large = 0;  // samples above the histogram's highest trackable value
  double min_us = 0;
  double mean_us = 0;
  double stddev_us = 0;
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double p999_us = 0;          // 99.9th percentile
  double max_us = 0;
};

// Failures by class (counted on the hot path, reported at the end).
struct error_counts {
  std::int64_t connect_refused = 0;      // ECONNREFUSED
  std::int64_t connect_timeout = 0;      // connect did not finish within the connect timeout
  std::int64_t connect_other = 0;        // any other connect failure
  std::int64_t reset = 0;                // ECONNRESET / EPIPE while writing or reading
  std::int64_t read_timeout = 0;         // no complete response within the request timeout
  std::int64_t closed_mid_response = 0;  // peer closed before the response was complete
  std::int64_t malformed = 0;            // response that failed to parse
  std::int64_t unsolicited = 0;          // bytes past a response's end, or on an idle connection (framing overrun)
  std::int64_t io_other = 0;             // any other read/write error (not reset, not EOF)
  std::int64_t client_resources = 0;     // the loadgen's own limits: EADDRNOTAVAIL (local ports), EMFILE/ENFILE,
                                         // ENOBUFS/ENOMEM; marks the run saturated (not the target's fault)
  std::int64_t status_4xx = 0;           // complete responses with a 4xx status (not transport errors)
  std::int64_t status_5xx = 0;           // complete responses with a 5xx status
  std::int64_t verify_failed = 0;        // --verify: complete responses whose body did not decode, or decoded
                                         // to another length than expected (schema 5; never counted without it)
  std::int64_t tls = 0;                  // schema 8, curl engine: TLS handshake failed or the certificate was refused
  std::int64_t grpc_status = 0;          // gRPC calls answered with a non-zero grpc-status (by code in grpc_statuses)
  std::int64_t grpc_missing = 0;         // gRPC calls whose response ended without a grpc-status (trailers or headers)
  std::int64_t follow_timeout = 0;       // [load] follow: requests whose work was not done within the follow timeout
  std::int64_t cors_refused = 0;         // [load] cors: requests a browser never sent because their preflight was
                                         // refused (non-2xx, Access-Control-Allow-Origin missing or another origin,
                                         // method or header not allowed); no response, like a network error
  std::int64_t transport() const noexcept {
    return connect_refused + connect_timeout + connect_other + reset + read_timeout + closed_mid_response + malformed +
           unsolicited + io_other + client_resources + tls + cors_refused;
  }
  std::int64_t total() const noexcept {
    return transport() + status_4xx + status_5xx + verify_failed + grpc_status + grpc_missing + follow_timeout;
  }
};

// Responses by the first word of their X-Cache header, counted by the response parser as it
// reads the head (no header is copied). Only responses that have the header are counted.
struct cache_counts {
  std::int64_t hit = 0;    // X-Cache: HIT
  std::int64_t miss = 0;   // X-Cache: MISS
  std::int64_t stale = 0;  // X-Cache: STALE (an expired entry, fetched again)
  std::int64_t other = 0;  // any other word
  std::int64_t total() const noexcept { return hit + miss + stale + other; }
  // hit / total; 0 without X-Cache responses.
  double hit_ratio() const noexcept { return total() > 0 ? static_cast<double>(hit) / static_cast<double>(total()) : 0; }
};

// Every error class with its display name, in report order. The one list that summaries and
// reports print from, so a new class cannot be missing from one of them.
template <class F>
void for_each_error_class(const error_counts& e, F&& f) {
  f("connection refused", e.connect_refused);
  f("connect timeout", e.connect_timeout);
  f("connect other", e.connect_other);
  f("reset", e.reset);
  f("read timeout", e.read_timeout);
  f("closed mid-response", e.closed_mid_response);
  f("malformed", e.malformed);
  f("unsolicited bytes", e.unsolicited);
  f("i/o other", e.io_other);
  f("loadgen resources", e.client_resources);
  f("tls", e.tls);
  f("status 4xx", e.status_4xx);
  f("status 5xx", e.status_5xx);
  f("verify failed", e.verify_failed);
  f("grpc status", e.grpc_status);
  f("grpc no status", e.grpc_missing);
  f("follow timeout", e.follow_timeout);
  f("cors refused", e.cors_refused);
}

// One second of the measured phase, or (phase "drain", last) the drain after it. Counts are by
// the time they happened: a response is counted in the second it arrived in.
struct second_point {
  double t_s = 0;                // start of the second, relative to the measured phase start
  double length_s = 1;           // length of this interval (the drain row: the drain's length)
  std::string phase = "measured";  // "measured" (one second of the measured phase) or "drain"
  std::int64_t sent = 0;         // requests written
  std::int64_t completed = 0;    // responses completed, any status (all responses per second)
  std::int64_t succeeded = 0;    // responses with a success status (goodput, the TPS column)
  std::int64_t errors = 0;       // transport errors + 4xx/5xx
  double ttlb_p50_us = 0;        // corrected where the load model has an intended time
  double ttlb_p99_us = 0;
  double target_rate = 0;        // scheduled arrivals per second (open loop), 0 for closed loop
  std::int64_t in_flight = 0;    // requests outstanding at the end of the second
  std::int64_t retries = 0;      // stale keep-alive requests resent on a new connection
  std::int64_t attempts = 0;     // schema 7: writes of requests in this second, first sends and client retries
  std::int64_t client_retries = 0;  // schema 7: [load] retry: retries written in this second
  std::int64_t stalled = 0;      // requests outstanding through the whole second (sent before it, unanswered at its end)
  std::int64_t cache_hit = 0;    // responses in this second with X-Cache: HIT
  std::int64_t cache_miss = 0;   // ... MISS
  std::int64_t cache_stale = 0;  // ... STALE
  std::int64_t cache_other = 0;  // ... another word
  double cache_hit_ratio = 0;    // cache_hit / all four (0 when none): the hit ratio over time
  std::int64_t bytes_in = 0;     // bytes of the responses completed in this second, as received (head and body)
  std::int64_t bytes_out = 0;    // bytes of the requests written in this second (head and body)
  // Schema 6: responses in this second by status class, and connection-level failures (connect,
  // reset, timeout, closed mid-response: errors that have no status); statuses: by code ("503": n).
  std::int64_t status_2xx = 0;
  std::int64_t status_3xx = 0;
  std::int64_t status_4xx = 0;
  std::int64_t status_5xx = 0;
  std::int64_t conn_errors = 0;
  std::map<std::string, std::int64_t> statuses;
  // Schema 8, subscribe runs: messages delivered in this second (first copies of expected
  // messages) and their delivery latency (receive - publish).
  std::int64_t delivered = 0;
  double delivery_p50_us = 0;
  double delivery_p99_us = 0;
};

// The load model behind every number; every report prints it.
struct stage {
  double duration_s = 0;
  double target_rate = 0;  // rate reached at the end of the stage (linear ramp from the previous)
};
struct load_model {
  std::string kind;                  // "open" (scheduled arrivals, corrected) or "closed" (fixed connections)
  std::string arrival;               // open loop: "constant" or "poisson"
  double rate = 0;                   // open loop: requests per second (constant part)
  std::vector<stage> stages;         // open loop: stages with ramps (empty: constant rate)
  std::int64_t connections = 0;      // closed loop: connections; open loop: connection cap
  double think_time_s = 0;           // closed loop think time
  double duration_s = 0;             // measured phase
  double warmup_s = 0;               // excluded from every number
  std::int64_t max_requests = 0;     // 0 = unbounded
  std::string keepalive;             // "keep-alive", "new-connection", or "max:<K>"
  double connect_timeout_s = 0;
  double request_timeout_s = 0;
  int threads = 0;                   // loadgen worker threads
  std::vector<int> cpus;             // CPUs the loadgen was pinned to (empty: not pinned)
  std::string success = "2xx,3xx";   // statuses counted as success (goodput): classes "2xx" and codes "404"
  double max_error_rate = 0.01;      // error_rate above this marks the variant ERRORS (exit 7)
  std::string retry;                 // schema 7: [load] retry, e.g. "2 on 503, exponential 50ms..1s full jitter" ("": off)
  std::string engine = "asio";       // schema 8: the load engine, "asio" or "curl"
  std::string http = "1.1";          // schema 8: HTTP version asked for, "1.1" or "2" (curl engine)
  bool tls_resume = true;            // schema 8, curl over TLS: new connections resumed TLS sessions
  std::string auth;                  // [load] auth: the credentials every request carried, e.g.
                                     // "jwt-rs256, 100 tokens, aud perflab, ttl 1h" ("": none)
  std::string grpc;                  // gRPC unary calls to this method, "/package.Service/Method" ("": HTTP requests)
  std::string follow;                // [load] follow: "every 10ms until '...', timeout 30s" ("": not followed)
  std::string cors;                  // [load] cors: the browser mode, e.g. "origin https://app.example, preflight
                                     // cache on" ("": off)
  // Schema 8, kind "subscribe" (`loadgen subscribe`): how the subscribers receive and what the
  // built-in publisher sends.
  std::string style;                 // "sse", "long-poll", "short-poll" or "ws"
  std::int64_t subscribers = 0;      // subscribers held (spread round-robin over the topics)
  std::int64_t topics = 0;           // topics published to
  double publish_rate = 0;           // messages per second per topic
  double poll_interval_s = 0;        // short-poll: pause between a poll's answer and the next poll
  double poll_timeout_s = 0;         // long-poll: the timeout= each poll asks for
};

struct loadgen_health {
  double cpu_user_s = 0;             // loadgen process CPU over the measured phase
  double cpu_system_s = 0;
  double cpu_per_request_us = 0;     // (user + system) / completed
  double send_lag_bound_us = 1000;   // saturated when send_lag.p99_us exceeds this
  bool saturated = false;            // the loadgen could not keep its schedule (send lag, or unsent arrivals)
};

struct target_info {
  bool spawned = false;              // false: external URL
  std::string url;
  std::string model;                 // concurrency model, when spawned
  std::map<std::string, std::string> params;  // target parameters as given
  std::vector<int> cpus;             // CPUs the target was pinned to
  double cpu_user_s = 0;             // target CPU over the variant
  double cpu_system_s = 0;
  std::int64_t peak_rss_bytes = 0;
  std::int64_t threads = 0;          // peak thread count seen during the variant
  bool crashed = false;              // died during the variant
  std::string exit_status;           // e.g. "exit 0", "signal 11"
  std::string name;                  // a dependency's [[target]] name (schema 6; "" for the measured target)
  // Requests it answered over the measured phase, from its /metrics (perflab_target_requests_total
  // but /metrics, /health and /admin/*); -1: not read (schema 6; read only in runs with
  // dependencies or timed events). A dependency's over the loadgen's `sent` is the load
  // amplification.
  std::int64_t requests = -1;
};

// A [[fault]] or [[action]] the runner sent during the measured phase (schema 6). Times in seconds
// from the start of the measured phase.
struct timed_event {
  std::string kind;          // "fault" or "action"
  std::string target;        // the [[target]] name it went to ("" the measured target)
  std::string spec;          // fault: the profile applied
  std::string restored;      // fault with a duration: the profile put back after it
  std::string method;        // the request: a fault's is POST /admin/fault
  std::string path;
  double at_s = 0;           // scheduled start
  double duration_s = 0;     // fault: scheduled length (0: to the end)
  double start_s = -1;       // actual: when the request was sent (-1: never)
  double end_s = -1;         // actual end: fault restored (or the phase's end); action: its response (-1: none)
  int status = 0;            // the request's response status (0: none)
  std::string error;         // why it failed or was not sent ("" when it worked)
};

// One number from a target's /metrics over time, read by the runner once per second of the
// measured phase (schema 7; in runs with dependencies or timed events, and in runs of a spawned
// target with a database, `db`). Points are (t_s,
// value) with t_s in seconds from the start of the measured phase; a second whose scrape got no
// answer in time (a target too busy to serve /metrics) has no point.
struct metric_series {
  std::string target;  // "" the measured target, else its [[target]] name
  // "requests_per_s": requests answered per second (perflab_target_requests_total but /metrics,
  //   /health and /admin/*), between two scrapes, at the first one's time;
  // "breaker_state": perflab_upstream_breaker_state (0 closed, 1 open, 2 half-open), at the scrape;
  // "pool_waiting": perflab_db_pool_waiting (requests waiting for a connection), at the scrape;
  // "pool_waiting_peak": perflab_db_pool_waiting_peak (the most at once since the target started);
  // "pool_acquire_wait_ms": the mean acquire wait (perflab_db_pool_acquire_wait_seconds_sum /
  //   _count) of the acquisitions served between two scrapes, at the first one's time;
  // "outbox_orders", "outbox_backlog", "outbox_consumed", "outbox_duplicates", "outbox_lost",
  //   "outbox_recovery_s": a target with --outbox-db, its perflab_outbox_orders_total, _backlog,
  //   _consumed_total, _duplicates_total, _lost and _recovery_seconds at the scrape.
  std::string metric;
  std::vector<std::pair<double, double>> points;
};

// A series of the measured target's /metrics named in the scenario's [report] metrics, read
// before the load started and after it drained (warm-up and drain included), so its change counts
// every effect of the variant's requests: e.g. orders created against successful POSTs.
struct counter_delta {
  std::string metric;   // as written in [report] metrics: a name (every series summed) or name{labels}
  double before = 0;    // value before the load (0 when not found)
  double after = 0;     // value after the drain
  double delta = 0;     // after - before
  bool found = false;   // false: not in the target's /metrics at both reads (or /metrics did not answer)
};

struct threshold_verdict {
  std::string expression;  // as written, e.g. "ttlb.p99 < 50ms"
  double actual = 0;       // measured value in the expression's unit base (us for latency, fraction for rates)
  double limit = 0;
  bool passed = false;
};

// One process (rank) of a distributed run: its share and what it measured. The variant's own
// counts and histograms are the lossless merge of every rank's; these lines show how evenly the
// ranks carried the load and whether one of them fell behind.
struct rank_summary {
  int rank = 0;                   // MPI rank (0 wrote the results)
  std::string host;               // hostname the rank ran on
  double rate = 0;                // open loop: its share of the arrivals (requests/s); 0 closed loop
  std::int64_t connections = 0;   // closed: its connections; open: its connection cap
  int threads = 0;                // its worker threads
  std::int64_t sent = 0;          // measured requests written
  std::int64_t completed = 0;     // complete responses
  std::int64_t succeeded = 0;     // complete responses with a success status
  std::int64_t errors = 0;        // errors of every class
  double send_lag_p99_us = 0;     // its send lag p99 (open loop)
  double ttlb_p99_us = 0;         // its TTLB p99 (corrected in open loop)
  bool saturated = false;         // its own saturation verdict; any rank's marks the run saturated
  bool lost = false;              // it went silent past the heartbeat deadline: its counts stop there
  double cpu_s = 0;               // its CPU (user + system) over the measured phase
  double clock_offset_us = 0;     // its wall clock minus rank 0's, ping-pong estimate (0 for rank 0)
  double clock_rtt_us = 0;        // round trip of the best ping-pong: the offset is good to +-rtt/2
};

struct variant {
  std::string name;                          // "model=reactor,connections=100"
  std::map<std::string, std::string> params; // the matrix values of this variant
  int repeat = 0;                            // 0-based repeat index
  bool complete = true;                      // false: interrupted or target died
  std::string incomplete_reason;
  load_model load;
  double measured_s = 0;                     // actual length of the measured phase (s), drain excluded
  // Measured requests: those whose start (intended time) falls in the measured phase, and those
  // carried in from the warm-up (still unanswered when it began). Counts below are of measured
  // requests, whenever they finished (a drain included), unless they say "in the window".
  std::int64_t sent = 0;                     // requests written in the measured phase
  std::int64_t completed = 0;                // complete responses (any status) to measured requests
  std::int64_t succeeded = 0;                // of those, responses with a success status (load.success)
  std::int64_t completed_in_window = 0;      // responses (any status, any request) that arrived in the measured phase
  std::int64_t succeeded_in_window = 0;      // of those, with a success status
  std::int64_t carried_in = 0;               // requests sent in the warm-up, unanswered when the measured phase began
  std::int64_t stalled = 0;                  // carried-in requests still unanswered when the measured phase ended:
                                             // no progress through the whole phase (starved clients)
  std::int64_t unsent = 0;                   // measured arrivals never written: queued when the load stopped
  std::int64_t abandoned = 0;                // measured requests still unanswered at the drain deadline
  std::int64_t retries = 0;                  // idempotent requests resent once after a stale keep-alive connection
  // Client retries ([load] retry, schema 7). Status counts, completed and the latencies are of
  // each request's final answer; the answers that were retried only show here.
  std::int64_t attempts = 0;                 // requests written, each retry included: sent + client_retries
                                             // (what the target saw; stale keep-alive resends apart)
  std::int64_t client_retries = 0;           // retries written (an answer in load.retry's statuses, sent again)
  std::int64_t retried_succeeded = 0;        // requests retried at least once whose final answer succeeded
  std::int64_t retries_exhausted = 0;        // requests whose last allowed retry got a retried status again
  std::int64_t preflights = 0;               // [load] cors: preflight OPTIONS written before measured requests (each
                                             // is part of its request's latency, never a sample of its own)
  double tps_mean = 0;                       // goodput: succeeded_in_window / measured_s (successful responses/s)
  double rps_mean = 0;                       // completed_in_window / measured_s (all responses/s)
  std::int64_t connections_opened = 0;        // connects that succeeded for measured requests
  std::int64_t connections_warmup = 0;        // connects that succeeded in the warm-up (kept alive into the phase)
  // Schema 8, curl engine with HTTP/2 (0 otherwise): the most requests in flight at once on one
  // connection (concurrent streams) over the measured phase; streams themselves are the requests.
  std::int64_t streams_peak = 0;
  error_counts errors;
  double error_rate = 0;                     // (errors.total() + abandoned) / (completed + errors.transport() + abandoned)
  latency_summary connect;                   // new connections only
  latency_summary ttfb;                      // corrected (from intended send time) in open loop
  latency_summary ttlb;
  latency_summary ttfb_uncorrected;          // from the actual write
  latency_summary ttlb_uncorrected;
  latency_summary send_lag;                  // actual write - intended time (open loop)
  // Schema 8, curl engine only (zeros otherwise), from libcurl's CURLINFO_*_TIME_T clock:
  latency_summary tls_handshake;             // new TLS connections: TCP connected to TLS handshake done
  latency_summary curl_start_transfer;       // transfer start (connect included) to libcurl's first response byte
  // [load] follow (zeros otherwise): the requests answered 202 whose work was followed. Their TTLB is
  // the completion (the poll that found the work done), their TTFB the 202's first byte.
  latency_summary accepted;                  // intended send time to the 202's last byte
  std::int64_t follow_polls = 0;             // polls written (GET Location) for measured requests
  std::int64_t followed = 0;                 // measured requests whose work a poll found done
  cache_counts cache;                        // complete responses to measured requests, by X-Cache
  double cache_hit_ratio = 0;                // cache.hit_ratio(): hits / responses with X-Cache (0 when none)
  // Bytes on the wire (schema 5; 0 in older files): what the loadgen's sockets carried for the
  // measured requests, HTTP heads included, TCP/IP headers not. Content-Encoding is not undone:
  // a gzipped body counts its gzipped bytes.
  std::int64_t bytes_in = 0;                 // bytes of the complete responses to measured requests, as received
  std::int64_t bytes_out = 0;                // bytes of the measured requests written (a resend counted again)
  double mb_in_per_s = 0;                    // bytes_in / measured_s / 1e6 (MB/s, decimal)
  double mb_out_per_s = 0;                   // bytes_out / measured_s / 1e6
  double bytes_per_response = 0;             // bytes_in / completed: mean response size on the wire
  // TCP payload bytes as the kernel counted them (TCP_INFO's bytes_received and bytes_acked, 0 where
  // the kernel has none): what crossed the wire on the loadgen's connections from the measured
  // phase's start (or their connect, if later) to their close or the run's end, drain included.
  // TLS records, HTTP/2 frames and HPACK, and chunk framing are in them; TCP/IP headers are not.
  std::int64_t tcp_bytes_in = 0;
  std::int64_t tcp_bytes_out = 0;
  double tcp_bytes_per_response = 0;         // (tcp_bytes_in + tcp_bytes_out) / completed: both ways
  // Push delivery (schema 8, subscribe runs; zeros otherwise). Per subscriber, the messages
  // published to its topic during the run are expected once each, in sequence order; counts sum
  // over subscribers.
  std::int64_t published = 0;                // messages the built-in publisher had accepted (all topics)
  std::int64_t expected = 0;                 // sum over subscribers of the messages published to its topic
  std::int64_t received = 0;                 // first copies of expected messages received
  std::int64_t lost = 0;                     // expected - received: never received (by the end of the drain)
  std::int64_t duplicated = 0;               // copies of a message a subscriber had already received
  std::int64_t out_of_order = 0;             // first copies received after a later message of the same topic
  std::int64_t reconnects = 0;               // connections a subscriber opened after its first (stream ended, error)
  latency_summary delivery;                  // receive time - publish time (host steady clock), first copies only
  // SSE and WebSocket: from a stream's end (the server closed it, or a reset) to the subscriber's
  // next stream's head, one value per reconnect: how long a forced reconnect left it deaf (the
  // server's retry: delay included, as a browser waits it). Absent before this field (empty).
  latency_summary reconnect_gap;
  double requests_per_delivered = 0;         // subscriber HTTP requests (polls, stream opens) / received
  double bytes_per_delivered = 0;            // subscriber bytes received (heads, bodies, heartbeats) / received
  std::vector<second_point> series;
  loadgen_health loadgen;
  target_info target;
  std::map<std::string, std::int64_t> statuses;  // schema 6: complete responses to measured requests by status code
  std::map<std::string, std::int64_t> grpc_statuses;  // gRPC calls by grpc-status ("0": n, "5": m; empty: no gRPC)
  std::vector<target_info> dependencies;     // schema 6: the named [[target]]s, in start order
  std::vector<timed_event> events;           // schema 6: [[fault]] and [[action]], by scheduled start
  std::vector<metric_series> target_metrics; // schema 7: targets' /metrics per second (breaker state, requests/s)
  std::vector<counter_delta> target_counters; // [report] metrics: their change over the variant (empty without)
  std::vector<threshold_verdict> thresholds;
  std::string interval_log;                  // file name of the HdrHistogram interval log, relative to run dir
  std::string series_csv;                    // file name of the per-second CSV, relative to run dir
  bool stopped_early = false;                // a [load] stop_when condition fired: the measured phase ended there
  std::string stop_condition;                // the condition that fired and its value then, e.g.
                                             // "errors.count > 1000 (1204 after 3.0 s)"; empty unless stopped_early
  std::vector<rank_summary> ranks;           // distributed runs: one line per rank (empty: a single process)
};

// One step of a capacity search: the searched variable's value and the run measured at it.
struct search_step {
  double value = 0;                          // the searched variable: req/s (load.rate) or connections
  std::string outcome;                       // "pass" (objective held), "fail", "limited" (the loadgen, not the
                                             // target, broke it), "aborted" (interrupted, target died)
  bool marginal = false;                     // an objective value within the search's margin of its limit
  std::string reason;                        // why it failed or was limited, in one clause ("" on a clear pass)
  std::vector<threshold_verdict> objective;  // the objective checked on this step
  variant run;                               // the step's measured run (warm-up included), with its own files
};

// A capacity search of one variant (and repeat): the highest value of the variable that met the
// objective, the band its boundary lies in, and every step in the order run.
struct search_result {
  std::string variant;                       // the variant's name, as in run.variants
  int repeat = 0;                            // 0-based repeat index
  std::string variable;                      // "load.rate" or "load.connections"
  std::string unit;                          // "req/s" or "connections"
  std::vector<std::string> objective;        // the objective's expressions, all of which must hold
  double range_low = 0;                      // searched range, in `unit`
  double range_high = 0;
  double resolution = 0;                     // fraction: bisection stops when the band is this narrow
  int confirmations = 0;                     // extra passing runs required at the final level
  std::string verdict;                       // "found", "within_noise", "below_range", "above_range",
                                             // "loadgen_limited", "incomplete"
  double capacity = 0;                       // highest value that met the objective stably (found, within_noise;
                                             // above_range: range_high, a lower bound); 0 for the other verdicts
  double band_low = 0;                       // the objective's boundary lies in [band_low, band_high]
  double band_high = 0;
  std::string reason;                        // one sentence: why the search ended where it did
  std::vector<search_step> steps;            // in the order run
};

struct tool_info {
  std::string name = "perflab";
  std::string version;
  std::string commit;
  std::string build_type;
};

struct host_info {
  std::string kernel;
  std::string cpu_model;
  int cpus = 0;
  std::string hostname;
};

struct run {
  int schema = schema_version;
  tool_info tool;
  host_info host;
  std::string started_at;        // ISO 8601 UTC
  std::string scenario_name;
  std::string scenario_path;
  std::string scenario_text;     // the scenario file as run (with --set overrides listed below)
  std::vector<std::string> overrides;
  bool complete = true;          // false: interrupted (SIGINT/SIGTERM) or a variant incomplete
  std::vector<variant> variants; // one per variant and repeat; a searched variant's entry is its representative
                                 // step (the capacity level, or the step that ended the search)
  std::vector<search_result> searches;  // capacity searches ([search]), one per variant and repeat
};

}  // namespace perflab::result
