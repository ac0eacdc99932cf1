#pragma once
// The lab-target server: binds, then runs one concurrency model over the shared session code.
// Start-up errors (bind, bad config) throw std::runtime_error; nothing throws per request.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <perflab/targets/config.hpp>
#include <perflab/targets/session.hpp>

namespace perflab::targets {

// The chosen model cannot run on this machine or build (io-uring: no liburing in the build, or the
// kernel refuses io_uring_setup). lab-target exits 2 with its message, before listening.
class model_unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class server {
 public:
  virtual ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds and listens (port 0: the kernel picks one); threads start in start().
  static std::unique_ptr<server> create(const server_config& cfg);

  std::uint16_t port() const noexcept { return port_; }
  const server_context& context() const noexcept { return ctx_; }

  // Spawns the model's threads and starts accepting.
  virtual void start() = 0;
  // Graceful stop: stop accepting, close idle keep-alive connections, let in-flight requests
  // finish (their responses say Connection: close). Returns at once; see wait().
  void request_stop();
  // Waits until every connection is closed and every thread has ended, or until deadline;
  // then stops whatever is left. Returns true if everything ended in time.
  bool wait(std::chrono::milliseconds deadline);

 protected:
  server(const server_config& cfg, int listen_fd, std::uint16_t port);
  // Model hooks: make the threads notice ctx_.stopping (close the acceptor, wake idle
  // connections), wait for them up to deadline, and force the rest.
  virtual void on_stop() = 0;
  virtual bool join(std::chrono::steady_clock::time_point deadline) = 0;

  server_context ctx_;
  int listen_fd_ = -1;  // non-blocking, owned (models may hand it to an acceptor)
  int stop_fd_ = -1;    // eventfd, readable once the stop is requested (for poll-based models)
  std::uint16_t port_ = 0;

 private:
  bool stop_requested_ = false;
};

// Why model m cannot run on this machine or build (io-uring: no liburing in the build, or
// io_uring_setup refused, with the cause), or nullopt when it can. Every other model can.
std::optional<std::string> model_unavailable_reason(model m);

// Process-wide start-up helpers used by lab-target (and tests).
// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
std::uint64_t raise_fd_limit() noexcept;
// Makes every heap block of 128 KiB or more its own mapping, returned to the OS when freed.
// glibc otherwise raises that threshold after freeing a large block (up to 32 MiB), and later
// large bodies then come from arenas that keep their peak size for the life of the process.
void return_large_blocks_to_os() noexcept;
// Pins the calling thread (and so the threads it creates later) to cpus; error text on failure.
tl::expected<void, std::string> pin_to_cpus(const std::vector<int>& cpus);

}  // namespace perflab::targets
