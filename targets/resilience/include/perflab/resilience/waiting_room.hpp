#pragma once
// A waiting room in front of a service: at most `capacity` requests in service; the others wait
// in FIFO order, each at most `max_wait`, and are told their place; a request that cannot wait
// (the queue is full, or its wait ran out) is turned away (503 with Retry-After by the caller).
//
// Waiting is the model's business. An event loop calls enter() with a callback and arms its own
// timer for max_wait, calling cancel() when it fires: if cancel() succeeds the request was never
// admitted; if it fails the admission is already on its way. A blocking thread calls
// enter_blocking(). Thread-safe; callbacks run outside the lock, on the thread of leave().
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace perflab::resilience {

using nanos = std::chrono::nanoseconds;

struct waiting_room_config {
  std::uint32_t capacity = 100;                           // requests in service at once, >= 1
  nanos max_wait = std::chrono::seconds(10);              // longest wait in the queue, > 0
  std::uint32_t max_queue = 0;                            // waiters at most (0: 10 x capacity)
  std::uint32_t queue_limit() const { return max_queue ? max_queue : capacity * 10; }
};

// "CAPACITY,max-wait=D[,queue=N]", e.g. "200,max-wait=5s".
tl::expected<waiting_room_config, std::string> parse_waiting_room(std::string_view spec);

class waiting_room {
 public:
  enum class outcome : std::uint8_t { admitted, queued, refused };
  struct ticket {
    outcome result = outcome::refused;
    std::uint64_t id = 0;        // queued: for cancel()
    std::uint32_t position = 0;  // queued: 1 = next in line
  };
  // Called once for a queued ticket when it is admitted (from leave()).
  using admit_fn = std::function<void()>;

  explicit waiting_room(waiting_room_config config);
  waiting_room(const waiting_room&) = delete;
  waiting_room& operator=(const waiting_room&) = delete;

  ticket enter(nanos now, admit_fn on_admit);
  // The waiter gave up (its max_wait passed, or its connection closed). True: it was still
  // waiting and is gone (counted as timed out); false: it was admitted already.
  bool cancel(std::uint64_t id);
  // A request in service finished: the first waiter, if any, takes its place.
  void leave(nanos now);
  // Blocks up to max_wait. True: admitted (call leave() when done); `position` gets the place
  // it had on entry (0 when admitted at once).
  bool enter_blocking(std::uint32_t* position = nullptr);

  struct stats_t {
    std::uint64_t admitted_at_once = 0, admitted_after_wait = 0, timed_out = 0, refused = 0;
    std::uint32_t in_service = 0, waiting = 0, peak_waiting = 0;
    std::uint64_t wait_ns_total = 0;  // summed over admitted_after_wait
  };
  stats_t stats() const;
  const waiting_room_config& config() const { return config_; }

 private:
  struct waiter {
    std::uint64_t id;
    nanos since;
    admit_fn on_admit;
  };
  const waiting_room_config config_;
  mutable std::mutex mutex_;
  std::deque<waiter> queue_;
  std::uint64_t next_id_ = 1;
  stats_t stats_;
};

}  // namespace perflab::resilience
