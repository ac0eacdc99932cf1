#pragma once
// Internal: the concurrency models behind perflab::targets::server, and the pieces the two
// blocking models share. Each model_<name>.cpp supplies only concurrency: who accepts, who reads
// and writes, and how /sleep waits. Parsing, routing, handlers, limits and metrics are session's.
#include <cstdint>
#include <memory>

#include <perflab/targets/server.hpp>

namespace perflab::targets::detail {

std::unique_ptr<server> make_thread_per_request(const server_config& cfg, int listen_fd, std::uint16_t port);
std::unique_ptr<server> make_thread_pool(const server_config& cfg, int listen_fd, std::uint16_t port);
std::unique_ptr<server> make_reactor(const server_config& cfg, int listen_fd, std::uint16_t port);
std::unique_ptr<server> make_coroutine(const server_config& cfg, int listen_fd, std::uint16_t port);

// Answers 503 with Connection: close on a connection we will not serve (connection cap, full
// queue), without blocking, and closes it. Counts it as refused.
void refuse_connection(int fd, server_context& ctx) noexcept;

// Disables Nagle (responses are whole writes; pipelined ones must not wait for ACKs).
void set_nodelay(int fd) noexcept;

// Serves one accepted connection with blocking I/O until it is closed, then closes fd.
// stop_fd becomes readable when the server stops: an idle keep-alive connection is then closed.
void serve_blocking(int fd, server_context& ctx, int stop_fd) noexcept;

// Waits for a readable listening socket (or the stop) and accepts one connection: the fd
// (blocking), or -1 when the server is stopping.
int accept_blocking(int listen_fd, int stop_fd, server_context& ctx) noexcept;

}  // namespace perflab::targets::detail
