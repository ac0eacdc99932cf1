#include "perflab/contention/service.hpp"

#include <fmt/format.h>

#include <perflab/core/clock.hpp>

namespace perflab::contention {

stock& service::stocks() {
  std::call_once(stock_once_, [this] {
    if (config_.strategy == stock_strategy::redis) {
      auto made = make_redis_stock(config_.redis, config_.items, config_.initial);
      if (!made) throw unavailable("--stock-redis: " + made.error());
      stock_owned_ = std::move(*made);
    } else if (config_.strategy == stock_strategy::pg_row_lock || config_.strategy == stock_strategy::pg_optimistic) {
      auto made = make_pg_stock(config_.strategy, config_.pg, config_.items, config_.initial);
      if (!made) throw unavailable("--stock-db: " + made.error());
      stock_owned_ = std::move(*made);
    } else {
      stock_owned_ = make_stock(config_.strategy, config_.items, config_.initial, config_.shards);
    }
    stock_.store(stock_owned_.get(), std::memory_order_release);
  });
  return *stock_owned_;
}

idempotency_store& service::idempotency() {
  std::call_once(store_once_, [this] {
    store_owned_ = std::make_unique<idempotency_store>(config_.idempotency_ttl);
    store_.store(store_owned_.get(), std::memory_order_release);
  });
  return *store_owned_;
}

remote_idempotency* service::remote_keys() {
  if (config_.idempotency_store.empty()) return nullptr;
  std::call_once(remote_once_, [this] {
    remote_idempotency_config c;
    c.url = config_.idempotency_store;
    c.ttl = config_.idempotency_ttl;
    auto made = make_remote_idempotency(c);
    if (!made) throw unavailable("--idempotency-store: " + made.error());
    remote_owned_ = std::move(*made);
    remote_.store(remote_owned_.get(), std::memory_order_release);
  });
  return remote_owned_.get();
}

outbox* service::order_outbox() {
  if (config_.outbox.db_url.empty()) return nullptr;
  std::call_once(outbox_once_, [this] {
    auto made = make_outbox(config_.outbox);
    if (!made) throw unavailable("--outbox-db: " + made.error());
    outbox_owned_ = std::move(*made);
    outbox_.store(outbox_owned_.get(), std::memory_order_release);
  });
  return outbox_owned_.get();
}

job_queue& service::jobs() {
  std::call_once(jobs_once_, [this] {
    jobs_owned_ = std::make_unique<job_queue>(config_.jobs);
    jobs_owned_->on_done([this](std::uint64_t id, const job_status& s) { job_done(id, s); });
    jobs_.store(jobs_owned_.get(), std::memory_order_release);
  });
  return *jobs_owned_;
}

redis_job_queue* service::redis_jobs() {
  if (config_.job_queue_backend != job_backend::redis) return nullptr;
  std::call_once(redis_jobs_once_, [this] {
    redis_jobs_config c;
    c.where = config_.job_redis;
    c.queue = config_.jobs;
    c.reply_done = config_.job_reply_done;
    c.reset = config_.job_redis_reset;
    c.claim_after = config_.job_redis_claim_after;
    c.on_done = [this](std::uint64_t id, const job_status& s) { job_done(id, s); };
    auto made = make_redis_job_queue(c);
    if (!made) throw unavailable("--job-redis: " + made.error());
    redis_jobs_owned_ = std::move(*made);
    redis_jobs_.store(redis_jobs_owned_.get(), std::memory_order_release);
  });
  return redis_jobs_owned_.get();
}

std::optional<std::uint64_t> service::submit_job_and_notify(const std::shared_ptr<handoff>& notify) {
  notify->arm();
  auto& queue = jobs();
  // The waiter is registered under the same lock as the submit: a worker that finishes the job
  // at once waits for the registration in job_done, so exactly one side completes the waiter
  // (the worker) and it does so after the job's latency is recorded.
  std::lock_guard lock(waiters_m_);
  const auto id = queue.submit();
  if (!id) return std::nullopt;
  job_waiters_.emplace(*id, notify);
  return id;
}

void service::job_done(std::uint64_t id, const job_status& s) {
  const double seconds = static_cast<double>(s.finished_ns - s.accepted_ns) / 1e9;
  std::size_t slot = 0;
  while (slot < job_latency_bounds_s.size() && seconds > job_latency_bounds_s[slot]) ++slot;
  {
    std::lock_guard lock(latency_m_);
    ++latency_.buckets[slot];
    ++latency_.count;
    latency_.sum_s += seconds;
  }
  std::shared_ptr<handoff> waiter;
  {
    std::lock_guard lock(waiters_m_);
    if (auto it = job_waiters_.find(id); it != job_waiters_.end()) {
      waiter = std::move(it->second);
      job_waiters_.erase(it);
    }
  }
  if (waiter) waiter->complete_job(s);  // after the record: whoever sees the job done sees it counted
}

service::job_latency service::job_completion() const {
  std::lock_guard lock(latency_m_);
  return latency_;
}

void handoff::arm() {
  std::lock_guard lock(m_);
  done_ = false;
  on_done_ = nullptr;
}

void handoff::start_buy(stock& s, std::uint64_t item, std::int64_t qty) {
  arm();
  s.buy_async(item, qty, [self = shared_from_this()](buy_result r) { self->complete_buy(r); });
}

void handoff::start_keyed(remote_idempotency& keys, std::string key, std::uint64_t fingerprint,
                          remote_idempotency::work_fn work) {
  arm();
  keys.run_async(std::move(key), fingerprint, std::move(work), [self = shared_from_this()](keyed_result r) {
    std::unique_lock lock(self->m_);
    self->keyed_ = std::move(r);
    self->done(lock);
  });
}

redis_job_queue::answer_fn handoff::redis_job_answer() {
  return [self = shared_from_this()](const job_answer& a) {
    std::unique_lock lock(self->m_);
    self->redis_job_ = a;
    self->done(lock);
  };
}

void handoff::start_redis_job(redis_job_queue& q, bool wait_done) {
  arm();
  q.submit_async(wait_done, redis_job_answer());
}

void handoff::start_redis_lookup(redis_job_queue& q, std::uint64_t id) {
  arm();
  q.status_async(id, redis_job_answer());
}

job_answer handoff::redis_job() const {
  std::lock_guard lock(m_);
  return redis_job_;
}

void handoff::start_outbox_order(outbox& o, idempotency_store* keys, std::string key) {
  arm();
  o.create_order_async([self = shared_from_this(), keys, key = std::move(key)](outbox_order r) {
    if (keys && !key.empty()) {
      try {
        if (r.error) keys->abandon(key);
        else keys->complete(key, {201, fmt::format("{{\"order\":{},\"event\":{}}}\n", r.order, r.event)}, nanos(now_ns()));
      } catch (...) {  // no memory to store the response: free the key (a repeat makes a second order)
        keys->abandon(key);
      }
    }
    std::unique_lock lock(self->m_);
    self->order_ = r;
    self->done(lock);
  });
}

outbox_order handoff::order() const {
  std::lock_guard lock(m_);
  return order_;
}

keyed_result handoff::keyed() const {
  std::lock_guard lock(m_);
  return keyed_;
}

void handoff::complete_buy(buy_result r) {
  std::unique_lock lock(m_);
  buy_ = r;
  done(lock);
}

void handoff::complete_job(const job_status& s) {
  std::unique_lock lock(m_);
  job_ = s;
  done(lock);
}

void handoff::done(std::unique_lock<std::mutex>& lock) {
  done_ = true;
  std::function<void()> f;
  f.swap(on_done_);
  lock.unlock();
  cv_.notify_all();
  if (f) f();  // outside the lock: it may post to a loop, which may look at the result at once
}

void handoff::wait() {
  std::unique_lock lock(m_);
  cv_.wait(lock, [this] { return done_; });
}

bool handoff::subscribe(std::function<void()> on_done) {
  std::lock_guard lock(m_);
  if (done_) return false;
  on_done_ = std::move(on_done);
  return true;
}

buy_result handoff::buy() const {
  std::lock_guard lock(m_);
  return buy_;
}

job_status handoff::job() const {
  std::lock_guard lock(m_);
  return job_;
}

}  // namespace perflab::contention
