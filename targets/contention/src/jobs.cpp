#include "perflab/contention/jobs.hpp"

#include <perflab/core/clock.hpp>

namespace perflab::contention {

std::string_view to_string(job_state s) {
  switch (s) {
    case job_state::unknown: return "unknown";
    case job_state::queued: return "queued";
    case job_state::running: return "running";
    case job_state::done: return "done";
  }
  return "?";
}

job_queue::job_queue(job_queue_config config) : config_(config) {
  workers_.reserve(config_.workers);
  for (unsigned i = 0; i < config_.workers; ++i) workers_.emplace_back([this] { work_loop(); });
}

job_queue::~job_queue() {
  {
    std::lock_guard lock(m_);
    stopping_ = true;
    stats_.dropped += queue_.size();
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
}

std::optional<std::uint64_t> job_queue::submit() {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(m_);
    if (stopping_ || queue_.size() >= config_.capacity) {
      ++stats_.refused;
      return std::nullopt;
    }
    id = next_id_++;
    queue_.push_back(id);
    jobs_[id] = job_status{job_state::queued, now_ns(), 0, 0};
    ++stats_.accepted;
  }
  cv_.notify_one();
  return id;
}

job_status job_queue::status(std::uint64_t id) const {
  std::lock_guard lock(m_);
  auto it = jobs_.find(id);
  return it == jobs_.end() ? job_status{} : it->second;
}

job_queue::stats_t job_queue::stats() const {
  std::lock_guard lock(m_);
  stats_t s = stats_;
  s.queued = queue_.size();
  return s;
}

void job_queue::work_loop() {
  for (;;) {
    std::uint64_t id = 0;
    {
      std::unique_lock lock(m_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      id = queue_.front();
      queue_.pop_front();
      auto& j = jobs_[id];
      j.state = job_state::running;
      j.started_ns = now_ns();
      ++stats_.running;
    }
    std::this_thread::sleep_for(config_.work);  // the job's work (simulated: the worker is busy)
    job_status done;
    {
      std::lock_guard lock(m_);
      auto& j = jobs_[id];
      j.state = job_state::done;
      j.finished_ns = now_ns();
      done = j;
      --stats_.running;
      ++stats_.done;
      finished_order_.push_back(id);
      while (finished_order_.size() > config_.keep_finished) {
        jobs_.erase(finished_order_.front());
        finished_order_.pop_front();
      }
    }
    if (on_done_) on_done_(id, done);
  }
}

}  // namespace perflab::contention
