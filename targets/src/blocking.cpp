// The connection loop of the two blocking models (thread-per-request and thread-pool): they
// differ only in which thread runs it.
#include <algorithm>
#include <cerrno>
#include <new>
#include <optional>
#include <thread>

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "models.hpp"

namespace perflab::targets::detail {

namespace {

int to_poll_ms(std::chrono::milliseconds d) noexcept {
  return static_cast<int>(std::clamp<std::int64_t>(d.count(), 1, 1 << 30));
}

// Writes the session's output. Sends never block, so the deadline is on progress: the poll for
// room in the socket buffer is re-armed after every byte the client takes, and a client that
// takes none for send_timeout is given up (counted). A slow but steady reader gets the whole
// response however long it takes. False when the connection must be dropped.
bool write_output(int fd, session& s, server_context& ctx) noexcept {
  while (s.output_pending()) {
    const auto out = s.output();
    ssize_t n;
    if (out.streamed.empty()) {
      n = ::send(fd, out.buffered.data(), out.buffered.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    } else {
      iovec iov[2] = {{const_cast<char*>(out.buffered.data()), out.buffered.size()},
                      {const_cast<char*>(out.streamed.data()), out.streamed.size()}};
      msghdr m{};
      m.msg_iov = out.buffered.empty() ? iov + 1 : iov;
      m.msg_iovlen = out.buffered.empty() ? 1 : 2;
      n = ::sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    if (n >= 0) {
      s.output_written(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    pollfd p{fd, POLLOUT, 0};
    int r;
    do {
      r = ::poll(&p, 1, to_poll_ms(ctx.config.send_timeout));
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      ctx.stats.send_timed_out();
      return false;
    }
    if (r < 0) return false;
  }
  return true;
}

int ms_until(std::int64_t deadline_ns) noexcept {
  const auto left = deadline_ns - now_ns();
  if (left <= 0) return 0;
  return static_cast<int>(std::min<std::int64_t>((left + 999'999) / 1'000'000, 1 << 30));
}

// After a response that closes the connection: send FIN, then read and drop what the client
// still sends for a short while, so unread input does not turn the close into a reset that
// could destroy the response before the client has read it.
void lingering_close(int fd, bool stopping) noexcept {
  ::shutdown(fd, SHUT_WR);
  const std::int64_t until = now_ns() + (stopping ? 500'000'000 : 2'000'000'000);
  char discard[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int wait_ms = std::min(500, ms_until(until));
    if (wait_ms <= 0 || ::poll(&p, 1, wait_ms) <= 0) break;
    if (::recv(fd, discard, sizeof discard, MSG_DONTWAIT) <= 0) break;
  }
  ::close(fd);
}

}  // namespace

void serve_blocking(int fd, server_context& ctx, int stop_fd) noexcept {
  set_nodelay(fd);
  std::optional<session> made;
  try {
    made.emplace(ctx);
  } catch (const std::bad_alloc&) {
    ctx.stats.allocation_failed();
    ::close(fd);
    return;
  }
  session& s = *made;
  bool linger = false;
  for (;;) {
    const auto st = s.process();
    if (s.output_pending() && !write_output(fd, s, ctx)) break;
    if (st.what == session::next::close) {
      linger = true;
      break;
    }
    if (st.what == session::next::more) continue;
    if (st.what == session::next::wait) {
      std::this_thread::sleep_for(st.wait);  // the blocking models' wait primitive
      s.finish_wait();
      continue;
    }

    auto space = s.read_space();
    auto n = ::recv(fd, space.data(), space.size(), MSG_DONTWAIT);
    if (n > 0) {
      s.commit(static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;

    // Nothing buffered: wait for input, the read deadline, or (when idle) the server's stop.
    const std::int64_t deadline = s.read_deadline_ns();
    bool readable = false;
    bool stop = false;
    while (!readable && !stop) {
      pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
      const int timeout = ms_until(deadline);
      if (timeout <= 0) break;
      const int r = ::poll(p, s.idle() ? 2 : 1, timeout);
      if (r < 0 && errno != EINTR) break;
      if (r > 0) {
        readable = p[0].revents != 0;
        stop = !readable && (p[1].revents & POLLIN);
      }
    }
    if (stop) break;  // idle connection at shutdown
    if (!readable) {  // deadline passed
      if (s.on_timeout()) continue;  // 408 for a partial request, then close
      break;                         // idle timeout: just close
    }
  }
  if (linger)
    lingering_close(fd, ctx.stopping.load(std::memory_order_relaxed));
  else
    ::close(fd);
}

int accept_blocking(int listen_fd, int stop_fd, server_context& ctx) noexcept {
  for (;;) {
    if (ctx.stopping.load(std::memory_order_relaxed)) return -1;
    pollfd p[2] = {{listen_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return -1;
    if (p[1].revents & POLLIN) return -1;
    if (!(p[0].revents & POLLIN)) continue;
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return fd;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Out of descriptors: back off instead of spinning on a readable listener.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

}  // namespace perflab::targets::detail
