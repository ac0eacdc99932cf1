// io-uring: a completion loop on liburing, one ring per thread (--threads rings), no epoll on the
// request path. Every ring holds a multishot accept on the shared listening socket; receives take
// a buffer from the ring's provided-buffer ring when the kernel has them (else they read straight
// into the session's buffer); responses are send/sendmsg operations. What a pass over the
// completions prepared goes to the kernel in one io_uring_enter, which also waits for the next
// completions. Deadlines (idle, header, send) and /sleep are a per-ring timer heap whose earliest
// entry bounds that wait. The capabilities that run on Asio (database pool, /proxy, waiting room,
// Redis) get a per-ring io_context, polled by the loop while one of its connections uses it.
#include "models.hpp"

#ifndef PERFLAB_IO_URING

namespace perflab::targets::detail {
bool io_uring_built() noexcept { return false; }
std::unique_ptr<server> make_io_uring(const server_config&, int, std::uint16_t) {
  throw model_unavailable(*io_uring_unavailable_reason());
}
}  // namespace perflab::targets::detail

#else

#include <utility>  // GCC 12: before boost/asio headers

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <future>
#include <limits>
#include <queue>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <perflab/cache/redis_asio.hpp>
#include <perflab/db/call.hpp>

namespace perflab::targets::detail {

bool io_uring_built() noexcept { return true; }

namespace {

constexpr std::int64_t uring_linger_ns = 2'000'000'000;
constexpr std::int64_t uring_timeout_grace_ns = 1'000'000'000;  // to write the 408 after a timeout
constexpr std::int64_t uring_never_ns = std::numeric_limits<std::int64_t>::max() / 2;
constexpr std::int64_t uring_aux_tick_ns = 1'000'000;  // how often the Asio side is polled while used
constexpr unsigned uring_entries = 1024;
constexpr unsigned uring_buffers = 256;        // provided buffers per ring (a power of two)
constexpr unsigned uring_buffer_size = 4096;   // bytes each
constexpr int uring_buffer_group = 0;

// user_data: a connection's address with the operation in the low bits (connections are aligned
// to at least 8), or one of the loop's own operations.
enum uring_op : std::uint64_t { op_recv = 0, op_send = 1, op_linger = 2, op_cancel = 3 };
constexpr std::uint64_t uring_ud_accept = 1ull << 60;
constexpr std::uint64_t uring_ud_wake = (1ull << 60) + 1;
constexpr std::uint64_t uring_ud_ignore = (1ull << 60) + 2;

class uring_conn;

constexpr std::uint64_t uring_accept_retry = std::numeric_limits<std::uint64_t>::max();

struct uring_timer {
  std::int64_t at_ns;
  std::weak_ptr<uring_conn> conn;
  std::uint64_t seq;  // 0: the connection's watchdog; uring_accept_retry; else the sleep it belongs to
  bool operator>(const uring_timer& o) const noexcept { return at_ns > o.at_ns; }
};

// One ring and its thread, and the connections it owns (touched only on that thread).
struct uring_loop {
  io_uring ring{};
  bool ring_ready = false;
  io_uring_buf_ring* bufs = nullptr;  // null: the kernel has no provided-buffer rings
  std::unique_ptr<char[]> buf_memory;
  char discard[4096];                 // lingering-close reads land here (contents never used)
  int listen_fd = -1;
  bool accept_armed = false;
  bool multishot_accept = true;       // cleared when the kernel refuses it (before 5.19)
  bool stopping = false;              // this loop has seen the stop
  std::vector<uring_conn*> conns;     // owned by the loop (self_ set); a connection knows its index
  std::priority_queue<uring_timer, std::vector<uring_timer>, std::greater<>> timers;
  std::uint64_t wake_value = 0;       // the eventfd read's target
  int wake_fd = -1;                   // another thread's post (or the stop) makes this readable
  std::mutex mailbox_mutex;
  std::vector<std::function<void()>> mailbox;  // guarded by mailbox_mutex
  std::atomic<bool> force_exit{false};
  // Asio side: the database pool, /proxy, the waiting room and Redis run their timers and sockets
  // here (their APIs take an io_context). Polled only while aux_users > 0 or a Redis client exists.
  boost::asio::io_context aux{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> aux_guard;
  unsigned aux_users = 0;
  std::unique_ptr<cache::redis_asio> remote;
  std::thread thread;

  io_uring_sqe* sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    if (!s) {  // the submission queue is full: hand it to the kernel now
      io_uring_submit(&ring);
      s = io_uring_get_sqe(&ring);
    }
    return s;
  }
  char* buffer(unsigned bid) noexcept { return buf_memory.get() + std::size_t(bid) * uring_buffer_size; }
  void recycle(unsigned bid) noexcept {
    if (!bufs) return;  // torn down
    io_uring_buf_ring_add(bufs, buffer(bid), uring_buffer_size, static_cast<unsigned short>(bid),
                          io_uring_buf_ring_mask(uring_buffers), 0);
    io_uring_buf_ring_advance(bufs, 1);
  }
  void arm_accept() {
    io_uring_sqe* s = sqe();
    if (multishot_accept) io_uring_prep_multishot_accept(s, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    else io_uring_prep_accept(s, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, uring_ud_accept);
    accept_armed = true;
  }
  void arm_wake() {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, wake_fd, &wake_value, sizeof wake_value, 0);
    io_uring_sqe_set_data64(s, uring_ud_wake);
  }
  // From any thread: f runs on this loop's thread.
  void post(std::function<void()> f) {
    {
      std::lock_guard lock(mailbox_mutex);
      mailbox.push_back(std::move(f));
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }
};

class uring_conn final : public std::enable_shared_from_this<uring_conn>, public cache::remote_waiter {
 public:
  uring_conn(uring_loop& loop, int fd, server_context& ctx) : loop_(loop), ctx_(ctx), fd_(fd), sess_(ctx), link_(ctx.config.link) {
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
  // goes: a connection never ends while one of its own functions still runs below it.
  void start() {
    self_ = shared_from_this();
    run(sess_.process());
    maybe_release();
  }

  // A completion of one of this connection's operations.
  void on_complete(uring_op op, int res, unsigned flags) {
    --ops_;
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
    maybe_release();
  }

  // The watchdog's or a sleep's timer entry came due.
  void on_timer(std::int64_t at_ns, std::uint64_t seq) {
    on_timer_due(at_ns, seq);
    maybe_release();
  }

  // An answer another thread posted (join, handoff) or the Asio side delivered (db, call, remote).
  void on_resume() {
    resume_parked();
    maybe_release();
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
    if (link_.enabled()) {  // a shaped link: only what its current slot allows, else wait for it
      const auto slot = link_.next(out.size(), now_ns());
      if (slot.at_ns > now_ns()) {
        set_write_deadline();
        pacing_ = true;
        return arm_sleep(slot.at_ns);
      }
      out = first_bytes(out, slot.bytes);
    }
    set_write_deadline();
    writing_ = true;
    io_uring_sqe* s = loop_.sqe();
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
    if (link_.enabled()) link_.sent(static_cast<std::size_t>(res), sess_.output_pending());
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
    const auto space = sess_.read_space();
    // Empty only when growing the buffer failed (out of memory): a zero-byte read would complete
    // at once with nothing, and the connection would spin.
    if (space.empty()) return close_now();
    reading_ = true;
    io_uring_sqe* s = loop_.sqe();
    if (loop_.bufs && !no_buffer_) {
      io_uring_prep_recv(s, fd_, nullptr, uring_buffer_size, 0);
      s->flags |= IOSQE_BUFFER_SELECT;
      s->buf_group = uring_buffer_group;
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
    if (held_len_ > 0) return deliver_held();
    sess_.commit(static_cast<std::size_t>(res));
    run(sess_.process());
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
    auto done = [this](std::shared_ptr<void> keep) {
      --loop_.aux_users;
      if (in_aux_start_) return resume_parked();
      on_resume();
      keep.reset();  // the connection may end here, after its work
    };
    if (step_.what == session::next::db) sess_.db_call()->async_run(loop_.aux, shared_from_this(), std::move(done));
    else sess_.deferred_call()->async_run(loop_.aux, shared_from_this(), std::move(done));
    in_aux_start_ = false;
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
    watchdog_at_ = at_ns;
    loop_.timers.push({at_ns, weak_from_this(), 0});
  }

  void cancel(uring_op op) {
    io_uring_sqe* s = loop_.sqe();
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
  encode::link_shaper link_;
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

class uring_server final : public server {
 public:
  uring_server(const server_config& cfg, int fd, std::uint16_t port) : server(cfg, fd, port) {
    // io_uring's accept waits for a connection even on a non-blocking socket only on newer kernels.
    ::fcntl(listen_fd_, F_SETFL, ::fcntl(listen_fd_, F_GETFL) & ~O_NONBLOCK);
    const unsigned n = std::max(1u, effective_threads(ctx_.config));
    for (unsigned i = 0; i < n; ++i) {
      auto l = std::make_unique<uring_loop>();
      l->listen_fd = listen_fd_;
      l->wake_fd = ::eventfd(0, EFD_CLOEXEC);
      if (l->wake_fd < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
      l->aux_guard.emplace(l->aux.get_executor());
      if (ctx_.config.cache_remote) l->remote = std::make_unique<cache::redis_asio>(l->aux, *ctx_.config.cache_remote, ctx_.remote_stats);
      loops_.push_back(std::move(l));
    }
  }

  ~uring_server() override {
    if (!joined_) {
      request_stop();
      join(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    }
    for (auto& l : loops_)
      if (l->wake_fd >= 0) ::close(l->wake_fd);
  }

  // The rings are made on their own threads (a single-issuer ring belongs to the thread that
  // made it); start() returns once every one is up, or throws model_unavailable.
  void start() override {
    running_ = static_cast<unsigned>(loops_.size());
    std::vector<std::future<std::string>> ready;
    for (auto& l : loops_) {
      auto p = std::make_shared<std::promise<std::string>>();
      ready.push_back(p->get_future());
      l->thread = std::thread([this, loop = l.get(), p] { thread_main(*loop, *p); });
    }
    std::string error;
    for (auto& f : ready)
      if (auto e = f.get(); !e.empty() && error.empty()) error = e;
    if (!error.empty()) {
      request_stop();
      join(std::chrono::steady_clock::now() + std::chrono::seconds(1));
      throw model_unavailable(error);
    }
  }

 protected:
  void on_stop() override {
    for (auto& l : loops_) l->post([loop = l.get()] { begin_stop(*loop); });
  }

  bool join(std::chrono::steady_clock::time_point deadline) override {
    if (joined_) return true;
    bool done;
    {
      std::unique_lock lock(mutex_);
      done = all_done_.wait_until(lock, deadline, [this] { return running_ == 0; });
    }
    if (!done)
      for (auto& l : loops_) {  // past the deadline: drop what is left
        l->force_exit.store(true);
        l->post([] {});
      }
    for (auto& l : loops_)
      if (l->thread.joinable()) l->thread.join();
    joined_ = true;
    return done;
  }

 private:
  static void begin_stop(uring_loop& loop) {
    loop.stopping = true;
    if (loop.accept_armed) {
      io_uring_sqe* s = loop.sqe();
      io_uring_prep_cancel64(s, uring_ud_accept, 0);
      io_uring_sqe_set_data64(s, uring_ud_ignore);
    }
    if (loop.remote) loop.remote->stop();  // requests still in flight fall back to the origin
    for (std::size_t i = 0; i < loop.conns.size(); ++i) loop.conns[i]->on_server_stop();
  }

  // Sets up the ring: the fastest flags this kernel takes, then the provided-buffer ring if it has them.
  static std::string setup_ring(uring_loop& loop) {
    io_uring_params params{};
    const unsigned tries[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_COOP_TASKRUN, 0};
    int rc = -EINVAL;
    for (unsigned flags : tries) {
      params = {};
      params.flags = flags;
      rc = io_uring_queue_init_params(uring_entries, &loop.ring, &params);
      if (rc != -EINVAL) break;
    }
    if (rc < 0) return describe_io_uring_failure(-rc, "");
    loop.ring_ready = true;
    loop.buf_memory.reset(new char[std::size_t(uring_buffers) * uring_buffer_size]);
    void* mem = nullptr;
    const std::size_t ring_bytes = uring_buffers * sizeof(io_uring_buf);
    if (::posix_memalign(&mem, 4096, ring_bytes) == 0) {
      auto* br = static_cast<io_uring_buf_ring*>(mem);
      io_uring_buf_ring_init(br);
      io_uring_buf_reg reg{};
      reg.ring_addr = reinterpret_cast<std::uintptr_t>(br);
      reg.ring_entries = uring_buffers;
      reg.bgid = uring_buffer_group;
      if (io_uring_register_buf_ring(&loop.ring, &reg, 0) == 0) {
        loop.bufs = br;
        for (unsigned i = 0; i < uring_buffers; ++i) loop.recycle(i);
      } else {
        std::free(mem);  // before 5.19: every receive reads into its connection's own buffer
      }
    }
    return {};
  }

  void thread_main(uring_loop& loop, std::promise<std::string>& ready) {
    std::string error = setup_ring(loop);
    const bool ok = error.empty();
    ready.set_value(std::move(error));
    if (ok) {
      if (loop.remote) loop.remote->start();  // a non-blocking connect; completes on the Asio side
      loop.arm_wake();
      if (!ctx_.stopping.load()) loop.arm_accept();
      run_loop(loop);
      teardown(loop);
    }
    std::lock_guard lock(mutex_);
    if (--running_ == 0) all_done_.notify_all();
  }

  void run_loop(uring_loop& loop) {
    io_uring_cqe* batch[256];
    while (!loop.force_exit.load(std::memory_order_relaxed)) {
      std::int64_t wait_ns = -1;
      const std::int64_t now = now_ns();
      if (!loop.timers.empty()) wait_ns = std::max<std::int64_t>(0, loop.timers.top().at_ns - now);
      if (loop.aux_users > 0 || loop.remote) wait_ns = wait_ns < 0 ? uring_aux_tick_ns : std::min(wait_ns, uring_aux_tick_ns);
      __kernel_timespec ts{wait_ns / 1'000'000'000, wait_ns % 1'000'000'000};
      io_uring_cqe* first = nullptr;
      const int rc = io_uring_submit_and_wait_timeout(&loop.ring, &first, 1, wait_ns < 0 ? nullptr : &ts, nullptr);
      if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) break;
      for (;;) {
        const unsigned n = io_uring_peek_batch_cqe(&loop.ring, batch, 256);
        if (n == 0) break;
        for (unsigned i = 0; i < n; ++i) dispatch(loop, batch[i]->user_data, batch[i]->res, batch[i]->flags);
        io_uring_cq_advance(&loop.ring, n);
      }
      run_timers(loop);
      if (loop.aux_users > 0 || loop.remote) loop.aux.poll();
      if (loop.stopping && loop.conns.empty() && !loop.accept_armed && loop.aux_users == 0) break;
    }
  }

  void dispatch(uring_loop& loop, std::uint64_t ud, int res, unsigned flags) {
    if (ud == uring_ud_ignore) return;
    if (ud == uring_ud_wake) return on_wake(loop);
    if (ud == uring_ud_accept) return on_accept(loop, res, flags);
    auto* c = reinterpret_cast<uring_conn*>(ud & ~std::uint64_t{7});
    c->on_complete(static_cast<uring_op>(ud & 7), res, flags);
  }

  void on_wake(uring_loop& loop) {
    std::vector<std::function<void()>> work;
    {
      std::lock_guard lock(loop.mailbox_mutex);
      work.swap(loop.mailbox);
    }
    for (auto& f : work) f();
    loop.arm_wake();
  }

  void on_accept(uring_loop& loop, int res, unsigned flags) {
    const bool more = flags & IORING_CQE_F_MORE;
    if (!more) loop.accept_armed = false;
    if (res == -EINVAL && loop.multishot_accept && !more) {  // a kernel before 5.19: one accept at a time
      loop.multishot_accept = false;
      if (!loop.stopping) loop.arm_accept();
      return;
    }
    if (res >= 0) {
      if (loop.stopping || ctx_.stopping.load(std::memory_order_relaxed)) {
        ::close(res);
      } else if (static_cast<std::size_t>(ctx_.stats.open_connections()) >= ctx_.config.max_connections) {
        refuse_connection(res, ctx_);
      } else {
        ctx_.stats.connection_opened();
        std::shared_ptr<uring_conn> conn;
        try {
          conn = std::make_shared<uring_conn>(loop, res, ctx_);
        } catch (const std::bad_alloc&) {
          ::close(res);
          ctx_.stats.allocation_failed();
          ctx_.stats.connection_closed();
        }
        if (conn) conn->start();
      }
    }
    if (!more && !loop.stopping) {
      // Out of descriptors or memory: back off instead of spinning on a ready listener.
      if (res < 0 && res != -ECANCELED) loop.timers.push({now_ns() + 10'000'000, {}, uring_accept_retry});
      else loop.arm_accept();
    }
  }

  void run_timers(uring_loop& loop) {
    const std::int64_t now = now_ns();
    while (!loop.timers.empty() && loop.timers.top().at_ns <= now) {
      uring_timer t = loop.timers.top();
      loop.timers.pop();
      if (t.seq == uring_accept_retry) {
        if (!loop.accept_armed && !loop.stopping) loop.arm_accept();
        continue;
      }
      if (auto c = t.conn.lock()) c->on_timer(t.at_ns, t.seq);
    }
  }

  // The loop has ended (all connections closed, or the join's deadline passed): what is left goes.
  static void teardown(uring_loop& loop) {
    loop.remote.reset();
    io_uring_queue_exit(&loop.ring);  // cancels what is still pending
    loop.ring_ready = false;
    auto left = loop.conns;
    for (auto* c : left) c->abandon();
    loop.aux_guard.reset();
    loop.aux.stop();
    if (loop.bufs) std::free(loop.bufs);
    loop.bufs = nullptr;
  }

  std::vector<std::unique_ptr<uring_loop>> loops_;
  std::mutex mutex_;
  std::condition_variable all_done_;
  unsigned running_ = 0;  // loop threads not yet ended (guarded by mutex_)
  bool joined_ = false;
};

}  // namespace

std::unique_ptr<server> make_io_uring(const server_config& cfg, int listen_fd, std::uint16_t port) {
  if (auto why = io_uring_unavailable_reason()) throw model_unavailable(*why);
  return std::make_unique<uring_server>(cfg, listen_fd, port);
}

}  // namespace perflab::targets::detail

#endif  // PERFLAB_IO_URING
