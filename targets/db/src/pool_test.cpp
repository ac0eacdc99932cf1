#include <perflab/db/pool.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <perflab/core/clock.hpp>

namespace {

using namespace perflab::db;
using namespace std::chrono_literals;

constexpr std::int64_t ms = 1'000'000;  // fake-clock nanoseconds per millisecond

class fake_connection final : public connection {
 public:
  bool alive() noexcept override { return alive_.load(); }
  void terminate() noexcept override { alive_ = false; }

 private:
  std::atomic<bool> alive_{true};
};

class fake_opener final : public opener {
 public:
  std::unique_ptr<connection> open_blocking() override {
    ++opened;
    return std::make_unique<fake_connection>();
  }
  std::atomic<int> opened{0};
};

pool_config config(std::size_t max, std::size_t min_idle) {
  pool_config c;
  c.max_size = max;
  c.min_idle = min_idle;
  c.acquire_timeout = 1000ms;
  c.idle_timeout = 0ms;
  c.max_lifetime = 0ms;
  return c;
}

// Acquires at `now` and opens the slot if the pool reserved one (what a call does).
lease borrow(pool& p, std::int64_t now) {
  waiter w;
  EXPECT_TRUE(p.try_acquire(w, now));
  if (w.granted && !w.granted->conn) {
    w.granted->conn = std::make_unique<fake_connection>();
    p.opened(*w.granted, now);
  }
  return std::move(w.granted);
}

TEST(PoolAcquire, ReservesUpToMaxSizeThenQueues) {
  pool p(config(2, 0), nullptr);
  waiter a, b, c;
  EXPECT_TRUE(p.try_acquire(a, 0));
  EXPECT_TRUE(p.try_acquire(b, 0));
  EXPECT_EQ(a.granted->conn, nullptr);  // a reserved place: the borrower opens it
  EXPECT_FALSE(p.try_acquire(c, 0));
  const auto s = p.stats();
  EXPECT_EQ(s.total, 2u);
  EXPECT_EQ(s.active, 2u);
  EXPECT_EQ(s.waiting, 1u);
  EXPECT_TRUE(p.cancel(c, false));
  p.release(std::move(a.granted), false, 0);
  p.release(std::move(b.granted), false, 0);
}

TEST(PoolAcquire, ServesWaitersFirstInFirstOut) {
  pool p(config(1, 0), nullptr);
  auto held = borrow(p, 0);
  std::vector<int> order;
  waiter w[3];
  for (int i = 0; i < 3; ++i) {
    w[i].notify = [&order, i] { order.push_back(i); };
    EXPECT_FALSE(p.try_acquire(w[i], i * ms));
  }
  auto* conn = held.get()->conn.get();
  p.release(std::move(held), false, 10 * ms);
  ASSERT_EQ(order, std::vector<int>{0});
  EXPECT_EQ(w[0].granted->conn.get(), conn);  // handed over, not reopened
  p.release(std::move(w[0].granted), false, 20 * ms);
  p.release(std::move(w[1].granted), false, 30 * ms);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  p.release(std::move(w[2].granted), false, 40 * ms);
  const auto s = p.stats();
  EXPECT_EQ(s.acquired, 4u);
  EXPECT_EQ(s.waiting_peak, 3u);
  EXPECT_EQ(s.idle, 1u);
  // Waits of 10, 19 and 28 ms, and the first borrow's 0.
  EXPECT_NEAR(s.wait_sum_s, 0.057, 1e-9);
}

TEST(PoolAcquire, NewcomerDoesNotOvertakeAQueuedWaiter) {
  pool p(config(1, 0), nullptr);
  auto held = borrow(p, 0);
  waiter first, late;
  EXPECT_FALSE(p.try_acquire(first, 0));
  p.release(std::move(held), false, 1 * ms);  // goes to `first`, not to the idle list
  EXPECT_FALSE(p.try_acquire(late, 1 * ms));
  EXPECT_TRUE(first.granted);
  EXPECT_TRUE(p.cancel(late, false));
  p.release(std::move(first.granted), false, 2 * ms);
}

TEST(PoolTimeout, CancelRemovesAQueuedWaiterAndCountsIt) {
  pool p(config(1, 0), nullptr);
  auto held = borrow(p, 0);
  waiter w;
  EXPECT_FALSE(p.try_acquire(w, 0));
  EXPECT_TRUE(p.cancel(w));
  EXPECT_FALSE(p.cancel(w));  // no longer queued
  auto s = p.stats();
  EXPECT_EQ(s.timeouts, 1u);
  EXPECT_EQ(s.waiting, 0u);
  p.release(std::move(held), false, 0);
  EXPECT_FALSE(w.granted);  // a withdrawn waiter is never served
  EXPECT_EQ(p.stats().idle, 1u);
}

TEST(PoolTimeout, CancelAfterTheGrantLosesTheRace) {
  pool p(config(1, 0), nullptr);
  auto held = borrow(p, 0);
  waiter w;
  EXPECT_FALSE(p.try_acquire(w, 0));
  p.release(std::move(held), false, 5 * ms);
  EXPECT_FALSE(p.cancel(w));  // served before its deadline handler ran: it goes on
  EXPECT_TRUE(w.granted);
  EXPECT_EQ(p.stats().timeouts, 0u);
  p.release(std::move(w.granted), false, 6 * ms);
}

TEST(PoolTimeout, BlockingAcquireGivesUpAfterTheTimeout) {
  auto c = config(1, 0);
  c.acquire_timeout = 200ms;
  pool p(c, nullptr);
  auto held = borrow(p, perflab::now_ns());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.acquire());
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 200ms);
  EXPECT_LT(waited, 400ms);  // generous: a loaded machine may wake us late
  EXPECT_EQ(p.stats().timeouts, 1u);
  p.release(std::move(held), false, perflab::now_ns());
}

TEST(PoolLifetime, NeverRetiresABorrowedConnection) {
  auto c = config(1, 0);
  c.max_lifetime = 1000ms;
  pool p(c, nullptr);
  auto held = borrow(p, 0);
  p.maintain(5000 * ms);  // long past its lifetime, but borrowed
  EXPECT_EQ(p.stats().closed[static_cast<std::size_t>(close_reason::lifetime)], 0u);
  EXPECT_TRUE(held->conn->alive());
  p.release(std::move(held), false, 5000 * ms);  // retired when given back
  const auto s = p.stats();
  EXPECT_EQ(s.closed[static_cast<std::size_t>(close_reason::lifetime)], 1u);
  EXPECT_EQ(s.total, 0u);
}

TEST(PoolLifetime, IdleConnectionsExpireWithJitterOfAtMostTwoAndAHalfPercent) {
  auto c = config(50, 0);
  c.max_lifetime = 1000ms;
  pool p(c, nullptr);
  std::vector<lease> held;
  for (int i = 0; i < 50; ++i) held.push_back(borrow(p, 0));
  std::int64_t lo = INT64_MAX, hi = 0;
  for (auto& s : held) {
    lo = std::min(lo, s->expires_ns);
    hi = std::max(hi, s->expires_ns);
  }
  EXPECT_GE(lo, 975 * ms);
  EXPECT_LE(hi, 1000 * ms);
  EXPECT_GT(hi - lo, 5 * ms);  // spread, not all at once
  for (auto& s : held) p.release(std::move(s), false, 100 * ms);
  p.maintain(990 * ms);  // some expired, not all
  const auto some = p.stats().closed[static_cast<std::size_t>(close_reason::lifetime)];
  EXPECT_GT(some, 0u);
  EXPECT_LT(some, 50u);
  p.maintain(1000 * ms);
  EXPECT_EQ(p.stats().closed[static_cast<std::size_t>(close_reason::lifetime)], 50u);
}

TEST(PoolIdle, IdleTimeoutShrinksToMinIdle) {
  auto c = config(5, 2);
  c.idle_timeout = 300ms;
  fake_opener o;
  pool p(c, &o);
  std::vector<lease> held;
  for (int i = 0; i < 5; ++i) held.push_back(borrow(p, 0));
  for (auto& s : held) p.release(std::move(s), false, 0);
  p.maintain(200 * ms);
  EXPECT_EQ(p.stats().idle, 5u);
  p.maintain(300 * ms);
  const auto s = p.stats();
  EXPECT_EQ(s.idle, 2u);
  EXPECT_EQ(s.closed[static_cast<std::size_t>(close_reason::idle)], 3u);
  EXPECT_EQ(o.opened, 0);  // min idle was already met
}

TEST(PoolIdle, HousekeeperFillsToMinIdle) {
  fake_opener o;
  pool p(config(5, 3), &o);
  p.maintain(0);
  EXPECT_EQ(p.stats().idle, 3u);
  EXPECT_EQ(p.stats().created, 3u);
  auto a = borrow(p, 0);  // an idle one: no open
  p.maintain(0);          // back to 3 idle (4 open)
  EXPECT_EQ(p.stats().idle, 3u);
  EXPECT_EQ(p.stats().total, 4u);
  p.release(std::move(a), false, 0);
}

TEST(PoolValidation, OnBorrowReplacesADeadConnection) {
  auto c = config(2, 0);
  c.validate = validation::on_borrow;
  pool p(c, nullptr);
  auto a = borrow(p, 0);
  p.release(std::move(a), false, 0);
  EXPECT_EQ(p.terminate_idle(), 1u);
  waiter w;
  EXPECT_TRUE(p.try_acquire(w, 1 * ms));
  EXPECT_EQ(w.granted->conn, nullptr);  // the dead one was closed; a new place to open instead
  EXPECT_EQ(p.stats().closed[static_cast<std::size_t>(close_reason::validation)], 1u);
  p.release(std::move(w.granted), false, 1 * ms);
}

TEST(PoolValidation, NoneHandsOutADeadConnectionWhichBreaksInUse) {
  pool p(config(2, 0), nullptr);
  auto a = borrow(p, 0);
  p.release(std::move(a), false, 0);
  p.terminate_idle();
  auto b = borrow(p, 1 * ms);
  EXPECT_FALSE(b->conn->alive());  // the query will find out
  p.release(std::move(b), true, 1 * ms);
  EXPECT_EQ(p.stats().closed[static_cast<std::size_t>(close_reason::error)], 1u);
  EXPECT_EQ(p.stats().total, 0u);
}

TEST(PoolValidation, BackgroundClosesDeadIdleConnectionsEachInterval) {
  auto c = config(3, 0);
  c.validate = validation::background;
  c.validation_interval = 100ms;
  pool p(c, nullptr);
  std::vector<lease> held;
  for (int i = 0; i < 3; ++i) held.push_back(borrow(p, 0));
  for (auto& s : held) p.release(std::move(s), false, 0);
  p.terminate_idle();
  p.maintain(50 * ms);  // not checked yet
  EXPECT_EQ(p.stats().idle, 3u);
  p.maintain(100 * ms);
  EXPECT_EQ(p.stats().idle, 0u);
  EXPECT_EQ(p.stats().closed[static_cast<std::size_t>(close_reason::validation)], 3u);
}

TEST(PoolRelease, BrokenConnectionsPlaceGoesToTheNextWaiter) {
  pool p(config(1, 0), nullptr);
  auto a = borrow(p, 0);
  waiter w;
  bool notified = false;
  w.notify = [&] { notified = true; };
  EXPECT_FALSE(p.try_acquire(w, 0));
  p.release(std::move(a), true, 1 * ms);
  EXPECT_TRUE(notified);
  ASSERT_TRUE(w.granted);
  EXPECT_EQ(w.granted->conn, nullptr);  // opens a replacement
  EXPECT_EQ(p.stats().closed[static_cast<std::size_t>(close_reason::error)], 1u);
  p.release(std::move(w.granted), true, 2 * ms);  // and that open failed
  EXPECT_EQ(p.stats().open_failures, 1u);
  EXPECT_EQ(p.stats().total, 0u);
}

TEST(PoolDisabled, OpensAndClosesAConnectionPerRequest) {
  auto c = config(1, 1);
  c.enabled = false;
  pool p(c, nullptr);
  auto a = borrow(p, 0);
  auto b = borrow(p, 0);  // no cap
  EXPECT_EQ(p.stats().created, 2u);
  p.release(std::move(a), false, 0);
  p.release(std::move(b), false, 0);
  const auto s = p.stats();
  EXPECT_EQ(s.closed[static_cast<std::size_t>(close_reason::unpooled)], 2u);
  EXPECT_EQ(s.total, 0u);
  EXPECT_EQ(s.idle, 0u);
}

// Many threads, blocking and event-loop style borrowers mixed, with the housekeeper running:
// never more than max_size borrowed at once, everyone served, the books balance. Run under TSan
// by the tsan preset.
TEST(PoolThreads, ManyBorrowersNeverExceedTheCap) {
  auto c = config(4, 2);
  c.acquire_timeout = 30s;
  c.idle_timeout = 20ms;
  c.max_lifetime = 40ms;
  c.validate = validation::background;
  c.validation_interval = 10ms;
  fake_opener o;
  pool p(c, &o);
  p.start_housekeeper();
  std::atomic<int> in_use{0}, peak{0}, served{0};
  auto use = [&](lease& s) {
    if (!s->conn) {
      s->conn = std::make_unique<fake_connection>();
      p.opened(*s, perflab::now_ns());
    }
    const int n = ++in_use;
    int seen = peak.load();
    while (n > seen && !peak.compare_exchange_weak(seen, n)) {
    }
    std::this_thread::yield();
    --in_use;
    ++served;
    p.release(std::move(s), false, perflab::now_ns());
  };
  constexpr int threads = 12, rounds = 150;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        if (t % 2 == 0) {  // blocking
          auto s = p.acquire();
          ASSERT_TRUE(s);
          use(s);
        } else {  // event-loop style: a notify that wakes this thread
          waiter w;
          std::mutex m;
          std::condition_variable cv;
          bool ready = false;
          w.notify = [&] {
            std::lock_guard l(m);
            ready = true;
            cv.notify_one();
          };
          if (!p.try_acquire(w, perflab::now_ns())) {
            std::unique_lock l(m);
            cv.wait(l, [&] { return ready; });
          }
          use(w.granted);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(served, threads * rounds);
  EXPECT_LE(peak, 4);
  const auto s = p.stats();
  EXPECT_EQ(s.active, 0u);
  EXPECT_EQ(s.waiting, 0u);
  EXPECT_LE(s.total, 4u);
  EXPECT_EQ(s.acquired, static_cast<std::uint64_t>(threads * rounds));
  std::uint64_t closed = 0;
  for (auto n : s.closed) closed += n;
  EXPECT_EQ(s.created - closed, s.total - s.opening);
}

}  // namespace
