#pragma once
// Single-flight: one origin call for a key that many requests missed at once. The first miss
// leads (makes the call); the others join its flight and are released with its result when it
// finishes. If the leader goes away without a result (its connection died), the flight is
// abandoned and its waiters retry as if they had just arrived.
//
// Waiting is the concurrency model's business: a blocking thread calls wait(); an event loop
// calls subscribe() with a callback that posts back to its own loop.
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace perflab::cache {

class flight {
 public:
  flight() = default;
  flight(const flight&) = delete;
  flight& operator=(const flight&) = delete;

  // The leader's result: stored, then every waiter is released (blocking ones woken, callbacks
  // called on this thread, outside the flight's lock). Only the first finish or abandon counts.
  void finish(std::string_view value);
  void abandon();

  // Blocks until the flight ends. True with the result in `value`; false if it was abandoned.
  bool wait(std::string& value);
  // Blocks until the flight ends; its result is then result()'s.
  void wait_ended();
  // Calls on_done once when the flight ends, on the thread that ends it. False (and on_done is
  // never called) if it has already ended: the caller goes on at once.
  bool subscribe(std::function<void()> on_done);
  // After the flight ended (wait returned, or on_done ran): its result, as wait() gives it.
  bool result(std::string& value) const;
  bool ended() const;
  std::size_t waiters() const;  // joined so far (blocking and subscribed)

 private:
  void end(bool ok, std::string_view value);

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool ended_ = false;     // guarded by mutex_
  bool ok_ = false;        // guarded by mutex_; immutable once ended_
  std::string value_;      // guarded by mutex_; immutable once ended_
  std::size_t waiters_ = 0;
  std::vector<std::function<void()>> subscribers_;  // guarded by mutex_
};

}  // namespace perflab::cache
