// The load engine on Boost.Asio: W worker threads, each with its own io_context, connections,
// buffers, schedule share and histograms; merged after join. See docs/methodology.md for what
// is measured and why.
//
// Hot path per request: pick a pre-rendered request (an index), one non-blocking send(), one
// queued async_read_some, a few histogram increments. No allocation, lock or formatting: every
// handler captures at most two pointers (Asio recycles its handler memory per thread).
#include "perflab/loadgen/engine.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

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
#include <fmt/format.h>

#include "perflab/core/clock.hpp"
#include "perflab/core/hdr_log.hpp"
#include "perflab/core/http.hpp"
#include "perflab/core/result_io.hpp"
#include "perflab/core/units.hpp"
#include "perflab/loadgen/recorder.hpp"
#include "perflab/loadgen/request_mix.hpp"
#include "perflab/loadgen/schedule.hpp"

namespace perflab::loadgen {

std::atomic<bool>& interrupt_flag() noexcept {
  static std::atomic<bool> flag{false};
  return flag;
}

namespace {
std::atomic<int> signals_noted{0};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
              "used from signal handlers");
}  // namespace

int note_interrupt_signal() noexcept {
  const int n = signals_noted.fetch_add(1, std::memory_order_relaxed) + 1;
  interrupt_flag().store(true);
  return n;
}

int interrupt_signals() noexcept { return signals_noted.load(std::memory_order_relaxed); }

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr std::int64_t second_ns = 1'000'000'000;
constexpr std::int64_t never = rate_profile::never;
constexpr std::size_t read_buffer_size = 16 * 1024;
constexpr auto housekeeping_period = std::chrono::milliseconds(5);
// After a failed connect a closed-loop client waits this long before trying again, so a refused
// port counts errors at a bounded rate instead of spinning.
constexpr std::int64_t reconnect_backoff_ns = 10'000'000;

// Run phases (h2load style): a request belongs to the phase its start falls in; warm-up samples
// are dropped by phase, never by sleeping.
enum class phase : std::uint8_t {
  warmup,    // before measure_start: requests run, nothing is recorded
  measured,  // [measure_start, measure_end): everything is recorded
  draining,  // no new requests; in-flight ones finish (and are recorded) until drain_timeout
  done,
};

// Error classes, mapped to result::error_counts fields.
enum class err : std::uint8_t { connect_refused, connect_timeout, connect_other, reset, read_timeout,
                                closed_mid_response, malformed };

void count_error(result::error_counts& e, err what) noexcept {
  switch (what) {
    case err::connect_refused: ++e.connect_refused; break;
    case err::connect_timeout: ++e.connect_timeout; break;
    case err::connect_other: ++e.connect_other; break;
    case err::reset: ++e.reset; break;
    case err::read_timeout: ++e.read_timeout; break;
    case err::closed_mid_response: ++e.closed_mid_response; break;
    case err::malformed: ++e.malformed; break;
  }
}

// Intervals travel from workers to the main thread once a second. A mutex per second, never per
// request. Spare sets (about 1.6 MB of histograms each) are allocated before the run and
// recycled by the main thread after each merge, so a hand-off takes a spare instead of
// allocating: a worker holds one set, at most one more waits to be merged, and two spares per
// worker leave a second of slack for a slow merge.
struct collector {
  static constexpr int spares_per_worker = 2;

  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::deque<std::unique_ptr<sample_set>>> queues;  // per worker, in second order
  std::vector<bool> finished;                                   // per worker
  std::vector<std::unique_ptr<sample_set>> spare;

  explicit collector(int workers)
      : queues(static_cast<std::size_t>(workers)), finished(static_cast<std::size_t>(workers), false) {
    spare.reserve(static_cast<std::size_t>(workers) * (spares_per_worker + 2));
    for (int i = 0; i < workers * spares_per_worker; ++i) spare.push_back(std::make_unique<sample_set>());
  }

  bool all_finished() const noexcept {
    return std::all_of(finished.begin(), finished.end(), [](bool f) { return f; });
  }

  std::unique_ptr<sample_set> hand_off(int w, std::unique_ptr<sample_set> full, bool last) {
    std::unique_ptr<sample_set> fresh;
    {
      std::lock_guard lock(mutex);
      queues[static_cast<std::size_t>(w)].push_back(std::move(full));
      if (last) finished[static_cast<std::size_t>(w)] = true;
      if (!spare.empty()) {
        fresh = std::move(spare.back());
        spare.pop_back();
      }
    }
    cv.notify_one();
    if (!fresh) fresh = std::make_unique<sample_set>();  // only when the merge fell behind
    return fresh;
  }
};

// Everything the workers share, read-only during the run.
struct shared_setup {
  const run_config* cfg;
  bool open = false;
  tcp::endpoint endpoint;
  const request_mix* mix;
  const rate_profile* profile;
  std::int64_t run_start_ns = 0;      // steady ns: schedule time 0, warm-up starts
  std::int64_t measure_start_ns = 0;  // steady ns
  std::int64_t measure_end_ns = 0;    // steady ns, `never` when bounded by request count only
  std::int64_t intervals = 0;         // number of one-second intervals (the last one absorbs the drain)
  collector* coll;
};

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
  void clear() noexcept { head_ = size_ = 0; }

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
  bool has_request = false;       // connecting/busy with a request assigned
  bool measured = false;          // the current request (or connect) belongs to the measured phase
  bool timed_out = false;
  bool connect_failed = false;
  std::int64_t intended_ns = 0;   // request start for corrected numbers (open: schedule; closed: write)
  std::int64_t write_ns = 0;      // actual write
  std::int64_t first_byte_ns = 0; // 0 until the first response byte arrived
  std::int64_t connect_start_ns = 0;
  std::int64_t deadline_ns = never;
  std::int64_t requests_done = 0; // on this connection
  std::string_view pending_write; // unwritten tail after a partial send
  rendered_request req;           // the request in flight (resent as is by a retry)
  bool retrying = false;          // the request in flight is a resend after a stale keep-alive connection
};

class worker {
 public:
  worker(const shared_setup& s, int index, int workers, std::int64_t connections, std::int64_t quota)
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
    conns_.reserve(static_cast<std::size_t>(connections));
    for (std::int64_t i = 0; i < connections; ++i) conns_.push_back(std::make_unique<connection>(ioc_));
    idle_.reserve(conns_.size());
    closed_.reserve(conns_.size());
    for (auto it = conns_.rbegin(); it != conns_.rend(); ++it) closed_.push_back(it->get());
  }

  void run() {
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

  sample_set& totals() noexcept { return totals_; }
  bool interrupted() const noexcept { return interrupted_; }
  std::int64_t stop_ns() const noexcept { return stop_ns_; }
  bool quota_reached() const noexcept { return quota_ > 0 && quota_used_ >= quota_; }
  std::int64_t last_measured_end_ns() const noexcept { return last_measured_end_ns_; }

 private:
  // ---- time and phase ----
  std::int64_t due_abs(std::int64_t rel) const noexcept {
    return rel == never ? never : s_.run_start_ns + rel;
  }
  bool in_measured(std::int64_t t) const noexcept { return t >= s_.measure_start_ns && t < s_.measure_end_ns; }
  bool may_start(std::int64_t t) const noexcept {
    return phase_ != phase::draining && phase_ != phase::done && t < s_.measure_end_ns;
  }

  // ---- open loop: the arrival schedule ----
  void arm_arrival() {
    if (next_due_ == never || next_due_ >= s_.measure_end_ns) return;  // schedule over; housekeeping drains
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
      if (in_measured(next_due_) && quota_ > 0 && quota_used_ >= quota_) {
        begin_drain(false);
        return false;
      }
      const std::int64_t due = next_due_;
      if (in_measured(due)) ++quota_used_;
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
    if (now >= s_.measure_end_ns || (quota_ > 0 && quota_used_ >= quota_)) {
      begin_drain(false);  // closes idle clients, this one included
      return;
    }
    // The quota is taken here, before a connect that may be in flight for a while, so clients
    // connecting at the same time cannot overshoot --requests.
    if (in_measured(now)) ++quota_used_;
    // The connect carries the request, so a drain waits for it like for any request in flight.
    if (c.st == connection::state::idle)
      send(c, 0);
    else
      start_connect(c, true, 0);
  }

  // ---- connections ----
  void start_connect(connection& c, bool with_request, std::int64_t intended) {
    // Slots beyond what the load needs never cost a buffer (the default cap is large).
    if (!c.buf) c.buf.reset(new char[read_buffer_size]);
    error_code ec;
    c.sock.open(s_.endpoint.protocol(), ec);
    if (!ec) c.sock.set_option(tcp::no_delay(true), ec);
    if (!ec) c.sock.non_blocking(true, ec);
    const std::int64_t now = now_ns();
    c.connect_start_ns = now;
    c.has_request = with_request;
    c.intended_ns = with_request ? intended : now;
    // intended == 0: a closed-loop request, which starts now.
    c.measured = in_measured(with_request && intended != 0 ? intended : now);
    c.timed_out = c.connect_failed = false;
    c.requests_done = 0;
    c.st = connection::state::connecting;
    ++open_;
    if (with_request) ++in_flight_;
    if (ec) {
      fail(c, err::connect_other);
      return;
    }
    c.deadline_ns = now + cfg_.connect_timeout.count();
    ++c.ops;
    c.sock.async_connect(s_.endpoint, [this, &c](const error_code& e) { on_connect(c, e); });
  }

  void on_connect(connection& c, const error_code& ec) {
    const std::int64_t now = now_ns();
    --c.ops;
    if (c.st == connection::state::closing) {
      maybe_closed(c);
      return;
    }
    if (ec) {
      c.connect_failed = true;
      fail(c, ec == asio::error::connection_refused ? err::connect_refused : err::connect_other);
      return;
    }
    // Counted in the phase start_connect gave it: its request's, so a connection opened for an
    // overdue measured request after the measured phase still counts.
    if (c.measured) {
      totals_.connect.record(now - c.connect_start_ns);
      interval_->connect.record(now - c.connect_start_ns);
      ++totals_.connections_opened;
      ++interval_->connections_opened;
    }
    if (c.has_request) {
      --in_flight_;  // send() counts it again
      send(c, c.intended_ns);
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
    if (!resend) c.req = s_.mix->pick(rng_);
    const rendered_request& req = c.req;
    c.parser.reset(req.head);
    c.first_byte_ns = 0;
    c.has_request = true;
    c.st = connection::state::busy;
    ++in_flight_;
    const std::int64_t now = now_ns();
    c.write_ns = now;
    c.intended_ns = intended == 0 ? now : intended;
    c.measured = in_measured(c.intended_ns);
    c.deadline_ns = now + cfg_.request_timeout.count();
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
      if (!((send_errno == EPIPE || send_errno == ECONNRESET) && retry_stale(c))) fail(c, err::reset);
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
    if (ec && c.st == connection::state::busy && !(is_reset(ec) && retry_stale(c))) fail(c, err::reset);
  }

  void start_read(connection& c) {
    ++c.ops;
    c.sock.async_read_some(asio::buffer(c.buf.get(), read_buffer_size),
                           [this, &c](const error_code& ec, std::size_t n) { on_read(c, ec, n); });
  }

  void on_read(connection& c, const error_code& ec, std::size_t n) {
    // Stamped first: the time the read returned is the time the bytes arrived.
    const std::int64_t t = now_ns();
    --c.ops;
    if (c.st == connection::state::closing) {
      maybe_closed(c);
      return;
    }
    if (c.st != connection::state::busy) return;
    if (ec == asio::error::eof) {
      if (c.parser.finish_eof()) {
        if (c.first_byte_ns == 0) c.first_byte_ns = t;
        complete(c, t, true);
      } else if (!retry_stale(c)) {
        fail(c, err::closed_mid_response);
      }
      return;
    }
    if (ec) {
      if (!(is_reset(ec) && retry_stale(c))) fail(c, err::reset);
      return;
    }
    const auto p = c.parser.feed(std::string_view(c.buf.get(), n));
    if (p.started && c.first_byte_ns == 0) c.first_byte_ns = t;
    if (p.error != http::errc::ok) {
      fail(c, p.error == http::errc::closed_mid_response ? err::closed_mid_response : err::malformed);
      return;
    }
    if (p.complete) {
      complete(c, t, false);
      return;
    }
    start_read(c);
  }

  // A complete response at t (steady ns).
  void complete(connection& c, std::int64_t t, bool peer_closed) {
    --in_flight_;
    c.has_request = false;
    c.retrying = false;
    ++c.requests_done;
    if (c.measured) {
      last_measured_end_ns_ = std::max(last_measured_end_ns_, t);
      const int status = c.parser.status();
      const std::int64_t fb = c.first_byte_ns;
      for (sample_set* set : {&totals_, interval_.get()}) {
        ++set->completed;
        if (status >= 500) ++set->errors.status_5xx;
        else if (status >= 400) ++set->errors.status_4xx;
        set->ttfb.record(fb - c.intended_ns);
        set->ttlb.record(t - c.intended_ns);
        set->ttfb_uncorrected.record(fb - c.write_ns);
        set->ttlb_uncorrected.record(t - c.write_ns);
      }
    }
    const bool reuse = !peer_closed && c.parser.keep_alive() && c.pending_write.empty() &&
                       cfg_.keepalive != keepalive_policy::new_connection &&
                       !(cfg_.keepalive == keepalive_policy::max_requests && cfg_.max_requests_per_connection > 0 &&
                         c.requests_done >= cfg_.max_requests_per_connection);
    if (reuse) {
      c.deadline_ns = never;
      if (s_.open) {
        make_idle(c);
      } else {
        c.st = connection::state::idle;
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
    idle_.push_back(&c);
  }

  // A failed request or connect: count it (by the request's phase), close, replace.
  void fail(connection& c, err what) {
    if (c.measured) {
      count_error(totals_.errors, what);
      count_error(interval_->errors, what);
      if (c.has_request) last_measured_end_ns_ = std::max(last_measured_end_ns_, now_ns());
    }
    if (c.has_request) --in_flight_;
    c.has_request = false;
    c.retrying = false;
    close_conn(c);
  }

  static bool is_reset(const error_code& ec) noexcept {
    return ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
  }

  // A keep-alive connection that already carried a request and fails (EOF, reset) before any
  // byte of the response most likely sat idle until the server closed it (its idle timeout):
  // the server never saw this request, so that is no server error. An idempotent request (RFC
  // 9110 9.2.2) is resent once on a fresh connection; it keeps its intended time, so the
  // reconnect shows in corrected latency. Returns false when the failure must count as today.
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

  // A measured request given up at `now` (read timeout, or a connect that timed out with the
  // request riding on it) goes into the latency histograms as a lower bound of its latency:
  // leaving it out would make a server that times out look faster than one that answers late.
  // Uncorrected numbers start at the write, or at the connect when it was never written.
  void record_given_up(const connection& c, std::int64_t now) {
    if (!c.measured || !c.has_request) return;
    const bool written = c.st == connection::state::busy;
    const std::int64_t start = written ? c.write_ns : c.connect_start_ns;
    const std::int64_t first_byte = written && c.first_byte_ns != 0 ? c.first_byte_ns : now;
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
    --open_;
    if (c.retrying) {
      --in_flight_;  // start_connect counts the request again
      start_connect(c, true, c.intended_ns);
      return;
    }
    if (s_.open) {
      closed_.push_back(&c);
      dispatch_pending();
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
    if (phase_ == phase::warmup && now >= s_.measure_start_ns) phase_ = phase::measured;
    if (phase_ != phase::draining) {
      if (interrupt_flag().load(std::memory_order_relaxed)) {
        interrupted_ = true;
        signals_at_interrupt_ = interrupt_signals();
        begin_drain(true);
      } else if (now >= s_.measure_end_ns || (s_.open && (next_due_ == never || next_due_ >= s_.measure_end_ns))) {
        // The natural end. Arrivals that fell due before it but that the arrival handler has
        // not reached yet (this handler ran first, or the thread was descheduled) go out now,
        // late, with their send lag; only a Ctrl-C or a full queue leaves arrivals unsent.
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
    while (interval_index_ + 1 < s_.intervals && now >= s_.measure_start_ns + (interval_index_ + 1) * second_ns) {
      hand_off(false);
    }
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
    phase_ = phase::draining;
    stop_ns_ = now_ns();
    drain_deadline_ns_ = stop_ns_ + (in_warmup ? 0 : cfg_.drain_timeout.count());
    arrival_timer_.cancel();
    // Measured arrivals that never went out are counted, not dropped: a stall at the end of a
    // run must not vanish from the numbers. Those still waiting for a connection...
    while (!pending_.empty())
      if (in_measured(pending_.pop())) ++totals_.unsent;
    // ...and those already due that the arrival handler had not reached yet (not past a
    // --requests quota: those were never part of the run).
    const bool quota_reached = quota_ > 0 && quota_used_ >= quota_;
    const std::int64_t now = now_ns();
    while (s_.open && !quota_reached && next_due_ != never && next_due_ <= now && next_due_ < s_.measure_end_ns) {
      if (in_measured(next_due_)) ++totals_.unsent;
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

  bool maybe_finish(std::int64_t now) {
    if (phase_ != phase::draining) return false;
    if (in_flight_ > 0 && now < drain_deadline_ns_) return false;
    phase_ = phase::done;
    // Requests still unanswered at the drain deadline: counted, since their latency is unknown
    // (at least now - intended) and leaving them out would flatter the server.
    for (auto& cp : conns_) {
      const connection& c = *cp;
      if (c.has_request && c.measured && (c.st == connection::state::busy || c.st == connection::state::connecting))
        ++totals_.abandoned;
    }
    hand_off(true);
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

  void hand_off(bool last) {
    interval_->index = interval_index_;
    interval_->in_flight = in_flight_ + static_cast<std::int64_t>(pending_.size());
    interval_ = s_.coll->hand_off(index_, std::move(interval_), last);
    ++interval_index_;
  }

  const shared_setup& s_;
  const run_config& cfg_;
  int index_;
  asio::io_context ioc_;
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
  std::int64_t interval_index_ = 0;
  sample_set totals_;
  std::unique_ptr<sample_set> interval_;
};

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

std::int64_t fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 65536;
  return static_cast<std::int64_t>(rl.rlim_cur);
}

struct cpu_times {
  double user_s = 0, system_s = 0;
};
cpu_times process_cpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return {static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6,
          static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6};
}

std::string keepalive_name(const run_config& cfg) {
  switch (cfg.keepalive) {
    case keepalive_policy::keep_alive: return "keep-alive";
    case keepalive_policy::new_connection: return "new-connection";
    case keepalive_policy::max_requests: return fmt::format("max:{}", cfg.max_requests_per_connection);
  }
  return "keep-alive";
}

tl::expected<void, std::string> validate(const run_config& cfg) {
  if (cfg.kind != "open" && cfg.kind != "closed")
    return tl::unexpected(fmt::format("load kind '{}' (accepted: open, closed)", cfg.kind));
  if (cfg.arrival != "constant" && cfg.arrival != "poisson")
    return tl::unexpected(fmt::format("arrival '{}' (accepted: constant, poisson)", cfg.arrival));
  if (cfg.kind == "open") {
    bool any_rate = cfg.rate > 0;
    for (const auto& st : cfg.stages) {
      if (st.duration_s < 0 || st.target_rate < 0 || !std::isfinite(st.target_rate))
        return tl::unexpected(std::string("stages need a duration >= 0 and a target rate >= 0"));
      any_rate = any_rate || st.target_rate > 0;
    }
    if (!any_rate || cfg.rate < 0) return tl::unexpected(std::string("open loop needs a rate > 0 (or a stage with one)"));
    if (cfg.connections < 0) return tl::unexpected(std::string("connection cap must be >= 0"));
  } else if (cfg.connections <= 0) {
    return tl::unexpected(std::string("closed loop needs connections > 0"));
  }
  if (cfg.duration.count() <= 0 && cfg.max_requests <= 0 && cfg.stages.empty())
    return tl::unexpected(std::string("a run needs a duration or a request count"));
  if (cfg.warmup.count() < 0) return tl::unexpected(std::string("warm-up must be >= 0"));
  if (cfg.keepalive == keepalive_policy::max_requests && cfg.max_requests_per_connection <= 0)
    return tl::unexpected(std::string("max requests per connection must be > 0"));
  if (cfg.connect_timeout.count() <= 0 || cfg.request_timeout.count() <= 0)
    return tl::unexpected(std::string("timeouts must be > 0"));
  if (cfg.threads < 0) return tl::unexpected(std::string("threads must be >= 0"));
  return {};
}

}  // namespace

tl::expected<result::variant, std::string> run_load(const run_config& cfg_in) {
  run_config cfg = cfg_in;
  if (auto ok = validate(cfg); !ok) return tl::unexpected(ok.error());
  const bool open = cfg.kind == "open";

  auto url = parse_url(cfg.url);
  if (!url) return tl::unexpected(url.error());
  auto mix = request_mix::build(*url, cfg.requests, cfg.keys);
  if (!mix) return tl::unexpected(mix.error());

  tcp::endpoint endpoint;
  {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    error_code ec;
    auto results = resolver.resolve(url->host, url->port, ec);
    if (ec || results.empty())
      return tl::unexpected(fmt::format("cannot resolve '{}': {}", url->host, ec ? ec.message() : "no address"));
    endpoint = results.begin()->endpoint();
    for (const auto& r : results)
      if (r.endpoint().address().is_v4()) {
        endpoint = r.endpoint();
        break;
      }
  }

  // Stages define the measured phase's length.
  std::int64_t duration_ns = cfg.duration.count();
  if (open && !cfg.stages.empty()) {
    double total = 0;
    for (const auto& st : cfg.stages) total += st.duration_s;
    if (total > 0) duration_ns = static_cast<std::int64_t>(std::llround(total * 1e9));
  }
  // Stages ramp from --rate (0 when not given); a warm-up runs at --rate, or at the first
  // stage's target when the ramp starts from 0.
  const double warmup_rate = cfg.rate > 0 ? cfg.rate : (cfg.stages.empty() ? 0 : cfg.stages.front().target_rate);
  rate_profile profile(cfg.rate, cfg.warmup.count(), cfg.stages, warmup_rate);

  int threads = cfg.threads > 0 ? cfg.threads : (cfg.cpus.empty() ? usable_cpus() : static_cast<int>(cfg.cpus.size()));
  if (!open) threads = static_cast<int>(std::min<std::int64_t>(threads, cfg.connections));
  // Every worker needs a share of a --requests count: a quota of 0 would mean "unlimited".
  if (cfg.max_requests > 0) threads = static_cast<int>(std::min<std::int64_t>(threads, cfg.max_requests));
  threads = std::max(1, threads);

  raise_fd_limit();
  std::int64_t cap = cfg.connections;
  if (open && cap == 0) cap = std::min<std::int64_t>(1024, std::max<std::int64_t>(64, fd_limit() - 128));
  if (cap > fd_limit() - 64)
    return tl::unexpected(fmt::format("{} connections need more file descriptors than the limit {} allows", cap,
                                      fd_limit()));
  if (open && cap < threads) threads = static_cast<int>(cap);

  const std::int64_t intervals =
      duration_ns > 0 ? std::max<std::int64_t>(1, (duration_ns + second_ns - 1) / second_ns) : (std::int64_t{1} << 40);
  collector coll(threads);
  shared_setup setup;
  setup.cfg = &cfg;
  setup.open = open;
  setup.endpoint = endpoint;
  setup.mix = &*mix;
  setup.profile = &profile;
  setup.intervals = intervals;
  setup.coll = &coll;

  std::vector<std::unique_ptr<worker>> workers;
  for (int w = 0; w < threads; ++w) {
    const std::int64_t conns = cap / threads + (w < cap % threads ? 1 : 0);
    const std::int64_t quota =
        cfg.max_requests > 0 ? cfg.max_requests / threads + (w < cfg.max_requests % threads ? 1 : 0) : 0;
    workers.push_back(std::make_unique<worker>(setup, w, threads, conns, quota));
  }

  // Output files are opened before the load starts, so a bad directory fails fast.
  std::ofstream hlog, csv;
  std::string hlog_name, csv_name;
  if (!cfg.output_dir.empty()) {
    std::error_code fec;
    std::filesystem::create_directories(cfg.output_dir, fec);
    hlog_name = cfg.file_prefix + ".hlog";
    csv_name = cfg.file_prefix + ".csv";
    hlog.open(cfg.output_dir / hlog_name);
    csv.open(cfg.output_dir / csv_name);
    if (!hlog || !csv)
      return tl::unexpected(fmt::format("cannot write into '{}': {}", cfg.output_dir.string(),
                                        fec ? fec.message() : std::string("open failed")));
    csv << "t_s,sent,completed,errors,ttlb_p50_us,ttlb_p99_us,target_rate,in_flight,retries\n";
  }

  // Time 0 a little ahead, so every worker is waiting on its first timer when it comes.
  const std::int64_t t0 = now_ns() + 20'000'000;
  setup.run_start_ns = t0;
  setup.measure_start_ns = t0 + cfg.warmup.count();
  setup.measure_end_ns = duration_ns > 0 ? setup.measure_start_ns + duration_ns : never;

  // The collecting (calling) thread stays off the target's CPUs too: with --cpus it joins the
  // loadgen's CPUs for the run (its work is one merge a second), and gets its own mask back after.
  cpu_set_t caller_cpus;
  const bool restore_cpus =
      !cfg.cpus.empty() && pthread_getaffinity_np(pthread_self(), sizeof(caller_cpus), &caller_cpus) == 0;
  if (restore_cpus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cfg.cpus) CPU_SET(c, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }

  std::vector<std::thread> pool;
  for (int w = 0; w < threads; ++w) {
    pool.emplace_back([&, w] {
      if (!cfg.cpus.empty()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cfg.cpus[static_cast<std::size_t>(w) % cfg.cpus.size()], &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
      }
      workers[static_cast<std::size_t>(w)]->run();
    });
  }

  // Main thread: wait for the measured phase, then merge one second at a time as workers hand
  // their intervals over; write the interval log, the CSV and the progress line as we go. The
  // wait ends early when every worker has stopped (an interrupt during a long warm-up).
  {
    std::unique_lock lock(coll.mutex);
    coll.cv.wait_until(lock, steady::time_point(nanos(setup.measure_start_ns)), [&] { return coll.all_finished(); });
  }
  // Stopped before the measured phase began: there is nothing to write per second.
  const bool stopped_in_warmup = now_ns() < setup.measure_start_ns;
  const cpu_times cpu0 = process_cpu();
  const double wall_start_s = wall_now_s();
  std::unique_ptr<hdr::log_writer> writer;
  if (hlog.is_open())
    writer = std::make_unique<hdr::log_writer>(hlog, wall_start_s, 1e6,
                                               "perflab loadgen: values in nanoseconds, max column in milliseconds");
  const bool progress = cfg.progress && isatty(STDERR_FILENO);
  std::vector<result::second_point> series;
  sample_set merged;
  std::int64_t last_index = -1;
  while (true) {
    std::vector<std::unique_ptr<sample_set>> batch;
    {
      std::unique_lock lock(coll.mutex);
      // A second is complete when every worker has handed it over or has finished.
      auto ready = [&] {
        for (std::size_t w = 0; w < coll.queues.size(); ++w)
          if (coll.queues[w].empty() && !coll.finished[w]) return false;
        return true;
      };
      coll.cv.wait(lock, ready);
      bool any = false;
      for (auto& q : coll.queues) any = any || !q.empty();
      if (!any) break;  // every worker finished and everything is merged
      for (auto& q : coll.queues) {
        if (q.empty()) continue;
        batch.push_back(std::move(q.front()));
        q.pop_front();
      }
    }
    if (stopped_in_warmup) {
      std::lock_guard lock(coll.mutex);
      for (auto& b : batch) {
        b->reset();
        coll.spare.push_back(std::move(b));
      }
      continue;
    }
    merged.reset();
    for (auto& b : batch) {
      merged.add(*b);
      merged.index = std::max(merged.index, b->index);
    }
    // Seconds are handed over in order; workers that finished early contribute nothing more.
    const std::int64_t idx = std::max(merged.index, last_index + 1);
    last_index = idx;
    const double start_s = static_cast<double>(idx);
    const double end_s = std::min(static_cast<double>(idx + 1),
                                  static_cast<double>(std::max<std::int64_t>(0, now_ns() - setup.measure_start_ns)) / 1e9);
    const double length_s = std::max(0.001, end_s - start_s);
    if (writer) {
      writer->write(std::string_view("connect"), start_s, length_s, merged.connect);
      writer->write(std::string_view("ttfb"), start_s, length_s, merged.ttfb);
      writer->write(std::string_view("ttlb"), start_s, length_s, merged.ttlb);
      writer->write(std::string_view("ttfb_uncorrected"), start_s, length_s, merged.ttfb_uncorrected);
      writer->write(std::string_view("ttlb_uncorrected"), start_s, length_s, merged.ttlb_uncorrected);
      writer->write(std::string_view("send_lag"), start_s, length_s, merged.send_lag);
    }
    result::second_point pt;
    pt.t_s = start_s;
    pt.sent = merged.sent;
    pt.completed = merged.completed;
    pt.errors = merged.errors.total();
    pt.ttlb_p50_us = static_cast<double>(merged.ttlb.value_at_percentile(50)) / 1e3;
    pt.ttlb_p99_us = static_cast<double>(merged.ttlb.value_at_percentile(99)) / 1e3;
    if (open) {
      const std::int64_t a = cfg.warmup.count() + idx * second_ns;
      pt.target_rate = profile.arrivals_before(a + second_ns) - profile.arrivals_before(a);
    }
    pt.in_flight = merged.in_flight;
    pt.retries = merged.retries;
    series.push_back(pt);
    if (csv.is_open())
      csv << fmt::format("{:g},{},{},{},{:.1f},{:.1f},{:.1f},{},{}\n", pt.t_s, pt.sent, pt.completed, pt.errors,
                         pt.ttlb_p50_us, pt.ttlb_p99_us, pt.target_rate, pt.in_flight, pt.retries)
          << std::flush;
    if (progress)
      std::fprintf(stderr, "\r\033[K[%5.0fs] target %s  tps %lld  ttlb p50 %s p99 %s  errors %lld  in flight %lld",
                   start_s + 1, open ? units::format_rate(pt.target_rate).c_str() : "closed",
                   static_cast<long long>(pt.completed),
                   units::format_duration(nanos(static_cast<std::int64_t>(pt.ttlb_p50_us * 1e3))).c_str(),
                   units::format_duration(nanos(static_cast<std::int64_t>(pt.ttlb_p99_us * 1e3))).c_str(),
                   static_cast<long long>(pt.errors), static_cast<long long>(pt.in_flight));
    {
      std::lock_guard lock(coll.mutex);
      for (auto& b : batch) {
        b->reset();
        coll.spare.push_back(std::move(b));
      }
    }
  }
  for (auto& t : pool) t.join();
  if (restore_cpus) pthread_setaffinity_np(pthread_self(), sizeof(caller_cpus), &caller_cpus);
  if (progress) std::fprintf(stderr, "\r\033[K");
  const std::int64_t end_ns = now_ns();
  const cpu_times cpu1 = process_cpu();

  sample_set total;
  bool interrupted = false;
  for (auto& w : workers) {
    total.add(w->totals());
    interrupted = interrupted || w->interrupted();
  }

  result::variant v;
  v.name = "attack";
  v.complete = !interrupted;
  if (interrupted) v.incomplete_reason = "interrupted";
  auto& lm = v.load;
  lm.kind = cfg.kind;
  lm.arrival = open ? cfg.arrival : "";
  lm.rate = open ? cfg.rate : 0;
  lm.stages = open ? cfg.stages : std::vector<result::stage>{};
  lm.connections = open ? cap : cfg.connections;
  lm.think_time_s = static_cast<double>(cfg.think_time.count()) / 1e9;
  lm.duration_s = static_cast<double>(duration_ns) / 1e9;
  lm.warmup_s = static_cast<double>(cfg.warmup.count()) / 1e9;
  lm.max_requests = cfg.max_requests;
  lm.keepalive = keepalive_name(cfg);
  lm.connect_timeout_s = static_cast<double>(cfg.connect_timeout.count()) / 1e9;
  lm.request_timeout_s = static_cast<double>(cfg.request_timeout.count()) / 1e9;
  lm.threads = threads;
  lm.cpus = cfg.cpus;

  // The measured phase ends at its planned end; at the interrupt when stopped by one; when a
  // --requests run reached its count, at the last measured response (or give-up), even if a
  // Ctrl-C then cut the drain short (every request was sent; the ones cut off are abandoned).
  // Never with the drain, so tps_mean = completed / measured_s is the rate the requests were
  // served at.
  std::int64_t measured_end = std::min(end_ns, setup.measure_end_ns);
  bool all_quota = true;
  std::int64_t last_measured = setup.measure_start_ns;
  for (const auto& w : workers) {
    all_quota = all_quota && w->quota_reached();
    last_measured = std::max(last_measured, w->last_measured_end_ns());
  }
  if (all_quota) {
    measured_end = std::min(measured_end, last_measured);
  } else {
    for (const auto& w : workers)
      if (w->interrupted()) measured_end = std::min(measured_end, w->stop_ns());
  }
  v.measured_s = static_cast<double>(std::max<std::int64_t>(0, measured_end - setup.measure_start_ns)) / 1e9;
  v.sent = total.sent;
  v.completed = total.completed;
  v.unsent = total.unsent;
  v.abandoned = total.abandoned;
  v.retries = total.retries;
  v.tps_mean = v.measured_s > 0 ? static_cast<double>(total.completed) / v.measured_s : 0;
  v.connections_opened = total.connections_opened;
  v.errors = total.errors;
  const double attempts = static_cast<double>(total.completed + total.errors.transport());
  v.error_rate = attempts > 0 ? static_cast<double>(total.errors.total()) / attempts : 0;
  v.connect = result::summarize(total.connect);
  v.ttfb = result::summarize(total.ttfb);
  v.ttlb = result::summarize(total.ttlb);
  v.ttfb_uncorrected = result::summarize(total.ttfb_uncorrected);
  v.ttlb_uncorrected = result::summarize(total.ttlb_uncorrected);
  v.send_lag = result::summarize(total.send_lag);
  v.series = std::move(series);
  v.loadgen.cpu_user_s = cpu1.user_s - cpu0.user_s;
  v.loadgen.cpu_system_s = cpu1.system_s - cpu0.system_s;
  v.loadgen.cpu_per_request_us =
      total.completed > 0 ? (v.loadgen.cpu_user_s + v.loadgen.cpu_system_s) * 1e6 / static_cast<double>(total.completed) : 0;
  v.loadgen.send_lag_bound_us = cfg.send_lag_bound_us;
  // Saturated: the schedule was not kept, either by lag or by arrivals that never went out.
  v.loadgen.saturated =
      open && ((v.send_lag.count > 0 && v.send_lag.p99_us > cfg.send_lag_bound_us) || v.unsent > 0);
  v.target.spawned = false;
  v.target.url = cfg.url;
  v.interval_log = hlog_name;
  v.series_csv = csv_name;
  if (hlog.is_open()) {
    hlog.flush();
    csv.flush();
    if (!hlog || !csv) return tl::unexpected(fmt::format("writing into '{}' failed", cfg.output_dir.string()));
  }
  return v;
}

}  // namespace perflab::loadgen
