#include "perflab/contention/stock.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace perflab::contention {

namespace {

constexpr std::size_t line = 64;  // one cache line per hot counter, so items do not share one

// Counters bumped by every buyer (buys, refusals): striped over cache lines by thread, so the
// bookkeeping is not itself the contention the lab measures.
class striped_counter {
 public:
  void add(std::uint64_t n = 1) noexcept { cells_[slot()].v.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t sum() const noexcept {
    std::uint64_t s = 0;
    for (const auto& c : cells_) s += c.v.load(std::memory_order_relaxed);
    return s;
  }

 private:
  static std::size_t slot() noexcept { return std::hash<std::thread::id>{}(std::this_thread::get_id()) % 16; }
  struct alignas(line) cell {
    std::atomic<std::uint64_t> v{0};
  };
  std::array<cell, 16> cells_{};
};

struct counters {
  striped_counter buys, sold_out, fragmented;
};

stock_audit audit_of(const stock& s, std::int64_t initial, const counters& c) {
  stock_audit a;
  a.items = s.items();
  for (std::uint64_t i = 0; i < a.items; ++i) {
    const std::int64_t sold = s.sold(i), left = s.remaining(i);
    a.initial += initial;
    a.sold += sold;
    a.remaining += left;
    a.violations += left < 0 || sold + left != initial;
  }
  a.buys = c.buys.sum();
  a.sold_out = c.sold_out.sum();
  a.fragmented = c.fragmented.sum();
  return a;
}

class mutex_stock final : public stock {
 public:
  mutex_stock(std::uint64_t items, std::int64_t initial) : initial_(initial), items_(items) {
    for (auto& it : items_) it.remaining = initial;
  }
  buy_result buy(std::uint64_t item, std::int64_t qty) override {
    if (item >= items_.size()) return {false, false, 0};
    c_.buys.add();
    auto& it = items_[item];
    std::lock_guard lock(it.m);
    if (it.remaining < qty) {
      c_.sold_out.add();
      return {false, true, it.remaining};
    }
    it.remaining -= qty;
    it.sold += qty;
    return {true, true, it.remaining};
  }
  std::int64_t remaining(std::uint64_t item) const override {
    std::lock_guard lock(items_[item].m);
    return items_[item].remaining;
  }
  std::int64_t sold(std::uint64_t item) const override {
    std::lock_guard lock(items_[item].m);
    return items_[item].sold;
  }
  stock_audit audit() const override { return audit_of(*this, initial_, c_); }
  stock_strategy strategy() const override { return stock_strategy::mutex; }
  std::uint64_t items() const override { return items_.size(); }

 private:
  struct alignas(line) item_state {
    mutable std::mutex m;
    std::int64_t remaining = 0, sold = 0;
  };
  std::int64_t initial_;
  std::vector<item_state> items_;
  counters c_;
};

class atomic_stock final : public stock {
 public:
  atomic_stock(std::uint64_t items, std::int64_t initial) : initial_(initial), items_(items) {
    for (auto& it : items_) it.remaining.store(initial, std::memory_order_relaxed);
  }
  buy_result buy(std::uint64_t item, std::int64_t qty) override {
    if (item >= items_.size()) return {false, false, 0};
    c_.buys.add();
    auto& it = items_[item];
    std::int64_t cur = it.remaining.load(std::memory_order_relaxed);
    do {
      if (cur < qty) {
        c_.sold_out.add();
        return {false, true, cur};
      }
    } while (!it.remaining.compare_exchange_weak(cur, cur - qty, std::memory_order_acq_rel, std::memory_order_relaxed));
    it.sold.fetch_add(qty, std::memory_order_relaxed);
    return {true, true, cur - qty};
  }
  std::int64_t remaining(std::uint64_t item) const override { return items_[item].remaining.load(std::memory_order_acquire); }
  std::int64_t sold(std::uint64_t item) const override { return items_[item].sold.load(std::memory_order_acquire); }
  stock_audit audit() const override { return audit_of(*this, initial_, c_); }
  stock_strategy strategy() const override { return stock_strategy::atomic; }
  std::uint64_t items() const override { return items_.size(); }

 private:
  struct alignas(line) item_state {
    std::atomic<std::int64_t> remaining{0};
    std::atomic<std::int64_t> sold{0};
  };
  std::int64_t initial_;
  std::vector<item_state> items_;
  counters c_;
};

class sharded_stock final : public stock {
 public:
  sharded_stock(std::uint64_t items, std::int64_t initial, unsigned shards)
      : initial_(initial), shards_(shards), items_(items), cells_(items * shards) {
    for (std::uint64_t i = 0; i < items; ++i)
      for (unsigned s = 0; s < shards; ++s)  // initial / shards each, the remainder to the first ones
        cell(i, s).remaining.store(initial / shards + (static_cast<std::int64_t>(s) < initial % shards ? 1 : 0),
                                   std::memory_order_relaxed);
  }
  buy_result buy(std::uint64_t item, std::int64_t qty) override {
    if (item >= items_) return {false, false, 0};
    c_.buys.add();
    const unsigned home = static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id()) % shards_);
    for (unsigned k = 0; k < shards_; ++k) {  // home first, then borrow from the others in turn
      auto& c = cell(item, (home + k) % shards_);
      std::int64_t cur = c.remaining.load(std::memory_order_relaxed);
      while (cur >= qty) {
        if (c.remaining.compare_exchange_weak(cur, cur - qty, std::memory_order_acq_rel, std::memory_order_relaxed)) {
          c.sold.fetch_add(qty, std::memory_order_relaxed);
          return {true, true, remaining(item)};
        }
      }
    }
    const std::int64_t left = remaining(item);
    (left >= qty ? c_.fragmented : c_.sold_out).add();
    return {false, true, left};
  }
  std::int64_t remaining(std::uint64_t item) const override {
    std::int64_t s = 0;
    for (unsigned k = 0; k < shards_; ++k) s += cell(item, k).remaining.load(std::memory_order_acquire);
    return s;
  }
  std::int64_t sold(std::uint64_t item) const override {
    std::int64_t s = 0;
    for (unsigned k = 0; k < shards_; ++k) s += cell(item, k).sold.load(std::memory_order_acquire);
    return s;
  }
  stock_audit audit() const override { return audit_of(*this, initial_, c_); }
  stock_strategy strategy() const override { return stock_strategy::sharded; }
  std::uint64_t items() const override { return items_; }

 private:
  struct alignas(line) shard_cell {
    std::atomic<std::int64_t> remaining{0};
    std::atomic<std::int64_t> sold{0};
  };
  shard_cell& cell(std::uint64_t item, unsigned s) { return cells_[item * shards_ + s]; }
  const shard_cell& cell(std::uint64_t item, unsigned s) const { return cells_[item * shards_ + s]; }
  std::int64_t initial_;
  unsigned shards_;
  std::uint64_t items_;
  std::vector<shard_cell> cells_;
  counters c_;
};

// One owner thread applies every buy in arrival order; the counters are written only by it
// (plain stores of atomics, so readers see whole values).
class single_writer_stock final : public stock {
 public:
  single_writer_stock(std::uint64_t items, std::int64_t initial) : initial_(initial), items_(items) {
    for (auto& it : items_) it.remaining.store(initial, std::memory_order_relaxed);
    owner_ = std::thread([this] { run(); });
  }
  ~single_writer_stock() override {
    {
      std::lock_guard lock(m_);
      stopping_ = true;
    }
    cv_.notify_one();
    owner_.join();
  }
  void buy_async(std::uint64_t item, std::int64_t qty, std::function<void(buy_result)> done) override {
    if (item >= items_.size()) {
      done({false, false, 0});
      return;
    }
    c_.buys.add();
    bool wake = false;
    {
      std::lock_guard lock(m_);
      wake = queue_.empty();
      queue_.push_back(request{item, qty, std::move(done)});
    }
    if (wake) cv_.notify_one();
  }
  buy_result buy(std::uint64_t item, std::int64_t qty) override {
    struct slot {
      std::mutex m;
      std::condition_variable cv;
      std::optional<buy_result> r;
    } s;
    buy_async(item, qty, [&s](buy_result r) {
      std::lock_guard l(s.m);
      s.r = r;
      s.cv.notify_one();
    });
    std::unique_lock l(s.m);
    s.cv.wait(l, [&] { return s.r.has_value(); });
    return *s.r;
  }
  std::int64_t remaining(std::uint64_t item) const override { return items_[item].remaining.load(std::memory_order_acquire); }
  std::int64_t sold(std::uint64_t item) const override { return items_[item].sold.load(std::memory_order_acquire); }
  stock_audit audit() const override { return audit_of(*this, initial_, c_); }
  stock_strategy strategy() const override { return stock_strategy::single_writer; }
  std::uint64_t items() const override { return items_.size(); }

 private:
  struct request {
    std::uint64_t item;
    std::int64_t qty;
    std::function<void(buy_result)> done;
  };
  struct alignas(line) item_state {
    std::atomic<std::int64_t> remaining{0};
    std::atomic<std::int64_t> sold{0};
  };
  void run() {
    std::deque<request> batch;
    for (;;) {
      {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and every request answered
        batch.swap(queue_);
      }
      for (auto& r : batch) {
        auto& it = items_[r.item];
        const std::int64_t left = it.remaining.load(std::memory_order_relaxed);
        buy_result res{left >= r.qty, true, left};
        if (res.bought) {
          res.remaining = left - r.qty;
          it.remaining.store(res.remaining, std::memory_order_release);
          it.sold.store(it.sold.load(std::memory_order_relaxed) + r.qty, std::memory_order_release);
        } else {
          c_.sold_out.add();
        }
        r.done(res);
      }
      batch.clear();
    }
  }
  std::int64_t initial_;
  std::vector<item_state> items_;
  counters c_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<request> queue_;  // guarded by m_
  bool stopping_ = false;      // guarded by m_
  std::thread owner_;
};

}  // namespace

void stock::buy_async(std::uint64_t item, std::int64_t qty, std::function<void(buy_result)> done) {
  done(buy(item, qty));
}

std::optional<stock_strategy> parse_stock_strategy(std::string_view name) {
  if (name == "mutex") return stock_strategy::mutex;
  if (name == "atomic") return stock_strategy::atomic;
  if (name == "sharded") return stock_strategy::sharded;
  if (name == "single-writer") return stock_strategy::single_writer;
  if (name == "redis") return stock_strategy::redis;
  if (name == "pg-row-lock") return stock_strategy::pg_row_lock;
  if (name == "pg-optimistic") return stock_strategy::pg_optimistic;
  return std::nullopt;
}

std::string_view to_string(stock_strategy s) {
  switch (s) {
    case stock_strategy::mutex: return "mutex";
    case stock_strategy::atomic: return "atomic";
    case stock_strategy::sharded: return "sharded";
    case stock_strategy::single_writer: return "single-writer";
    case stock_strategy::redis: return "redis";
    case stock_strategy::pg_row_lock: return "pg-row-lock";
    case stock_strategy::pg_optimistic: return "pg-optimistic";
  }
  return "?";
}

bool answered_elsewhere(stock_strategy s) noexcept { return s == stock_strategy::single_writer || needs_server(s); }

bool needs_server(stock_strategy s) noexcept {
  return s == stock_strategy::redis || s == stock_strategy::pg_row_lock || s == stock_strategy::pg_optimistic;
}

std::unique_ptr<stock> make_stock(stock_strategy s, std::uint64_t items, std::int64_t initial, unsigned shards) {
  switch (s) {
    case stock_strategy::mutex: return std::make_unique<mutex_stock>(items, initial);
    case stock_strategy::atomic: return std::make_unique<atomic_stock>(items, initial);
    case stock_strategy::sharded:
      if (shards == 0) shards = std::max(2u, std::thread::hardware_concurrency());
      return std::make_unique<sharded_stock>(items, initial, shards);
    case stock_strategy::single_writer: return std::make_unique<single_writer_stock>(items, initial);
    case stock_strategy::redis:          // make_redis_stock (it needs a server)
    case stock_strategy::pg_row_lock:    // make_pg_stock (the same)
    case stock_strategy::pg_optimistic: break;
  }
  return nullptr;
}

}  // namespace perflab::contention
