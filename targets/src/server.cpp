#include <perflab/targets/server.hpp>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "models.hpp"

namespace perflab::targets {

server::server(const server_config& cfg, int listen_fd, std::uint16_t port)
    : ctx_(cfg), listen_fd_(listen_fd), port_(port) {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

server::~server() {
  if (stop_fd_ >= 0) ::close(stop_fd_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::unique_ptr<server> server::create(const server_config& cfg) {
  const std::string where = cfg.listen.host + ":" + std::to_string(cfg.listen.port);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(cfg.listen.port);
  if (::inet_pton(AF_INET, cfg.listen.host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    throw std::runtime_error("cannot listen on " + where + ": not a numeric IPv4 address");
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 65535) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error("cannot listen on " + where + ": " + std::strerror(err));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const auto port = ntohs(addr.sin_port);
  try {
    switch (cfg.which) {
      case model::thread_per_request: return detail::make_thread_per_request(cfg, fd, port);
      case model::thread_pool: return detail::make_thread_pool(cfg, fd, port);
      case model::reactor: return detail::make_reactor(cfg, fd, port);
      case model::coroutine: return detail::make_coroutine(cfg, fd, port);
      case model::fiber: return detail::make_fiber(cfg, fd, port);
      case model::io_uring: return detail::make_io_uring(cfg, fd, port);
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  throw std::runtime_error("unknown model");
}

void server::request_stop() {
  if (stop_requested_) return;
  stop_requested_ = true;
  // seq_cst: the blocking models' idle connections pair this store with their own (see
  // idle_registry) so that none sleeps through the stop.
  ctx_.stopping.store(true, std::memory_order_seq_cst);
  ctx_.push->close_all();  // held polls and SSE streams end now, not at their timeout or heartbeat
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_fd_, &one, sizeof one);
  on_stop();
}

bool server::wait(std::chrono::milliseconds deadline) {
  return join(std::chrono::steady_clock::now() + deadline);
}

std::optional<std::string> model_unavailable_reason(model m) {
  if (m == model::io_uring) return detail::io_uring_unavailable_reason();
  return std::nullopt;
}

std::uint64_t raise_fd_limit() noexcept {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

void return_large_blocks_to_os() noexcept {
  // Setting the threshold also turns off its dynamic adjustment (mallopt(3)).
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

tl::expected<void, std::string> pin_to_cpus(const std::vector<int>& cpus) {
  if (cpus.empty()) return {};
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  if (::sched_setaffinity(0, sizeof set, &set) != 0)
    return tl::unexpected(std::string("sched_setaffinity: ") + std::strerror(errno));
  return {};
}

namespace detail {

void set_nodelay(int fd) noexcept {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void refuse_connection(int fd, server_context& ctx) noexcept {
  ctx.stats.connection_refused();
  thread_local std::string response;
  response.clear();
  write_error(503, response);
  [[maybe_unused]] auto n = ::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  // Drain what the client already sent, so the close is a FIN and not a reset that could
  // destroy the 503 before the client reads it.
  char discard[4096];
  while (::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0) {
  }
  ::close(fd);
}

}  // namespace detail
}  // namespace perflab::targets
