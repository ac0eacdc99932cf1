// The Asio worker's I/O (see engine_asio.hpp): connects, writes, reads, a response's
// completion and recording, failures, the stale keep-alive resend, and a slot's close and reuse.
#include <sys/socket.h>

#include <cerrno>

#include "engine_asio.hpp"
#include "verify.hpp"
#include "perflab/core/clock.hpp"

namespace perflab::loadgen::detail {

// intended == 0: a closed-loop request (it starts at the write). resend: the slot reconnects
// for a request already in flight (a stale keep-alive retry), which keeps its phase.
void asio_worker::start_connect(connection& c, bool with_request, std::int64_t intended, bool resend) {
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
  if (s_.cors && !resend) cors_new_browser(c);
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

void asio_worker::on_connect(connection& c, const error_code& ec) {
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
void asio_worker::send(connection& c, std::int64_t intended) {
  // A resend repeats its request, which was counted (sent, send lag) when first written: the
  // stale keep-alive resend, and a client retry ([load] retry), which also keeps its start.
  const bool resend = c.retrying || c.policy_retry;
  // The clock first: an interval closed at this point must not see this request half set up.
  const std::int64_t now = now_ns();
  advance(now);
  if (!resend) {
    c.req_index = s_.mix->pick_index(rng_);
    c.req = s_.mix->at(c.req_index);
    stamp_uuids(c.req, c.stamped, rng_);  // a fresh key per logical request; a resend keeps it
    c.policy_retries = 0;
  }
  const rendered_request& req = c.req;
  c.parser.reset(req.head);
  c.verify_raw.clear();
  c.first_byte_ns = c.head_ns = c.last_data_ns = 0;
  c.has_request = true;
  c.st = connection::state::busy;
  ++in_flight_;
  c.write_ns = now;
  if (!c.policy_retry) {
    c.intended_ns = intended == 0 ? now : intended;
    c.attempt_start_ns = now;
  }
  if (!resend) c.measured = recorded(c.intended_ns, c.carried);
  c.deadline_ns = now + cfg_.request_timeout.count();
  const std::string_view out = s_.cors ? cors_first_write(c) : req.bytes;  // [load] cors: maybe its preflight
  if (c.measured) {  // a resend crosses the wire again
    totals_.bytes_out += static_cast<std::int64_t>(out.size());
    interval_->bytes_out += static_cast<std::int64_t>(out.size());
  }
  if (c.measured && c.following && !c.retrying) {  // [load] follow: a poll, not a request
    ++totals_.follow_polls;
    ++interval_->follow_polls;
  } else if (c.measured && c.policy_retry && !c.retrying) {  // an attempt more (a stale resend of it is not)
    ++totals_.client_retries;
    ++interval_->client_retries;
  }
  if (c.measured && !resend) {
    ++totals_.sent;
    ++interval_->sent;
    if (intended != 0) {
      totals_.send_lag.record(now - intended);
      interval_->send_lag.record(now - intended);
    }
  }
  write_bytes(c, out);
}

void asio_worker::write_bytes(connection& c, std::string_view out) {
  const ssize_t n = ::send(c.sock.native_handle(), out.data(), out.size(), MSG_NOSIGNAL);
  const int send_errno = n < 0 ? errno : 0;
  if (n < 0 && send_errno != EAGAIN && send_errno != EWOULDBLOCK) {
    if (!((send_errno == EPIPE || send_errno == ECONNRESET) && answer_lost(c))) fail(c, io_error_class(send_errno));
    return;
  }
  const std::size_t written = n < 0 ? 0 : static_cast<std::size_t>(n);
  if (written < out.size()) {
    c.pending_write = out.substr(written);
    ++c.ops;
    asio::async_write(c.sock, asio::buffer(c.pending_write.data(), c.pending_write.size()),
                      [this, &c](const error_code& ec, std::size_t) { on_write(c, ec); });
  }
  start_read(c);
}

void asio_worker::on_write(connection& c, const error_code& ec) {
  --c.ops;
  if (c.st == connection::state::closing) {
    maybe_closed(c);
    return;
  }
  if (ec && c.st == connection::state::busy && !(is_reset(ec) && answer_lost(c))) fail(c, io_error_class(ec.value()));
}

void asio_worker::on_read(connection& c, const error_code& ec, std::size_t n) {
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
    } else if (!answer_lost(c)) {
      fail(c, err::closed_mid_response);
    }
    return;
  }
  if (ec) {
    if (!(is_reset(ec) && answer_lost(c))) fail(c, is_reset(ec) ? err::reset : io_error_class(ec.value()));
    return;
  }
  if (n == 0) {
    start_read(c);
    return;
  }
  c.last_data_ns = t;
  if (c.first_byte_ns == 0) c.first_byte_ns = t;
  const auto p = c.parser.feed(std::string_view(c.buf.get(), n));
  // Every response, with --verify only: a warm-up request may still be carried into the measured phase.
  if (cfg_.verify)
    c.verify_raw.append(c.buf.get(), p.consumed);
  else if (follow_on_ && c.verify_raw.size() < follow_max_capture &&
           (c.following || !c.parser.head_complete() || c.parser.status() == 202))
    // A 202's Location, a poll's state; any other answer stops being copied once its head says so.
    c.verify_raw.append(c.buf.get(), std::min(p.consumed, follow_max_capture - c.verify_raw.size()));
  if (c.preflight)  // judged at its end; within the capacity reserved before (a longer head is cut)
    c.preflight_head.append(c.buf.get(), std::min(p.consumed, c.preflight_head.capacity() - c.preflight_head.size()));
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
void asio_worker::on_idle_read(connection& c, const error_code& ec, std::size_t n, std::int64_t t) {
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
void asio_worker::complete(connection& c, std::int64_t t, bool peer_closed, bool overrun) {
  if (c.preflight) {  // [load] cors: the request itself is still to go
    on_preflight_answer(c, t, peer_closed, overrun);
    return;
  }
  --in_flight_;
  c.has_request = false;
  c.retrying = false;
  ++c.requests_done;
  const int status = c.parser.status();
  // [load] follow: a 202's work is polled for, and the request completes when a poll finds it done.
  const follow_step step = follow_on_ && phase_ != phase::done ? follow_next(c, status, t) : follow_step::none;
  const bool poll = step == follow_step::poll;
  // [load] retry: an idempotent request answered with a retried status goes again (its answer
  // so far is no final one: not in the status counts, its bytes are). Not a poll: follow judges it.
  const bool again = !poll && !c.following && cfg_.retry.enabled() && phase_ != phase::done &&
                     should_retry(cfg_.retry, c.req.idempotent, status, c.policy_retries);
  if (c.measured && (again || poll)) {
    const auto wire = static_cast<std::int64_t>(c.parser.wire_bytes());
    for (sample_set* set : {&totals_, interval_.get()}) {
      set->bytes_in += wire;
      if (overrun) count_error(set->errors, err::unsolicited);
    }
  } else if (c.measured && step == follow_step::timed_out) {
    // Its work not done within the follow timeout: given up, its latency a lower bound.
    last_measured_end_ns_ = std::max(last_measured_end_ns_, t);
    for (sample_set* set : {&totals_, interval_.get()}) {
      set->bytes_in += static_cast<std::int64_t>(c.parser.wire_bytes());
      ++set->errors.follow_timeout;
      detail::record_given_up(*set, c.intended_ns, c.attempt_start_ns, c.accept_head_ns, t);
    }
  } else if (c.measured) {
    last_measured_end_ns_ = std::max(last_measured_end_ns_, t);
    response_outcome r;
    r.status = status;
    r.verified = !cfg_.verify || verify_response(c.verify_raw, cfg_.verify_length);
    r.ok = s_.success.contains(r.status) && r.verified;
    r.cached = c.parser.x_cache();
    r.wire_bytes = static_cast<std::int64_t>(c.parser.wire_bytes());
    r.overrun = overrun;
    r.intended_ns = c.intended_ns;
    r.write_ns = c.attempt_start_ns;
    r.first_byte_ns = c.following ? c.accept_head_ns : c.head_ns != 0 ? c.head_ns : c.first_byte_ns;
    r.last_byte_ns = t;
    record_response(totals_, r);
    record_response(*interval_, r);
    if (step == follow_step::done) {
      ++totals_.followed;
      ++interval_->followed;
    }
    if (c.policy_retries > 0) {
      for (sample_set* set : {&totals_, interval_.get()}) {
        if (r.ok) ++set->retried_succeeded;
        else if (cfg_.retry.retries_status(status)) ++set->retries_exhausted;
      }
    }
  }
  std::int64_t delay_ns = 0;
  if (again) {
    ++c.policy_retries;
    delay_ns = retry_delay(cfg_.retry, backoff_, static_cast<unsigned>(c.policy_retries), c.parser.retry_after_s()).count();
  } else if (poll) {
    delay_ns = cfg_.follow.every.count();
  }
  if (again || poll) {
    if (s_.open) {
      park_retry(c, t + delay_ns);  // the request (or its poll) leaves this connection
    } else {
      c.retry_wait = true;  // this client retries (or polls) before its next request
      c.retry_delay_ns = delay_ns;
      ++retry_waiting_;
    }
  } else {
    c.measured = c.carried = false;
    c.policy_retry = false;
    c.following = false;
  }
  release(c, reusable(c, peer_closed, overrun), again || poll ? delay_ns : cfg_.think_time.count());
}

bool asio_worker::reusable(const connection& c, bool peer_closed, bool overrun) const noexcept {
  return !peer_closed && !overrun && c.parser.keep_alive() && c.pending_write.empty() &&
         cfg_.keepalive != keepalive_policy::new_connection &&
         !(cfg_.keepalive == keepalive_policy::max_requests && cfg_.max_requests_per_connection > 0 &&
           c.requests_done >= cfg_.max_requests_per_connection);
}

void asio_worker::release(connection& c, bool reuse, std::int64_t delay_ns) {
  if (reuse) {
    c.deadline_ns = never;
    if (s_.open) {
      make_idle(c);
    } else {
      c.st = connection::state::idle;
      start_read(c);
      closed_loop_after(c, delay_ns);
    }
  } else {
    // The client closes the socket itself (new connection per request / K requests reached).
    close_conn(c);
  }
}

follow_step asio_worker::follow_next(connection& c, int status, std::int64_t t) {
  if (!c.following) {
    if (status != 202) return follow_step::none;
    // The Location is rendered into follow_buf, then swapped with stamped (c.req may point into
    // stamped: the request's own `{uuid}`s); both keep their reserved capacity.
    const std::string_view location = follow_location(c.verify_raw);
    if (location.empty() || !render_follow_poll(c.follow_buf, location, c.req.bytes)) return follow_step::none;
    c.stamped.swap(c.follow_buf);
    c.req = rendered_request{c.stamped, false, true, {}};
    c.following = true;
    c.accept_head_ns = c.head_ns != 0 ? c.head_ns : c.first_byte_ns;
    if (c.measured)
      for (sample_set* set : {&totals_, interval_.get()}) set->accepted.record(t - c.intended_ns);
    return follow_step::poll;
  }
  return judge_poll(status, c.verify_raw, cfg_.follow, std::chrono::nanoseconds(t - c.intended_ns));
}

void asio_worker::make_idle(connection& c) {
  c.st = connection::state::idle;
  c.deadline_ns = never;
  const int waiting = next_waiting(now_ns());
  if (phase_ == phase::done || (phase_ == phase::draining && waiting != 2)) {
    close_conn(c);
    return;
  }
  if (waiting == 2) {
    send_retry(c, true);
    return;
  }
  if (waiting == 1) {
    send(c, pending_.pop());
    return;
  }
  start_read(c);
  idle_.push_back(&c);
}

// A failed request or connect: count it (by the request's phase), close, replace.
void asio_worker::fail(connection& c, err what) {
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
  c.policy_retry = false;
  c.following = false;
  c.preflight = c.preflight_passed = false;
  c.measured = c.carried = false;
  close_conn(c);
}

// A keep-alive connection that already carried a request and fails (EOF, reset) before any
// byte of the response most likely sat idle until the server closed it (its idle timeout) and
// the close crossed our request: the server never saw this request, so that is no server
// error. An idempotent request (RFC 9110 9.2.2) is resent once on a fresh connection; it keeps
// its intended time, so the reconnect shows in corrected latency. Returns false when the
// failure must count as usual.
bool asio_worker::retry_stale(connection& c) {
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

// [load] retry with "reset" in its statuses: the request's connection was reset or closed before
// any byte of its answer, so the answer is lost (the server may have done the work). Retried as a
// retried status is, after its backoff; the request keeps its bytes (its `{uuid}` key included)
// and its intended time. The connection is closed: open loop, the retry waits for a connection
// like any; closed loop, this client reconnects for it after the backoff.
bool asio_worker::retry_reset(connection& c) {
  if (!cfg_.retry.enabled() || !c.has_request || c.first_byte_ns != 0 || phase_ == phase::done ||
      !should_retry(cfg_.retry, c.req.idempotent, retry_policy::reset_code, c.policy_retries))
    return false;
  const std::int64_t now = now_ns();
  advance(now);
  --in_flight_;
  c.has_request = false;
  c.retrying = false;
  ++c.policy_retries;
  const std::int64_t delay_ns = retry_delay(cfg_.retry, backoff_, static_cast<unsigned>(c.policy_retries), -1).count();
  if (s_.open) {
    park_retry(c, now + delay_ns);
  } else {
    c.retry_wait = true;
    c.retry_delay_ns = delay_ns;
    ++retry_waiting_;
  }
  close_conn(c);
  return true;
}

// A measured request given up at `now` (read timeout, a connect that timed out with the
// request riding on it, or still unanswered at the drain deadline) goes into the latency
// histograms as a lower bound of its latency: leaving it out would make a server that times
// out look faster than one that answers late. Uncorrected numbers start at the write, or at
// the connect when it was never written.
void asio_worker::record_given_up(const connection& c, std::int64_t now) {
  if (!c.measured || !c.has_request) return;
  const bool written = c.st == connection::state::busy;
  const std::int64_t start = c.policy_retry ? c.attempt_start_ns : written ? c.write_ns : c.connect_start_ns;
  const std::int64_t first_byte =
      c.following ? c.accept_head_ns : written && c.head_ns != 0 && !c.preflight ? c.head_ns : now;
  for (sample_set* set : {&totals_, interval_.get()}) detail::record_given_up(*set, c.intended_ns, start, first_byte, now);
}

void asio_worker::close_conn(connection& c) {
  if (c.st == connection::state::idle) {
    auto it = std::find(idle_.begin(), idle_.end(), &c);
    if (it != idle_.end()) idle_.erase(it);
  }
  c.st = connection::state::closing;
  c.deadline_ns = never;
  if (c.sock.is_open()) wire_.closing(c.sock.native_handle(), phase_ != phase::warmup, totals_);
  error_code ignored;
  c.sock.close(ignored);
  maybe_closed(c);
}

// The slot is reusable once every handler of the old socket has run.
void asio_worker::maybe_closed(connection& c) {
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
  } else if (c.retry_wait && phase_ != phase::done) {
    closed_loop_wait(c, c.retry_delay_ns);  // its request's retry, before anything else
  } else if (phase_ != phase::draining && phase_ != phase::done) {
    closed_loop_wait(c, c.connect_failed ? reconnect_backoff_ns : cfg_.think_time.count());
  }
  if (phase_ == phase::draining) maybe_finish(now_ns());
}

}  // namespace perflab::loadgen::detail

namespace perflab::loadgen::detail {

namespace {
// Copies a request; bytes stamped with `{uuid}`s (in from_buf) are copied into to_buf, whose
// capacity was reserved for the longest such request.
void copy_request(rendered_request& to, std::string& to_buf, const rendered_request& from, const std::string& from_buf) {
  to = from;
  if (!from_buf.empty() && from.bytes.data() == from_buf.data()) {
    to_buf.assign(from.bytes);
    to.bytes = to_buf;
  }
}
}  // namespace

void asio_worker::park_retry(connection& c, std::int64_t ready) {
  std::uint32_t i;
  if (!free_retry_slots_.empty()) {
    i = free_retry_slots_.back();
    free_retry_slots_.pop_back();
  } else {
    i = static_cast<std::uint32_t>(retry_slots_.size());
    retry_slots_.emplace_back();
    retry_slots_.back().stamped.reserve(stamped_reserve());
  }
  waiting_retry& w = retry_slots_[i];
  copy_request(w.req, w.stamped, c.req, c.stamped);
  w.req_index = c.req_index;
  w.intended_ns = c.intended_ns;
  w.attempt_start_ns = c.attempt_start_ns;
  w.retries = c.policy_retries;
  w.measured = c.measured;
  w.carried = c.carried;
  w.following = c.following;
  w.accept_head_ns = c.accept_head_ns;
  c.measured = c.carried = false;
  c.policy_retry = false;
  c.following = false;
  retry_heap_.emplace_back(ready, i);
  std::push_heap(retry_heap_.begin(), retry_heap_.end(), std::greater<>{});
  ++retry_waiting_;
  arm_retry_timer();
}

void asio_worker::send_retry(connection& c, bool idle) {
  advance(now_ns());  // before it leaves the heap: a warm-up retry crossing into the measured phase is carried in
  std::pop_heap(retry_heap_.begin(), retry_heap_.end(), std::greater<>{});
  const std::uint32_t i = retry_heap_.back().second;
  retry_heap_.pop_back();
  --retry_waiting_;
  const waiting_retry& w = retry_slots_[i];
  copy_request(c.req, c.stamped, w.req, w.stamped);
  c.req_index = w.req_index;
  c.intended_ns = w.intended_ns;
  c.attempt_start_ns = w.attempt_start_ns;
  c.policy_retries = w.retries;
  c.measured = w.measured;
  c.carried = w.carried;
  c.following = w.following;
  c.accept_head_ns = w.accept_head_ns;
  c.policy_retry = true;
  free_retry_slots_.push_back(i);
  if (idle)
    send(c, c.intended_ns);
  else
    start_connect(c, true, c.intended_ns, true);
  arm_retry_timer();  // for the next one
}

// A timer for the earliest retry still in its backoff. A retry already due waits for a
// connection instead: whichever frees one (make_idle, maybe_closed) dispatches it.
void asio_worker::arm_retry_timer() {
  if (retry_heap_.empty()) return;
  const std::int64_t at = retry_heap_.front().first;
  if (at >= retry_timer_at_ || at <= now_ns()) {
    if (at <= now_ns()) asio::post(ioc_, [this] { dispatch_pending(); });
    return;
  }
  retry_timer_at_ = at;
  retry_timer_.expires_at(steady::time_point(nanos(at)));
  retry_timer_.async_wait([this](const error_code& ec) {
    if (ec) return;
    retry_timer_at_ = never;
    dispatch_pending();
    arm_retry_timer();
  });
}

}  // namespace perflab::loadgen::detail
