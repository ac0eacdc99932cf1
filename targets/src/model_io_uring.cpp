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

#include "io_uring_loop.hpp"

#include <perflab/targets/buffer_pool.hpp>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <future>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

namespace perflab::targets::detail {

bool io_uring_built() noexcept { return true; }

namespace {

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
      if (ctx_.auth) l->auth_remote = ctx_.auth->make_loop_client(l->aux);
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
    if (loop.accept_armed) loop.cancel_accept();
    if (loop.remote) loop.remote->stop();  // requests still in flight fall back to the origin
    if (loop.auth_remote) loop.auth_remote->stop();  // session lookups in flight answer 503
    for (std::size_t i = 0; i < loop.conns.size(); ++i) uring_conn_server_stop(loop.conns[i]);
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
    // Before the server says it listens: a command sent while the connect is under way waits for
    // it, one sent before start() would fail.
    if (ok && loop.remote) loop.remote->start();  // a non-blocking connect; completes on the Asio side
    if (ok && loop.auth_remote) loop.auth_remote->start();
    ready.set_value(std::move(error));
    if (ok) {
      loop.arm_wake();
      if (!ctx_.stopping.load() && !loop.arm_accept()) loop.timers.push({now_ns(), {}, uring_accept_retry});
      run_loop(loop);
      teardown(loop);
    }
    std::lock_guard lock(mutex_);
    if (--running_ == 0) all_done_.notify_all();
  }

  // Timers run between two submits (see run_timers): half the buffers the pool keeps free.
  static constexpr std::size_t uring_timer_round = buffer_pool::max_free / 2;

  void run_loop(uring_loop& loop) {
    while (!loop.force_exit.load(std::memory_order_relaxed)) {
      if (!loop.wake_armed) loop.arm_wake();
      if (loop.stopping && loop.accept_armed && !loop.accept_cancelled) loop.cancel_accept();
      std::int64_t wait_ns = -1;
      const std::int64_t now = now_ns();
      if (!loop.timers.empty()) wait_ns = std::max<std::int64_t>(0, loop.timers.top().at_ns - now);
      if (loop.aux_users > 0 || loop.remote || loop.auth_remote || loop.owes_submission())
        wait_ns = wait_ns < 0 ? uring_aux_tick_ns : std::min(wait_ns, uring_aux_tick_ns);
      __kernel_timespec ts{wait_ns / 1'000'000'000, wait_ns % 1'000'000'000};
      io_uring_cqe* first = nullptr;
      const int rc = io_uring_submit_and_wait_timeout(&loop.ring, &first, 1, wait_ns < 0 ? nullptr : &ts, nullptr);
      if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) break;
      reap(loop);
      contained([&] { run_timers(loop); });
      if (loop.aux_users > 0 || loop.remote || loop.auth_remote) contained([&] { loop.aux.poll(); });
      if (loop.stopping && loop.conns.empty() && !loop.accept_armed && loop.aux_users == 0) break;
    }
  }

  // A connection's entry points end only that connection on std::bad_alloc (io_uring_conn.cpp);
  // what still escapes (the loop's own bookkeeping, an Asio handler) is counted here and the loop
  // goes on: the other connections keep their ring, and a completion is never dispatched twice.
  // (A timer or an Asio handler after the one that threw runs on the next pass.)
  template <class F>
  void contained(F&& f) {
    try {
      f();
    } catch (const std::bad_alloc&) {
      ctx_.stats.allocation_failed();
    }
  }

  // Every completion ready now, dispatched.
  void reap(uring_loop& loop) {
    io_uring_cqe* batch[256];
    for (;;) {
      const unsigned n = io_uring_peek_batch_cqe(&loop.ring, batch, 256);
      if (n == 0) break;
      for (unsigned i = 0; i < n; ++i) contained([&] { dispatch(loop, batch[i]->user_data, batch[i]->res, batch[i]->flags); });
      io_uring_cq_advance(&loop.ring, n);
    }
  }

  void dispatch(uring_loop& loop, std::uint64_t ud, int res, unsigned flags) {
    if (ud == uring_ud_ignore) return;
    if (ud == uring_ud_wake) return on_wake(loop);
    if (ud == uring_ud_accept) return on_accept(loop, res, flags);
    uring_conn_complete(ud, res, flags);
  }

  void on_wake(uring_loop& loop) {
    std::vector<std::function<void()>> work;
    {
      std::lock_guard lock(loop.mailbox_mutex);
      work.swap(loop.mailbox);
    }
    loop.wake_armed = false;
    for (auto& f : work) contained(f);
    loop.arm_wake();
  }

  void on_accept(uring_loop& loop, int res, unsigned flags) {
    const bool more = flags & IORING_CQE_F_MORE;
    if (!more) loop.accept_armed = false;
    if (res == -EINVAL && loop.multishot_accept && !more) {  // a kernel before 5.19: one accept at a time
      loop.multishot_accept = false;
      if (!loop.stopping) rearm_accept(loop, 0);
      return;
    }
    if (res >= 0) {
      if (loop.stopping || ctx_.stopping.load(std::memory_order_relaxed)) {
        ::close(res);
      } else if (!ctx_.stats.connection_opened_below(ctx_.config.max_connections)) {
        // Every ring accepts: the place is taken atomically, so two rings never share the last one.
        refuse_connection(res, ctx_);
      } else {
        try {
          uring_conn_open(loop, res, ctx_);
        } catch (const std::bad_alloc&) {
          ::close(res);
          ctx_.stats.allocation_failed();
          ctx_.stats.connection_closed();
        }
      }
    }
    if (!more && !loop.stopping) {
      // Out of descriptors or memory: back off instead of spinning on a ready listener.
      if (res < 0 && res != -ECANCELED) rearm_accept(loop, 10'000'000);
      else rearm_accept(loop, 0);
    }
  }

  // Arms the accept at once (after_ns 0) or after a back-off; no submission entry free: 1 ms later.
  static void rearm_accept(uring_loop& loop, std::int64_t after_ns) {
    if (after_ns == 0 && loop.arm_accept()) return;
    loop.timers.push({now_ns() + std::max<std::int64_t>(after_ns, 1'000'000), {}, uring_accept_retry});
  }

  // The due timers, in rounds of at most uring_timer_round. A /sleep that ends writes its
  // response into a pooled buffer, which stays lent until its send completes, and the send goes
  // to the kernel only at the next submit: hundreds of sleeps due in one pass (1000 connections
  // on /sleep) held hundreds of buffers at once, more than the pool keeps free, so each pass
  // went through malloc, whose arena then grew, trimmed and faulted its pages in again (about
  // 20 µs of CPU per request more than the reactor, which writes before it takes the next
  // timer). Between rounds the sends are submitted and their completions (inline sends
  // complete during the submit) reaped, so their buffers are back before the next round.
  void run_timers(uring_loop& loop) {
    const std::int64_t now = now_ns();
    std::size_t round = 0;
    while (!loop.timers.empty() && loop.timers.top().at_ns <= now) {
      if (round == uring_timer_round) {
        io_uring_submit(&loop.ring);
        reap(loop);
        round = 0;
        continue;  // the reaped completions may have changed the heap
      }
      ++round;
      uring_timer t = loop.timers.top();
      loop.timers.pop();
      if (t.seq == uring_accept_retry) {
        if (!loop.accept_armed && !loop.stopping) rearm_accept(loop, 0);
        continue;
      }
      uring_conn_timer(t);
    }
  }

  // The loop has ended (all connections closed, or the join's deadline passed): what is left goes.
  static void teardown(uring_loop& loop) {
    loop.remote.reset();
    loop.auth_remote.reset();
    io_uring_queue_exit(&loop.ring);  // cancels what is still pending
    auto left = loop.conns;
    for (auto* c : left) uring_conn_abandon(c);
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
