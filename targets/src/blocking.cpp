// The connection loop of the two blocking models (thread-per-request and thread-pool): they
// differ only in which thread runs it.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <thread>

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <perflab/db/call.hpp>

#include "models.hpp"

namespace perflab::targets::detail {

namespace {

int to_poll_ms(std::chrono::milliseconds d) noexcept {
  return static_cast<int>(std::clamp<std::int64_t>(d.count(), 1, 1 << 30));
}

// Writes the session's output. Sends never block, so the deadline is on progress: the poll for
// room in the socket buffer is re-armed after every byte the client takes, and a client that
// takes none for send_timeout is given up (counted). A slow but steady reader gets the whole
// response however long it takes. With a shaped link (--link-rate, --link-latency) each chunk
// waits for its slot first, in a sleep: the thread is held as it would be in a blocking send() on
// a slow network. False when the connection must be dropped.
bool write_output(int fd, session& s, server_context& ctx) noexcept {
  auto* link = s.link();
  while (s.output_pending()) {
    auto out = s.output();
    if (link) {
      const auto slot = link->next(out.size(), now_ns());
      if (const auto wait = slot.at_ns - now_ns(); wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
      out = first_bytes(out, slot.bytes);
    }
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
      if (link) link->sent(static_cast<std::size_t>(n), s.output_pending());
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

// A fault's reset (session::next::reset): SO_LINGER {on, 0 s} makes close() send an RST and drop
// whatever is unsent, so the client reads ECONNRESET, not an orderly end.
void abortive_close(int fd) noexcept {
  const linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

}  // namespace

void idle_registry::add(entry& e) noexcept {
  std::lock_guard lock(mutex_);
  e.next = head_;
  if (head_) head_->prev = &e;
  head_ = &e;
}

void idle_registry::remove(entry& e) noexcept {
  std::lock_guard lock(mutex_);
  if (e.prev) e.prev->next = e.next;
  else head_ = e.next;
  if (e.next) e.next->prev = e.prev;
}

void idle_registry::wake_idle() noexcept {
  // The lock keeps every fd open while we use it: an entry leaves (under the lock) before its
  // connection closes the fd, so a number reused by a new socket is never shut down by mistake.
  std::lock_guard lock(mutex_);
  for (entry* e = head_; e; e = e->next)
    if (e->idle.load(std::memory_order_seq_cst)) ::shutdown(e->fd, SHUT_RD);  // its recv() returns 0
}

namespace {

// Sets SO_RCVTIMEO when it changes: once per connection while requests arrive whole, since the
// idle timeout counts from each read's start; per read only while a request is half received.
void set_receive_timeout(int fd, std::chrono::milliseconds t, std::chrono::milliseconds& current) noexcept {
  if (t == current) return;
  timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>(t.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  current = t;
}

// An idle connection borrows no pooled buffer while it waits: its first bytes land on the
// thread's stack, only for this call (a frame of its own, so the stack is no deeper while a
// request is handled), and are copied into a borrowed buffer once they are there. A request
// larger than this comes in more than one recv. Returns recv's result, or -2 when no buffer
// could be had.
[[gnu::noinline]] ssize_t blocking_recv_first(int fd, session& s) noexcept {
  char first[1024];
  const ssize_t n = ::recv(fd, first, sizeof first, 0);
  if (n <= 0) return n;
  const auto space = s.read_space();
  if (space.size() < static_cast<std::size_t>(n)) return -2;
  std::memcpy(space.data(), first, static_cast<std::size_t>(n));
  return n;
}

}  // namespace

void serve_blocking(int fd, server_context& ctx, idle_registry& idle) noexcept {
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
  s.set_peer(fd);
  idle_registry::entry me{fd};
  idle.add(me);
  std::chrono::milliseconds rcvtimeo{0};  // none set yet
  enum class ending : std::uint8_t { plain, linger, reset } end = ending::plain;
  for (;;) {
    const auto st = s.process();
    if (s.output_pending() && !write_output(fd, s, ctx)) break;
    if (st.what == session::next::close) {
      end = ending::linger;
      break;
    }
    if (st.what == session::next::reset) {
      end = ending::reset;
      break;
    }
    if (st.what == session::next::more) continue;
    if (st.what == session::next::wait) {
      std::this_thread::sleep_for(st.wait);  // the blocking models' wait primitive
      s.finish_wait();
      continue;
    }
    if (st.what == session::next::db) {
      s.db_call()->run_blocking();  // waits on the pool's condition variable, then the database
      s.finish_wait();
      continue;
    }
    if (st.what == session::next::call) {
      s.deferred_call()->run_blocking();  // a /proxy call (poll() with deadlines), a waiting room's wait
      s.finish_wait();
      continue;
    }
    if (st.what == session::next::join) {
      s.joined_flight()->wait_ended();  // another thread's origin call for the same key
      s.finish_wait();
      continue;
    }
    if (st.what == session::next::handoff) {
      s.handoff()->wait();  // the single-writer stock's owner thread answers the buy
      s.finish_wait();
      continue;
    }
    if (st.what == session::next::remote) {
      // A blocking Redis command on a pooled connection, bounded by --cache-remote-timeout.
      thread_local std::string value;
      const auto r = ctx.remote_pool->run(s.remote_request(), value);
      s.finish_remote(r, value);
      s.finish_wait();
      continue;
    }

    // A blocking recv with a receive timeout: one system call per request that arrives whole.
    // The deadline is the idle timeout between requests, the rest of the header timeout while
    // a request is half received.
    const bool waiting_idle = s.idle();
    const std::int64_t deadline = s.read_deadline_ns();
    if (waiting_idle) {
      set_receive_timeout(fd, ctx.config.idle_timeout, rcvtimeo);
      // Seen by wake_idle() at stop, or we see the stop here: the two seq_cst accesses on each
      // side cannot both miss the other (a connection never sleeps through the stop).
      me.idle.store(true, std::memory_order_seq_cst);
      if (ctx.stopping.load(std::memory_order_seq_cst)) break;
    } else {
      const auto left_ms = (deadline - now_ns() + 999'999) / 1'000'000;
      if (left_ms <= 0) {
        if (s.on_timeout()) continue;  // 408, then close
        break;
      }
      set_receive_timeout(fd, std::chrono::milliseconds(left_ms), rcvtimeo);
    }
    ssize_t n = 0;
    if (waiting_idle && !s.holds_read_buffer()) {
      n = blocking_recv_first(fd, s);
      if (n == -2) break;  // out of memory borrowing the buffer
    } else {
      const auto space = s.read_space();
      if (space.empty()) break;  // out of memory growing the buffer
      n = ::recv(fd, space.data(), space.size(), 0);
    }
    if (waiting_idle) me.idle.store(false, std::memory_order_relaxed);
    if (n > 0) {
      s.commit(static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) break;  // the client closed, or the stop shut our read side
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) break;
    // The receive timeout passed: an idle connection just closes; a half-received request gets
    // 408 once its header deadline has passed (the loop above checks it).
    if (waiting_idle) break;
  }
  idle.remove(me);  // before the fd is closed (see wake_idle)
  if (end == ending::linger)
    lingering_close(fd, ctx.stopping.load(std::memory_order_relaxed));
  else if (end == ending::reset)
    abortive_close(fd);
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
