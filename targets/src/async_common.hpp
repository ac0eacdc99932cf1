#pragma once
// Internal: what the Asio models (reactor, coroutine, fiber) share: one io_context per thread, an
// acceptor on loop 0 handing sockets round-robin to the loops, a per-connection watchdog for
// read and write deadlines, lingering close, and the graceful stop. A model supplies the
// connection's I/O sequence (callbacks, a coroutine or a fiber) in a subclass of async_conn.
#include <utility>  // GCC 12: before boost/asio/awaitable.hpp

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <perflab/cache/redis_asio.hpp>

#include "models.hpp"

namespace perflab::targets::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class async_conn;

// One event loop: an io_context run by one thread, and the connections it owns (touched only
// on that thread).
// Member order matters: connections (destroyed with the io_context's pending handlers) unlink
// themselves from conns, so conns must outlive ioc; guard must go before ioc.
struct event_loop {
  async_conn* conns = nullptr;  // intrusive list, for the graceful stop
  char discard[4096];           // lingering-close reads land here (contents never used)
  asio::io_context ioc{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;
  // This loop's Redis client (--cache redis://, --cache-remote). Destroyed first: pending
  // commands fail, their connections let go of themselves while conns and ioc still exist.
  std::unique_ptr<cache::redis_asio> remote;
  // --auth session-redis: this loop's client of the session store (auth_gate::make_loop_client).
  std::unique_ptr<cache::redis_asio> auth_remote;
};

class async_conn : public std::enable_shared_from_this<async_conn>, public cache::remote_waiter {
 public:
  async_conn(event_loop& loop, tcp::socket sock, server_context& ctx);
  virtual ~async_conn();
  async_conn(const async_conn&) = delete;
  async_conn& operator=(const async_conn&) = delete;

  // Runs on the loop's thread, right after construction.
  virtual void start() = 0;
  // The server is stopping: an idle keep-alive connection waiting in a read is closed now;
  // a busy one closes after its current response (session sees ctx.stopping).
  void on_server_stop();
  async_conn* next_in_loop() const noexcept { return next_; }

 protected:
  // Deadlines are now_ns() values. The watchdog timer is re-armed only when a deadline moves
  // earlier than its expiry or when it fires early, not on every read.
  void set_deadline(std::int64_t deadline_ns);
  void set_read_deadline() { set_deadline(sess_.read_deadline_ns()); }
  // Before each write: the client has send_timeout to take a byte (a deadline on progress, so
  // a slow but steady reader gets a response of any size).
  void set_write_deadline();
  void set_no_deadline() { set_deadline(std::numeric_limits<std::int64_t>::max() / 2); }
  // Writes the session's output with non-blocking sends while the socket takes it, as most
  // responses fit its buffer: no trip through the event loop (whose completion would cost
  // another epoll_wait) and no deadline to arm. would_block: the rest must wait for room.
  // With a shaped link (--link-rate, --link-latency), only what the link's current slot allows is
  // written; paced: the next slot opens at pace_at_ns_ (wait on sleep_timer(), then call again).
  enum class write_result { done, would_block, failed, paced };
  write_result write_now() noexcept;
  // What an asynchronous write after would_block may send (the output, cut to the link's slot),
  // and the bookkeeping after any write of n bytes.
  session::output_view output_to_write() noexcept;
  void wrote(std::size_t n) noexcept;
  // An idle connection holds no read buffer: it waits for the socket to be readable
  // (async_wait(wait_read)) and only then borrows a buffer and reads (read_ready).
  bool wait_before_read() const noexcept { return sess_.idle() && !sess_.holds_read_buffer(); }
  // After readability: a non-blocking read of what arrived into the session's buffer (ec
  // no_memory when it could not be had; would_block when nothing came after all: then read as
  // usual, into the buffer now held).
  std::size_t read_ready(boost::system::error_code& ec) noexcept;
  // The timer of /sleep, a paced write and the parks below, made at its first use (an idle
  // connection that never waited holds none). Throws std::bad_alloc.
  asio::steady_timer& sleep_timer();
  // Before waiting for a paced slot: arms sleep_timer() for pace_at_ns_, with a write deadline.
  void arm_pace_timer();
  // FIN, then drop input for a short while, then close (see blocking.cpp for why).
  void linger_then_close();
  void close_now() noexcept;
  // A fault's reset (session::next::reset): SO_LINGER {on, 0 s}, then close: an RST, not a FIN.
  void reset_now() noexcept;
  // next::join: subscribes to the session's joined flight and parks sleep_timer() at its far end
  // (the pending wait keeps the connection alive on its own loop). The flight's end posts to this
  // loop, sets flight_done_ and cancels the park. False: the flight has already ended, go on now.
  bool park_for_flight();
  // next::remote: sends the session's remote request on this loop's Redis client and parks
  // sleep_timer() until its result (on_remote: handed to the session, remote_done_ set, the park
  // cancelled). The connection keeps itself alive until then. False: it could not be sent (no
  // connection, counted); the session has the failure, go on now.
  bool park_for_remote();
  // next::handoff: subscribes to the session's handoff (a buy another thread answers) and parks
  // sleep_timer() as park_for_flight does; the answer posts to this loop, sets handoff_done_ and
  // cancels the park. False: already answered, go on now.
  bool park_for_handoff();
  void on_remote(cache::remote_status st, std::string_view value) noexcept override;

  event_loop& loop_;
  server_context& ctx_;
  tcp::socket sock_;
  session sess_;
  std::unique_ptr<asio::steady_timer> sleep_timer_;  // sleep_timer()'s (null until first used)
  bool reading_ = false;            // a read of the next request is pending
  bool writing_ = false;            // a write of the output is pending
  bool timed_out_ = false;          // the watchdog cancelled the pending read
  bool closed_ = false;
  bool flight_done_ = false;        // the flight a parked join waited for has ended
  bool db_done_ = false;            // coroutine, fiber: the database call a parked request waits for has ended
  bool remote_done_ = false;        // the remote command a parked connection waited for has ended
  bool handoff_done_ = false;       // the handoff a parked connection waited for was answered
  std::shared_ptr<async_conn> remote_self_;  // held while a remote command is pending
  std::int64_t pace_at_ns_ = 0;     // write_result::paced: when the link's next slot opens

 private:
  void arm_watchdog(std::int64_t at_ns);
  void on_watchdog(const boost::system::error_code& ec);
  void do_linger();

  asio::steady_timer watchdog_;
  std::int64_t deadline_ns_ = 0;
  std::int64_t watchdog_at_ns_ = std::numeric_limits<std::int64_t>::max();
  async_conn* prev_ = nullptr;
  async_conn* next_ = nullptr;
};

using conn_factory = std::function<std::shared_ptr<async_conn>(event_loop&, tcp::socket, server_context&)>;

// The session's next output as one Asio buffer, or two when a streamed body follows buffered
// bytes; calls write(buffers) with whichever it is (one buffer keeps the plain send()).
template <class Write>
auto with_output_buffers(const session::output_view& out, Write&& write) {
  if (out.streamed.empty()) return write(asio::buffer(out.buffered.data(), out.buffered.size()));
  const std::array<asio::const_buffer, 2> both = {asio::buffer(out.buffered.data(), out.buffered.size()),
                                                  asio::buffer(out.streamed.data(), out.streamed.size())};
  return write(both);
}

// The server shell shared by the Asio models: loops, acceptor, stop, join.
class async_server final : public server {
 public:
  async_server(const server_config& cfg, int fd, std::uint16_t port, conn_factory make);
  ~async_server() override;
  void start() override;

 protected:
  void on_stop() override;
  bool join(std::chrono::steady_clock::time_point deadline) override;

 private:
  void do_accept();

  conn_factory make_;
  std::vector<std::unique_ptr<event_loop>> loops_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::steady_timer> accept_retry_;
  std::size_t next_loop_ = 0;
  std::mutex mutex_;
  std::condition_variable all_done_;
  unsigned running_ = 0;  // loop threads not yet ended (guarded by mutex_)
  bool joined_ = false;
};

}  // namespace perflab::targets::detail
