#pragma once
// A bulkhead (semaphore isolation): at most `limit` calls to a dependency at once; a call beyond
// that is refused at once (the caller answers 503), never queued, so one slow dependency holds at
// most `limit` of the server's workers or connections. Lock-free; thread-safe.
#include <atomic>
#include <cstdint>

namespace perflab::resilience {

class bulkhead {
 public:
  explicit bulkhead(std::uint32_t limit) : limit_(limit) {}
  bulkhead(const bulkhead&) = delete;
  bulkhead& operator=(const bulkhead&) = delete;

  // True: a place was taken, give it back with leave(). False: refused (counted).
  bool try_enter() {
    std::uint32_t cur = in_use_.load(std::memory_order_relaxed);
    do {
      if (cur >= limit_) {
        rejected_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    } while (!in_use_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel, std::memory_order_relaxed));
    admitted_.fetch_add(1, std::memory_order_relaxed);
    std::uint32_t peak = peak_.load(std::memory_order_relaxed);
    while (cur + 1 > peak && !peak_.compare_exchange_weak(peak, cur + 1, std::memory_order_relaxed)) {
    }
    return true;
  }
  void leave() { in_use_.fetch_sub(1, std::memory_order_acq_rel); }

  std::uint32_t limit() const { return limit_; }
  std::uint32_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  std::uint32_t peak() const { return peak_.load(std::memory_order_relaxed); }  // most in use at once
  std::uint64_t admitted() const { return admitted_.load(std::memory_order_relaxed); }
  std::uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  const std::uint32_t limit_;
  std::atomic<std::uint32_t> in_use_{0};
  std::atomic<std::uint32_t> peak_{0};
  std::atomic<std::uint64_t> admitted_{0};
  std::atomic<std::uint64_t> rejected_{0};
};

}  // namespace perflab::resilience
