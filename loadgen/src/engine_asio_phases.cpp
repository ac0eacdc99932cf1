// The Asio worker's schedule and phases (see engine_asio.hpp): open-loop arrivals and the queue
// of due requests, the closed loop's clients, warm-up -> measured -> drain, the per-second
// hand-offs, and the housekeeping tick (timeouts, interrupts, the phase's end).
#include <sys/prctl.h>

#include "engine_asio.hpp"
#include "perflab/core/clock.hpp"

namespace perflab::loadgen::detail {

void asio_worker::run() {
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

// The measured phase begins: whatever is still unanswered from the warm-up is carried into
// it. Its latency (from its own start) is recorded when it ends, and a request that never ends
// is counted stalled and abandoned: a starved client is part of the measured phase's story.
void asio_worker::enter_measured() {
  phase_ = phase::measured;
  for (auto& cp : conns_) {
    connection& c = *cp;
    if (c.sock.is_open()) wire_.measured_start(c.sock.native_handle());
    if (!c.has_request) continue;
    if (c.st == connection::state::busy || (s_.open && c.st == connection::state::connecting) ||
        (c.st == connection::state::closing && c.retrying)) {
      c.measured = c.carried = true;
      ++totals_.carried_in;
    } else if (c.st == connection::state::connecting && c.policy_retry) {
      c.measured = c.carried = true;  // closed loop: a warm-up request's retry, reconnecting
      ++totals_.carried_in;
    } else if (c.st == connection::state::connecting) {
      c.measured = true;  // closed loop: its request starts at the write, in the measured phase
    }
  }
  totals_.carried_in += static_cast<std::int64_t>(pending_.size());  // warm-up arrivals still queued
  // Warm-up requests between two attempts ([load] retry) are carried in like those in flight.
  auto carry = [this](bool& measured, bool& carried) {
    if (measured) return;
    measured = carried = true;
    ++totals_.carried_in;
  };
  for (auto& cp : conns_)
    if (cp->retry_wait) carry(cp->measured, cp->carried);
  for (const auto& [ready, i] : retry_heap_) carry(retry_slots_[i].measured, retry_slots_[i].carried);
}

// Requests outstanding now that started before t (sent or queued).
std::int64_t asio_worker::outstanding_since_before(std::int64_t t) const noexcept {
  std::int64_t n = static_cast<std::int64_t>(pending_.count_before(t));
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

void asio_worker::arm_arrival() {
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

void asio_worker::on_arrivals() {
  if (phase_ == phase::draining || phase_ == phase::done) return;
  if (send_due()) arm_arrival();
}

// Sends everything due by now at once; each request keeps its own intended time. False when
// the --requests quota ended the run.
bool asio_worker::send_due() {
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

void asio_worker::on_housekeeping() {
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

void asio_worker::begin_drain(bool interrupted) {
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
  drain_deadline_ns_ = stop_ns_ + s_.drain_after_stop_ns(in_warmup, interrupted_);
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
    if (c.retry_wait) continue;  // its request's retry still goes (it is in flight)
    c.timer.cancel();
    if (c.st == connection::state::idle) close_conn(c);
  }
  idle_.clear();
}

bool asio_worker::maybe_finish(std::int64_t now) {
  if (phase_ != phase::draining) return false;
  if (in_flight_ + retry_waiting_ > 0 && now < drain_deadline_ns_) return false;
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
  // ...and those waiting out a retry's backoff or for a connection to retry on.
  auto abandon_waiting = [&](bool measured, std::int64_t intended, std::int64_t attempt_start) {
    if (!measured) return;
    for (sample_set* set : {&totals_, interval_.get()}) {
      ++set->abandoned;
      detail::record_given_up(*set, intended, attempt_start, now, now);
    }
  };
  for (const auto& cp : conns_)
    if (cp->retry_wait) abandon_waiting(cp->measured, cp->intended_ns, cp->attempt_start_ns);
  for (const auto& [ready, i] : retry_heap_)
    abandon_waiting(retry_slots_[i].measured, retry_slots_[i].intended_ns, retry_slots_[i].attempt_start_ns);
  hand_off(now, true, interval_index_);
  arrival_timer_.cancel();
  housekeeping_.cancel();
  retry_timer_.cancel();
  for (auto& cp : conns_) {
    error_code ignored;
    cp->timer.cancel();
    if (cp->sock.is_open()) wire_.closing(cp->sock.native_handle(), true, totals_);
    cp->sock.close(ignored);
  }
  wire_.stop();
  ioc_.stop();
  return true;
}

std::unique_ptr<load_worker> make_asio_worker(const shared_setup& s, int index, int workers,
                                              std::int64_t connections, std::int64_t quota) {
  return std::make_unique<asio_worker>(s, index, workers, connections, quota);
}

}  // namespace perflab::loadgen::detail
