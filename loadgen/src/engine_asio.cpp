// The load engine's worker on Boost.Asio: one thread with its own io_context, connections,
// buffers, schedule share and histograms (merged by run_load after join). See
// docs/methodology.md for what is measured and why.
//
// Hot path per request: pick a pre-rendered request (an index), one non-blocking send(), one
// queued async_read_some, a few histogram increments. No allocation, lock or formatting: every
// handler captures at most two pointers (Asio recycles its handler memory per thread).
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <memory>

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
#include "verify.hpp"
#include "perflab/core/clock.hpp"
#include "perflab/core/http.hpp"

namespace perflab::loadgen::detail {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr std::int64_t never = rate_profile::never;
constexpr std::size_t read_buffer_size = 16 * 1024;
constexpr auto housekeeping_period = std::chrono::milliseconds(5);
// After a failed connect a closed-loop client waits this long before trying again, so a refused
// port counts errors at a bounded rate instead of spinning.
constexpr std::int64_t reconnect_backoff_ns = 10'000'000;

// A fixed-capacity-doubling ring of intended send times (open loop requests waiting for a free
// connection; their clocks are running). Grows only when the backlog exceeds what it ever held.
class time_ring {
 public:
  time_ring() : buf_(1 << 16) {}
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  void push(std::int64_t t) {
    if (size_ == buf_.size()) grow();
    buf_[(head_ + size_) & (buf_.size() - 1)] = t;
    ++size_;
  }
  std::int64_t pop() noexcept {
    const std::int64_t t = buf_[head_];
    head_ = (head_ + 1) & (buf_.size() - 1);
    --size_;
    return t;
  }
  // Entries with a time before t (the ring is in time order: the first ones).
  std::size_t count_before(std::int64_t t) const noexcept {
    std::size_t n = 0;
    while (n < size_ && buf_[(head_ + n) & (buf_.size() - 1)] < t) ++n;
    return n;
  }

 private:
  void grow() {
    std::vector<std::int64_t> bigger(buf_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = buf_[(head_ + i) & (buf_.size() - 1)];
    buf_.swap(bigger);
    head_ = 0;
  }
  std::vector<std::int64_t> buf_;
  std::size_t head_ = 0, size_ = 0;
};

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
};

class asio_worker final : public load_worker {
 public:
  asio_worker(const shared_setup& s, int index, int workers, std::int64_t connections, std::int64_t quota)
      : s_(s),
        cfg_(*s.cfg),
        index_(index),
        ioc_(1),
        arrival_timer_(ioc_),
        housekeeping_(ioc_),
        schedule_(*s.profile, s.cfg->arrival == "poisson", index, workers, s.cfg->seed),
        rng_(s.cfg->seed ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(index + 1))),
        quota_(quota),
        interval_(std::make_unique<sample_set>()) {
    endpoint_ = tcp::endpoint(asio::ip::make_address(s.host), s.port);
    conns_.reserve(static_cast<std::size_t>(connections));
    for (std::int64_t i = 0; i < connections; ++i) {
      conns_.push_back(std::make_unique<connection>(ioc_));
      conns_.back()->stamped.reserve(s.mix->max_uuid_request_bytes());
    }
    idle_.reserve(conns_.size());
    closed_.reserve(conns_.size());
    for (auto it = conns_.rbegin(); it != conns_.rend(); ++it) closed_.push_back(it->get());
  }

  void run() override {
    // Timer precision: the default 50 us slack would be most of our send-lag budget.
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (s_.open) {
      next_due_ = due_abs(schedule_.next());
      arm_arrival();
    } else {
      const std::int64_t now = now_ns();
      for (auto& c : conns_) closed_loop_wait(*c, s_.run_start_ns - now);
      closed_.clear();
    }
    arm_housekeeping();
    ioc_.run();
  }

  const sample_set& totals() const noexcept override { return totals_; }
  bool interrupted() const noexcept override { return interrupted_; }
  std::int64_t stop_ns() const noexcept override { return stop_ns_; }
  bool quota_reached() const noexcept override { return quota_ > 0 && quota_used_ >= quota_; }
  std::int64_t last_measured_end_ns() const noexcept override { return last_measured_end_ns_; }

 private:
  // ---- time, phases and intervals ----
  std::int64_t due_abs(std::int64_t rel) const noexcept {
    return rel == never ? never : s_.run_start_ns + rel;
  }
  bool in_window(std::int64_t t) const noexcept { return t >= s_.measure_start_ns && t < s_.measure_end_ns; }

  // Whether a request that starts (intended time) at `intended` is recorded: its start falls in
  // the measured phase, or it is a warm-up request that goes out after the phase began (it waited
  // for a connection through the boundary: carried in).
  bool recorded(std::int64_t intended, bool& carried) const noexcept {
    carried = false;
    if (intended >= s_.measure_start_ns) return intended < s_.measure_end_ns;
    carried = phase_ != phase::warmup;
    return carried;
  }

  // End of interval k: the next second boundary, or the end of the measured phase.
  std::int64_t interval_end(std::int64_t k) const noexcept {
    const std::int64_t b = s_.measure_start_ns + (k + 1) * second_ns;
    return std::min(b, s_.measure_end_ns);
  }

  // Brings the phase and the current interval up to time t: called before anything that
  // happened at t is recorded, so every sample lands in the second it happened in (not in the
  // one the housekeeping tick happens to be in).
  void advance(std::int64_t t) {
    if (phase_ == phase::warmup && t >= s_.measure_start_ns) enter_measured();
    while (interval_index_ < s_.intervals && phase_ != phase::warmup && t >= interval_end(interval_index_))
      close_interval(interval_end(interval_index_));
  }

  // The measured phase begins: whatever is still unanswered from the warm-up is carried into
  // it. Its latency (from its own start) is recorded when it ends, and a request that never ends
  // is counted stalled and abandoned: a starved client is part of the measured phase's story.
  void enter_measured() {
    phase_ = phase::measured;
    for (auto& cp : conns_) {
      connection& c = *cp;
      if (!c.has_request) continue;
      if (c.st == connection::state::busy || (s_.open && c.st == connection::state::connecting) ||
          (c.st == connection::state::closing && c.retrying)) {
        c.measured = c.carried = true;
        ++totals_.carried_in;
      } else if (c.st == connection::state::connecting) {
        c.measured = true;  // closed loop: its request starts at the write, in the measured phase
      }
    }
    totals_.carried_in += static_cast<std::int64_t>(pending_.size());  // warm-up arrivals still queued
  }

  // Closes the current interval at `end` (steady ns): per-second stalled count, hand-off, and
  // at the measured phase's end the count of carried-in requests that never got an answer.
  void close_interval(std::int64_t end) {
    const std::int64_t start = s_.measure_start_ns + interval_index_ * second_ns;
    interval_->stalled = outstanding_since_before(start);
    const bool last_measured = interval_index_ + 1 >= s_.intervals || end < interval_end(interval_index_);
    if (last_measured) totals_.stalled = carried_outstanding();
    hand_off(end, false, last_measured ? s_.intervals : interval_index_ + 1);
  }

  // Requests outstanding now that started before t (sent or queued).
  std::int64_t outstanding_since_before(std::int64_t t) const noexcept {
    std::int64_t n = static_cast<std::int64_t>(pending_.count_before(t));
    for (const auto& cp : conns_)
      if (cp->has_request && cp->intended_ns < t &&
          (cp->st == connection::state::busy || cp->st == connection::state::connecting || cp->retrying))
        ++n;
    return n;
  }

  std::int64_t carried_outstanding() const noexcept {
    std::int64_t n = static_cast<std::int64_t>(pending_.count_before(s_.measure_start_ns));
    for (const auto& cp : conns_)
      if (cp->has_request && cp->carried) ++n;
    return n;
  }

  // ---- open loop: the arrival schedule ----
  void arm_arrival() {
    if (next_due_ == never || next_due_ >= s_.measure_end_ns) return;  // schedule over; housekeeping ends the phase
    // A thread woken by a timer runs tens of microseconds late (more in a VM), which would all
    // be send lag. So the timer fires spin_window early, and the last stretch is polled: a
    // posted continuation lets ready I/O handlers run first and then checks the clock again.
    if (next_due_ - now_ns() < cfg_.spin_window.count()) {
      asio::post(ioc_, [this] { on_arrivals(); });
      return;
    }
    arrival_timer_.expires_at(steady::time_point(nanos(next_due_ - cfg_.spin_window.count())));
    arrival_timer_.async_wait([this](const error_code& ec) {
      if (!ec) on_arrivals();
    });
  }

  void on_arrivals() {
    if (phase_ == phase::draining || phase_ == phase::done) return;
    if (send_due()) arm_arrival();
  }

  // Sends everything due by now at once; each request keeps its own intended time. False when
  // the --requests quota ended the run.
  bool send_due() {
    std::int64_t now = now_ns();
    while (next_due_ <= now && next_due_ < s_.measure_end_ns) {
      if (in_window(next_due_) && quota_ > 0 && quota_used_ >= quota_) {
        begin_drain(false);
        return false;
      }
      const std::int64_t due = next_due_;
      if (in_window(due)) ++quota_used_;
      next_due_ = due_abs(schedule_.next());
      issue(due);
      now = now_ns();
    }
    return true;
  }

  // One scheduled request: an idle connection, else a new one (up to the cap), else the queue.
  void issue(std::int64_t due) {
    if (!idle_.empty()) {
      connection& c = *idle_.back();
      idle_.pop_back();
      send(c, due);
    } else if (!closed_.empty()) {
      connection& c = *closed_.back();
      closed_.pop_back();
      start_connect(c, true, due);
    } else {
      pending_.push(due);
    }
  }

  void dispatch_pending() {
    while (!pending_.empty() && phase_ != phase::draining && phase_ != phase::done) {
      if (!idle_.empty()) {
        connection& c = *idle_.back();
        idle_.pop_back();
        send(c, pending_.pop());
      } else if (!closed_.empty()) {
        connection& c = *closed_.back();
        closed_.pop_back();
        start_connect(c, true, pending_.pop());
      } else {
        break;
      }
    }
  }

  // ---- closed loop ----
  void closed_loop_wait(connection& c, std::int64_t delay_ns) {
    if (delay_ns <= 0) {
      closed_loop_next(c);
      return;
    }
    c.timer.expires_after(nanos(delay_ns));
    c.timer.async_wait([this, &c](const error_code& ec) {
      if (!ec) closed_loop_next(c);
    });
  }

  void closed_loop_next(connection& c) {
    if (phase_ == phase::draining || phase_ == phase::done) {
      if (c.st == connection::state::idle) close_conn(c);
      return;
    }
    const std::int64_t now = now_ns();
    advance(now);
    if (now >= s_.measure_end_ns || (quota_ > 0 && quota_used_ >= quota_)) {
      begin_drain(false);  // closes idle clients, this one included
      return;
    }
    // The quota is taken here, before a connect that may be in flight for a while, so clients
    // connecting at the same time cannot overshoot --requests.
    if (in_window(now)) ++quota_used_;
    // The connect carries the request, so a drain waits for it like for any request in flight.
    if (c.st == connection::state::idle)
      send(c, 0);
    else
      start_connect(c, true, 0);
  }

  // ---- connections ----
  // intended == 0: a closed-loop request (it starts at the write). resend: the slot reconnects
  // for a request already in flight (a stale keep-alive retry), which keeps its phase.
  void start_connect(connection& c, bool with_request, std::int64_t intended, bool resend = false) {
    // Slots beyond what the load needs never cost a buffer (the default cap is large).
    if (!c.buf) c.buf.reset(new char[read_buffer_size]);
    const std::int64_t now = now_ns();
    advance(now);
    error_code ec;
    c.sock.open(endpoint_.protocol(), ec);
    if (!ec) c.sock.set_option(tcp::no_delay(true), ec);
    if (!ec) c.sock.non_blocking(true, ec);
    c.connect_start_ns = now;
    c.has_request = with_request;
    // A closed-loop connect carries the request's start for what a give-up at the connect
    // deadline records: the connect's start, never 0.
    c.intended_ns = with_request && intended != 0 ? intended : now;
    if (!resend) {
      if (s_.open) {
        c.measured = recorded(c.intended_ns, c.carried);
      } else {
        c.carried = false;
        c.measured = in_window(now);
      }
    }
    c.timed_out = c.connect_failed = false;
    c.requests_done = 0;
    c.read_armed = false;
    c.st = connection::state::connecting;
    ++open_;
    if (with_request) ++in_flight_;
    if (ec) {
      c.connect_failed = true;
      fail(c, connect_error_class(ec.value()));
      return;
    }
    c.deadline_ns = now + cfg_.connect_timeout.count();
    ++c.ops;
    c.sock.async_connect(endpoint_, [this, &c](const error_code& e) { on_connect(c, e); });
  }

  void on_connect(connection& c, const error_code& ec) {
    const std::int64_t now = now_ns();
    --c.ops;
    if (c.st == connection::state::closing) {
      maybe_closed(c);
      return;
    }
    advance(now);
    if (ec) {
      c.connect_failed = true;
      fail(c, ec == asio::error::connection_refused ? err::connect_refused : connect_error_class(ec.value()));
      return;
    }
    // Counted in the phase start_connect gave it: its request's, so a connection opened for an
    // overdue measured request after the measured phase still counts.
    if (c.measured) {
      totals_.connect.record(now - c.connect_start_ns);
      interval_->connect.record(now - c.connect_start_ns);
      ++totals_.connections_opened;
      ++interval_->connections_opened;
    } else {
      ++totals_.connections_warmup;  // how many keep-alive connections the phase may inherit
    }
    if (c.has_request) {
      --in_flight_;  // send() counts it again
      send(c, s_.open ? c.intended_ns : 0);
    } else if (s_.open) {
      make_idle(c);
    } else {
      send(c, 0);
    }
  }

  // Writes a request. intended == 0: closed loop, the request starts at the write.
  void send(connection& c, std::int64_t intended) {
    // A resend repeats its request, which was counted (sent, send lag) when first written.
    const bool resend = c.retrying;
    // The clock first: an interval closed at this point must not see this request half set up.
    const std::int64_t now = now_ns();
    advance(now);
    if (!resend) {
      c.req = s_.mix->pick(rng_);
      stamp_uuids(c.req, c.stamped, rng_);  // a fresh key per logical request; a resend keeps it
    }
    const rendered_request& req = c.req;
    c.parser.reset(req.head);
    c.verify_raw.clear();
    c.first_byte_ns = c.head_ns = c.last_data_ns = 0;
    c.has_request = true;
    c.st = connection::state::busy;
    ++in_flight_;
    c.write_ns = now;
    c.intended_ns = intended == 0 ? now : intended;
    if (!resend) c.measured = recorded(c.intended_ns, c.carried);
    c.deadline_ns = now + cfg_.request_timeout.count();
    if (c.measured) {  // a resend crosses the wire again
      totals_.bytes_out += static_cast<std::int64_t>(req.bytes.size());
      interval_->bytes_out += static_cast<std::int64_t>(req.bytes.size());
    }
    if (c.measured && !resend) {
      ++totals_.sent;
      ++interval_->sent;
      if (intended != 0) {
        totals_.send_lag.record(now - intended);
        interval_->send_lag.record(now - intended);
      }
    }
    const ssize_t n = ::send(c.sock.native_handle(), req.bytes.data(), req.bytes.size(), MSG_NOSIGNAL);
    const int send_errno = n < 0 ? errno : 0;
    if (n < 0 && send_errno != EAGAIN && send_errno != EWOULDBLOCK) {
      if (!((send_errno == EPIPE || send_errno == ECONNRESET) && retry_stale(c))) fail(c, io_error_class(send_errno));
      return;
    }
    const std::size_t written = n < 0 ? 0 : static_cast<std::size_t>(n);
    if (written < req.bytes.size()) {
      c.pending_write = req.bytes.substr(written);
      ++c.ops;
      asio::async_write(c.sock, asio::buffer(c.pending_write.data(), c.pending_write.size()),
                        [this, &c](const error_code& ec, std::size_t) { on_write(c, ec); });
    }
    start_read(c);
  }

  void on_write(connection& c, const error_code& ec) {
    --c.ops;
    if (c.st == connection::state::closing) {
      maybe_closed(c);
      return;
    }
    if (ec && c.st == connection::state::busy && !(is_reset(ec) && retry_stale(c))) fail(c, io_error_class(ec.value()));
  }

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

  void on_read(connection& c, const error_code& ec, std::size_t n) {
    // Stamped first: the time the read returned is the time the bytes arrived.
    const std::int64_t t = now_ns();
    --c.ops;
    c.read_armed = false;
    if (c.st == connection::state::closing) {
      maybe_closed(c);
      return;
    }
    if (c.st == connection::state::idle) {
      on_idle_read(c, ec, n, t);
      return;
    }
    if (c.st != connection::state::busy) return;
    advance(t);
    if (ec == asio::error::eof) {
      if (c.parser.finish_eof()) {
        // A close-delimited body ended with its last byte, not with the close that followed.
        if (c.first_byte_ns == 0) c.first_byte_ns = c.head_ns = t;
        complete(c, c.last_data_ns != 0 ? c.last_data_ns : t, true, false);
      } else if (!retry_stale(c)) {
        fail(c, err::closed_mid_response);
      }
      return;
    }
    if (ec) {
      if (!(is_reset(ec) && retry_stale(c))) fail(c, is_reset(ec) ? err::reset : io_error_class(ec.value()));
      return;
    }
    if (n == 0) {
      start_read(c);
      return;
    }
    c.last_data_ns = t;
    if (c.first_byte_ns == 0) c.first_byte_ns = t;
    const auto p = c.parser.feed(std::string_view(c.buf.get(), n));
    if (cfg_.verify && c.measured) c.verify_raw.append(c.buf.get(), p.consumed);  // off the default path
    if (p.status_line) c.head_ns = t;
    if (p.error != http::errc::ok) {
      fail(c, p.error == http::errc::closed_mid_response ? err::closed_mid_response : err::malformed);
      return;
    }
    if (p.complete) {
      // The loadgen sends one request at a time: bytes after the response answer nothing.
      complete(c, t, false, p.consumed < n);
      return;
    }
    start_read(c);
  }

  // Bytes or a close on a connection with no request in flight.
  void on_idle_read(connection& c, const error_code& ec, std::size_t n, std::int64_t t) {
    if (!ec && n > 0) {
      advance(t);
      if (phase_ == phase::measured) {
        count_error(totals_.errors, err::unsolicited);
        count_error(interval_->errors, err::unsolicited);
      }
    }
    // Closed by the server (keep-alive timeout), reset, or it spoke out of turn: the connection
    // cannot carry a request any more. Closed quietly; the next request opens a new one.
    if (!s_.open) c.idle_closed = true;
    close_conn(c);
  }

  // A complete response whose last byte arrived at t (steady ns).
  void complete(connection& c, std::int64_t t, bool peer_closed, bool overrun) {
    --in_flight_;
    c.has_request = false;
    c.retrying = false;
    ++c.requests_done;
    if (c.measured) {
      last_measured_end_ns_ = std::max(last_measured_end_ns_, t);
      const int status = c.parser.status();
      const bool ok = s_.success.contains(status);
      const std::int64_t fb = c.head_ns != 0 ? c.head_ns : c.first_byte_ns;
      const http::cache_status cached = c.parser.x_cache();
      const auto wire = static_cast<std::int64_t>(c.parser.wire_bytes());  // head and body, as received
      const bool verified = !cfg_.verify || verify_response(c.verify_raw, cfg_.verify_length);
      for (sample_set* set : {&totals_, interval_.get()}) {
        ++set->completed;
        set->bytes_in += wire;
        if (!verified) ++set->errors.verify_failed;
        if (ok && verified) ++set->succeeded;
        switch (cached) {
          case http::cache_status::none: break;
          case http::cache_status::hit: ++set->cache.hit; break;
          case http::cache_status::miss: ++set->cache.miss; break;
          case http::cache_status::stale: ++set->cache.stale; break;
          case http::cache_status::other: ++set->cache.other; break;
        }
        if (status >= 500) ++set->errors.status_5xx;
        else if (status >= 400) ++set->errors.status_4xx;
        if (status >= 100 && status < 600) ++set->statuses[static_cast<std::size_t>(status)];
        if (overrun) count_error(set->errors, err::unsolicited);
        set->ttfb.record(fb - c.intended_ns);
        set->ttlb.record(t - c.intended_ns);
        set->ttfb_uncorrected.record(fb - c.write_ns);
        set->ttlb_uncorrected.record(t - c.write_ns);
      }
    }
    c.measured = c.carried = false;
    const bool reuse = !peer_closed && !overrun && c.parser.keep_alive() && c.pending_write.empty() &&
                       cfg_.keepalive != keepalive_policy::new_connection &&
                       !(cfg_.keepalive == keepalive_policy::max_requests && cfg_.max_requests_per_connection > 0 &&
                         c.requests_done >= cfg_.max_requests_per_connection);
    if (reuse) {
      c.deadline_ns = never;
      if (s_.open) {
        make_idle(c);
      } else {
        c.st = connection::state::idle;
        start_read(c);
        closed_loop_after(c, cfg_.think_time.count());
      }
    } else {
      // The client closes the socket itself (new connection per request / K requests reached).
      close_conn(c);
    }
  }

  void closed_loop_after(connection& c, std::int64_t delay_ns) {
    if (phase_ == phase::draining || phase_ == phase::done) {
      if (c.st == connection::state::idle) close_conn(c);
      return;
    }
    closed_loop_wait(c, delay_ns);
  }

  void make_idle(connection& c) {
    c.st = connection::state::idle;
    c.deadline_ns = never;
    if (phase_ == phase::draining || phase_ == phase::done) {
      close_conn(c);
      return;
    }
    if (!pending_.empty()) {
      send(c, pending_.pop());
      return;
    }
    start_read(c);
    idle_.push_back(&c);
  }

  // A failed request or connect: count it (by the request's phase), close, replace.
  void fail(connection& c, err what) {
    const std::int64_t now = now_ns();
    advance(now);
    if (c.measured) {
      count_error(totals_.errors, what);
      count_error(interval_->errors, what);
      if (c.has_request) last_measured_end_ns_ = std::max(last_measured_end_ns_, now);
    }
    if (c.has_request) --in_flight_;
    c.has_request = false;
    c.retrying = false;
    c.measured = c.carried = false;
    close_conn(c);
  }

  static bool is_reset(const error_code& ec) noexcept {
    return ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
  }

  // A keep-alive connection that already carried a request and fails (EOF, reset) before any
  // byte of the response most likely sat idle until the server closed it (its idle timeout) and
  // the close crossed our request: the server never saw this request, so that is no server
  // error. An idempotent request (RFC 9110 9.2.2) is resent once on a fresh connection; it keeps
  // its intended time, so the reconnect shows in corrected latency. Returns false when the
  // failure must count as usual.
  bool retry_stale(connection& c) {
    if (c.retrying || !c.has_request || c.requests_done == 0 || c.first_byte_ns != 0 || !c.req.idempotent ||
        phase_ == phase::done)
      return false;
    if (c.measured) {
      ++totals_.retries;
      ++interval_->retries;
    }
    c.retrying = true;  // still in flight: maybe_closed reconnects the slot with it
    close_conn(c);
    return true;
  }

  // A measured request given up at `now` (read timeout, a connect that timed out with the
  // request riding on it, or still unanswered at the drain deadline) goes into the latency
  // histograms as a lower bound of its latency: leaving it out would make a server that times
  // out look faster than one that answers late. Uncorrected numbers start at the write, or at
  // the connect when it was never written.
  void record_given_up(const connection& c, std::int64_t now) {
    if (!c.measured || !c.has_request) return;
    const bool written = c.st == connection::state::busy;
    const std::int64_t start = written ? c.write_ns : c.connect_start_ns;
    const std::int64_t first_byte = written && c.head_ns != 0 ? c.head_ns : now;
    for (sample_set* set : {&totals_, interval_.get()}) {
      set->ttfb.record(first_byte - c.intended_ns);
      set->ttlb.record(now - c.intended_ns);
      set->ttfb_uncorrected.record(first_byte - start);
      set->ttlb_uncorrected.record(now - start);
    }
  }

  void close_conn(connection& c) {
    if (c.st == connection::state::idle) {
      auto it = std::find(idle_.begin(), idle_.end(), &c);
      if (it != idle_.end()) idle_.erase(it);
    }
    c.st = connection::state::closing;
    c.deadline_ns = never;
    error_code ignored;
    c.sock.close(ignored);
    maybe_closed(c);
  }

  // The slot is reusable once every handler of the old socket has run.
  void maybe_closed(connection& c) {
    if (c.ops > 0) return;
    c.st = connection::state::closed;
    c.pending_write = {};
    c.read_armed = false;
    --open_;
    if (c.retrying) {
      --in_flight_;  // start_connect counts the request again
      start_connect(c, true, c.intended_ns, true);
      return;
    }
    if (s_.open) {
      closed_.push_back(&c);
      dispatch_pending();
    } else if (c.idle_closed) {
      c.idle_closed = false;  // its think timer is still running and will reconnect it
    } else if (phase_ != phase::draining && phase_ != phase::done) {
      closed_loop_wait(c, c.connect_failed ? reconnect_backoff_ns : cfg_.think_time.count());
    }
    if (phase_ == phase::draining) maybe_finish(now_ns());
  }

  // ---- housekeeping: timeouts, seconds, phase ends, interrupt ----
  void arm_housekeeping() {
    housekeeping_.expires_after(housekeeping_period);
    housekeeping_.async_wait([this](const error_code& ec) {
      if (!ec) on_housekeeping();
    });
  }

  void on_housekeeping() {
    const std::int64_t now = now_ns();
    advance(now);
    if (phase_ != phase::draining) {
      if (interrupt_flag().load(std::memory_order_relaxed)) {
        interrupted_ = true;
        signals_at_interrupt_ = interrupt_signals();
        begin_drain(true);
      } else if (s_.stop_early.load(std::memory_order_relaxed)) {
        // A stop_when condition fired: the measured phase ends here, and as at its natural end,
        // arrivals already due go out (late) rather than being counted unsent.
        if (s_.open) send_due();
        begin_drain(false);
      } else if (now >= s_.measure_end_ns) {
        // The natural end, at the planned end of the measured phase (not at the last arrival:
        // the phase is as long as planned). Arrivals that fell due before it but that the
        // arrival handler has not reached yet (this handler ran first, or the thread was
        // descheduled) go out now, late, with their send lag; only a Ctrl-C or a full queue
        // leaves arrivals unsent.
        if (s_.open) send_due();
        begin_drain(false);
      }
    } else if (interrupt_flag().load(std::memory_order_relaxed) &&
               (!interrupted_ || interrupt_signals() > signals_at_interrupt_)) {
      // Ctrl-C while waiting for the last responses (the run ended, or a first Ctrl-C stopped
      // it): stop waiting. What is still unanswered is counted as abandoned, and the run is
      // marked interrupted.
      interrupted_ = true;
      drain_deadline_ns_ = now;
    }
    if (phase_ == phase::done) return;
    for (auto& cp : conns_) {
      connection& c = *cp;
      if (c.deadline_ns < now && (c.st == connection::state::busy || c.st == connection::state::connecting)) {
        c.timed_out = true;
        record_given_up(c, now);
        fail(c, c.st == connection::state::connecting ? err::connect_timeout : err::read_timeout);
      }
    }
    if (phase_ == phase::draining && maybe_finish(now)) return;
    arm_housekeeping();
  }

  void begin_drain(bool interrupted) {
    if (phase_ == phase::draining || phase_ == phase::done) return;
    interrupted_ = interrupted_ || interrupted;
    // Stopped in the warm-up: nothing in flight is measured, so nothing is worth waiting for.
    const bool in_warmup = phase_ == phase::warmup;
    const std::int64_t now = now_ns();
    if (!in_warmup) {
      // A stop inside the measured phase (Ctrl-C, --requests reached) ends its last interval
      // here; what follows belongs to the drain.
      advance(now);
      if (interval_index_ < s_.intervals) close_interval(now);
    }
    if (in_warmup) interval_index_ = s_.intervals;  // nothing of it is kept
    phase_ = phase::draining;
    stop_ns_ = now;
    s_.coll->note_draining();
    drain_deadline_ns_ = stop_ns_ + (in_warmup ? 0 : cfg_.drain_timeout.count());
    arrival_timer_.cancel();
    // Measured arrivals that never went out are counted, not dropped: a stall at the end of a
    // run must not vanish from the numbers. Their corrected latency is at least their wait so
    // far, recorded as a lower bound. Those still waiting for a connection (carried-in warm-up
    // arrivals included)...
    while (!pending_.empty()) {
      const std::int64_t due = pending_.pop();
      if (!in_warmup && due < s_.measure_end_ns) count_unsent(due, now);
    }
    // ...and those already due that the arrival handler had not reached yet (not past a
    // --requests quota: those were never part of the run).
    const bool quota_reached = quota_ > 0 && quota_used_ >= quota_;
    while (s_.open && !quota_reached && next_due_ != never && next_due_ <= now && next_due_ < s_.measure_end_ns) {
      if (in_window(next_due_)) count_unsent(next_due_, now);
      next_due_ = due_abs(schedule_.next());
    }
    // Idle connections and waiting closed-loop clients have nothing left to do.
    for (auto& cp : conns_) {
      connection& c = *cp;
      c.timer.cancel();
      if (c.st == connection::state::idle) close_conn(c);
    }
    idle_.clear();
  }

  void count_unsent(std::int64_t due, std::int64_t now) {
    for (sample_set* set : {&totals_, interval_.get()}) {
      ++set->unsent;
      set->ttfb.record(now - due);
      set->ttlb.record(now - due);
    }
  }

  bool maybe_finish(std::int64_t now) {
    if (phase_ != phase::draining) return false;
    if (in_flight_ > 0 && now < drain_deadline_ns_) return false;
    phase_ = phase::done;
    // Requests still unanswered at the drain deadline: counted, and recorded as lower bounds of
    // their latency (leaving them out would flatter the server).
    for (auto& cp : conns_) {
      const connection& c = *cp;
      if (c.has_request && c.measured && (c.st == connection::state::busy || c.st == connection::state::connecting)) {
        ++totals_.abandoned;
        ++interval_->abandoned;
        record_given_up(c, now);
      }
    }
    hand_off(now, true, interval_index_);
    arrival_timer_.cancel();
    housekeeping_.cancel();
    for (auto& cp : conns_) {
      error_code ignored;
      cp->timer.cancel();
      cp->sock.close(ignored);
    }
    ioc_.stop();
    return true;
  }

  // Hands the current interval over (closed at `end`) and starts interval `next`.
  void hand_off(std::int64_t end, bool last, std::int64_t next) {
    interval_->index = interval_index_;
    interval_->end_ns = end;
    interval_->in_flight = in_flight_ + static_cast<std::int64_t>(pending_.size());
    interval_ = s_.coll->hand_off(index_, std::move(interval_), last);
    interval_index_ = next;
  }

  const shared_setup& s_;
  const run_config& cfg_;
  int index_;
  asio::io_context ioc_;
  tcp::endpoint endpoint_;
  asio::steady_timer arrival_timer_;
  asio::steady_timer housekeeping_;
  arrival_schedule schedule_;
  rng rng_;
  std::int64_t quota_;           // measured requests this worker may send (0: unlimited)
  std::int64_t quota_used_ = 0;
  std::vector<std::unique_ptr<connection>> conns_;
  std::vector<connection*> idle_;    // open loop: connected, nothing to do
  std::vector<connection*> closed_;  // open loop: free slots for new connections
  time_ring pending_;                // open loop: due requests waiting for a connection
  std::int64_t next_due_ = never;
  std::int64_t open_ = 0;            // sockets open or connecting
  std::int64_t in_flight_ = 0;       // requests assigned to a connection, not yet answered
  phase phase_ = phase::warmup;
  bool interrupted_ = false;
  int signals_at_interrupt_ = 0;  // interrupt_signals() when an interrupt started the drain
  std::int64_t stop_ns_ = never;              // steady ns: when the load stopped (drain began)
  std::int64_t last_measured_end_ns_ = 0;     // steady ns: last measured request answered or given up
  std::int64_t drain_deadline_ns_ = never;
  std::int64_t interval_index_ = 0;  // current interval; s_.intervals: the drain
  sample_set totals_;
  std::unique_ptr<sample_set> interval_;
};

}  // namespace

std::unique_ptr<load_worker> make_asio_worker(const shared_setup& s, int index, int workers,
                                              std::int64_t connections, std::int64_t quota) {
  return std::make_unique<asio_worker>(s, index, workers, connections, quota);
}

}  // namespace perflab::loadgen::detail
