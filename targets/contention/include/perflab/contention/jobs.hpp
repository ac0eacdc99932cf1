#pragma once
// Work accepted now and done later: POST /jobs answers 202 with an id once the job is queued; a
// pool of workers does each job (`work`: a simulated duration, a sleep, so the workers are the
// bottleneck as a real backend's are); GET /jobs/{id} reports where it is. The queue is bounded
// (a full queue refuses: 503), and finished jobs are remembered up to `keep_finished`, oldest
// forgotten first, so memory stays bounded. Thread-safe; the workers are this object's threads.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace perflab::contention {

struct job_queue_config {
  unsigned workers = 4;                                  // threads doing jobs, >= 1
  std::size_t capacity = 1000;                           // jobs waiting at most, >= 1
  std::chrono::nanoseconds work = std::chrono::milliseconds(20);  // one job's work
  std::size_t keep_finished = 100'000;                   // finished jobs remembered for GET
};

enum class job_state : std::uint8_t { unknown, queued, running, done };
std::string_view to_string(job_state s);

struct job_status {
  job_state state = job_state::unknown;
  std::int64_t accepted_ns = 0, started_ns = 0, finished_ns = 0;  // now_ns() times (0: not yet)
};

class job_queue {
 public:
  explicit job_queue(job_queue_config config);
  ~job_queue();  // finishes the running jobs, drops the queued ones (counted)
  job_queue(const job_queue&) = delete;
  job_queue& operator=(const job_queue&) = delete;

  // The new job's id, or nullopt when the queue is full.
  std::optional<std::uint64_t> submit();
  job_status status(std::uint64_t id) const;
  // Called on a worker thread when a job finishes (set before the first submit).
  void on_done(std::function<void(std::uint64_t id, const job_status&)> f) { on_done_ = std::move(f); }

  struct stats_t {
    std::uint64_t accepted = 0, refused = 0, done = 0, dropped = 0;
    std::size_t queued = 0, running = 0;
  };
  stats_t stats() const;
  const job_queue_config& config() const { return config_; }

 private:
  void work_loop();
  const job_queue_config config_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::uint64_t> queue_;                      // ids waiting, FIFO
  std::unordered_map<std::uint64_t, job_status> jobs_;   // queued, running and kept finished jobs
  std::deque<std::uint64_t> finished_order_;             // to forget the oldest finished first
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  stats_t stats_;
  std::function<void(std::uint64_t, const job_status&)> on_done_;
  std::vector<std::thread> workers_;
};

}  // namespace perflab::contention
