// session's part of --waiting-room: every request but /metrics and /health enters the room before
// its handler runs. Admitted at once: served. Refused (the queue is full): 503 with Retry-After.
// Queued: the request stays parsed in the buffer while the model runs the wait (next::call:
// blocking on a condition variable on the thread models, parked on the loop's timer on the event
// loops, woken by the admission's post), then the next process() serves it (X-Queue-Position: its
// place on entry) or, when max-wait passed first, answers 503 with Retry-After. A request in
// service leaves the room when its response is written into the buffer (or its connection ends).
#include <perflab/targets/session.hpp>

#include <utility>  // GCC 12: before any boost/asio header that pulls in awaitable

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <condition_variable>
#include <iterator>
#include <mutex>

#include <fmt/format.h>

#include <perflab/resilience/waiting_room.hpp>

namespace perflab::targets {

namespace asio = boost::asio;

namespace {

// One connection's place in the queue for its current request.
class room_wait final : public deferred {
 public:
  explicit room_wait(resilience::waiting_room& room) : room_(room) {}
  ~room_wait() override { abandon(); }

  resilience::waiting_room::outcome enter(std::uint32_t& position) {
    abandon();
    state_ = std::make_shared<state>();  // an earlier admission's callback keeps its own
    auto st = state_;
    const auto t = room_.enter(nanos(now_ns()), [st] { st->admit(); });
    id_ = t.id;
    position = t.position;
    queued_ = t.result == resilience::waiting_room::outcome::queued;
    resolved_ = admitted_ = false;
    return t.result;
  }
  // After the wait: admitted (the session now owns the place and leaves the room itself).
  bool take() noexcept {
    queued_ = false;
    return admitted_;
  }

  void run_blocking() override {
    std::unique_lock lock(state_->mutex);
    state_->cv.wait_for(lock, room_.config().max_wait, [&] { return state_->admitted; });
    if (!state_->admitted) {
      lock.unlock();
      if (room_.cancel(id_)) return resolve(false);  // max-wait passed in the queue
      lock.lock();  // admitted just now: its callback is on its way
      state_->cv.wait(lock, [&] { return state_->admitted; });
    }
    resolve(true);
  }

  void async_run(asio::io_context& ioc, std::shared_ptr<void> keep, done_fn done) override {
    done_ = std::move(done);
    if (!timer_) timer_.emplace(ioc);
    {
      std::lock_guard lock(state_->mutex);
      if (!state_->admitted) {
        // The admission comes on the thread of whichever request left the room: it only posts
        // here, and only while the connection lives.
        // Both completions carry this wait's generation: a timer completion already queued when
        // cancel() came (or an admission of an earlier wait) must not decide a later wait.
        const std::uint64_t gen = ++gen_;
        std::weak_ptr<void> weak = keep;
        state_->wake = [weak, &ioc, this, gen] {
          if (auto k = weak.lock())
            asio::post(ioc, [this, gen, k = std::move(k)]() mutable { on_admitted(gen, std::move(k)); });
        };
        timer_->expires_after(room_.config().max_wait);
        timer_->async_wait([this, gen, k = std::move(keep)](const boost::system::error_code& ec) mutable {
          if (!ec && gen == gen_) on_timer(std::move(k));
        });
        return;
      }
    }
    resolve(true);
    auto d = std::move(done_);
    d(std::move(keep));
  }

 private:
  struct state {
    std::mutex mutex;
    std::condition_variable cv;
    bool admitted = false;
    std::function<void()> wake;  // event loops: posts the admission to the loop
    void admit() {
      std::function<void()> w;
      {
        std::lock_guard lock(mutex);
        admitted = true;
        w = wake;
      }
      cv.notify_all();
      if (w) w();
    }
  };
  void resolve(bool admitted) noexcept {
    resolved_ = true;
    admitted_ = admitted;
  }
  void on_admitted(std::uint64_t gen, std::shared_ptr<void> keep) {
    held_.reset();  // keep is the same connection
    if (resolved_ || gen != gen_) return;
    resolve(true);
    timer_->cancel();
    auto d = std::move(done_);
    d(std::move(keep));
  }
  void on_timer(std::shared_ptr<void> keep) {
    if (resolved_) return;
    if (!room_.cancel(id_)) {
      // Admitted just now: on_admitted goes on. The admission posts only while the connection
      // lives, and this handler's keep may be its last reference: held until then.
      held_ = std::move(keep);
      return;
    }
    resolve(false);
    auto d = std::move(done_);
    d(std::move(keep));
  }
  // The connection ends (or a new request enters) with a place not taken by the session: give
  // it back, or withdraw from the queue.
  void abandon() noexcept {
    if (!queued_) return;
    queued_ = false;
    if (resolved_) {
      if (admitted_) room_.leave(nanos(now_ns()));
      return;
    }
    if (!room_.cancel(id_)) room_.leave(nanos(now_ns()));  // admitted, its callback still on its way
  }

  resilience::waiting_room& room_;
  std::shared_ptr<state> state_;
  std::uint64_t id_ = 0;
  bool queued_ = false;    // a queued ticket not yet taken by the session
  bool resolved_ = false;  // the wait ended (admitted_ says how)
  bool admitted_ = false;
  std::optional<asio::steady_timer> timer_;
  done_fn done_;
  std::uint64_t gen_ = 0;        // the current asynchronous wait
  std::shared_ptr<void> held_;   // the connection, from a lost max-wait race until the admission's post
};

void retry_after(const resilience::waiting_room_config& c, std::string& out) {
  const auto s = std::chrono::ceil<std::chrono::seconds>(c.max_wait).count();
  fmt::format_to(std::back_inserter(out), "Retry-After: {}\r\n", std::max<std::int64_t>(1, s));
}

}  // namespace

std::optional<session::step> session::enter_room(dispatch& d, std::int64_t& start) noexcept {
  if (d.ep == endpoint::metrics || d.ep == endpoint::health) return std::nullopt;  // how the lab sees the server
  try {
    made(room_);
    room_->headers.clear();
    if (room_->waiting) {  // back from the wait: served now, timed from its arrival
      room_->waiting = false;
      start = room_->start_ns;
      if (static_cast<room_wait&>(*room_->wait).take()) {
        room_->in_room = true;
        fmt::format_to(std::back_inserter(room_->headers), "X-Queue-Position: {}\r\n", room_->position);
      } else {
        d.status = 503;
        retry_after(ctx_.room->config(), room_->headers);
      }
      return std::nullopt;
    }
    if (!room_->wait) room_->wait = std::make_unique<room_wait>(*ctx_.room);
    std::uint32_t position = 0;
    switch (static_cast<room_wait&>(*room_->wait).enter(position)) {
      case resilience::waiting_room::outcome::admitted:
        room_->in_room = true;
        room_->headers.append("X-Queue-Position: 0\r\n");
        return std::nullopt;
      case resilience::waiting_room::outcome::refused:
        d.status = 503;
        retry_after(ctx_.room->config(), room_->headers);
        return std::nullopt;
      case resilience::waiting_room::outcome::queued: break;
    }
    room_->waiting = true;
    room_->position = position;
    room_->start_ns = start;
    call_ = room_->wait.get();
    return step{next::call};
  } catch (...) {
    ctx_.stats.allocation_failed();  // no memory for the wait: turned away
    d.status = 503;
    return std::nullopt;
  }
}

void session::leave_room() noexcept {
  if (!room_ || !room_->in_room) return;
  room_->in_room = false;
  ctx_.room->leave(nanos(now_ns()));
}

void write_waiting_room_prometheus(const resilience::waiting_room& room, std::string& out) {
  const auto s = room.stats();
  const auto& c = room.config();
  fmt::format_to(std::back_inserter(out),
                 "# HELP perflab_waitingroom_capacity Requests in service at once (--waiting-room).\n"
                 "# TYPE perflab_waitingroom_capacity gauge\nperflab_waitingroom_capacity {}\n"
                 "# HELP perflab_waitingroom_max_wait_seconds Longest wait in the queue.\n"
                 "# TYPE perflab_waitingroom_max_wait_seconds gauge\nperflab_waitingroom_max_wait_seconds {:g}\n"
                 "# HELP perflab_waitingroom_requests_total Requests by what the room did with them.\n"
                 "# TYPE perflab_waitingroom_requests_total counter\n"
                 "perflab_waitingroom_requests_total{{result=\"admitted\"}} {}\n"
                 "perflab_waitingroom_requests_total{{result=\"admitted_after_wait\"}} {}\n"
                 "perflab_waitingroom_requests_total{{result=\"timed_out\"}} {}\n"
                 "perflab_waitingroom_requests_total{{result=\"refused\"}} {}\n"
                 "# HELP perflab_waitingroom_in_service Requests in service now.\n"
                 "# TYPE perflab_waitingroom_in_service gauge\nperflab_waitingroom_in_service {}\n"
                 "# HELP perflab_waitingroom_waiting Requests in the queue now.\n"
                 "# TYPE perflab_waitingroom_waiting gauge\nperflab_waitingroom_waiting {}\n"
                 "# HELP perflab_waitingroom_peak_waiting Most requests in the queue at once.\n"
                 "# TYPE perflab_waitingroom_peak_waiting gauge\nperflab_waitingroom_peak_waiting {}\n"
                 "# HELP perflab_waitingroom_wait_seconds_total Time admitted requests spent in the queue.\n"
                 "# TYPE perflab_waitingroom_wait_seconds_total counter\nperflab_waitingroom_wait_seconds_total {:g}\n",
                 c.capacity, std::chrono::duration<double>(c.max_wait).count(), s.admitted_at_once, s.admitted_after_wait,
                 s.timed_out, s.refused, s.in_service, s.waiting, s.peak_waiting, static_cast<double>(s.wait_ns_total) / 1e9);
}

}  // namespace perflab::targets
