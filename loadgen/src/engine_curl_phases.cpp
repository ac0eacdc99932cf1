// The curl worker's side of the schedule and phases (see engine_curl_worker.hpp): its hooks of
// the phase controller, which holds the rules both engines share and says why they are so
// (engine_phases.hpp/.cpp), and its closed loop's clients.
#include "engine_curl_worker.hpp"

namespace perflab::loadgen::detail::curl_engine {

void curl_worker::start_clients(std::int64_t delay_ns) {
  for (auto& t : slots_) closed_loop_wait(t, delay_ns);
}

void curl_worker::issue(std::int64_t due) {
  if (transfer* t = free_slot())
    start(*t, due);
  else
    pending_.push(due);  // every slot busy (the connection cap): its clock is running
}

void curl_worker::closed_loop_wait(transfer& t, std::int64_t delay_ns) {
  const auto go = [this, &t] {
    if (load_stopped()) return;
    if (client_turn()) start(t, 0);
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

std::int64_t curl_worker::carry_into_measured() {
  for (std::size_t fd = 0; fd < watches_.size(); ++fd)
    if (watches_[fd] && watches_[fd]->sd.is_open()) wire_.measured_start(static_cast<int>(fd));
  std::int64_t carried = 0;
  for (auto& t : slots_)
    if ((t.busy || t.retry_wait) && !t.measured) {
      t.measured = t.carried = true;
      ++carried;
    }
  return carried;
}

std::int64_t curl_worker::outstanding_before(std::int64_t t) const noexcept {
  std::int64_t n = 0;
  for (const auto& x : slots_) n += (x.busy || x.retry_wait) && x.intended_ns < t ? 1 : 0;
  return n;
}

std::int64_t curl_worker::carried_outstanding() const noexcept {
  std::int64_t n = 0;
  for (const auto& t : slots_) n += (t.busy || t.retry_wait) && t.carried ? 1 : 0;
  return n;
}

void curl_worker::drain_idle() {
  // libcurl's pool keeps its idle connections until stop_io; only the waiting clients stop here.
  for (auto& t : slots_)
    if (!t.retry_wait) t.timer.cancel();  // a retry in its backoff still goes (the drain waits for it)
}

void curl_worker::abandon_unanswered(std::int64_t now) {
  ready_retries_.clear();  // each is also in retry_wait, below
  for (auto& t : slots_) {
    if (t.retry_wait) {  // waiting out a retry's backoff (or for a free connection): unanswered too
      t.retry_wait = false;
      t.timer.cancel();
      --retry_waiting_;
      --in_flight_;
      // A followed request between polls has had its first byte (the 202's).
      if (t.measured)
        for (sample_set* set : {&totals_, interval_.get()}) {
          ++set->abandoned;
          record_given_up(*set, t.intended_ns, t.first_write_ns, t.following ? t.accept_head_ns : now, now);
        }
      continue;
    }
    if (!t.busy) continue;
    if (t.measured)
      for (sample_set* set : {&totals_, interval_.get()}) {
        ++set->abandoned;
        record_given_up(*set, t.intended_ns,
                        t.first_write_ns != 0 ? t.first_write_ns : t.write_ns != 0 ? t.write_ns : t.add_ns,
                        t.following ? t.accept_head_ns : t.head_ns != 0 ? t.head_ns : now, now);
      }
    curl_multi_remove_handle(multi_, t.easy);
    t.busy = false;
    --in_flight_;
  }
  for (auto& t : slots_)
    if (t.following) {  // the handle's options are a poll's: a next request would set its own
      t.following = false;
      t.req = static_cast<std::size_t>(-1);
    }
}

void curl_worker::stop_io() {
  curl_timer_.cancel();
  // The connections still open (libcurl's pool) end here for the count of TCP bytes.
  for (std::size_t fd = 0; fd < watches_.size(); ++fd)
    if (watches_[fd] && watches_[fd]->sd.is_open()) wire_.closing(static_cast<int>(fd), true, totals_);
  wire_.stop();
}

}  // namespace perflab::loadgen::detail::curl_engine

namespace perflab::loadgen::detail {

std::unique_ptr<load_worker> make_curl_worker(const shared_setup& s, int index, int workers,
                                              std::int64_t connections, std::int64_t quota) {
  return std::make_unique<curl_engine::curl_worker>(s, index, workers, connections, quota);
}

}  // namespace perflab::loadgen::detail
