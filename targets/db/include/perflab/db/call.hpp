#pragma once
// One request's use of the database: acquire a pooled connection (waiting FIFO up to the
// acquire timeout), open it when the pool handed out a reserved slot, run the query, give the
// connection back (broken if the query found it dead). Offered blocking, for the blocking models,
// and asynchronously on an Asio io_context, for the event loops: the acquire wait, the open and
// the query are the loop's timer and socket-readiness waits, and no loop thread ever blocks.
// One call per HTTP connection, reused for each of its /db requests; used by one thread at a time.
#include <utility>  // GCC 12: before any boost/asio header that pulls in awaitable

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <perflab/db/database.hpp>
#include <perflab/db/pool.hpp>

namespace perflab::db {

class service;

class call {
 public:
  explicit call(service& svc);
  // A connection still borrowed (the HTTP connection ended mid-call) is given back as broken: its
  // query's state is unknown. A queued acquire is withdrawn.
  ~call();
  call(const call&) = delete;
  call& operator=(const call&) = delete;

  // The next request: service_us < 0 draws from the configured distribution.
  void prepare(query::kind what, std::int64_t service_us, std::uint64_t id);
  // Runs it on this thread, blocking.
  void run_blocking();
  // Runs it on ioc (this thread's loop); done(keep) is called on the loop when it is over. keep
  // is the owner (the HTTP connection): every pending wait holds it, so it lives until done; a
  // grant from another thread posts here only if it is still alive. done must not own keep
  // itself (it gets it back as its argument), so that a server stopped mid-call frees both.
  using done_fn = std::function<void(std::shared_ptr<void> keep)>;
  void async_run(boost::asio::io_context& ioc, std::shared_ptr<void> keep, done_fn done);

  int status() const noexcept { return status_; }  // 200, 404 or 503
  std::string_view body() const noexcept { return res_.body; }

 private:
  using keep_t = std::shared_ptr<void>;
  using step_fn = void (call::*)(keep_t);
  void on_acquire_timer(keep_t keep);
  void on_granted(keep_t keep);
  void on_acquired(keep_t keep);
  void open_step(const wait_for& w, keep_t keep);
  void resume_open(keep_t keep);
  void on_opened(keep_t keep);
  void start_query(keep_t keep);
  void query_step(const wait_for& w, keep_t keep);
  void resume_query(keep_t keep);
  void on_query_done(keep_t keep);
  void finish(int status, keep_t keep);
  void wait(const wait_for& w, step_fn next, keep_t keep);
  int status_of(outcome o) const noexcept;

  service& svc_;
  query q_{};
  result res_{};
  int status_ = 0;
  lease slot_;
  waiter waiter_;
  // Asynchronous runs only (created on the first).
  boost::asio::io_context* ioc_ = nullptr;
  std::optional<boost::asio::steady_timer> timer_;
  std::optional<boost::asio::posix::stream_descriptor> fd_;
  done_fn done_;
  bool timer_pending_ = false;  // the acquire deadline timer is armed
  bool granted_ = false;        // the pool's grant has reached the loop
  bool opening_ = false;        // between start_open and its end: slot_->conn is not yet a connection
  std::shared_ptr<void> held_;  // the owner, from a lost acquire deadline until the grant's post
};

}  // namespace perflab::db
