// The Asio worker's side of the schedule and phases (see engine_asio.hpp): its hooks of the
// phase controller (engine_phases.hpp/.cpp hold the rules and why they are so), a due request's
// connection, the queue of waiting requests, the closed loop's clients, and the timeouts.
#include "engine_asio.hpp"
#include "perflab/core/clock.hpp"

namespace perflab::loadgen::detail {

void asio_worker::start_clients(std::int64_t delay_ns) {
  for (auto& c : conns_) closed_loop_wait(*c, delay_ns);
  closed_.clear();
}

std::int64_t asio_worker::carry_into_measured() {
  std::int64_t carried = 0;
  for (auto& cp : conns_) {
    connection& c = *cp;
    if (c.sock.is_open()) wire_.measured_start(c.sock.native_handle());
    if (!c.has_request) continue;
    if (c.st == connection::state::busy || (s_.open && c.st == connection::state::connecting) ||
        (c.st == connection::state::closing && c.retrying)) {
      c.measured = c.carried = true;
      ++carried;
    } else if (c.st == connection::state::connecting && c.policy_retry) {
      c.measured = c.carried = true;  // closed loop: a warm-up request's retry, reconnecting
      ++carried;
    } else if (c.st == connection::state::connecting) {
      c.measured = true;  // closed loop: its request starts at the write, in the measured phase
    }
  }
  // Warm-up requests between two attempts ([load] retry) are carried in like those in flight.
  auto carry = [&carried](bool& measured, bool& was_carried) {
    if (measured) return;
    measured = was_carried = true;
    ++carried;
  };
  for (auto& cp : conns_)
    if (cp->retry_wait) carry(cp->measured, cp->carried);
  for (const auto& [ready, i] : retry_heap_) carry(retry_slots_[i].measured, retry_slots_[i].carried);
  return carried;
}

std::int64_t asio_worker::outstanding_before(std::int64_t t) const noexcept {
  std::int64_t n = 0;
  for (const auto& cp : conns_)
    if (cp->has_request && cp->intended_ns < t &&
        (cp->st == connection::state::busy || cp->st == connection::state::connecting || cp->retrying))
      ++n;
    else if (cp->retry_wait && cp->intended_ns < t)
      ++n;
  for (const auto& [ready, i] : retry_heap_)
    if (retry_slots_[i].intended_ns < t) ++n;
  return n;
}

std::int64_t asio_worker::carried_outstanding() const noexcept {
  std::int64_t n = 0;
  for (const auto& cp : conns_)
    if ((cp->has_request || cp->retry_wait) && cp->carried) ++n;
  for (const auto& [ready, i] : retry_heap_)
    if (retry_slots_[i].carried) ++n;
  return n;
}

// One scheduled request: an idle connection, else a new one (up to the cap), else the queue.
void asio_worker::issue(std::int64_t due) {
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

void asio_worker::dispatch_pending() {
  const std::int64_t now = now_ns();
  while (const int waiting = next_waiting(now)) {
    connection* c = nullptr;
    bool idle = false;
    if (!idle_.empty()) {
      c = idle_.back();
      idle_.pop_back();
      idle = true;
    } else if (!closed_.empty()) {
      c = closed_.back();
      closed_.pop_back();
    } else {
      break;
    }
    if (waiting == 2)
      send_retry(*c, idle);
    else if (idle)
      send(*c, pending_.pop());
    else
      start_connect(*c, true, pending_.pop());
  }
}

void asio_worker::closed_loop_wait(connection& c, std::int64_t delay_ns) {
  if (delay_ns <= 0) {
    closed_loop_next(c);
    return;
  }
  c.timer.expires_after(nanos(delay_ns));
  c.timer.async_wait([this, &c](const error_code& ec) {
    if (!ec) closed_loop_next(c);
  });
}

void asio_worker::closed_loop_next(connection& c) {
  if (c.retry_wait) {
    // Its request's retry, before the next request (also in the drain: the request is in flight).
    if (phase_ == phase::done) return;
    advance(now_ns());  // while still waiting: a warm-up request crossing into the measured phase is carried in
    c.retry_wait = false;
    --retry_waiting_;
    c.policy_retry = true;
    if (c.st == connection::state::idle)
      send(c, c.intended_ns);
    else
      start_connect(c, true, c.intended_ns, true);
    return;
  }
  if (load_stopped()) {
    if (c.st == connection::state::idle) close_conn(c);
    return;
  }
  if (!client_turn()) return;
  if (c.st == connection::state::idle)
    send(c, 0);
  else
    start_connect(c, true, 0);
}

// The Asio worker keeps its own deadlines (connect_timeout, request_timeout): the curl worker
// leaves them to libcurl.
void asio_worker::check_timeouts(std::int64_t now) {
  for (auto& cp : conns_) {
    connection& c = *cp;
    if (c.deadline_ns < now && (c.st == connection::state::busy || c.st == connection::state::connecting)) {
      c.timed_out = true;
      record_given_up(c, now);
      fail(c, c.st == connection::state::connecting ? err::connect_timeout : err::read_timeout);
    }
  }
}

void asio_worker::drain_idle() {
  for (auto& cp : conns_) {
    connection& c = *cp;
    if (c.retry_wait) continue;  // its request's retry still goes (it is in flight)
    c.timer.cancel();
    if (c.st == connection::state::idle) close_conn(c);
  }
  idle_.clear();
}

void asio_worker::abandon_unanswered(std::int64_t now) {
  for (auto& cp : conns_) {
    const connection& c = *cp;
    if (c.has_request && c.measured && (c.st == connection::state::busy || c.st == connection::state::connecting)) {
      ++totals_.abandoned;
      ++interval_->abandoned;
      record_given_up(c, now);
    }
  }
  // ...and those waiting out a retry's backoff or for a connection to retry on. A followed request
  // between polls has had its first byte (the 202's): its TTFB is that, not the abandon time.
  auto abandon_waiting = [&](bool measured, std::int64_t intended, std::int64_t attempt_start, bool following,
                             std::int64_t accept_head) {
    if (!measured) return;
    const std::int64_t first_byte = following && accept_head != 0 ? accept_head : now;
    for (sample_set* set : {&totals_, interval_.get()}) {
      ++set->abandoned;
      detail::record_given_up(*set, intended, attempt_start, first_byte, now);
    }
  };
  for (const auto& cp : conns_)
    if (cp->retry_wait)
      abandon_waiting(cp->measured, cp->intended_ns, cp->attempt_start_ns, cp->following, cp->accept_head_ns);
  for (const auto& [ready, i] : retry_heap_) {
    const waiting_retry& w = retry_slots_[i];
    abandon_waiting(w.measured, w.intended_ns, w.attempt_start_ns, w.following, w.accept_head_ns);
  }
}

void asio_worker::stop_io() {
  retry_timer_.cancel();
  for (auto& cp : conns_) {
    error_code ignored;
    cp->timer.cancel();
    if (cp->sock.is_open()) wire_.closing(cp->sock.native_handle(), true, totals_);
    cp->sock.close(ignored);
  }
  wire_.stop();
}

std::unique_ptr<load_worker> make_asio_worker(const shared_setup& s, int index, int workers,
                                              std::int64_t connections, std::int64_t quota) {
  return std::make_unique<asio_worker>(s, index, workers, connections, quota);
}

}  // namespace perflab::loadgen::detail
