#pragma once
// The job queue kept in Redis (--job-queue-backend redis, --job-redis redis://HOST:PORT): the
// local queue's contract (jobs.hpp: bounded, 503 when full, GET reports queued/running/done) with
// the queue and every job's state in Redis, so any server sharing the Redis takes jobs, does them
// and answers GET /jobs/{id} for a job another one accepted.
//
//   <prefix>             the stream; one entry per job (fields job, accepted_ns, reply)
//   <prefix>:next        the last job id given (INCR): ids are numbers, as the local queue's
//   <prefix>:queued      jobs added and not yet taken by a worker: the bound (--job-queue)
//   <prefix>:done        jobs done (by every server): accepted == done once the queue is idle
//   <prefix>:job:<id>    a hash per job (state, accepted_ns, started_ns, finished_ns, claims), expiring
//                        `keep` after its last change
//   <prefix>:done:<who>  the channel a finishing worker publishes to for a --job-reply done waiter
//
// Submit is one Lua script, atomic in Redis: refuse when <prefix>:queued >= capacity, else INCR
// the id, write the job's hash, XADD the entry, INCR queued. No MAXLEN: trimming would drop jobs
// silently; the counter refuses instead. The race: a worker DECRs queued in the round trip after
// XREADGROUP handed it the entry, so for that moment a taken job still counts as waiting and a
// full queue may refuse up to --job-workers (per server) jobs early; it never holds more than
// capacity. A server killed between the two leaves queued one too high. The queue is kept at start,
// so that servers can join a running one, unless `reset` (a scenario's variants, one after another:
// jobs a stopped server left queued would otherwise be the next one's backlog).
//
// Workers (--job-workers threads per server, a connection each) read with XREADGROUP from the
// consumer group <prefix>:workers (created at start with MKSTREAM), mark the job running, do the
// work, then one script: XACK (0 = already acked: not done twice), the hash to done, XDEL, INCR
// <prefix>:done and, for a done waiter, PUBLISH. A worker that finds the group gone (Redis
// restarted empty) creates it again.
//
// At-least-once: an entry a consumer has held for `claim_after` without acknowledging it (its
// server was killed, or lost Redis, mid-job) is claimed by another worker (XAUTOCLAIM, looked for
// every claim_after/4, at most every second) and done again from the start; the hash counts the
// claims, the server `reclaimed`. A job that was taken but never marked running leaves the queued
// count then; a claimed job found done meanwhile (a slow worker finished it) is left alone.
// claim_after must well exceed a job's work (lab-target asks for twice), else a live worker's job
// is done twice (the finishing script's XACK still lets only the first finish count it done). The
// scan of the pending list goes on from its cursor; a missing group is made again; a Redis
// without XAUTOCLAIM (before 6.2) turns claiming off, counted as an error.
//
// Requests never wait on Redis on an event loop: submits and lookups run on `clients` threads
// (a connection each) and are answered by callback, as the redis stock strategy answers buys.
// Times are now_ns() (CLOCK_MONOTONIC): comparable between servers on one host only.
// Redis unreachable or failing: the submit or lookup is answered with error (503), counted; every
// command has the connection's timeout (redis_stock_config::timeout), so nothing hangs.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include <perflab/contention/jobs.hpp>
#include <perflab/contention/stock_redis.hpp>

namespace perflab::contention {

enum class job_backend : std::uint8_t { local, redis };
std::string_view to_string(job_backend b) noexcept;
std::optional<job_backend> parse_job_backend(std::string_view s) noexcept;

struct redis_jobs_config {
  redis_stock_config where{};                   // --job-redis
  job_queue_config queue{};                     // --job-workers, --job-queue (the shared bound), --job-work
  unsigned clients = 4;                         // threads = connections for submits and lookups
  bool reply_done = false;                      // --job-reply done: subscribe for this server's waiters
  std::chrono::milliseconds keep{3'600'000};    // a job's hash lives this long after its last change
  std::string prefix = "perflab:jobs";          // the keys' prefix (above)
  bool reset = false;                           // --job-redis-reset: delete the stream and counters at start
  std::chrono::milliseconds claim_after{30'000};  // --job-redis-claim-after: take a job held this long (0: never)
  // Called on a worker thread of this server when it has done a job (given before the workers
  // start: another server's jobs may be waiting).
  std::function<void(std::uint64_t id, const job_status&)> on_done;
};

// The answer to a submit or a lookup.
struct job_answer {
  enum class result : std::uint8_t {
    accepted,  // submit: queued (id set); lookup: answered (status.state unknown: no such job)
    done,      // submit with a done waiter: a worker (of any server) did it (status set)
    full,      // submit: the queue held capacity jobs (503)
    error,     // Redis could not be asked, or the done waiter lost track of the job (503)
  };
  result r = result::error;
  std::uint64_t id = 0;
  job_status status{};
};

class redis_job_queue {
 public:
  virtual ~redis_job_queue() = default;  // stops the workers after their job; queued jobs stay in Redis
  using answer_fn = std::function<void(const job_answer&)>;
  // Queues a job; `done` is called once on another thread: accepted, full or error; or, when
  // wait_done (needs config().reply_done), done or full or error.
  virtual void submit_async(bool wait_done, answer_fn done) = 0;
  // The job's state as Redis holds it, by callback on another thread.
  virtual void status_async(std::uint64_t id, answer_fn done) = 0;

  struct stats_t {
    std::uint64_t accepted = 0, refused = 0, done = 0;  // by this server: submits 202, 503 full; jobs its workers did
    std::uint64_t errors = 0;      // Redis commands that failed (submits, lookups, workers, the done channel)
    std::uint64_t submit_errors = 0;  // submits answered 503 because of them
    std::uint64_t lost_waiters = 0;   // done waiters answered 503 because the done channel was lost
    std::size_t queued = 0;        // the shared queue's length when this server last saw it
    std::size_t running = 0;       // jobs this server's workers are doing
    std::uint64_t reclaimed = 0;   // jobs its workers claimed from a consumer that held them past claim_after
  };
  virtual stats_t stats() const = 0;
  virtual const redis_jobs_config& config() const noexcept = 0;
};

// Connects, deletes the queue when reset, and creates the consumer group (MKSTREAM) before
// returning; the error says why not.
tl::expected<std::unique_ptr<redis_job_queue>, std::string> make_redis_job_queue(const redis_jobs_config& cfg);

}  // namespace perflab::contention
