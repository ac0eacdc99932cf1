#pragma once
// The asynchronous Redis client of the event-loop models: one hiredis async context per event
// loop, driven by that loop's readiness of the Redis socket. hiredis asks for read/write interest
// through its ev hooks; each hook arms an async_wait on the socket (a posix::stream_descriptor
// that does not own the fd) whose completion calls redisAsyncHandleRead/Write. Nothing here ever
// blocks the loop thread: connect is non-blocking, replies arrive by callback.
//
// Writes are speculative: when hiredis has buffered a command, a posted handler writes it (several
// commands of one loop iteration go out in one write) and waits for writability only when the
// socket is full. Asio registers descriptors edge-triggered, so a wait for a state that already
// holds (writable, or bytes left unread) would never complete: reads go on while bytes remain
// (FIONREAD), and a write wait is armed only after a write found the socket full.
//
// Replies come back in order, so one timer watches the oldest command: when its reply is later
// than the timeout, the connection is dropped (every pending command fails at once) and made
// again. A lost or refused connection is retried after a backoff (remote.hpp); meanwhile submit()
// fails at once and the caller goes to the origin.
//
// Everything runs on the loop's thread: submit() from a handler of that loop, callbacks from it.
#include <utility>  // GCC 12: before boost/asio/awaitable.hpp (included by asio headers)

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include <perflab/cache/remote.hpp>

struct redisAsyncContext;

namespace perflab::cache {

// Who waits for a reply: called exactly once per accepted submit(), on the loop's thread, with
// the result (value: a get's hit, valid during the call).
class remote_waiter {
 public:
  virtual void on_remote(remote_status st, std::string_view value) noexcept = 0;

 protected:
  ~remote_waiter() = default;
};

class redis_asio {
 public:
  redis_asio(boost::asio::io_context& ioc, remote_config cfg, remote_stats& stats);
  // Fails the commands still pending (their waiters are called with error), closes the connection.
  ~redis_asio();
  redis_asio(const redis_asio&) = delete;
  redis_asio& operator=(const redis_asio&) = delete;

  // Starts connecting (on the loop's thread, or before the loop runs).
  void start();
  // The server stops: the connection closes now (pending commands fail, their requests go to the
  // origin), and nothing is armed again, so the loop can run out of work.
  void stop();
  // Sends r; w->on_remote is called later with its reply, or with error on a timeout or a lost
  // connection. False (w is never called, the failure is counted): no connection now.
  bool submit(const remote_request& r, remote_waiter* w) noexcept;
  bool connected() const noexcept { return connected_; }

 private:
  struct pending;  // one command in flight
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_connect(const redisAsyncContext* ac, int status);
  static void on_disconnect(const redisAsyncContext* ac, int status);
  static void ev_add_read(void* p);
  static void ev_del_read(void* p);
  static void ev_add_write(void* p);
  static void ev_del_write(void* p);
  static void ev_cleanup(void* p);

  void connect();
  void arm_read();
  void arm_write();
  void on_readable();
  void flush();  // a posted speculative write of what hiredis buffered
  void arm_timer(std::int64_t at_ns);
  void on_timer();
  void lost();  // the context is gone (freed by hiredis or by us): retry after the backoff
  void drop(remote_error why);  // frees the context; its pending commands fail

  boost::asio::io_context& ioc_;
  remote_config cfg_;
  remote_stats& stats_;
  redisAsyncContext* ac_ = nullptr;
  std::optional<boost::asio::posix::stream_descriptor> sock_;
  std::uint64_t gen_ = 0;   // bumped per context: a readiness completion of an older one is ignored
  bool connected_ = false;
  bool want_read_ = false, want_write_ = false;
  bool reading_ = false, writing_ = false;
  bool flush_posted_ = false;
  bool closing_ = false;    // the destructor runs: waiters are told, nothing is re-armed
  boost::asio::steady_timer timer_;
  std::int64_t timer_at_ns_ = INT64_MAX;  // when timer_ fires (INT64_MAX: not armed)
  std::int64_t connect_deadline_ns_ = 0;
  std::int64_t retry_at_ns_ = 0;          // not connected: next attempt
  backoff backoff_;
  remote_error drop_reason_ = remote_error::io;  // what the pending commands failed of
  std::deque<pending> pending_;          // commands sent, oldest first (replies come in order)
  std::string value_;                    // a get's value, reused
};

}  // namespace perflab::cache
