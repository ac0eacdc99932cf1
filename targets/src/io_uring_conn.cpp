// io-uring's connection: the session (session.cpp) driven by completions on its ring, the way
// model_reactor.cpp drives it with callbacks. One receive or send in flight at a time; what a
// step waits for is a timer heap entry (deadlines, /sleep), a post to the ring's mailbox (join,
// handoff) or the ring's Asio side (db, call, remote).
#ifdef PERFLAB_IO_URING

#include "io_uring_loop.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

#include <sys/socket.h>

#include <perflab/db/call.hpp>

namespace perflab::targets::detail {

namespace {
constexpr std::int64_t uring_linger_ns = 2'000'000'000;
constexpr std::int64_t uring_timeout_grace_ns = 1'000'000'000;  // to write the 408 after a timeout
constexpr std::int64_t uring_never_ns = std::numeric_limits<std::int64_t>::max() / 2;
}  // namespace

class uring_conn final : public std::enable_shared_from_this<uring_conn>, public cache::remote_waiter {
 public:
  uring_conn(uring_loop& loop, int fd, server_context& ctx) : loop_(loop), ctx_(ctx), fd_(fd), sess_(ctx) {
    index_ = loop_.conns.size();
    loop_.conns.push_back(this);
    set_nodelay(fd_);
    sess_.set_peer(fd_);
  }
  ~uring_conn() {
    if (held_len_ > 0) loop_.recycle(held_bid_);
    if (fd_ >= 0) ::close(fd_);
    ctx_.stats.connection_closed();
  }
  uring_conn(const uring_conn&) = delete;
  uring_conn& operator=(const uring_conn&) = delete;

  // Entry points from the loop each end with maybe_release(), the only place the loop's reference
  // goes: a connection never ends while one of its own functions still runs below it. Each
  // contains std::bad_alloc (a step that could not allocate): counted, and this connection ends,
  // as on the other models; the ring goes on with the others.
  void start() {
    self_ = shared_from_this();
    contained([&] { run(sess_.process()); });
  }

  // A completion of one of this connection's operations.
  void on_complete(uring_op op, int res, unsigned flags) {
    --ops_;
    contained([&] {
      switch (op) {
        case op_recv: on_recv(res, flags); break;
        case op_send: on_send(res); break;
        case op_linger:
          if (flags & IORING_CQE_F_BUFFER) loop_.recycle(flags >> IORING_CQE_BUFFER_SHIFT);
          if (res > 0 && !closed_) do_linger();
          else close_now();
          break;
        case op_cancel: break;
      }
    });
  }

  // The watchdog's or a sleep's timer entry came due.
  void on_timer(std::int64_t at_ns, std::uint64_t seq) {
    contained([&] { on_timer_due(at_ns, seq); });
  }

  // An answer another thread posted (join, handoff) or the Asio side delivered (db, call, remote).
  void on_resume() {
    contained([&] { resume_parked(); });
  }

  // The server is stopping: an idle keep-alive connection waiting in a read is closed now; a busy
  // one closes after its current response (the session sees ctx.stopping).
  void on_server_stop() {
    if (!closed_ && reading_ && sess_.idle()) cancel(op_recv);
  }

  // Called on the loop thread when the server is torn down past its deadline.
  void abandon() noexcept { self_.reset(); }

  void on_remote(cache::remote_status st, std::string_view value) noexcept override {
    const auto keep = std::move(remote_self_);  // released last, after this connection's work
    sess_.finish_remote(st, value);
    on_resume();
  }

  std::size_t index_ = 0;  // in loop_.conns

 private:
  using ptr = std::shared_ptr<uring_conn>;

  template <class F>
  void contained(F&& f) {
    try {
      f();
    } catch (const std::bad_alloc&) {
      ctx_.stats.allocation_failed();
      close_now();
    }
    maybe_release();
  }

  void on_timer_due(std::int64_t at_ns, std::uint64_t seq) {
    if (closed_) return;
    if (seq != 0) {
      if (seq != sleep_seq_) return;  // a cancelled sleep
      sleep_seq_ = 0;
      if (pacing_) {
        pacing_ = false;
        return run(step_);
      }
      sess_.finish_wait();
      return run(sess_.process());
    }
    if (at_ns != watchdog_at_) return;  // superseded by an earlier entry (which re-armed it)
    watchdog_at_ = std::numeric_limits<std::int64_t>::max();
    const std::int64_t now = now_ns();
    if (now >= deadline_ns_) {
      if (!reading_) {  // a stalled write or linger: give up on the client
        if (writing_) ctx_.stats.send_timed_out();
        return close_now();
      }
      // The read's completion answers 408 (partial request) or closes (idle); give it time to.
      timed_out_ = true;
      deadline_ns_ = now + uring_timeout_grace_ns;
      cancel(op_recv);
    }
    arm_watchdog(deadline_ns_);
  }

  std::uint64_t ud(uring_op op) const noexcept { return reinterpret_cast<std::uintptr_t>(this) | op; }

  // Writes what process() produced (a send operation), then goes on with its step; `more` steps
  // loop here rather than recurse.
  void run(session::step st) {
    for (;;) {
      step_ = st;
      if (closed_) return;
      if (sess_.output_pending()) return do_send();
      if (st.what != session::next::more) return after_write();
      st = sess_.process();
    }
  }

  void do_send() {
    auto out = sess_.output();
    if (auto* link = sess_.link()) {  // a shaped link: only what its current slot allows, else wait for it
      const auto slot = link->next(out.size(), now_ns());
      if (slot.at_ns > now_ns()) {
        set_write_deadline();
        pacing_ = true;
        return arm_sleep(slot.at_ns);
      }
      out = first_bytes(out, slot.bytes);
    }
    set_write_deadline();
    io_uring_sqe* s = loop_.sqe();
    if (!s) return close_now();  // the ring takes no submission: the response cannot go out
    writing_ = true;
    if (out.streamed.empty()) {
      io_uring_prep_send(s, fd_, out.buffered.data(), out.buffered.size(), MSG_NOSIGNAL);
    } else {
      iov_[0] = {const_cast<char*>(out.buffered.data()), out.buffered.size()};
      iov_[1] = {const_cast<char*>(out.streamed.data()), out.streamed.size()};
      msg_ = {};
      msg_.msg_iov = iov_;
      msg_.msg_iovlen = 2;
      io_uring_prep_sendmsg(s, fd_, &msg_, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(s, ud(op_send));
    ++ops_;
  }

  void on_send(int res) {
    writing_ = false;
    if (closed_) return;
    if (res < 0) return close_now();
    sess_.output_written(static_cast<std::size_t>(res));
    if (auto* link = sess_.link()) link->sent(static_cast<std::size_t>(res), sess_.output_pending());
    run(step_);  // the rest of the output, then the step
  }

  void after_write() {
    switch (step_.what) {
      case session::next::read: return do_read();
      case session::next::wait:
        set_deadline(uring_never_ns);
        return arm_sleep(now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(step_.wait).count());
      case session::next::close: return linger_then_close();
      case session::next::reset: return reset_now();
      case session::next::more: return run(sess_.process());
      case session::next::join: return do_join();
      case session::next::handoff: return do_handoff();
      case session::next::remote: return do_remote();
      case session::next::db:
      case session::next::call: return do_aux_call();
    }
  }

  void do_read() {
    if (ctx_.stopping.load(std::memory_order_relaxed) && sess_.idle()) return close_now();
    set_deadline(sess_.read_deadline_ns());
    timed_out_ = false;
    if (held_len_ > 0) return deliver_held();  // the rest of a provided buffer comes first
    // With provided buffers the receive needs none of the session's: an idle connection waits
    // holding no buffer (the session borrows one when the bytes are copied in).
    const bool provided = loop_.bufs && !no_buffer_;
    std::span<char> space;
    if (!provided) {
      space = sess_.read_space();
      // Empty only when growing the buffer failed (out of memory): a zero-byte read would
      // complete at once with nothing, and the connection would spin.
      if (space.empty()) return close_now();
    }
    io_uring_sqe* s = loop_.sqe();
    if (!s) return close_now();  // the ring takes no submission
    reading_ = true;
    if (provided) {
      io_uring_prep_recv(s, fd_, nullptr, uring_buffer_size, 0);
      s->flags |= IOSQE_BUFFER_SELECT;
      s->buf_group = uring_buffer_group;
      // Waiting for a new request: the kernel waits for data before it takes a provided buffer
      // (5.19+, as buffer rings are). Without it a receive submitted while the ring is empty
      // (a burst holds every buffer for a moment) fails with ENOBUFS at once, and the
      // connection would wait idle in its own borrowed buffer.
      if (sess_.idle()) s->ioprio |= IORING_RECVSEND_POLL_FIRST;
    } else {
      io_uring_prep_recv(s, fd_, space.data(), space.size(), 0);
    }
    no_buffer_ = false;
    io_uring_sqe_set_data64(s, ud(op_recv));
    ++ops_;
  }

  void on_recv(int res, unsigned flags) {
    reading_ = false;
    if (flags & IORING_CQE_F_BUFFER) {
      held_bid_ = flags >> IORING_CQE_BUFFER_SHIFT;
      held_off_ = 0;
      held_len_ = res > 0 ? static_cast<std::size_t>(res) : 0;
      if (held_len_ == 0) loop_.recycle(held_bid_);
    }
    if (closed_) return;
    if (res == -ENOBUFS && !timed_out_) {  // every provided buffer is in use: this read uses its own
      no_buffer_ = true;
      return do_read();
    }
    if (res <= 0) {
      // Timed out with a partial request: 408 and close. Idle timeout, stop, EOF, error: close.
      if (timed_out_ && sess_.on_timeout()) return run({session::next::close});
      return close_now();
    }
    if (uring_test_bad_alloc()) throw_if_test_request(static_cast<std::size_t>(res));
    if (held_len_ > 0) return deliver_held();
    sess_.commit(static_cast<std::size_t>(res));
    run(sess_.process());
  }

  // The PERFLAB_TEST_IO_URING_BAD_ALLOC hook: what a failed allocation in this completion does.
  void throw_if_test_request(std::size_t n) {
    constexpr std::string_view marker = "GET /test/bad-alloc ";
    const char* data = held_len_ > 0 ? loop_.buffer(held_bid_) + held_off_ : sess_.read_space().data();
    if (std::string_view(data, std::min(n, marker.size())) == marker) throw std::bad_alloc();
  }

  // Copies what the session's buffer takes from the held provided buffer; a buffer emptied goes
  // back to the ring at once, so idle connections hold none.
  void deliver_held() {
    const auto space = sess_.read_space();
    if (space.empty()) return close_now();
    const std::size_t n = std::min(space.size(), held_len_);
    std::memcpy(space.data(), loop_.buffer(held_bid_) + held_off_, n);
    held_off_ += n;
    held_len_ -= n;
    if (held_len_ == 0) loop_.recycle(held_bid_);
    sess_.commit(n);
    run(sess_.process());
  }

  // next::join and next::handoff: another thread ends the wait and posts back to this loop (a weak
  // reference: an answer never keeps a closed connection alive).
  void do_join() {
    std::weak_ptr<uring_conn> weak = weak_from_this();
    uring_loop& loop = loop_;
    if (!sess_.joined_flight()->subscribe([weak, &loop] { loop.post([weak] { if (auto c = weak.lock()) c->on_resume(); }); }))
      return resume_parked();  // the flight already ended
    set_deadline(uring_never_ns);
  }

  void do_handoff() {
    std::weak_ptr<uring_conn> weak = weak_from_this();
    uring_loop& loop = loop_;
    if (!sess_.handoff()->subscribe([weak, &loop] { loop.post([weak] { if (auto c = weak.lock()) c->on_resume(); }); }))
      return resume_parked();  // already answered
    set_deadline(uring_never_ns);
  }

  // next::remote: a command on this ring's Redis client (on the Asio side); on_remote resumes.
  void do_remote() {
    if (!loop_.remote || !loop_.remote->submit(sess_.remote_request(), this)) {
      sess_.finish_remote(cache::remote_status::error, {});
      return resume_parked();
    }
    remote_self_ = shared_from_this();
    set_deadline(uring_never_ns);  // the client's own timeout bounds the wait
  }

  // next::db and next::call: the database call, /proxy call or waiting room's wait runs on the
  // Asio side; done comes back on this thread during its poll (maybe before async_run returns).
  void do_aux_call() {
    set_deadline(uring_never_ns);
    ++loop_.aux_users;
    // done may come before async_run returns, inside run(): then only resume, the caller releases.
    in_aux_start_ = true;
    aux_waiting_ = true;
    auto done = [this](std::shared_ptr<void> keep) {
      end_aux_wait();
      if (in_aux_start_) return resume_parked();
      on_resume();
      keep.reset();  // the connection may end here, after its work
    };
    try {
      if (step_.what == session::next::db) sess_.db_call()->async_run(loop_.aux, shared_from_this(), std::move(done));
      else sess_.deferred_call()->async_run(loop_.aux, shared_from_this(), std::move(done));
    } catch (...) {  // std::bad_alloc: the call never started, and the loop need not poll for it
      in_aux_start_ = false;
      end_aux_wait();
      throw;
    }
    in_aux_start_ = false;
  }
  void end_aux_wait() noexcept {
    if (aux_waiting_) --loop_.aux_users;
    aux_waiting_ = false;
  }

  void resume_parked() {
    if (closed_) return;
    sess_.finish_wait();
    run(sess_.process());
  }

  void arm_sleep(std::int64_t at_ns) {
    sleep_seq_ = ++loop_seq_;
    loop_.timers.push({at_ns, weak_from_this(), sleep_seq_});
  }

  // Deadlines are now_ns() values. The watchdog's heap entry is pushed only when a deadline moves
  // earlier than it, or when it comes due early, not on every read.
  void set_deadline(std::int64_t deadline_ns) {
    deadline_ns_ = deadline_ns;
    if (deadline_ns < watchdog_at_) arm_watchdog(deadline_ns);
  }
  void set_write_deadline() { set_deadline(now_ns() + std::chrono::nanoseconds(ctx_.config.send_timeout).count()); }
  void arm_watchdog(std::int64_t at_ns) {
    if (at_ns >= uring_never_ns) {  // parked (sleep, database, call): no deadline, so no heap entry
      watchdog_at_ = std::numeric_limits<std::int64_t>::max();  // that would never come due
      return;
    }
    watchdog_at_ = at_ns;
    loop_.timers.push({at_ns, weak_from_this(), 0});
  }

  void cancel(uring_op op) {
    io_uring_sqe* s = loop_.sqe();
    if (!s) {  // no entry for the cancel: end a pending receive from the socket's side instead
      if (op == op_recv) ::shutdown(fd_, SHUT_RD);
      return;  // a send is ended by close_now's shutdown
    }
    io_uring_prep_cancel64(s, ud(op), 0);
    io_uring_sqe_set_data64(s, ud(op_cancel));
    ++ops_;
  }

  // FIN, then drop input for a short while, then close (see blocking.cpp for why).
  void linger_then_close() {
    if (closed_) return;
    if (::shutdown(fd_, SHUT_WR) != 0) return close_now();
    reading_ = false;
    // Shorter when stopping: the process should not outlive its clients by much.
    set_deadline(now_ns() + (ctx_.stopping.load(std::memory_order_relaxed) ? uring_linger_ns / 4 : uring_linger_ns));
    do_linger();
  }
  void do_linger() {
    io_uring_sqe* s = loop_.sqe();
    if (!s) return close_now();
    io_uring_prep_recv(s, fd_, loop_.discard, sizeof loop_.discard, 0);
    io_uring_sqe_set_data64(s, ud(op_linger));
    ++ops_;
  }

  // A fault's reset (session::next::reset): SO_LINGER {on, 0 s}, then close: an RST, not a FIN.
  void reset_now() {
    const linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close_now();
  }

  // Pending operations are cancelled; the descriptor closes when the last has completed (until
  // then the kernel may still write into this connection's buffers).
  void close_now() {
    if (closed_) return;
    closed_ = true;
    sleep_seq_ = 0;
    if (reading_) cancel(op_recv);
    if (writing_) cancel(op_send);
    if (ops_ == 0) {
      ::close(fd_);
      fd_ = -1;
    } else {
      ::shutdown(fd_, SHUT_RDWR);  // a linger read ends at once
    }
  }

 public:
  // Closed with no operation pending: the loop lets go of it (maybe the last reference).
  void maybe_release() {
    if (!closed_ || ops_ != 0 || !self_) return;
    auto& v = loop_.conns;  // unlink: swap with the last
    v[index_] = v.back();
    v[index_]->index_ = index_;
    v.pop_back();
    const auto keep = std::move(self_);  // the last reference may go with this scope
  }

 private:

  uring_loop& loop_;
  server_context& ctx_;
  int fd_;
  session sess_;
  ptr self_;                          // the loop's reference, until closed with no operation pending
  std::shared_ptr<uring_conn> remote_self_;  // held while a remote command is pending
  session::step step_{};
  unsigned ops_ = 0;                  // operations submitted and not yet completed
  bool reading_ = false;              // a receive of the next request is pending
  bool writing_ = false;              // a send of the output is pending
  bool timed_out_ = false;            // the watchdog cancelled the pending receive
  bool closed_ = false;
  bool pacing_ = false;               // the sleep waits for a shaped link's next slot
  bool no_buffer_ = false;            // the next receive uses the session's buffer (ENOBUFS)
  bool in_aux_start_ = false;         // inside async_run of a db or call step
  bool aux_waiting_ = false;          // counted in loop_.aux_users until the call's done runs
  unsigned held_bid_ = 0;             // a provided buffer not yet copied into the session
  std::size_t held_off_ = 0;
  std::size_t held_len_ = 0;
  std::uint64_t sleep_seq_ = 0;       // the pending sleep's timer entry (0: none)
  static inline thread_local std::uint64_t loop_seq_ = 0;
  std::int64_t deadline_ns_ = uring_never_ns;
  std::int64_t watchdog_at_ = std::numeric_limits<std::int64_t>::max();
  iovec iov_[2]{};
  msghdr msg_{};
};

unsigned uring_test_sqe_fail_every() noexcept {
  static const unsigned every = [] {
    const char* v = std::getenv("PERFLAB_TEST_IO_URING_SQE_FAIL");
    return v ? static_cast<unsigned>(std::strtoul(v, nullptr, 10)) : 0u;
  }();
  return every;
}

bool uring_test_bad_alloc() noexcept {
  static const bool on = [] {
    const char* v = std::getenv("PERFLAB_TEST_IO_URING_BAD_ALLOC");
    return v && *v && *v != '0';
  }();
  return on;
}

void uring_conn_open(uring_loop& loop, int fd, server_context& ctx) {
  std::make_shared<uring_conn>(loop, fd, ctx)->start();
}

void uring_conn_complete(std::uint64_t user_data, int res, unsigned flags) {
  auto* c = reinterpret_cast<uring_conn*>(user_data & ~std::uint64_t{7});
  c->on_complete(static_cast<uring_op>(user_data & 7), res, flags);
}

void uring_conn_timer(const uring_timer& t) {
  if (auto c = t.conn.lock()) c->on_timer(t.at_ns, t.seq);
}

void uring_conn_server_stop(uring_conn* c) { c->on_server_stop(); }

void uring_conn_abandon(uring_conn* c) { c->abandon(); }

}  // namespace perflab::targets::detail

#endif  // PERFLAB_IO_URING
