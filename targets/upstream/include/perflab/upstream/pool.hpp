#pragma once
// The upstream client's connection pool: at most max_connections sockets to the upstream, in use
// or idle; an idle one is reused (keep-alive, most recently used first) unless it has been idle
// longer than idle_timeout or the upstream has closed it; when all are in use, callers wait in
// FIFO order (bounded by their attempt's deadline). A grant is either an open socket or the right
// to open a new one (fd -1): the caller connects, and gives the slot back with release() either
// way. Thread-safe (one mutex); sockets are non-blocking file descriptors, so a connection may be
// used blocking (poll) by one call and asynchronously (an Asio descriptor) by the next.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include <perflab/upstream/config.hpp>

namespace perflab::upstream {

class connection_pool {
 public:
  // One caller's place in the queue. notify (asynchronous waiters) is called, outside the lock
  // and on the releasing thread, once the waiter is granted; it must only post to the waiter's
  // loop. A blocking waiter leaves it empty.
  struct waiter {
    std::function<void()> notify;
    int fd = -1;           // granted: an idle connection, or -1 (open a new one)
    bool granted = false;
    bool queued = false;   // guarded by the pool's mutex
    std::int64_t since_ns = 0;
  };

  connection_pool(std::uint32_t max_connections, nanos idle_timeout);
  ~connection_pool();  // closes the idle connections
  connection_pool(const connection_pool&) = delete;
  connection_pool& operator=(const connection_pool&) = delete;

  // True: granted now (w.fd set). False: queued; w.notify comes with the grant.
  bool try_acquire(waiter& w, std::int64_t now_ns);
  // Withdraws a queued waiter: true if it was still waiting (counted as a wait timeout); false
  // if it had been granted (w.fd, w.granted set: release it).
  bool cancel(waiter& w);
  // Blocks until granted or deadline_ns (now_ns() clock); false on timeout (counted).
  bool acquire_blocking(waiter& w, std::int64_t deadline_ns);
  // Gives a granted slot back: fd >= 0 and reusable: kept idle (or handed to a waiter); else
  // the fd (if any) is closed and the slot freed.
  void release(int fd, bool reusable, std::int64_t now_ns);
  // A new connection was opened on a granted slot (counted).
  void opened() noexcept;

  struct stats_t {
    std::uint32_t in_use = 0, idle = 0, waiting = 0, peak_in_use = 0;
    std::uint64_t opened = 0;        // connections opened
    std::uint64_t reused = 0;        // grants of an idle connection
    std::uint64_t closed_idle = 0;   // closed after idle_timeout
    std::uint64_t closed_stale = 0;  // found closed by the upstream when looked at
    std::uint64_t closed_broken = 0; // released not reusable (error, timeout, Connection: close)
    std::uint64_t waits = 0;         // acquires that had to queue
    std::uint64_t wait_timeouts = 0; // queued acquires whose deadline came first
  };
  stats_t stats() const;
  std::uint32_t max_connections() const noexcept { return max_; }

 private:
  struct idle_conn {
    int fd;
    std::int64_t since_ns;
  };
  // mutex_ held: closes idle connections past idle_timeout; pops a usable idle fd or -1.
  void expire(std::int64_t now_ns);
  int take_idle(std::int64_t now_ns);
  // mutex_ held: hands the slot (fd or -1) to the first waiter; returns its notify to call
  // after unlocking.
  std::function<void()> grant_first(int fd);

  const std::uint32_t max_;
  const std::int64_t idle_timeout_ns_;
  mutable std::mutex mutex_;
  std::condition_variable granted_cv_;
  std::deque<idle_conn> idle_;       // back: most recently used
  std::deque<waiter*> waiters_;
  std::uint32_t in_use_ = 0;         // granted slots (connected or being opened)
  stats_t stats_;
};

}  // namespace perflab::upstream
