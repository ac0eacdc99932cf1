// thread-per-request: one OS thread per accepted connection, blocking I/O. Under HTTP/1.1
// keep-alive the thread serves the connection's requests one after another until it closes (a
// thread per request on a connection that is reused is the same thing); --threads caps the
// number of connection threads (0: no cap), beyond which connections are refused with 503.
#include <condition_variable>
#include <mutex>
#include <thread>

#include <perflab/targets/buffer_pool.hpp>

#include "models.hpp"

namespace perflab::targets::detail {

namespace {

class thread_per_request_server final : public server {
 public:
  thread_per_request_server(const server_config& cfg, int fd, std::uint16_t port) : server(cfg, fd, port) {}

  ~thread_per_request_server() override {
    if (acceptor_.joinable()) {
      request_stop();
      join(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    }
  }

  void start() override {
    acceptor_ = std::thread([this] { accept_loop(); });
  }

 protected:
  // The acceptor polls stop_fd_; connections idle in recv() are woken here.
  void on_stop() override { idle_.wake_idle(); }

  bool join(std::chrono::steady_clock::time_point deadline) override {
    if (acceptor_.joinable()) acceptor_.join();
    std::unique_lock lock(mutex_);
    const bool done = all_done_.wait_until(lock, deadline, [this] { return active_ == 0; });
    // Connection threads are detached; the ones left past the deadline end with the process.
    return done;
  }

 private:
  void accept_loop() {
    const unsigned cap = ctx_.config.threads;
    for (;;) {
      const int fd = accept_blocking(listen_fd_, stop_fd_, ctx_);
      if (fd < 0) return;
      if (static_cast<std::size_t>(ctx_.stats.open_connections()) >= ctx_.config.max_connections) {
        refuse_connection(fd, ctx_);
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        if (cap != 0 && active_ >= cap) {
          refuse_connection(fd, ctx_);
          continue;
        }
        ++active_;
      }
      ctx_.stats.connection_opened();
      try {
        std::thread([this, fd] {
          // This thread serves one connection: a free list would keep its buffers while it
          // waits idle, so they go back to malloc instead.
          buffer_pool::local().set_max_free(0);
          serve_blocking(fd, ctx_, idle_);
          ctx_.stats.connection_closed();
          std::lock_guard lock(mutex_);
          if (--active_ == 0) all_done_.notify_all();
        }).detach();
      } catch (const std::exception&) {
        // No thread to be had (std::system_error at the thread limit, std::bad_alloc for its
        // state): refuse rather than die.
        ctx_.stats.connection_closed();
        {
          std::lock_guard lock(mutex_);
          --active_;
        }
        refuse_connection(fd, ctx_);
      }
    }
  }

  std::thread acceptor_;
  idle_registry idle_;
  std::mutex mutex_;
  std::condition_variable all_done_;
  unsigned active_ = 0;  // connection threads running (guarded by mutex_)
};

}  // namespace

std::unique_ptr<server> make_thread_per_request(const server_config& cfg, int listen_fd, std::uint16_t port) {
  return std::make_unique<thread_per_request_server>(cfg, listen_fd, port);
}

}  // namespace perflab::targets::detail
