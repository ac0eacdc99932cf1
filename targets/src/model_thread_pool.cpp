// thread-pool: a fixed set of worker threads with blocking I/O. The acceptor puts connections
// in a bounded FIFO queue; a free worker takes one and serves it until it closes (keep-alive
// included), so with more open connections than workers the excess waits in the queue; beyond
// --queue waiting connections are refused with 503 and counted.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include <unistd.h>

#include "models.hpp"

namespace perflab::targets::detail {

namespace {

class thread_pool_server final : public server {
 public:
  thread_pool_server(const server_config& cfg, int fd, std::uint16_t port) : server(cfg, fd, port) {}

  ~thread_pool_server() override {
    if (acceptor_.joinable()) {
      request_stop();
      join(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    }
  }

  void start() override {
    const unsigned n = effective_threads(ctx_.config);
    running_ = n;
    free_workers_ = n;
    for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
    acceptor_ = std::thread([this] { accept_loop(); });
  }

 protected:
  void on_stop() override {
    idle_.wake_idle();
    std::lock_guard lock(mutex_);
    ready_.notify_all();
  }

  bool join(std::chrono::steady_clock::time_point deadline) override {
    if (acceptor_.joinable()) acceptor_.join();
    std::unique_lock lock(mutex_);
    // Connections still queued were never started: close them unanswered.
    for (int fd : queue_) {
      ::close(fd);
      ctx_.stats.connection_closed();
    }
    queue_.clear();
    ready_.notify_all();
    const bool done = all_done_.wait_until(lock, deadline, [this] { return running_ == 0; });
    lock.unlock();
    for (auto& t : workers_) {
      if (done)
        t.join();
      else
        t.detach();  // stuck past the deadline: they end with the process
    }
    workers_.clear();
    return done;
  }

 private:
  void accept_loop() {
    for (;;) {
      const int fd = accept_blocking(listen_fd_, stop_fd_, ctx_);
      if (fd < 0) break;
      if (static_cast<std::size_t>(ctx_.stats.open_connections()) >= ctx_.config.max_connections) {
        refuse_connection(fd, ctx_);
        continue;
      }
      std::unique_lock lock(mutex_);
      // Free workers take a connection at once; only the rest count against --queue (so
      // --queue 0 means: served by a free worker, or refused).
      if (queue_.size() >= free_workers_ + ctx_.config.queue) {
        lock.unlock();
        refuse_connection(fd, ctx_);
        continue;
      }
      try {
        queue_.push_back(fd);
      } catch (const std::bad_alloc&) {
        ctx_.stats.allocation_failed();
        lock.unlock();
        refuse_connection(fd, ctx_);
        continue;
      }
      ctx_.stats.connection_opened();
      ready_.notify_one();
    }
  }

  void work() {
    for (;;) {
      int fd = -1;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return !queue_.empty() || ctx_.stopping.load(std::memory_order_relaxed); });
        if (queue_.empty()) break;  // stopping
        fd = queue_.front();
        queue_.pop_front();
        --free_workers_;
      }
      serve_blocking(fd, ctx_, idle_);
      ctx_.stats.connection_closed();
      std::lock_guard lock(mutex_);
      ++free_workers_;
    }
    std::lock_guard lock(mutex_);
    if (--running_ == 0) all_done_.notify_all();
  }

  std::thread acceptor_;
  idle_registry idle_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable all_done_;
  std::deque<int> queue_;  // accepted connections waiting for a worker (guarded by mutex_)
  unsigned running_ = 0;   // workers not yet ended (guarded by mutex_)
  // Workers not serving a connection, counted from start() on, so a connection accepted before
  // a new worker first reaches its wait is not refused (guarded by mutex_).
  std::size_t free_workers_ = 0;
};

}  // namespace

std::unique_ptr<server> make_thread_pool(const server_config& cfg, int listen_fd, std::uint16_t port) {
  return std::make_unique<thread_pool_server>(cfg, listen_fd, port);
}

}  // namespace perflab::targets::detail
