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

void asio_worker::on_write(connection& c, const error_code& ec) {
  --c.ops;
  if (c.st == connection::state::closing) {
    maybe_closed(c);
    return;
  }
  if (ec && c.st == connection::state::busy && !(is_reset(ec) && retry_stale(c))) fail(c, io_error_class(ec.value()));
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
  --in_flight_;
  c.has_request = false;
  c.retrying = false;
  ++c.requests_done;
  if (c.measured) {
    last_measured_end_ns_ = std::max(last_measured_end_ns_, t);
    response_outcome r;
    r.status = c.parser.status();
    r.verified = !cfg_.verify || verify_response(c.verify_raw, cfg_.verify_length);
    r.ok = s_.success.contains(r.status) && r.verified;
    r.cached = c.parser.x_cache();
    r.wire_bytes = static_cast<std::int64_t>(c.parser.wire_bytes());
    r.overrun = overrun;
    r.intended_ns = c.intended_ns;
    r.write_ns = c.write_ns;
    r.first_byte_ns = c.head_ns != 0 ? c.head_ns : c.first_byte_ns;
    r.last_byte_ns = t;
    record_response(totals_, r);
    record_response(*interval_, r);
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

void asio_worker::make_idle(connection& c) {
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

// A measured request given up at `now` (read timeout, a connect that timed out with the
// request riding on it, or still unanswered at the drain deadline) goes into the latency
// histograms as a lower bound of its latency: leaving it out would make a server that times
// out look faster than one that answers late. Uncorrected numbers start at the write, or at
// the connect when it was never written.
void asio_worker::record_given_up(const connection& c, std::int64_t now) {
  if (!c.measured || !c.has_request) return;
  const bool written = c.st == connection::state::busy;
  const std::int64_t start = written ? c.write_ns : c.connect_start_ns;
  const std::int64_t first_byte = written && c.head_ns != 0 ? c.head_ns : now;
  for (sample_set* set : {&totals_, interval_.get()}) detail::record_given_up(*set, c.intended_ns, start, first_byte, now);
}

void asio_worker::close_conn(connection& c) {
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
  } else if (phase_ != phase::draining && phase_ != phase::done) {
    closed_loop_wait(c, c.connect_failed ? reconnect_backoff_ns : cfg_.think_time.count());
  }
  if (phase_ == phase::draining) maybe_finish(now_ns());
}

}  // namespace perflab::loadgen::detail
