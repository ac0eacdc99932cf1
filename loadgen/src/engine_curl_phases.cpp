// The curl worker's schedule and phases (see engine_curl_worker.hpp): arrivals, the closed loop,
// the measured phase, per-second hand-offs, the drain. Their rules are the Asio worker's
// (engine_asio_phases.cpp says why each one is so); libcurl keeps the timeouts.
#include <sys/prctl.h>

#include "engine_curl_worker.hpp"

namespace perflab::loadgen::detail::curl_engine {

// ---- the schedule ----

void curl_worker::run() {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // as the Asio worker: timer precision
  if (s_.open) {
    next_due_ = due_abs(schedule_.next());
    arm_arrival();
  } else {
    const std::int64_t now = now_ns();
    for (auto& t : slots_) closed_loop_wait(t, s_.run_start_ns - now);
  }
  arm_housekeeping();
  ioc_.run();
}

void curl_worker::arm_arrival() {
  if (next_due_ == never || next_due_ >= s_.measure_end_ns) return;
  // As the Asio worker: the timer fires spin_window early and the rest is polled.
  if (next_due_ - now_ns() < cfg_.spin_window.count()) {
    asio::post(ioc_, [this] {
      if (phase_ != phase::draining && phase_ != phase::done && send_due()) arm_arrival();
    });
    return;
  }
  arrival_timer_.expires_at(steady::time_point(nanos(next_due_ - cfg_.spin_window.count())));
  arrival_timer_.async_wait([this](const error_code& ec) {
    if (!ec && phase_ != phase::draining && phase_ != phase::done && send_due()) arm_arrival();
  });
}

bool curl_worker::send_due() {
  std::int64_t now = now_ns();
  while (next_due_ <= now && next_due_ < s_.measure_end_ns) {
    if (s_.in_window(next_due_) && quota_ > 0 && quota_used_ >= quota_) {
      begin_drain(false);
      return false;
    }
    const std::int64_t due = next_due_;
    if (s_.in_window(due)) ++quota_used_;
    next_due_ = due_abs(schedule_.next());
    issue(due);
    now = now_ns();
  }
  return true;
}

void curl_worker::issue(std::int64_t due) {
  if (transfer* t = free_slot())
    start(*t, due);
  else
    pending_.push(due);  // every slot busy (the connection cap): its clock is running
}

void curl_worker::closed_loop_wait(transfer& t, std::int64_t delay_ns) {
  const auto go = [this, &t] {
    if (phase_ == phase::draining || phase_ == phase::done) return;
    const std::int64_t now = now_ns();
    advance(now);
    if (now >= s_.measure_end_ns || (quota_ > 0 && quota_used_ >= quota_)) {
      begin_drain(false);
      return;
    }
    if (s_.in_window(now)) ++quota_used_;
    start(t, 0);
  };
  if (delay_ns <= 0) {
    asio::post(ioc_, go);  // not inside libcurl's completion processing
    return;
  }
  t.timer.expires_after(nanos(delay_ns));
  t.timer.async_wait([go](const error_code& ec) {
    if (!ec) go();
  });
}

// ---- phases and intervals (as the Asio worker: engine_asio_phases.cpp says why) ----

void curl_worker::advance(std::int64_t t) {
  if (phase_ == phase::warmup && t >= s_.measure_start_ns) enter_measured();
  while (interval_index_ < s_.intervals && phase_ != phase::warmup && t >= s_.interval_end(interval_index_))
    close_interval(s_.interval_end(interval_index_));
}

void curl_worker::enter_measured() {
  phase_ = phase::measured;
  for (std::size_t fd = 0; fd < watches_.size(); ++fd)
    if (watches_[fd] && watches_[fd]->sd.is_open()) wire_.measured_start(static_cast<int>(fd));
  for (auto& t : slots_)
    if ((t.busy || t.retry_wait) && !t.measured) {
      t.measured = t.carried = true;
      ++totals_.carried_in;
    }
  totals_.carried_in += static_cast<std::int64_t>(pending_.size());
}

void curl_worker::close_interval(std::int64_t end) {
  const std::int64_t start = s_.measure_start_ns + interval_index_ * second_ns;
  interval_->stalled = outstanding_since_before(start);
  const bool last_measured = interval_index_ + 1 >= s_.intervals || end < s_.interval_end(interval_index_);
  if (last_measured) {
    std::int64_t n = static_cast<std::int64_t>(pending_.count_before(s_.measure_start_ns));
    for (const auto& t : slots_) n += (t.busy || t.retry_wait) && t.carried ? 1 : 0;
    totals_.stalled = n;
  }
  hand_off(end, false, last_measured ? s_.intervals : interval_index_ + 1);
}

std::int64_t curl_worker::outstanding_since_before(std::int64_t t) const noexcept {
  std::int64_t n = static_cast<std::int64_t>(pending_.count_before(t));
  for (const auto& x : slots_) n += (x.busy || x.retry_wait) && x.intended_ns < t ? 1 : 0;
  return n;
}

void curl_worker::hand_off(std::int64_t end, bool last, std::int64_t next) {
  interval_->index = interval_index_;
  interval_->end_ns = end;
  interval_->in_flight = in_flight_ + static_cast<std::int64_t>(pending_.size());
  interval_ = s_.coll->hand_off(index_, std::move(interval_), last);
  interval_index_ = next;
}

void curl_worker::arm_housekeeping() {
  housekeeping_.expires_after(housekeeping_period);
  housekeeping_.async_wait([this](const error_code& ec) {
    if (!ec) on_housekeeping();
  });
}

// Timeouts are libcurl's (CURLOPT_TIMEOUT_MS); the tick ends phases and notices interrupts.
void curl_worker::on_housekeeping() {
  const std::int64_t now = now_ns();
  advance(now);
  if (phase_ != phase::draining) {
    if (interrupt_flag().load(std::memory_order_relaxed)) {
      interrupted_ = true;
      signals_at_interrupt_ = interrupt_signals();
      begin_drain(true);
    } else if (s_.stop_early.load(std::memory_order_relaxed) || now >= s_.measure_end_ns) {
      if (s_.open) send_due();  // arrivals already due go out, late, rather than unsent
      begin_drain(false);
    }
  } else if (interrupt_flag().load(std::memory_order_relaxed) &&
             (!interrupted_ || interrupt_signals() > signals_at_interrupt_)) {
    interrupted_ = true;  // Ctrl-C while draining: stop waiting
    drain_deadline_ns_ = now;
  }
  if (phase_ == phase::done) return;
  if (phase_ == phase::draining && maybe_finish(now)) return;
  arm_housekeeping();
}

void curl_worker::begin_drain(bool interrupted) {
  if (phase_ == phase::draining || phase_ == phase::done) return;
  interrupted_ = interrupted_ || interrupted;
  const bool in_warmup = phase_ == phase::warmup;
  const std::int64_t now = now_ns();
  if (!in_warmup) {
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
  // Measured arrivals never handed to libcurl are counted, not dropped (as the Asio worker).
  while (!pending_.empty()) {
    const std::int64_t due = pending_.pop();
    if (!in_warmup && due < s_.measure_end_ns)
      for (sample_set* set : {&totals_, interval_.get()}) record_unsent(*set, due, now);
  }
  const bool quota_reached = quota_ > 0 && quota_used_ >= quota_;
  while (s_.open && !quota_reached && next_due_ != never && next_due_ <= now && next_due_ < s_.measure_end_ns) {
    if (s_.in_window(next_due_))
      for (sample_set* set : {&totals_, interval_.get()}) record_unsent(*set, next_due_, now);
    next_due_ = due_abs(schedule_.next());
  }
  for (auto& t : slots_)
    if (!t.retry_wait) t.timer.cancel();  // a retry in its backoff still goes (the drain waits for it)
}

bool curl_worker::maybe_finish(std::int64_t now) {
  if (phase_ != phase::draining) return false;
  if (in_flight_ > 0 && now < drain_deadline_ns_) return false;
  phase_ = phase::done;
  // Unanswered at the drain deadline: counted, and recorded as lower bounds of their latency.
  ready_retries_.clear();  // each is also in retry_wait, below
  for (auto& t : slots_) {
    if (t.retry_wait) {  // waiting out a retry's backoff (or for a free connection): unanswered too
      t.retry_wait = false;
      t.timer.cancel();
      --retry_waiting_;
      --in_flight_;
      if (t.measured)
        for (sample_set* set : {&totals_, interval_.get()}) {
          ++set->abandoned;
          record_given_up(*set, t.intended_ns, t.first_write_ns, now, now);
        }
      continue;
    }
    if (!t.busy) continue;
    if (t.measured)
      for (sample_set* set : {&totals_, interval_.get()}) {
        ++set->abandoned;
        record_given_up(*set, t.intended_ns,
                        t.first_write_ns != 0 ? t.first_write_ns : t.write_ns != 0 ? t.write_ns : t.add_ns,
                        t.head_ns != 0 ? t.head_ns : now, now);
      }
    curl_multi_remove_handle(multi_, t.easy);
    t.busy = false;
    --in_flight_;
  }
  // The connections still open (libcurl's pool) end here for the count of TCP bytes.
  for (std::size_t fd = 0; fd < watches_.size(); ++fd)
    if (watches_[fd] && watches_[fd]->sd.is_open()) wire_.closing(static_cast<int>(fd), true, totals_);
  wire_.stop();
  hand_off(now, true, interval_index_);
  arrival_timer_.cancel();
  housekeeping_.cancel();
  curl_timer_.cancel();
  ioc_.stop();
  return true;
}

}  // namespace perflab::loadgen::detail::curl_engine

namespace perflab::loadgen::detail {

std::unique_ptr<load_worker> make_curl_worker(const shared_setup& s, int index, int workers,
                                              std::int64_t connections, std::int64_t quota) {
  return std::make_unique<curl_engine::curl_worker>(s, index, workers, connections, quota);
}

}  // namespace perflab::loadgen::detail
