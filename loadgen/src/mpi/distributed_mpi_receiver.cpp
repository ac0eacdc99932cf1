// Rank 0's receiver of the other ranks' seconds and final reports (mpi_link.hpp): a load worker
// that hands each rank's seconds to the collector's slot for it, and declares a rank lost when it
// is silent past the heartbeat deadline, when a message from it never completes, or when it has
// not reported by the deadline after a stop signal.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "mpi_link.hpp"
#include "perflab/core/clock.hpp"

namespace perflab::loadgen::detail {

void dist_receiver::run() {
  const int others = link_.ranks() - 1;
  auto& remotes = link_.remotes();
  // Every rank sends a heartbeat a second from the start until its first measured second, then a
  // second each second until its planned end; then its drain may take the drain timeout on top
  // of the deadline. The planned end is the phase's own (stages set it, not `duration`); a run
  // with a request quota may reach it and drain any time, so it allows for the drain throughout.
  const std::int64_t timeout = s_.cfg->rank_timeout.count();
  const std::int64_t planned_end_ns = s_.measure_end_ns == rate_profile::never || s_.cfg->max_requests > 0
                                          ? s_.measure_start_ns
                                          : s_.measure_end_ns;
  const std::int64_t with_drain = timeout + s_.cfg->drain_timeout.count();
  for (int r = 1; r <= others; ++r) remotes[static_cast<std::size_t>(r)].last_heard_ns = s_.run_start_ns;
  int open_ranks = others;
  // Set when a stop signal (SIGINT/SIGTERM) is first seen: the others are told to stop, and their
  // final reports are awaited until then. Not interrupt_flag: a spawned target's death sets that
  // too, and the other ranks then finish their share as usual.
  std::int64_t stop_deadline = rate_profile::never;
  auto give_up_on = [&](int r, std::int64_t now, dist_lost_cause cause) {
    auto& rr = remotes[static_cast<std::size_t>(r)];
    if (rr.done || rr.lost) return;
    declare_lost(r, now, cause);
    --open_ranks;
  };
  while (open_ranks > 0) {
    std::int64_t now = now_ns();
    if (stop_deadline == rate_profile::never && interrupt_signals() > 0) {
      stop_deadline = now + link_.stop_wait_ns();
      for (int r = 1; r <= others; ++r)
        if (!remotes[static_cast<std::size_t>(r)].done && !remotes[static_cast<std::size_t>(r)].lost) link_.send_stop(r);
    }
    if (now >= stop_deadline) {
      for (int r = 1; r <= others; ++r) give_up_on(r, now, dist_lost_cause::stopped);
      break;
    }
    int flag = 0;
    MPI_Message msg = MPI_MESSAGE_NULL;
    MPI_Status st;
    if (MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &msg, &st) == MPI_SUCCESS && flag) {
      const int from = st.MPI_SOURCE;
      // A message takes microseconds; one still incomplete at the deadline lost its sender.
      const bool whole = receive(msg, st, std::min(stop_deadline, now + timeout));
      now = now_ns();
      auto& rr = remotes[static_cast<std::size_t>(from)];
      if (!whole) give_up_on(from, now, dist_lost_cause::message);
      if (!whole || rr.done || rr.lost) continue;  // a lost rank that woke up: too late, its slot is closed
      rr.last_heard_ns = now;
      on_message(from, *buffer_, st.MPI_TAG);
      if (rr.done) --open_ranks;
      continue;
    }
    const std::int64_t deadline = now > planned_end_ns ? with_drain : timeout;
    for (int r = 1; r <= others; ++r)
      if (now > remotes[static_cast<std::size_t>(r)].last_heard_ns + deadline) give_up_on(r, now, dist_lost_cause::silent);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool dist_receiver::receive(MPI_Message& msg, const MPI_Status& st, std::int64_t give_up_ns) {
  int n = 0;
  MPI_Get_count(&st, MPI_BYTE, &n);
  buffer_->resize(static_cast<std::size_t>(std::max(0, n)));
  MPI_Request req = MPI_REQUEST_NULL;
  if (MPI_Imrecv(buffer_->data(), n, MPI_BYTE, &msg, &req) == MPI_SUCCESS) {
    bool signalled = interrupt_signals() > 0;  // then give_up_ns already counts with the stop deadline
    for (int polls = 0;; ++polls) {
      int done = 0;
      if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) break;
      if (done) return true;
      const std::int64_t now = now_ns();
      if (!signalled && interrupt_signals() > 0) {  // the job is ending: no longer than the stop wait
        signalled = true;
        give_up_ns = std::min(give_up_ns, now + link_.stop_wait_ns());
      }
      if (now >= give_up_ns) break;
      if (polls > 100) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  link_.abandon(req, std::move(buffer_));
  buffer_ = std::make_unique<std::string>();
  return false;
}

void dist_receiver::on_message(int from, std::string_view bytes, int tag) {
  auto& rr = link_.remotes()[static_cast<std::size_t>(from)];
  const int slot = first_slot_ + from - 1;
  if (tag == dist_tag_interval) {
    if (auto ok = decode_sample_set(bytes, s_.measure_start_ns, *spare_); !ok) {
      std::fprintf(stderr, "loadgen: rank %d: %s\n", from, ok.error().c_str());
      return;
    }
    if (!rr.so_far) rr.so_far = std::make_unique<sample_set>();
    rr.so_far->add(*spare_);
    rr.last_index = spare_->index;
    spare_ = s_.coll->hand_off(slot, std::move(spare_), false);
    return;
  }
  if (tag != dist_tag_final) return;  // a heartbeat: it is alive (last_heard_ns)
  sample_set& t = *spare_;
  if (auto ok = decode_rank_final(bytes, rr.final, t); !ok) {
    std::fprintf(stderr, "loadgen: rank %d: %s\n", from, ok.error().c_str());
    return;
  }
  rr.summary = [&] {
    auto s = summarize_rank(from, rr.final, t, 0);
    s.clock_offset_us = rr.summary.clock_offset_us;
    s.clock_rtt_us = rr.summary.clock_rtt_us;
    return s;
  }();
  totals_.add(t);
  interrupted_ = interrupted_ || rr.final.interrupted;
  quota_reached_ = quota_reached_ && rr.final.quota_reached;
  if (rr.final.stop_rel_ns != rate_profile::never) stop_ns_ = std::min(stop_ns_, s_.measure_start_ns + rr.final.stop_rel_ns);
  last_measured_end_ns_ = std::max(last_measured_end_ns_, s_.measure_start_ns + rr.final.last_measured_rel_ns);
  t.reset();
  rr.so_far.reset();
  rr.done = true;
  s_.coll->finish(slot);
}

dist_phase dist_receiver::phase_at(std::int64_t t) const noexcept {
  if (t < s_.measure_start_ns) return dist_phase::warmup;
  if (s_.measure_end_ns != rate_profile::never && t >= s_.measure_end_ns) return dist_phase::drain;
  return dist_phase::measured;
}

void dist_receiver::declare_lost(int from, std::int64_t now, dist_lost_cause cause) {
  auto& rr = link_.remotes()[static_cast<std::size_t>(from)];
  rr.lost = true;
  rr.cause = cause;
  // The phase of its last sign of life: a heartbeat or a second comes at least once a second.
  rr.phase = phase_at(rr.last_heard_ns);
  std::fprintf(stderr, "loadgen: rank %d lost %s: %s; no message for %.1f s (its last second: %lld)\n", from,
               dist_phase_words(rr.phase),
               cause == dist_lost_cause::stopped   ? "no final report after the stop signal"
               : cause == dist_lost_cause::message ? "its message never completed"
                                                   : "silent past the rank timeout",
               static_cast<double>(now - rr.last_heard_ns) / 1e9, static_cast<long long>(rr.last_index));
  if (rr.so_far) {
    totals_.add(*rr.so_far);
    rr.summary = [&] {
      auto s = summarize_rank(from, rr.final, *rr.so_far, 0);
      s.host = rr.summary.host;
      s.clock_offset_us = rr.summary.clock_offset_us;
      s.clock_rtt_us = rr.summary.clock_rtt_us;
      return s;
    }();
    rr.so_far.reset();
  }
  // The measured phase keeps its length (the other ranks ran all of it): what the lost rank
  // did not send is missing from the counts, and the run is marked incomplete (finish).
  quota_reached_ = false;
  s_.coll->finish(first_slot_ + from - 1);
}

}  // namespace perflab::loadgen::detail
