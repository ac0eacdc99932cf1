#pragma once
// Internal: the concurrency models behind perflab::targets::server, and the pieces the two
// blocking models share. Each model_<name>.cpp supplies only concurrency: who accepts, who reads
// and writes, and how /sleep waits. Parsing, routing, handlers, limits and metrics are session's.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <perflab/targets/server.hpp>
#include <perflab/targets/session.hpp>

namespace perflab::targets::detail {

std::unique_ptr<server> make_thread_per_request(const server_config& cfg, int listen_fd, std::uint16_t port);
std::unique_ptr<server> make_thread_pool(const server_config& cfg, int listen_fd, std::uint16_t port);
std::unique_ptr<server> make_reactor(const server_config& cfg, int listen_fd, std::uint16_t port);
std::unique_ptr<server> make_coroutine(const server_config& cfg, int listen_fd, std::uint16_t port);
std::unique_ptr<server> make_fiber(const server_config& cfg, int listen_fd, std::uint16_t port);

// Throws model_unavailable (with io_uring_unavailable_reason()) where io_uring cannot run.
std::unique_ptr<server> make_io_uring(const server_config& cfg, int listen_fd, std::uint16_t port);

// io-uring's start-up check (io_uring_probe.cpp): why the model cannot run here, or nullopt when it
// can. Probes the kernel with a one-entry io_uring_setup. PERFLAB_TEST_IO_URING_ERRNO=EPERM|ENOSYS|N
// pretends that setup failed with that errno (tests of the unavailable path; never a sysctl).
std::optional<std::string> io_uring_unavailable_reason();
// The message for an io_uring_setup that failed with err; disabled_sysctl is the content of
// /proc/sys/kernel/io_uring_disabled ("" when the file does not exist: kernels before 6.6).
std::string describe_io_uring_failure(int err, std::string_view disabled_sysctl);
// Whether this build links liburing (PERFLAB_IO_URING; model_io_uring.cpp).
bool io_uring_built() noexcept;

// Answers 503 with Connection: close on a connection we will not serve (connection cap, full
// queue), without blocking, and closes it. Counts it as refused.
void refuse_connection(int fd, server_context& ctx) noexcept;

// The first `max` bytes of out (buffered first, then streamed): what a paced write may send.
inline session::output_view first_bytes(session::output_view out, std::size_t max) noexcept {
  if (out.buffered.size() >= max) return {out.buffered.substr(0, max), {}};
  out.streamed = out.streamed.substr(0, max - out.buffered.size());
  return out;
}

// Disables Nagle (responses are whole writes; pipelined ones must not wait for ACKs).
void set_nodelay(int fd) noexcept;

// The connections of a blocking model, so that the stop can wake those idle in a blocking recv()
// (shutdown(SHUT_RD) makes it return 0). Busy ones notice ctx.stopping after their response.
class idle_registry {
 public:
  struct entry {
    int fd = -1;
    std::atomic<bool> idle{false};  // in (or about to enter) a recv() for the next request
    entry* prev = nullptr;
    entry* next = nullptr;
  };
  void add(entry& e) noexcept;
  void remove(entry& e) noexcept;
  // After ctx.stopping is set: wakes every connection idle in recv(), which then closes.
  void wake_idle() noexcept;

 private:
  std::mutex mutex_;
  entry* head_ = nullptr;  // guarded by mutex_
};

// Serves one accepted connection with blocking I/O until it is closed, then closes fd. Reads are
// blocking recv() calls with SO_RCVTIMEO (one system call per request); the stop wakes an idle
// one through `idle`.
void serve_blocking(int fd, server_context& ctx, idle_registry& idle) noexcept;

// Waits for a readable listening socket (or the stop) and accepts one connection: the fd
// (blocking), or -1 when the server is stopping.
int accept_blocking(int listen_fd, int stop_fd, server_context& ctx) noexcept;

}  // namespace perflab::targets::detail
