#pragma once
// The load engine's worker on Boost.Asio: one thread with its own io_context, connections,
// buffers, schedule share and histograms (merged by run_load after join). See
// docs/methodology.md for what is measured and why. Its parts:
//   engine_asio.cpp         the I/O: connect, send, read, complete, fail, the stale keep-alive
//                           resend and the slot's close and reuse
//   engine_asio_cors.cpp    [load] cors, the browser mode: a preflight before a non-simple
//                           request, its answer judged, then the request on the same connection
//   engine_asio_phases.cpp  its hooks of the phase controller (engine_phases.hpp, which holds the
//                           schedule and phase rules both engines share): a due request's
//                           connection, the closed loop's clients, what the measured phase carries
//                           in, timeouts, the drain's idle connections and abandoned requests
//   engine_record.hpp/.cpp  what any engine shares, no sockets: recording a request's outcome
//                           into sample sets, error classes, the queue of pending send times
//
// Hot path per request: pick a pre-rendered request (an index), one non-blocking send(), one
// queued async_read_some, a few histogram increments. No allocation, lock or formatting: every
// handler captures at most two pointers (Asio recycles its handler memory per thread).
#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <utility>
// Asio's scheduler trips GCC 12's -Wnull-dereference flow analysis at -O2 (a false positive in
// scheduler.ipp's thread-info lookup); silenced for Asio's lines only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#pragma GCC diagnostic pop

#include "engine_internal.hpp"
#include "engine_phases.hpp"
#include "engine_record.hpp"
#include "engine_wire.hpp"
#include "perflab/core/http.hpp"

namespace perflab::loadgen::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

inline constexpr std::size_t read_buffer_size = 16 * 1024;

struct connection {
  enum class state : std::uint8_t { closed, connecting, idle, busy, closing };

  explicit connection(asio::io_context& ioc) : sock(ioc), timer(ioc) {}

  tcp::socket sock;
  asio::steady_timer timer;       // closed loop: think time and reconnect back-off
  std::unique_ptr<char[]> buf;    // read buffer, allocated when the slot first connects
  http::response_parser parser;
  state st = state::closed;
  int ops = 0;                    // outstanding async operations on sock
  bool read_armed = false;        // an async_read_some is queued (also while idle: see arm_idle_read)
  bool has_request = false;       // connecting/busy with a request assigned
  bool measured = false;          // the current request (or connect) is recorded
  bool carried = false;           // ...because it was still unanswered when the measured phase began
  bool timed_out = false;
  bool connect_failed = false;
  bool idle_closed = false;       // closed loop: closed while thinking (the think timer still runs)
  std::int64_t intended_ns = 0;   // request start for corrected numbers (open: schedule; closed: write)
  std::int64_t write_ns = 0;      // actual write
  std::int64_t first_byte_ns = 0; // 0 until any byte of the response arrived
  std::int64_t head_ns = 0;       // arrival of the latest status line: the final response's first byte (TTFB)
  std::int64_t last_data_ns = 0;  // arrival of the latest response bytes (TTLB of a close-delimited body)
  std::int64_t connect_start_ns = 0;
  std::int64_t deadline_ns = never;
  std::int64_t requests_done = 0; // on this connection
  std::string_view pending_write; // unwritten tail after a partial send
  rendered_request req;           // the request in flight (resent as is by a retry)
  std::string stamped;            // req's bytes with fresh `{uuid}`s (reserved before the run; unused without)
  std::string verify_raw;         // --verify only: the response so far, as received (empty otherwise)
  bool retrying = false;          // the request in flight is a resend after a stale keep-alive connection
  // [load] retry (client retries; the stale resend above is apart from them):
  bool policy_retry = false;      // the request in flight (or waiting here) is being retried
  bool retry_wait = false;        // closed loop: this client waits out its request's backoff (timer)
  std::int64_t policy_retries = 0;    // retries made so far for the request
  std::int64_t retry_delay_ns = 0;    // closed loop: the backoff being waited out
  std::int64_t attempt_start_ns = 0;  // uncorrected latency's start: the write of the request's first
                                      // attempt (of the stale resend's write when there was one)
  // [load] follow: the request was answered 202 and its work is being polled for. req is then the
  // poll (its bytes in stamped; follow_buf is where the next one is rendered before the swap).
  bool following = false;
  std::int64_t accept_head_ns = 0;    // the 202's first byte: the followed request's TTFB
  std::string follow_buf;             // reserved before the run (follow_max_poll_bytes); unused without follow
  // [load] cors (engine_asio_cors.cpp); one browser per connection:
  std::size_t req_index = 0;        // req's buffer in the mix: its preflight and its cache entry
  bool preflight = false;           // the exchange in flight is req's preflight, the request waits for it
  bool preflight_passed = false;    // req's preflight was allowed but its connection closed: the resend
                                    // on a new one goes without (the browser has the answer)
  std::string preflight_head;       // the preflight answer as received (reserved at the slot's first connect)
  browser_cors::cache cors_cache;   // this browser's preflight answers (made at the slot's first connect)
};

// Open loop: a request waiting out its retry's backoff, then for a connection. Its bytes are
// copied here when they carry a `{uuid}` (its connection goes on with other requests).
struct waiting_retry {
  rendered_request req;
  std::string stamped;
  std::size_t req_index = 0;  // [load] cors: req's buffer in the mix
  std::int64_t intended_ns = 0, attempt_start_ns = 0, retries = 0;
  bool measured = false, carried = false;
  bool following = false;  // [load] follow: a poll waiting out `every` (its bytes in stamped)
  std::int64_t accept_head_ns = 0;
};

class asio_worker final : public phase_controller<asio_worker> {
 public:
  asio_worker(const shared_setup& s, int index, int workers, std::int64_t connections, std::int64_t quota)
      : phase_controller(s, index, workers, quota),
        follow_on_(s.cfg->follow.enabled()),
        retry_timer_(ioc_),
        rng_(s.cfg->seed ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(index + 1))),
        backoff_(s.cfg->retry.backoff, s.cfg->seed * 0x2545F4914F6CDD1DULL + static_cast<std::uint64_t>(index)) {
    endpoint_ = tcp::endpoint(asio::ip::make_address(s.host), s.port);
    conns_.reserve(static_cast<std::size_t>(connections));
    for (std::int64_t i = 0; i < connections; ++i) {
      conns_.push_back(std::make_unique<connection>(ioc_));
      conns_.back()->stamped.reserve(stamped_reserve());
      if (follow_on_) conns_.back()->follow_buf.reserve(follow_max_poll_bytes);
    }
    idle_.reserve(conns_.size());
    closed_.reserve(conns_.size());
    for (auto it = conns_.rbegin(); it != conns_.rend(); ++it) closed_.push_back(it->get());
  }

 private:
  friend class phase_controller<asio_worker>;

  // ---- the phase controller's hooks (engine_phases.hpp says what each one does) ----
  void start_clients(std::int64_t delay_ns);
  std::int64_t carry_into_measured();
  std::int64_t outstanding_before(std::int64_t t) const noexcept;
  std::int64_t carried_outstanding() const noexcept;
  // Requests on a connection (in_flight_) and, apart from them, those between two attempts
  // (retry_waiting_): the curl worker counts both in its in_flight_, this one keeps them apart
  // because a parked open-loop retry holds no connection slot.
  std::int64_t unanswered() const noexcept { return in_flight_ + retry_waiting_; }
  void check_timeouts(std::int64_t now);
  void drain_idle();
  void abandon_unanswered(std::int64_t now);
  void stop_io();

  // ---- open loop: the arrival schedule ----
  // One scheduled request: an idle connection, else a new one (up to the cap), else the queue.
  void issue(std::int64_t due);

  // Gives free connections (idle, else a free slot) the requests waiting for one, the earlier
  // first: due retries and queued arrivals.
  void dispatch_pending();

  // Which waiting request a free connection takes now: 0 none, 1 a queued arrival, 2 a due retry.
  int next_waiting(std::int64_t now) const noexcept {
    const bool arrival = !pending_.empty() && phase_ != phase::draining && phase_ != phase::done;
    const bool retry = !retry_heap_.empty() && retry_heap_.front().first <= now && phase_ != phase::done;
    if (retry && (!arrival || retry_heap_.front().first < pending_.front())) return 2;
    return arrival ? 1 : 0;
  }

  // ---- following 202s ([load] follow, follow.hpp) ----
  // What the answer just completed on c means for its request; starts following a 202 (its
  // Location's poll rendered into c.req, the 202's latency recorded as accepted).
  follow_step follow_next(connection& c, int status, std::int64_t t);
  // Bytes a connection's or a waiting retry's stamped buffer is reserved for: the longest
  // request with `{uuid}`s, or a follow poll.
  std::size_t stamped_reserve() const noexcept {
    return std::max(s_.mix->max_uuid_request_bytes(), follow_on_ ? follow_max_poll_bytes : std::size_t{0});
  }

  // ---- client retries ([load] retry) ----
  // Open loop: the request answered at c goes to wait until `ready` (its backoff), then takes a
  // free or new connection like a queued arrival (the schedule is not held up).
  void park_retry(connection& c, std::int64_t ready);
  // Sends the earliest due retry on c: idle (connected) or a free slot to connect.
  void send_retry(connection& c, bool idle);
  void arm_retry_timer();

  // ---- closed loop ----
  void closed_loop_wait(connection& c, std::int64_t delay_ns);

  void closed_loop_next(connection& c);

  // ---- connections ----
  // intended == 0: a closed-loop request (it starts at the write). resend: the slot reconnects
  // for a request already in flight (a stale keep-alive retry), which keeps its phase.
  void start_connect(connection& c, bool with_request, std::int64_t intended, bool resend = false);

  void on_connect(connection& c, const error_code& ec);

  // Writes a request. intended == 0: closed loop, the request starts at the write.
  void send(connection& c, std::int64_t intended);

  void on_write(connection& c, const error_code& ec);

  // One non-blocking send of out (the request, or its preflight), the rest queued; then a read.
  void write_bytes(connection& c, std::string_view out);

  // ---- [load] cors, the browser mode (engine_asio_cors.cpp) ----
  // A slot connects as a new browser: an empty preflight cache (made at its first connect).
  void cors_new_browser(connection& c);
  // What send() writes first: req's preflight when it needs one and the cache has no fresh answer
  // (counted in preflights), else req itself.
  std::string_view cors_first_write(connection& c);
  // The preflight's answer is complete at t: the request goes on the same connection when allowed
  // (cached for its max-age), or ends as errors.cors_refused, never sent.
  void on_preflight_answer(connection& c, std::int64_t t, bool peer_closed, bool overrun);

  // One read at a time per connection. It stays armed while the connection is idle, so a close
  // by the server (its keep-alive timeout) is seen when it happens, and bytes nobody asked for
  // (an unsolicited 408, a framing overrun) are counted instead of being taken as the next
  // request's response.
  void start_read(connection& c) {
    if (c.read_armed) return;
    c.read_armed = true;
    ++c.ops;
    c.sock.async_read_some(asio::buffer(c.buf.get(), read_buffer_size),
                           [this, &c](const error_code& ec, std::size_t n) { on_read(c, ec, n); });
  }

  void on_read(connection& c, const error_code& ec, std::size_t n);

  // Bytes or a close on a connection with no request in flight.
  void on_idle_read(connection& c, const error_code& ec, std::size_t n, std::int64_t t);

  // A complete response whose last byte arrived at t (steady ns).
  void complete(connection& c, std::int64_t t, bool peer_closed, bool overrun);

  void closed_loop_after(connection& c, std::int64_t delay_ns) {
    if ((phase_ == phase::draining && !c.retry_wait) || phase_ == phase::done) {
      if (c.st == connection::state::idle) close_conn(c);
      return;
    }
    closed_loop_wait(c, delay_ns);
  }

  void make_idle(connection& c);

  // Whether the connection may carry the next request after this answer (the server's framing
  // and the keep-alive policy).
  bool reusable(const connection& c, bool peer_closed, bool overrun) const noexcept;
  // The request is over on c: idle (open loop), its next request after delay_ns (closed loop), or
  // closed when not reusable.
  void release(connection& c, bool reuse, std::int64_t delay_ns);

  // A failed request or connect: count it (by the request's phase), close, replace.
  void fail(connection& c, err what);

  static bool is_reset(const error_code& ec) noexcept {
    return ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
  }

  // A keep-alive connection that already carried a request and fails (EOF, reset) before any
  // byte of the response most likely sat idle until the server closed it (its idle timeout) and
  // the close crossed our request: the server never saw this request, so that is no server
  // error. An idempotent request (RFC 9110 9.2.2) is resent once on a fresh connection; it keeps
  // its intended time, so the reconnect shows in corrected latency. Returns false when the
  // failure must count as usual.
  bool retry_stale(connection& c);
  // [load] retry on "reset": a request whose answer was lost (reset or closed before its first
  // byte) goes again after its backoff, whatever the connection carried before. False when the
  // policy does not cover it.
  bool retry_reset(connection& c);
  // A request's connection ended before any byte of its answer: the policy's retry when it
  // covers the request (counted in client_retries), else the stale keep-alive resend.
  bool answer_lost(connection& c) { return retry_reset(c) || retry_stale(c); }

  // A measured request given up at `now` (read timeout, a connect that timed out with the
  // request riding on it, or still unanswered at the drain deadline) goes into the latency
  // histograms as a lower bound of its latency: leaving it out would make a server that times
  // out look faster than one that answers late. Uncorrected numbers start at the write, or at
  // the connect when it was never written.
  void record_given_up(const connection& c, std::int64_t now);

  void close_conn(connection& c);

  // The slot is reusable once every handler of the old socket has run.
  void maybe_closed(connection& c);

  bool follow_on_;  // cfg_.follow.enabled()
  tcp::endpoint endpoint_;
  asio::steady_timer retry_timer_;   // open loop: the earliest retry's backoff end
  std::int64_t retry_timer_at_ = never;
  rng rng_;
  resilience::backoff backoff_;  // [load] retry's waits (stateless jitters: one per worker)
  std::vector<std::unique_ptr<connection>> conns_;
  std::vector<connection*> idle_;    // open loop: connected, nothing to do
  std::vector<connection*> closed_;  // open loop: free slots for new connections
  std::int64_t open_ = 0;            // sockets open or connecting
  std::int64_t in_flight_ = 0;       // requests assigned to a connection, not yet answered
  std::int64_t retry_waiting_ = 0;   // requests between attempts: in retry_heap_ or a closed-loop retry_wait
  std::deque<waiting_retry> retry_slots_;       // open loop (a deque: its elements never move)
  std::vector<std::uint32_t> free_retry_slots_;
  std::vector<std::pair<std::int64_t, std::uint32_t>> retry_heap_;  // (ready ns, slot), earliest on top
  wire_meter wire_;  // TCP bytes per connection, from the kernel
};

extern template class phase_controller<asio_worker>;  // engine_phases.cpp

}  // namespace perflab::loadgen::detail
