// The run's schedule and phases, once for both engines (see engine_phases.hpp): what each rule
// is and why. Each engine's part is a hook (engine_asio_phases.cpp, engine_curl_phases.cpp).
#include "engine_phases.hpp"

#include <sys/prctl.h>

#include "engine_asio.hpp"
#include "engine_curl_worker.hpp"
#include "perflab/core/clock.hpp"

namespace perflab::loadgen::detail {

template <class Engine>
phase_controller<Engine>::phase_controller(const shared_setup& s, int index, int workers, std::int64_t quota)
    : s_(s),
      cfg_(*s.cfg),
      index_(index),
      ioc_(1),
      arrival_timer_(ioc_),
      housekeeping_(ioc_),
      schedule_(*s.profile, s.cfg->arrival == "poisson", index, workers, s.cfg->seed, s.rank, s.ranks),
      quota_(quota),
      interval_(std::make_unique<sample_set>()) {}

template <class Engine>
void phase_controller<Engine>::run() {
  // Timer precision: the default 50 us slack would be most of our send-lag budget.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  if (s_.open) {
    next_due_ = due_abs(schedule_.next());
    arm_arrival();
  } else {
    engine().start_clients(s_.run_start_ns - now_ns());
  }
  arm_housekeeping();
  ioc_.run();
}

// ---- phases and intervals ----

// The measured phase begins: whatever is still unanswered from the warm-up is carried into
// it. Its latency (from its own start) is recorded when it ends, and a request that never ends
// is counted stalled and abandoned: a starved client is part of the measured phase's story.
// Warm-up arrivals still queued for a connection are carried in too.
template <class Engine>
void phase_controller<Engine>::enter_measured() {
  phase_ = phase::measured;
  totals_.carried_in += engine().carry_into_measured() + static_cast<std::int64_t>(pending_.size());
}

// Closes the current interval at `end` (steady ns): per-second stalled count, hand-off, and
// at the measured phase's end the count of carried-in requests that never got an answer.
template <class Engine>
void phase_controller<Engine>::close_interval(std::int64_t end) {
  const std::int64_t start = s_.measure_start_ns + interval_index_ * second_ns;
  interval_->stalled = outstanding_since_before(start);
  const bool last_measured = interval_index_ + 1 >= s_.intervals || end < s_.interval_end(interval_index_);
  if (last_measured)
    totals_.stalled =
        static_cast<std::int64_t>(pending_.count_before(s_.measure_start_ns)) + engine().carried_outstanding();
  hand_off(end, false, last_measured ? s_.intervals : interval_index_ + 1);
}

// Requests outstanding now that started before t (sent or queued).
template <class Engine>
std::int64_t phase_controller<Engine>::outstanding_since_before(std::int64_t t) const noexcept {
  return static_cast<std::int64_t>(pending_.count_before(t)) + engine().outstanding_before(t);
}

// Hands the current interval over (closed at `end`) and starts interval `next`.
template <class Engine>
void phase_controller<Engine>::hand_off(std::int64_t end, bool last, std::int64_t next) {
  interval_->index = interval_index_;
  interval_->end_ns = end;
  interval_->in_flight = engine().unanswered() + static_cast<std::int64_t>(pending_.size());
  interval_ = s_.coll->hand_off(index_, std::move(interval_), last);
  interval_index_ = next;
}

// ---- open loop: the arrival schedule ----

template <class Engine>
void phase_controller<Engine>::arm_arrival() {
  if (next_due_ == never || next_due_ >= s_.measure_end_ns) return;  // schedule over; housekeeping ends the phase
  // A thread woken by a timer runs tens of microseconds late (more in a VM), which would all
  // be send lag. So the timer fires spin_window early, and the last stretch is polled: a
  // posted continuation lets ready I/O handlers run first and then checks the clock again.
  if (next_due_ - now_ns() < cfg_.spin_window.count()) {
    boost::asio::post(ioc_, [this] { on_arrivals(); });
    return;
  }
  arrival_timer_.expires_at(steady::time_point(nanos(next_due_ - cfg_.spin_window.count())));
  arrival_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_arrivals();
  });
}

template <class Engine>
void phase_controller<Engine>::on_arrivals() {
  if (load_stopped()) return;
  if (send_due()) arm_arrival();
}

// Sends everything due by now at once; each request keeps its own intended time. False when
// the --requests quota ended the run.
template <class Engine>
bool phase_controller<Engine>::send_due() {
  std::int64_t now = now_ns();
  while (next_due_ <= now && next_due_ < s_.measure_end_ns) {
    if (in_window(next_due_) && quota_ > 0 && quota_used_ >= quota_) {
      begin_drain(false);
      return false;
    }
    const std::int64_t due = next_due_;
    if (in_window(due)) ++quota_used_;
    next_due_ = due_abs(schedule_.next());
    engine().issue(due);
    now = now_ns();
  }
  return true;
}

// ---- closed loop ----

template <class Engine>
bool phase_controller<Engine>::client_turn() {
  const std::int64_t now = now_ns();
  advance(now);
  if (now >= s_.measure_end_ns || (quota_ > 0 && quota_used_ >= quota_)) {
    begin_drain(false);  // closes idle clients, the caller's included
    return false;
  }
  // The quota is taken here, before a connect that may be in flight for a while, so clients
  // connecting at the same time cannot overshoot --requests. The engine's connect then carries
  // the request, so a drain waits for it like for any request in flight.
  if (in_window(now)) ++quota_used_;
  return true;
}

// ---- housekeeping: seconds, phase ends, interrupts (and the engine's timeouts) ----

template <class Engine>
void phase_controller<Engine>::arm_housekeeping() {
  housekeeping_.expires_after(housekeeping_period);
  housekeeping_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_housekeeping();
  });
}

template <class Engine>
void phase_controller<Engine>::on_housekeeping() {
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
  engine().check_timeouts(now);
  if (phase_ == phase::draining && maybe_finish(now)) return;
  arm_housekeeping();
}

// ---- the drain ----

template <class Engine>
void phase_controller<Engine>::begin_drain(bool interrupted) {
  if (load_stopped()) return;
  interrupted_ = interrupted_ || interrupted;
  // Stopped in the warm-up: nothing in flight is measured, so nothing is worth waiting for.
  const bool in_warmup = phase_ == phase::warmup;
  const std::int64_t now = now_ns();
  if (!in_warmup) {
    // A stop inside the measured phase (Ctrl-C, --requests reached) ends its last interval
    // here; what follows belongs to the drain.
    advance(now);
    if (interval_index_ < s_.intervals) close_interval(now);
  } else {
    interval_index_ = s_.intervals;  // nothing of the warm-up is kept
  }
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
  const bool quota_full = quota_ > 0 && quota_used_ >= quota_;
  while (s_.open && !quota_full && next_due_ != never && next_due_ <= now && next_due_ < s_.measure_end_ns) {
    if (in_window(next_due_)) count_unsent(next_due_, now);
    next_due_ = due_abs(schedule_.next());
  }
  engine().drain_idle();
}

template <class Engine>
void phase_controller<Engine>::count_unsent(std::int64_t due, std::int64_t now) {
  record_unsent(totals_, due, now);
  record_unsent(*interval_, due, now);
}

template <class Engine>
bool phase_controller<Engine>::maybe_finish(std::int64_t now) {
  if (phase_ != phase::draining) return false;
  if (engine().unanswered() > 0 && now < drain_deadline_ns_) return false;
  phase_ = phase::done;
  // Requests still unanswered at the drain deadline are counted, and recorded as lower bounds
  // of their latency (leaving them out would flatter the server): in flight, waiting out a
  // retry's backoff, or waiting for a connection to retry on.
  engine().abandon_unanswered(now);
  hand_off(now, true, interval_index_);
  arrival_timer_.cancel();
  housekeeping_.cancel();
  engine().stop_io();
  ioc_.stop();
  return true;
}

template class phase_controller<asio_worker>;
template class phase_controller<curl_engine::curl_worker>;

}  // namespace perflab::loadgen::detail
