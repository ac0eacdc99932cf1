#include "perflab/resilience/waiting_room.hpp"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "perflab/core/clock.hpp"
#include "perflab/core/units.hpp"
#include "spec.hpp"

namespace perflab::resilience {

tl::expected<waiting_room_config, std::string> parse_waiting_room(std::string_view text) {
  auto sp = detail::split_spec(text, "--waiting-room");
  if (!sp) return tl::unexpected(sp.error());
  waiting_room_config c;
  auto whole = [](std::string_view key, std::string_view value) {
    return detail::whole_number("--waiting-room", key, value, 1);
  };
  auto cap = whole("capacity", sp->head);
  if (!cap) return tl::unexpected(cap.error() + " (expected CAPACITY,max-wait=D[,queue=N], e.g. 200,max-wait=5s)");
  c.capacity = static_cast<std::uint32_t>(*cap);
  bool have_wait = false;
  for (auto [key, value] : sp->options) {
    if (key == "max-wait") {
      auto d = units::parse_duration(value);
      if (!d || d->count() <= 0)
        return tl::unexpected(fmt::format("--waiting-room: max-wait=\"{}\" must be a duration > 0, e.g. 5s", value));
      c.max_wait = *d;
      have_wait = true;
    } else if (key == "queue") {
      auto q = whole("queue", value);
      if (!q) return tl::unexpected(q.error());
      c.max_queue = static_cast<std::uint32_t>(*q);
    } else {
      return tl::unexpected(fmt::format("--waiting-room: unknown key \"{}\" (expected max-wait, queue)", key));
    }
  }
  if (!have_wait) return tl::unexpected(fmt::format("--waiting-room: \"{}\" needs max-wait=D, e.g. {},max-wait=5s", text, c.capacity));
  return c;
}

waiting_room::waiting_room(waiting_room_config config) : config_(config) {}

waiting_room::ticket waiting_room::enter(nanos now, admit_fn on_admit) {
  std::lock_guard lock(mutex_);
  ticket t;
  if (stats_.in_service < config_.capacity && queue_.empty()) {
    ++stats_.in_service;
    ++stats_.admitted_at_once;
    t.result = outcome::admitted;
    return t;
  }
  if (queue_.size() >= config_.queue_limit()) {
    ++stats_.refused;
    return t;
  }
  t.result = outcome::queued;
  t.id = next_id_++;
  queue_.push_back(waiter{t.id, now, std::move(on_admit)});
  t.position = static_cast<std::uint32_t>(queue_.size());
  stats_.waiting = static_cast<std::uint32_t>(queue_.size());
  stats_.peak_waiting = std::max(stats_.peak_waiting, stats_.waiting);
  return t;
}

bool waiting_room::cancel(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(queue_.begin(), queue_.end(), [&](const waiter& w) { return w.id == id; });
  if (it == queue_.end()) return false;
  queue_.erase(it);
  ++stats_.timed_out;
  stats_.waiting = static_cast<std::uint32_t>(queue_.size());
  return true;
}

void waiting_room::leave(nanos now) {
  admit_fn next;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
      if (stats_.in_service > 0) --stats_.in_service;
      return;
    }
    // The place passes to the first waiter: in_service is unchanged.
    waiter w = std::move(queue_.front());
    queue_.pop_front();
    ++stats_.admitted_after_wait;
    stats_.wait_ns_total += static_cast<std::uint64_t>(std::max<std::int64_t>(0, (now - w.since).count()));
    stats_.waiting = static_cast<std::uint32_t>(queue_.size());
    next = std::move(w.on_admit);
  }
  if (next) next();
}

bool waiting_room::enter_blocking(std::uint32_t* position) {
  struct slot {
    std::mutex m;
    std::condition_variable cv;
    bool admitted = false;
  };
  auto s = std::make_shared<slot>();
  const nanos now(perflab::now_ns());
  ticket t = enter(now, [s] {
    std::lock_guard l(s->m);
    s->admitted = true;
    s->cv.notify_one();
  });
  if (position) *position = t.position;
  if (t.result != outcome::queued) return t.result == outcome::admitted;
  std::unique_lock l(s->m);
  if (s->cv.wait_for(l, config_.max_wait, [&] { return s->admitted; })) return true;
  l.unlock();
  if (cancel(t.id)) return false;
  l.lock();  // admitted between the timeout and cancel(): the callback is running or has run
  s->cv.wait(l, [&] { return s->admitted; });
  return true;
}

waiting_room::stats_t waiting_room::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace perflab::resilience
