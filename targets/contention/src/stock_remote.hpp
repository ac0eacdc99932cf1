#pragma once
// Internal to the stock strategies kept in a remote store (stock_redis.cpp, stock_postgres.cpp):
// everything but the talking to the store. Buys queue for the store's worker threads; a blocking
// buy() waits on its own asynchronous one; and each item has this server's view of it: the units
// its buys sold, and the lowest remaining any reply reported (remaining only falls, so with
// several workers answering out of order the lowest is the newest). Once no buy is in flight the
// view is exact, so an oversell shows as sold + remaining != initial in audit().
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "perflab/contention/stock.hpp"

namespace perflab::contention::detail {

template <class Interface>
class remote_stock : public Interface {
 public:
  remote_stock(std::uint64_t items, std::int64_t initial) : initial_(initial), items_(items) {
    for (auto& it : items_) it.remaining.store(initial, std::memory_order_relaxed);
  }

  void buy_async(std::uint64_t item, std::int64_t qty, std::function<void(buy_result)> done) override {
    if (item >= items_.size()) return done({false, false, 0});
    {
      std::lock_guard lock(m_);
      queue_.push_back(request{item, qty, std::move(done)});
    }
    cv_.notify_one();
  }
  buy_result buy(std::uint64_t item, std::int64_t qty) override {
    std::mutex m;
    std::condition_variable cv;
    std::optional<buy_result> r;
    buy_async(item, qty, [&](buy_result x) {
      std::lock_guard l(m);
      r = x;
      cv.notify_one();
    });
    std::unique_lock l(m);
    cv.wait(l, [&] { return r.has_value(); });
    return *r;
  }
  std::int64_t remaining(std::uint64_t item) const override {
    return items_[item].remaining.load(std::memory_order_acquire);
  }
  std::int64_t sold(std::uint64_t item) const override { return items_[item].sold.load(std::memory_order_acquire); }
  stock_audit audit() const override {
    stock_audit a;
    a.items = items_.size();
    for (std::uint64_t i = 0; i < a.items; ++i) {
      const auto s = sold(i), left = remaining(i);
      a.initial += initial_;
      a.sold += s;
      a.remaining += left;
      a.violations += left < 0 || s + left != initial_;
    }
    a.buys = buys_.load(std::memory_order_relaxed);
    a.sold_out = sold_out_.load(std::memory_order_relaxed);
    a.retries = retries_.load(std::memory_order_relaxed);
    a.errors = errors_.load(std::memory_order_relaxed);
    return a;
  }
  std::uint64_t items() const override { return items_.size(); }

 protected:
  struct request {
    std::uint64_t item;
    std::int64_t qty;
    std::function<void(buy_result)> done;
  };

  // For a worker: waits for queued buys and moves up to `most` of them to the end of `into`;
  // false once stop() was called and every queued buy has been taken.
  bool take(std::deque<request>& into, std::size_t most) {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return false;
    for (std::size_t n = 0; n < most && !queue_.empty(); ++n) {
      into.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return true;
  }
  // Wakes every worker to finish the queue and return (the derived destructor joins them).
  void stop() {
    {
      std::lock_guard lock(m_);
      stopping_ = true;
    }
    cv_.notify_all();
  }
  // A buy's answer from the store, into this server's view and the counters.
  void record(const request& r, const buy_result& res) {
    if (res.error) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto& it = items_[r.item];
    auto seen = it.remaining.load(std::memory_order_relaxed);
    while (res.remaining < seen &&
           !it.remaining.compare_exchange_weak(seen, res.remaining, std::memory_order_acq_rel)) {
    }
    if (res.bought) it.sold.fetch_add(r.qty, std::memory_order_acq_rel);
    else sold_out_.fetch_add(1, std::memory_order_relaxed);
    buys_.fetch_add(1, std::memory_order_relaxed);
  }

  const std::int64_t initial_;
  std::atomic<std::uint64_t> retries_{0};  // a strategy's own retries (pg-optimistic's conflicts)

 private:
  struct alignas(64) item_state {
    std::atomic<std::int64_t> remaining{0};
    std::atomic<std::int64_t> sold{0};
  };
  std::vector<item_state> items_;
  std::atomic<std::uint64_t> buys_{0}, sold_out_{0}, errors_{0};
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<request> queue_;  // guarded by m_
  bool stopping_ = false;      // guarded by m_
};

}  // namespace perflab::contention::detail
