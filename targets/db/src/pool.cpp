#include <perflab/db/pool.hpp>

#include <algorithm>

#include <perflab/core/clock.hpp>

namespace perflab::db {

std::string_view to_string(validation v) noexcept {
  switch (v) {
    case validation::none: return "none";
    case validation::on_borrow: return "on-borrow";
    case validation::background: return "background";
  }
  return "none";
}

std::string_view to_string(close_reason r) noexcept {
  switch (r) {
    case close_reason::idle: return "idle";
    case close_reason::lifetime: return "lifetime";
    case close_reason::validation: return "validation";
    case close_reason::error: return "error";
    case close_reason::unpooled: return "unpooled";
    case close_reason::count_: break;
  }
  return "error";
}

namespace {

std::int64_t ns(std::chrono::milliseconds d) noexcept { return std::chrono::nanoseconds(d).count(); }

std::size_t wait_bucket(double s) noexcept {
  const auto it = std::lower_bound(acquire_wait_bounds_s.begin(), acquire_wait_bounds_s.end(), s);
  return static_cast<std::size_t>(it - acquire_wait_bounds_s.begin());
}

}  // namespace

pool::pool(const pool_config& cfg, opener* open) : cfg_(cfg), opener_(open), rng_(cfg.seed) {}

pool::~pool() {
  {
    std::lock_guard l(mutex_);
    stopping_ = true;
  }
  hk_cv_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
}

void pool::start_housekeeper() {
  if (!cfg_.enabled || housekeeper_.joinable()) return;
  housekeeper_ = std::thread([this] { housekeep(); });
}

void pool::unlink_locked(waiter& w) noexcept {
  if (w.prev) w.prev->next = w.next;
  else head_ = w.next;
  if (w.next) w.next->prev = w.prev;
  else tail_ = w.prev;
  w.prev = w.next = nullptr;
  w.queued = false;
  --waiting_;
}

void pool::enqueue_locked(waiter& w, std::int64_t now) {
  w.since_ns = now;
  w.prev = tail_;
  w.next = nullptr;
  if (tail_) tail_->next = &w;
  else head_ = &w;
  tail_ = &w;
  w.queued = true;
  ++waiting_;
  counters_.waiting_peak = std::max(counters_.waiting_peak, waiting_);
}

void pool::close_locked(lease s, close_reason why, std::vector<lease>& doomed) {
  --total_;
  ++counters_.closed[static_cast<std::size_t>(why)];
  doomed.push_back(std::move(s));  // closed (destroyed) after the lock is released
  wake_ = true;                    // the housekeeper may need to open a replacement
  hk_cv_.notify_one();
}

void pool::grant_locked(waiter& w, lease s, std::int64_t now, std::vector<std::function<void()>>& notes) {
  const bool queued = w.queued;
  if (queued) unlink_locked(w);
  ++borrowed_;
  ++counters_.acquired;
  const double waited = queued ? static_cast<double>(now - w.since_ns) / 1e9 : 0.0;
  ++counters_.wait_buckets[wait_bucket(std::max(0.0, waited))];
  counters_.wait_sum_s += std::max(0.0, waited);
  w.granted = std::move(s);
  w.done = true;
  if (!queued) return;
  if (w.cv) w.cv->notify_one();  // under the lock: the waiter's condition variable lives on its stack
  else if (w.notify) notes.push_back(std::move(w.notify));
}

bool pool::take_idle_locked(waiter& w, std::int64_t now, std::vector<lease>& doomed) {
  std::vector<std::function<void()>> none;
  while (!idle_.empty()) {
    lease s = std::move(idle_.back());
    idle_.pop_back();
    if (s->expires_ns <= now) {
      close_locked(std::move(s), close_reason::lifetime, doomed);
      continue;
    }
    if (cfg_.validate == validation::on_borrow) {
      // alive() is non-blocking (no round trip), so it may run under the lock.
      if (!s->conn->alive()) {
        close_locked(std::move(s), close_reason::validation, doomed);
        continue;
      }
      s->checked_ns = now;
    }
    grant_locked(w, std::move(s), now, none);
    return true;
  }
  return false;
}

bool pool::try_acquire_locked(waiter& w, std::int64_t now, std::vector<lease>& doomed) {
  w.done = false;
  w.granted.reset();
  w.since_ns = now;
  std::vector<std::function<void()>> none;
  if (!cfg_.enabled) {  // --no-pool: a new connection for every request
    ++total_;
    grant_locked(w, std::make_unique<slot>(), now, none);
    return true;
  }
  // Waiters already queued go first (FIFO): a newcomer never overtakes them.
  if (head_ == nullptr) {
    if (take_idle_locked(w, now, doomed)) return true;
    if (total_ < cfg_.max_size) {
      ++total_;
      grant_locked(w, std::make_unique<slot>(), now, none);  // the borrower opens it
      return true;
    }
  }
  enqueue_locked(w, now);
  return false;
}

bool pool::try_acquire(waiter& w, std::int64_t now) {
  std::vector<lease> doomed;  // declared before the lock: closed after it is released
  std::lock_guard l(mutex_);
  return try_acquire_locked(w, now, doomed);
}

bool pool::cancel(waiter& w, bool timed_out) {
  std::lock_guard l(mutex_);
  if (!w.queued) return false;
  unlink_locked(w);
  if (timed_out) ++counters_.timeouts;
  return true;
}

lease pool::acquire() {
  std::vector<lease> doomed;
  waiter w;
  std::condition_variable cv;
  w.cv = &cv;
  std::unique_lock l(mutex_);
  if (try_acquire_locked(w, now_ns(), doomed)) return std::move(w.granted);
  const auto deadline = steady::time_point(std::chrono::nanoseconds(w.since_ns)) + cfg_.acquire_timeout;
  while (!w.done) {
    if (cv.wait_until(l, deadline) == std::cv_status::timeout && !w.done) {
      unlink_locked(w);
      ++counters_.timeouts;
      return nullptr;
    }
  }
  return std::move(w.granted);
}

void pool::opened(slot& s, std::int64_t now) {
  std::lock_guard l(mutex_);
  s.created_ns = now;
  s.checked_ns = now;
  s.expires_ns = std::numeric_limits<std::int64_t>::max();
  if (cfg_.max_lifetime.count() > 0) {
    // HikariCP's variance: up to 2.5 % earlier, so connections opened together retire apart.
    const auto life = ns(cfg_.max_lifetime);
    std::uniform_int_distribution<std::int64_t> jitter(0, life / 40);
    s.expires_ns = now + life - jitter(rng_);
  }
  ++counters_.created;
}

void pool::put_back_locked(lease s, std::int64_t now, std::vector<std::function<void()>>& notes) {
  if (head_) {
    grant_locked(*head_, std::move(s), now, notes);  // hand-off: just used, so not validated again
    return;
  }
  s->idle_since_ns = now;
  idle_.push_back(std::move(s));
}

void pool::serve_waiters_locked(std::int64_t now, std::vector<std::function<void()>>& notes) {
  while (head_ && total_ < cfg_.max_size) {
    ++total_;
    grant_locked(*head_, std::make_unique<slot>(), now, notes);
  }
}

void pool::release(lease s, bool broken, std::int64_t now) {
  std::vector<lease> doomed;
  std::vector<std::function<void()>> notes;
  {
    std::lock_guard l(mutex_);
    --borrowed_;
    if (!s->conn) {  // its borrower could not open it, or went away first
      --total_;
      if (broken) ++counters_.open_failures;
    } else if (broken) {
      close_locked(std::move(s), close_reason::error, doomed);
    } else if (!cfg_.enabled) {
      close_locked(std::move(s), close_reason::unpooled, doomed);
    } else if (s->expires_ns <= now) {
      close_locked(std::move(s), close_reason::lifetime, doomed);  // never while borrowed: now
    } else {
      put_back_locked(std::move(s), now, notes);
    }
    if (cfg_.enabled) serve_waiters_locked(now, notes);
  }
  for (auto& n : notes) n();
}

void pool::maintain(std::int64_t now) {
  std::vector<lease> doomed;
  std::vector<std::function<void()>> notes;
  {
    std::lock_guard l(mutex_);
    // Oldest returned first (the front), so idle-timeout closes the longest unused.
    std::vector<lease> keep;
    keep.reserve(idle_.size());
    std::size_t idle_left = idle_.size();
    for (auto& s : idle_) {
      if (s->expires_ns <= now) {
        close_locked(std::move(s), close_reason::lifetime, doomed);
      } else if (cfg_.idle_timeout.count() > 0 && idle_left > cfg_.min_idle &&
                 now - s->idle_since_ns >= ns(cfg_.idle_timeout)) {
        close_locked(std::move(s), close_reason::idle, doomed);
      } else if (cfg_.validate == validation::background && now - s->checked_ns >= ns(cfg_.validation_interval) &&
                 !s->conn->alive()) {
        close_locked(std::move(s), close_reason::validation, doomed);
      } else {
        if (cfg_.validate == validation::background && now - s->checked_ns >= ns(cfg_.validation_interval))
          s->checked_ns = now;
        keep.push_back(std::move(s));
        continue;
      }
      --idle_left;
    }
    idle_.swap(keep);
    serve_waiters_locked(now, notes);
  }
  for (auto& n : notes) n();
  notes.clear();
  fill(now);
}

void pool::fill(std::int64_t now) {
  if (!cfg_.enabled || !opener_) return;
  // HikariCP's fill rule: open while fewer than min_idle are idle (or being opened) and there is
  // room. One at a time, outside the lock (opening may take milliseconds).
  const std::int64_t pass_start = now_ns();
  for (;;) {
    {
      std::lock_guard l(mutex_);
      if (stopping_ || total_ >= cfg_.max_size || idle_.size() + opening_ >= cfg_.min_idle) return;
      ++total_;
      ++opening_;
    }
    auto conn = opener_->open_blocking();
    std::vector<std::function<void()>> notes;
    {
      std::lock_guard l(mutex_);
      --opening_;
      if (!conn) {
        --total_;
        ++counters_.open_failures;
        serve_waiters_locked(now, notes);
      }
    }
    if (!conn) {
      for (auto& n : notes) n();
      return;  // the server is unreachable: try again at the next tick
    }
    // Born when the open finished, not when this pass began: opening may take milliseconds
    // (the pass's clock, now, moved on by the opens' real duration), and max-lifetime and
    // idle-timeout count from here.
    const std::int64_t born = now + (now_ns() - pass_start);
    auto s = std::make_unique<slot>();
    s->conn = std::move(conn);
    opened(*s, born);
    {
      std::lock_guard l(mutex_);
      put_back_locked(std::move(s), born, notes);
    }
    for (auto& n : notes) n();
  }
}

std::chrono::milliseconds pool::tick() const noexcept {
  using std::chrono::milliseconds;
  milliseconds t{1000};
  for (auto d : {cfg_.idle_timeout, cfg_.max_lifetime, cfg_.validate == validation::background ? cfg_.validation_interval : milliseconds{0}})
    if (d.count() > 0) t = std::min(t, d / 4);
  return std::clamp(t, milliseconds{5}, milliseconds{1000});
}

void pool::housekeep() {
  std::unique_lock l(mutex_);
  while (!stopping_) {
    wake_ = false;
    l.unlock();
    maintain(now_ns());
    l.lock();
    hk_cv_.wait_for(l, tick(), [this] { return stopping_ || wake_; });
  }
}

std::size_t pool::terminate_idle() {
  std::vector<std::function<void()>> later;  // the round trips, made without the lock
  {
    std::lock_guard l(mutex_);
    for (auto& s : idle_) later.push_back(s->conn->terminate_later());
  }
  for (auto& f : later)
    if (f) f();
  return later.size();
}

pool_stats pool::stats() const {
  std::lock_guard l(mutex_);
  pool_stats s = counters_;
  s.total = total_;
  s.active = borrowed_;
  s.idle = idle_.size();
  s.opening = opening_;
  s.waiting = waiting_;
  return s;
}

}  // namespace perflab::db
