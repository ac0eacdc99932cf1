#include <perflab/upstream/pool.hpp>

#include <algorithm>
#include <chrono>

#include <sys/socket.h>
#include <unistd.h>

#include <perflab/core/clock.hpp>

namespace perflab::upstream {

namespace {

// An idle keep-alive connection the upstream has closed (or sent unexpected bytes on) reads EOF,
// data or an error at once; a healthy one would block.
bool still_open(int fd) noexcept {
  char c;
  const auto n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

connection_pool::connection_pool(std::uint32_t max_connections, nanos idle_timeout)
    : max_(std::max<std::uint32_t>(1, max_connections)), idle_timeout_ns_(idle_timeout.count()) {}

connection_pool::~connection_pool() {
  for (const auto& c : idle_) ::close(c.fd);
}

void connection_pool::expire(std::int64_t now_ns) {
  while (!idle_.empty() && now_ns - idle_.front().since_ns > idle_timeout_ns_) {
    ::close(idle_.front().fd);
    idle_.pop_front();
    ++stats_.closed_idle;
  }
}

int connection_pool::take_idle(std::int64_t now_ns) {
  expire(now_ns);
  while (!idle_.empty()) {
    const int fd = idle_.back().fd;
    idle_.pop_back();
    if (still_open(fd)) {
      ++stats_.reused;
      return fd;
    }
    ::close(fd);
    ++stats_.closed_stale;
  }
  return -1;
}

bool connection_pool::try_acquire(waiter& w, std::int64_t now_ns) {
  std::lock_guard lock(mutex_);
  w.granted = false;
  w.fd = -1;
  w.since_ns = now_ns;
  // Free slots are idle connections or room to open one; queued waiters go first.
  if (waiters_.empty() && (in_use_ + idle_.size() < max_ || !idle_.empty())) {
    w.fd = take_idle(now_ns);
    ++in_use_;
    stats_.peak_in_use = std::max(stats_.peak_in_use, in_use_);
    w.granted = true;
    return true;
  }
  w.queued = true;
  waiters_.push_back(&w);
  ++stats_.waits;
  return false;
}

bool connection_pool::cancel(waiter& w) {
  std::lock_guard lock(mutex_);
  if (!w.queued) return false;
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &w));
  w.queued = false;
  ++stats_.wait_timeouts;
  return true;
}

bool connection_pool::acquire_blocking(waiter& w, std::int64_t deadline_ns) {
  if (try_acquire(w, now_ns())) return true;
  std::unique_lock lock(mutex_);
  const auto until = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns));
  granted_cv_.wait_until(lock, until, [&] { return w.granted; });
  if (w.granted) return true;
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &w));
  w.queued = false;
  ++stats_.wait_timeouts;
  return false;
}

std::function<void()> connection_pool::grant_first(int fd) {
  waiter* w = waiters_.front();
  waiters_.pop_front();
  w->queued = false;
  w->fd = fd;
  w->granted = true;
  if (fd >= 0) ++stats_.reused;
  return w->notify;  // a copy: the waiter may be gone once the lock is released
}

void connection_pool::release(int fd, bool reusable, std::int64_t now_ns) {
  std::function<void()> notify;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (fd >= 0 && !reusable) {
      ::close(fd);
      ++stats_.closed_broken;
      fd = -1;
    }
    if (!waiters_.empty()) {
      // The slot passes on as it is: a live connection, or the right to open one.
      if (fd < 0) fd = take_idle(now_ns);
      notify = grant_first(fd);
      wake = !notify;
    } else {
      --in_use_;
      if (fd >= 0) idle_.push_back({fd, now_ns});
      expire(now_ns);
    }
  }
  if (notify) notify();
  if (wake) granted_cv_.notify_all();
}

void connection_pool::opened() noexcept {
  std::lock_guard lock(mutex_);
  ++stats_.opened;
}

connection_pool::stats_t connection_pool::stats() const {
  std::lock_guard lock(mutex_);
  auto s = stats_;
  s.in_use = in_use_;
  s.idle = static_cast<std::uint32_t>(idle_.size());
  s.waiting = static_cast<std::uint32_t>(waiters_.size());
  return s;
}

}  // namespace perflab::upstream
