#include <perflab/db/sim.hpp>

#include <algorithm>
#include <atomic>
#include <functional>

#include <fmt/format.h>

namespace perflab::db {

namespace {

class sim_connection final : public connection {
 public:
  bool alive() noexcept override { return !dead_.load(std::memory_order_acquire); }
  void terminate() noexcept override { dead_.store(true, std::memory_order_release); }
  // The query in flight (one at a time per connection).
  query q;
  bool fails = false;

 private:
  std::atomic<bool> dead_{false};  // terminate() may come from another thread (POST /db/terminate)
};

}  // namespace

sim_database::sim_database(const sim_config& cfg) : cfg_(cfg), rng_(cfg.seed), core_free_(cfg.cores, 0) {}

wait_for sim_database::start_open(std::unique_ptr<connection>& c, std::int64_t now) {
  c = std::make_unique<sim_connection>();
  if (cfg_.connect_cost.count() <= 0) return wait_for::done();
  return wait_for::until(now + std::chrono::nanoseconds(cfg_.connect_cost).count());
}

wait_for sim_database::resume_open(std::unique_ptr<connection>&, std::int64_t) { return wait_for::done(); }

std::size_t sim_database::in_database(std::int64_t now) {
  std::lock_guard l(mutex_);
  while (!ends_.empty() && ends_.top() <= now) ends_.pop();
  return ends_.size();
}

std::int64_t sim_database::schedule(std::int64_t now, std::chrono::microseconds s) {
  std::lock_guard l(mutex_);
  while (!ends_.empty() && ends_.top() <= now) ends_.pop();
  auto service = std::chrono::nanoseconds(s).count();
  std::int64_t end = now + service;
  if (cfg_.cores > 0) {
    const auto n = ends_.size() + 1;  // with this one
    if (n > cfg_.cores && cfg_.contention > 0)
      service = static_cast<std::int64_t>(static_cast<double>(service) *
                                          (1.0 + cfg_.contention * static_cast<double>(n - cfg_.cores)));
    std::pop_heap(core_free_.begin(), core_free_.end(), std::greater<>());  // the earliest free core
    const std::int64_t start = std::max(now, core_free_.back());
    end = start + service;
    core_free_.back() = end;
    std::push_heap(core_free_.begin(), core_free_.end(), std::greater<>());
  }
  ends_.push(end);
  return end;
}

wait_for sim_database::start_query(connection& c, const query& q, result& r, std::int64_t now) {
  auto& sc = static_cast<sim_connection&>(c);
  if (!sc.alive()) {  // terminated while idle: found at the first use, as a real driver would
    r.what = outcome::lost;
    r.body.clear();
    return wait_for::done();
  }
  sc.q = q;
  sc.fails = false;
  if (cfg_.fail_rate > 0) {
    std::lock_guard l(mutex_);
    sc.fails = std::uniform_real_distribution<double>(0, 1)(rng_) < cfg_.fail_rate;
  }
  return wait_for::until(schedule(now, q.service));
}

wait_for sim_database::resume_query(connection& c, result& r, std::int64_t) {
  auto& sc = static_cast<sim_connection&>(c);
  if (sc.fails || !sc.alive()) {
    sc.terminate();
    r.what = outcome::lost;
    r.body.clear();
    return wait_for::done();
  }
  if (sc.q.what == query::kind::item) {
    if (sc.q.id < 1 || sc.q.id > item_count) {
      r.what = outcome::not_found;
      r.body.clear();
    } else {
      r.what = outcome::ok;
      item_json(sc.q.id, item_price_cents(sc.q.id), r.body);
    }
    return wait_for::done();
  }
  r.what = outcome::ok;
  r.body.clear();
  fmt::format_to(std::back_inserter(r.body), "queried {} us\n", sc.q.service.count());
  return wait_for::done();
}

}  // namespace perflab::db
