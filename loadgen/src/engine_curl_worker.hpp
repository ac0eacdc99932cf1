#pragma once
// The load engine's worker on libcurl's multi interface: HTTPS and HTTP/2 (the Asio worker speaks
// cleartext HTTP/1.1 only). One thread per worker runs an Asio io_context that drives libcurl
// with curl_multi_socket_action: libcurl says which sockets to watch (CURLMOPT_SOCKETFUNCTION)
// and when its next timeout is (CURLMOPT_TIMERFUNCTION); the loop waits on those sockets'
// readiness (async_wait on the descriptor) and on one timer: no polling loop. The schedule, phases,
// per-second hand-offs and the drain are the phase controller's (engine_phases.hpp), which the Asio
// worker shares, and recording is engine_record.hpp's: the two engines' numbers mean the same.
//
// Request slots are easy handles, made on first use and reused for every request (libcurl keeps
// its connections in the multi handle's pool). Timing on our steady clock, in callbacks: TTFB at
// the final response's status line (header callback), TTLB at its last byte (body or header
// callback). libcurl's own split (TCP connect, TLS handshake, start transfer) is recorded beside.
// Its code is in engine_curl.cpp (callbacks, readiness, a request's start and end),
// engine_curl_again.cpp (retries, follow polls, a slot's next request) and engine_curl_phases.cpp
// (its hooks of the phase controller); engine_curl.hpp / engine_curl_setup.cpp hold what needs no
// loop.
#include <algorithm>
#include <deque>
#include <memory>
#include <vector>

#include <utility>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"  // as in engine_asio.hpp: Asio's scheduler, GCC 12
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#pragma GCC diagnostic pop

#include "engine_curl.hpp"
#include "engine_phases.hpp"
#include "engine_record.hpp"
#include "engine_wire.hpp"
#include "perflab/core/clock.hpp"
#include "perflab/loadgen/follow.hpp"

namespace perflab::loadgen::detail::curl_engine {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

class curl_worker;

// One easy handle: a request slot (open loop) or a client (closed loop).
struct transfer {
  explicit transfer(asio::io_context& ioc) : timer(ioc) {}
  CURL* easy = nullptr;
  asio::steady_timer timer;        // closed loop: think time and reconnect back-off
  bool busy = false;               // added to the multi handle
  bool measured = false;           // the request in flight is recorded
  bool carried = false;            // ...because it was unanswered when the measured phase began
  bool body_set = false;           // CURLOPT_POSTFIELDS is set (the request has a body)
  bool added = false;              // in the multi handle (libcurl has its times and counts)
  bool in_body = false;            // body bytes came: later header lines are trailers
  bool idempotent = false;         // its request may be retried ([load] retry)
  bool resend_refused = false;     // libcurl would have resent it (not idempotent): aborted instead
  bool stale_resent = false;       // resent once after its reused connection ended before any answer
  std::int64_t bytes_out = 0;      // its request's bytes (counted again per retry)
  bool retry_wait = false;         // answered with a retried status: waiting out the backoff
  std::int64_t policy_retries = 0; // retries of its request so far
  std::int64_t first_write_ns = 0; // the first attempt's write (uncorrected latency spans the retries)
  std::int64_t retry_after_s = -1; // the final response's Retry-After (delay-seconds), -1: none
  int grpc_status = -1;            // gRPC: grpc-status from the trailers or a trailers-only head (-1: none, -2: unreadable)
  std::size_t req = static_cast<std::size_t>(-1);  // its request in the table (options set for it)
  std::int64_t intended_ns = 0;    // request start: schedule time (open) or the hand-over (closed)
  std::int64_t add_ns = 0;         // handed to libcurl (its transfer starts at the next loop turn)
  std::int64_t write_ns = 0;       // the request about to go out on its connection (0: not yet)
  std::int64_t head_ns = 0;        // the latest status line: the final response's first byte
  std::int64_t last_ns = 0;        // the latest response bytes (head or body)
  http::cache_status cached = http::cache_status::none;  // the final response's X-Cache
  bool verifying = false;          // --verify on a measured request: the response is kept
  std::string verify_raw;          // ...here, as verify_response() reads it
  curl_worker* owner = nullptr;    // for the callbacks that get only the transfer
  int stream_on = -1;              // HTTP/2: the local port of the connection its stream is counted on
  std::unique_ptr<curl_stamped_request> stamped;  // its own copy of a request with `{uuid}`s
  std::size_t stamped_index = 0;   // ...which request of the mix it is
  // [load] follow: the request was answered 202 and its work is polled for (the handle's options
  // are the poll's then: t.req is reset, so the next request sets its own again).
  bool following = false;
  std::int64_t accept_head_ns = 0; // the 202's first byte: the followed request's TTFB
  std::string follow_raw;          // the final response's head (and a poll's body), up to follow_max_capture
  std::string follow_url;          // the poll's URL: the request's origin and the Location's path
};

// A socket libcurl asked us to watch. The descriptor does not own the socket: it stays
// registered with the loop while libcurl keeps the connection in its pool (no epoll churn per
// request) and is released when libcurl closes the socket (CURLOPT_CLOSESOCKETFUNCTION).
struct watch {
  explicit watch(asio::io_context& ioc) : sd(ioc) {}
  asio::posix::stream_descriptor sd;
  int want = 0;               // CURL_POLL_IN / OUT / INOUT; 0: not watched
  bool in_armed = false;      // a wait (or a posted action) for readability is pending
  bool out_armed = false;
  std::uint32_t gen = 0;      // bumped when libcurl closes the socket: older handlers return
};

class curl_worker final : public phase_controller<curl_worker> {
 public:
  curl_worker(const shared_setup& s, int index, int workers, std::int64_t connections, std::int64_t quota);
  ~curl_worker() override;

 private:
  friend class phase_controller<curl_worker>;

  // ---- the phase controller's hooks (engine_phases.hpp says what each one does) ----
  void start_clients(std::int64_t delay_ns);
  void issue(std::int64_t due);
  std::int64_t carry_into_measured();
  std::int64_t outstanding_before(std::int64_t t) const noexcept;
  std::int64_t carried_outstanding() const noexcept;
  // in_flight_ counts a request between two attempts too (the Asio worker keeps those apart).
  std::int64_t unanswered() const noexcept { return in_flight_; }
  // Timeouts are libcurl's (CURLOPT_CONNECTTIMEOUT_MS, CURLOPT_TIMEOUT_MS): a transfer that runs
  // out ends in on_done, which records it given up.
  void check_timeouts(std::int64_t) noexcept {}
  void drain_idle();
  void abandon_unanswered(std::int64_t now);
  void stop_io();

  // ---- libcurl's callbacks ----
  static int on_socket(CURL*, curl_socket_t fd, int what, void* self, void*);
  static int on_timer(CURLM*, long timeout_ms, void* self);
  static int on_close_socket(void* self, curl_socket_t fd);
  static int on_prereq(void* t, char*, char*, int, int);
  static std::size_t on_header(char*, std::size_t size, std::size_t n, void* t);
  static std::size_t on_body(char*, std::size_t size, std::size_t n, void* t);

  void arm(int fd);
  void on_ready(int fd, std::uint32_t gen, int mask, const error_code& ec);
  void on_curl_timeout();
  // [load] retry covers a lost answer of t's request (on "reset", attempts left).
  bool policy_takes_lost(const transfer& t) const noexcept {
    return cfg_.retry.enabled() && should_retry(cfg_.retry, t.idempotent, retry_policy::reset_code, t.policy_retries);
  }
  void check_done();  // completed transfers, after every curl_multi_socket_action

  // ---- following 202s ([load] follow, follow.hpp), as the Asio worker does ----
  // What the answer that just ended on t means for its request; starts following a 202 (the
  // handle's options become the poll's).
  follow_step follow_next(transfer& t, long status, std::int64_t now);
  bool follow_on_ = false;

  // ---- requests ----
  transfer* free_slot();
  void start(transfer& t, std::int64_t intended);  // intended 0: closed loop (starts now)
  void on_done(transfer& t, CURLcode code);
  void add(transfer& t);                                    // hands t to libcurl
  void resend(transfer& t);                                 // [load] retry: the same request again
  void use_freed_capacity();                                // open loop: ready retries, then queued arrivals
  bool at_cap() const noexcept {                            // open loop: every allowed transfer is in libcurl
    return in_flight_ - retry_waiting_ >= static_cast<std::int64_t>(max_slots_);
  }
  void next_for(transfer& t, bool connect_failed);

  // ---- closed loop ----
  void closed_loop_wait(transfer& t, std::int64_t delay_ns);

  asio::steady_timer curl_timer_;
  bool timeout_posted_ = false;
  CURLM* multi_ = nullptr;
  // Over TLS with tls_resume: the worker's TLS session cache, shared by its easy handles, so a new
  // connection on any handle resumes a session another one made (libcurl's default cache is per
  // handle). One thread per worker: no lock callbacks needed.
  CURLSH* share_ = nullptr;
  curl_slist* resolve_ = nullptr;  // CURLOPT_RESOLVE: the URL's name to the address run_load resolved
  std::vector<std::unique_ptr<watch>> watches_;  // by socket number
  wire_meter wire_;  // TCP bytes per connection, from the kernel
  // keepalive max:K: requests completed per connection, by socket number (reset when libcurl
  // closes it). At K the connection is shut down in libcurl's pool, which then finds it dead at
  // its next reuse and opens a new one: libcurl has no per-connection request limit of its own.
  std::vector<std::int64_t> requests_on_;
  // HTTP/2: streams in flight per connection (by its local port), from the request's write to
  // its end, for streams_peak (65,536 entries, made at the first HTTP/2 request).
  std::vector<std::int32_t> streams_on_;
  void stream_ended(transfer& t);
  // Cleartext HTTP/2 (h2c: gRPC, or --http2 on http://): libcurl 7.88 (Debian 12's) fails a transfer asking for prior
  // knowledge on a connection it reuses ("Error in the HTTP2 framing layer", curl/curl#10634, fixed
  // in 8.0). So such a worker keeps one connection: the transfer that opens it asks for prior
  // knowledge, every later one for HTTP/2 without it (which reuses an HTTP/2 connection as it
  // should, and cannot open a second one: the connection cap is 1), until the connection closes.
  bool h2c_ = false;
  bool h2c_open_ = false;          // the connection is open or being opened by a transfer
  std::deque<transfer> slots_;     // a deque: a transfer never moves (libcurl holds its address)
  std::size_t max_slots_;
  std::vector<transfer*> free_;    // open loop: slots with nothing to do
  rng rng_;
  std::int64_t in_flight_ = 0;     // handed to libcurl or waiting out a retry's backoff
  std::int64_t retry_waiting_ = 0; // ...of which waiting: their slots do not count against the cap
  std::deque<transfer*> ready_retries_;  // open loop: backoff over, waiting for a transfer to end
  resilience::backoff backoff_;    // [load] retry's waits
};

}  // namespace perflab::loadgen::detail::curl_engine

namespace perflab::loadgen::detail {
extern template class phase_controller<curl_engine::curl_worker>;  // engine_phases.cpp
}  // namespace perflab::loadgen::detail
