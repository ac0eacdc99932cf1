#pragma once
// The run's schedule and phases, once for every engine: the open loop's arrivals (with the spin
// window and the --requests quota), the closed loop's turn to send, warm-up -> measured -> drain,
// the per-second hand-offs, the housekeeping tick (interrupts, stop_when, the phase's natural
// end) and the drain's end. Both workers (engine_asio.hpp, engine_curl_worker.hpp) derive from
// phase_controller<their own type> (CRTP: no virtual call per request) and supply only their I/O
// as the hooks listed below; the rules and why they are so are in engine_phases.cpp.
//
// Hooks an Engine provides (private, with `friend class phase_controller<Engine>`):
//   void start_clients(std::int64_t delay_ns)   closed loop: start every client, its first
//                                               request after delay_ns
//   void issue(std::int64_t due)                open loop: one due request on a free connection,
//                                               else pending_ (its clock is running)
//   std::int64_t carry_into_measured()          the measured phase begins: mark the requests still
//                                               unanswered from the warm-up (pending_ apart) as
//                                               measured and carried, note the open connections'
//                                               bytes so far; returns how many it carried
//   std::int64_t outstanding_before(t) const    requests outstanding (on a connection or between
//                                               two attempts, pending_ apart) that started before t
//   std::int64_t carried_outstanding() const    ...of them, the carried-in ones
//   std::int64_t unanswered() const             requests taken and not yet answered or given up,
//                                               pending_ apart (the drain waits for them)
//   void check_timeouts(std::int64_t now)       the housekeeping tick's timeouts, if the engine keeps them
//   void drain_idle()                           the load stopped: idle connections and waiting
//                                               clients have nothing left to do
//   void abandon_unanswered(std::int64_t now)   the drain ended: count and record what is unanswered
//   void stop_io()                              ...then stop every timer and connection of the engine
#include <chrono>
#include <cstdint>
#include <memory>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"  // as in engine_asio.hpp: Asio's scheduler, GCC 12
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#pragma GCC diagnostic pop

#include "engine_internal.hpp"
#include "engine_record.hpp"
#include "perflab/loadgen/recorder.hpp"
#include "perflab/loadgen/schedule.hpp"

namespace perflab::loadgen::detail {

inline constexpr std::int64_t never = rate_profile::never;
inline constexpr auto housekeeping_period = std::chrono::milliseconds(5);
// After a failed connect a closed-loop client waits this long before trying again, so a refused
// port counts errors at a bounded rate instead of spinning.
inline constexpr std::int64_t reconnect_backoff_ns = 10'000'000;

template <class Engine>
class phase_controller : public load_worker {
 public:
  void run() final;
  const sample_set& totals() const noexcept final { return totals_; }
  bool interrupted() const noexcept final { return interrupted_; }
  std::int64_t stop_ns() const noexcept final { return stop_ns_; }
  bool quota_reached() const noexcept final { return quota_ > 0 && quota_used_ >= quota_; }
  std::int64_t last_measured_end_ns() const noexcept final { return last_measured_end_ns_; }

 protected:
  phase_controller(const shared_setup& s, int index, int workers, std::int64_t quota);

  bool in_window(std::int64_t t) const noexcept { return s_.in_window(t); }
  bool recorded(std::int64_t intended, bool& carried) const noexcept { return s_.recorded(intended, phase_, carried); }
  // The load has stopped: no new request starts (retries of requests in flight still may).
  bool load_stopped() const noexcept { return phase_ == phase::draining || phase_ == phase::done; }

  // Brings the phase and the current interval up to time t: called before anything that
  // happened at t is recorded, so every sample lands in the second it happened in (not in the
  // one the housekeeping tick happens to be in).
  void advance(std::int64_t t) {
    if (phase_ == phase::warmup && t >= s_.measure_start_ns) enter_measured();
    while (interval_index_ < s_.intervals && phase_ != phase::warmup && t >= s_.interval_end(interval_index_))
      close_interval(s_.interval_end(interval_index_));
  }

  // Closed loop: a client is ready for its next request. True when it sends one now (its share
  // of the quota taken); false when the phase's end or the quota ended the load instead.
  bool client_turn();

  void begin_drain(bool interrupted);

  // Ends the run once nothing is unanswered or the drain deadline passed. True when it ended.
  bool maybe_finish(std::int64_t now);

  const shared_setup& s_;
  const run_config& cfg_;
  int index_;
  boost::asio::io_context ioc_;  // first: destroyed last (after every engine member using it)
  boost::asio::steady_timer arrival_timer_;
  boost::asio::steady_timer housekeeping_;
  arrival_schedule schedule_;
  std::int64_t quota_;           // measured requests this worker may send (0: unlimited)
  std::int64_t quota_used_ = 0;
  time_ring pending_;            // open loop: due requests waiting for a connection (their clocks run)
  std::int64_t next_due_ = never;
  phase phase_ = phase::warmup;
  bool interrupted_ = false;
  int signals_at_interrupt_ = 0;              // interrupt_signals() when an interrupt started the drain
  std::int64_t stop_ns_ = never;              // steady ns: when the load stopped (drain began)
  std::int64_t last_measured_end_ns_ = 0;     // steady ns: last measured request answered or given up
  std::int64_t drain_deadline_ns_ = never;
  std::int64_t interval_index_ = 0;           // current interval; s_.intervals: the drain
  sample_set totals_;
  std::unique_ptr<sample_set> interval_;

 private:
  Engine& engine() noexcept { return static_cast<Engine&>(*this); }
  const Engine& engine() const noexcept { return static_cast<const Engine&>(*this); }
  std::int64_t due_abs(std::int64_t rel) const noexcept { return rel == never ? never : s_.run_start_ns + rel; }

  void enter_measured();
  void close_interval(std::int64_t end);
  std::int64_t outstanding_since_before(std::int64_t t) const noexcept;
  void hand_off(std::int64_t end, bool last, std::int64_t next);
  void arm_arrival();
  void on_arrivals();
  bool send_due();
  void arm_housekeeping();
  void on_housekeeping();
  void count_unsent(std::int64_t due, std::int64_t now);
};

}  // namespace perflab::loadgen::detail
