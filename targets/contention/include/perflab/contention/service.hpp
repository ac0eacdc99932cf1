#pragma once
// What a server holds of perflab::contention: the stock counters, the idempotency store and the
// order counter behind POST /orders, and the job queue behind POST /jobs. Each part is built at
// its first use (the single-writer owner thread and the job workers are threads: a server that
// never sells stock or takes a job does not run them). Thread-safe. Also the completion a model
// waits on for work answered by another thread (handoff).
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include <perflab/contention/idempotency.hpp>
#include <perflab/contention/idempotency_remote.hpp>
#include <perflab/contention/jobs.hpp>
#include <perflab/contention/jobs_redis.hpp>
#include <perflab/contention/outbox.hpp>
#include <perflab/contention/stock.hpp>
#include <perflab/contention/stock_postgres.hpp>
#include <perflab/contention/stock_redis.hpp>

namespace perflab::contention {

struct service_config {
  stock_strategy strategy = stock_strategy::mutex;  // --stock-strategy
  redis_stock_config redis{};                       // --stock-redis: the redis strategy's server
  pg_stock_config pg{};                             // --stock-db, --stock-db-connections: the pg-* strategies'
  std::uint64_t items = 1;                          // --stock-items: items 0..items-1, >= 1
  std::int64_t initial = 1000;                      // --stock-initial: units of each item at start, >= 0
  unsigned shards = 0;                              // sharded: shard count (0: one per hardware thread, >= 2)
  std::chrono::nanoseconds idempotency_ttl = std::chrono::hours(24);  // --idempotency-ttl: a stored response's life
  std::string idempotency_store;                    // --idempotency-store: empty (memory) or a redis:// or
                                                    // postgres:// URL (idempotency_remote.hpp)
  std::chrono::nanoseconds order_work{0};           // --order-work: the wait that creating an order takes
  job_queue_config jobs{};                          // --job-workers, --job-queue, --job-work
  job_backend job_queue_backend = job_backend::local;  // --job-queue-backend: the queue in this process or in Redis
  redis_stock_config job_redis{};                   // --job-redis: the redis backend's server
  bool job_redis_reset = false;                     // --job-redis-reset: delete the Redis queue at start
  std::chrono::milliseconds job_redis_claim_after{30'000};  // --job-redis-claim-after (0: never)
  bool job_reply_done = false;                      // --job-reply done: POST /jobs answers 200 when the job is
                                                    // done (the synchronous baseline); accepted: 202 at once
  outbox_config outbox{};                           // --outbox-db and --outbox-*: POST /orders writes the order
                                                    // and its event to PostgreSQL (outbox.hpp); db_url empty: off
};

// Upper bounds (seconds) of the job completion histogram (accepted -> done); +Inf is implied.
inline constexpr std::array<double, 14> job_latency_bounds_s = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};

class handoff;

// The redis or PostgreSQL strategy's server cannot be reached or set up (thrown by service::stocks()).
struct unavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class service {
 public:
  explicit service(service_config c) : config_(c) {}
  service(const service&) = delete;
  service& operator=(const service&) = delete;
  const service_config& config() const noexcept { return config_; }

  // Built at the first call (may throw std::bad_alloc, or unavailable for the redis and pg-*
  // strategies: lab-target builds those before listening).
  stock& stocks();
  idempotency_store& idempotency();
  // The keys' store in Redis or PostgreSQL (--idempotency-store URL), built at the first call
  // (throws unavailable: lab-target builds it before listening); null for the in-process store.
  remote_idempotency* remote_keys();
  const remote_idempotency* remote_keys_if_built() const noexcept { return remote_.load(std::memory_order_acquire); }
  job_queue& jobs();
  // The job queue in Redis (--job-queue-backend redis), built at the first call (throws
  // unavailable: lab-target builds it before listening); null for the local queue.
  redis_job_queue* redis_jobs();
  const redis_job_queue* redis_jobs_if_built() const noexcept { return redis_jobs_.load(std::memory_order_acquire); }
  // The transactional outbox (--outbox-db), built at the first call (throws unavailable:
  // lab-target builds it before listening); null without --outbox-db.
  outbox* order_outbox();
  outbox* order_outbox_if_built() const noexcept { return outbox_.load(std::memory_order_acquire); }
  // Queues a job and has `notify` completed (its job() set) when a worker has done it: the
  // --job-reply done baseline. nullopt: the queue is full (notify untouched).
  std::optional<std::uint64_t> submit_job_and_notify(const std::shared_ptr<handoff>& notify);
  // Null until built (for /metrics).
  const stock* stocks_if_built() const noexcept { return stock_.load(std::memory_order_acquire); }
  const job_queue* jobs_if_built() const noexcept { return jobs_.load(std::memory_order_acquire); }
  const idempotency_store* idempotency_if_built() const noexcept { return store_.load(std::memory_order_acquire); }

  // An order's effect: the next order number (counted in orders_created()).
  std::uint64_t create_order() noexcept { return orders_.fetch_add(1, std::memory_order_relaxed) + 1; }
  std::uint64_t orders_created() const noexcept { return orders_.load(std::memory_order_relaxed); }
  // POST /orders without an Idempotency-Key (every one does the work).
  void count_unkeyed() noexcept { unkeyed_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t unkeyed() const noexcept { return unkeyed_.load(std::memory_order_relaxed); }

  // Jobs' accepted -> done times, counted by the workers (cumulative buckets at scrape).
  struct job_latency {
    std::array<std::uint64_t, job_latency_bounds_s.size() + 1> buckets{};  // per bucket, not cumulative
    std::uint64_t count = 0;
    double sum_s = 0;
  };
  job_latency job_completion() const;

 private:
  void job_done(std::uint64_t id, const job_status& s);
  const service_config config_;
  std::once_flag stock_once_, store_once_, jobs_once_, remote_once_, outbox_once_, redis_jobs_once_;
  std::atomic<outbox*> outbox_{nullptr};
  std::atomic<remote_idempotency*> remote_{nullptr};
  std::unique_ptr<stock> stock_owned_;
  std::unique_ptr<idempotency_store> store_owned_;
  std::atomic<stock*> stock_{nullptr};
  std::atomic<idempotency_store*> store_{nullptr};
  std::atomic<job_queue*> jobs_{nullptr};
  std::atomic<redis_job_queue*> redis_jobs_{nullptr};
  std::atomic<std::uint64_t> orders_{0}, unkeyed_{0};
  mutable std::mutex latency_m_;
  job_latency latency_;  // guarded by latency_m_
  std::mutex waiters_m_;
  std::unordered_map<std::uint64_t, std::shared_ptr<handoff>> job_waiters_;  // guarded by waiters_m_
  // Last: destroyed first, so no worker reports a job to a destroyed histogram or creates an
  // order in a destroyed counter.
  std::unique_ptr<outbox> outbox_owned_;  // after the key store: its workers may be writing an order in it
  std::unique_ptr<remote_idempotency> remote_owned_;
  std::unique_ptr<job_queue> jobs_owned_;
  std::unique_ptr<redis_job_queue> redis_jobs_owned_;
};

// Work handed to another thread and waited for by a model: a buy the single-writer owner answers,
// a job a worker does (--job-reply done), or a keyed order a remote key store's worker runs. Blocking with wait(), or with subscribe() on an event
// loop (on_done runs on the answering thread; it posts back to the loop). Shared: the answering
// side holds it, so a connection that ends meanwhile leaves it alive until the answer comes.
// Reused for a connection's next handoff once it completed.
class handoff : public std::enable_shared_from_this<handoff> {
 public:
  // Hands a buy to s (answered on its owner thread, or at once for the other strategies).
  void start_buy(stock& s, std::uint64_t item, std::int64_t qty);
  // Hands a keyed order to the remote key store (answered on one of its workers).
  void start_keyed(remote_idempotency& keys, std::string key, std::uint64_t fingerprint, remote_idempotency::work_fn work);
  // Hands an order to the outbox's writers (answered on one of them). With a key (the in-process
  // store's first request), the writer stores the response under it, or frees it when the
  // transaction failed, so a connection gone meanwhile leaves no key in flight.
  void start_outbox_order(outbox& o, idempotency_store* keys, std::string key);
  // Hands a job to the Redis queue: answered once queued (or refused), or with wait_done once a
  // worker of any server sharing the Redis did it (--job-reply done).
  void start_redis_job(redis_job_queue& q, bool wait_done);
  // Asks the Redis queue for a job's state.
  void start_redis_lookup(redis_job_queue& q, std::uint64_t id);
  // Before a job is submitted with service::submit_job_and_notify.
  void arm();
  void wait();
  // Calls on_done once answered, on the answering thread. False (on_done dropped) when it has
  // already been answered: go on at once.
  bool subscribe(std::function<void()> on_done);
  buy_result buy() const;
  job_status job() const;
  job_answer redis_job() const;
  keyed_result keyed() const;
  outbox_order order() const;
  void complete_buy(buy_result r);
  void complete_job(const job_status& s);

 private:
  void done(std::unique_lock<std::mutex>& lock);
  redis_job_queue::answer_fn redis_job_answer();  // stores the Redis queue's answer and completes
  mutable std::mutex m_;
  std::condition_variable cv_;
  bool done_ = true;  // guarded by m_
  buy_result buy_{};
  job_status job_{};
  job_answer redis_job_{};
  keyed_result keyed_{};
  outbox_order order_{};
  std::function<void()> on_done_;
};

}  // namespace perflab::contention
