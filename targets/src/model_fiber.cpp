// fiber: one stackful fiber per connection (Boost.Context), carried by the event loops of
// async_common (--threads carrier threads, one io_context each). The connection is straight-line
// blocking-style code: read(), write() and sleep() start the loop's asynchronous operation and
// suspend the fiber until its completion handler resumes it; the carrier thread meanwhile runs
// the other fibers. This is the virtual-thread model: what a Java virtual thread does on a
// carrier, without preemption (a CPU-bound handler keeps its carrier until it returns).
// Each stack is an mmap of --fiber-stack bytes with a PROT_NONE guard page below it; an
// overflow faults there, and the SIGSEGV handler below names it before the process dies.
#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include <unistd.h>

#include <perflab/db/call.hpp>

#include "async_common.hpp"
#include "fiber_stack.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace perflab::targets::detail {

namespace {

namespace bctx = boost::context;

// The guard page of the fiber running on this carrier thread (null between fibers), for the
// SIGSEGV handler. Written only by its own thread, read by a signal on that thread.
thread_local const char* fiber_running_guard = nullptr;
std::size_t fiber_page_size = 4096;
struct sigaction fiber_previous_segv {};

// A fault inside the running fiber's guard page is a stack overflow: say so (write(2) only: this
// is a signal handler), then put the previous disposition back and return, so that the faulting
// instruction faults again and the process dies of it (or the sanitizer reports it).
void on_fiber_segv(int, siginfo_t* info, void*) {
  const char* at = static_cast<const char*>(info->si_addr);
  const char* guard = fiber_running_guard;
  if (guard && at >= guard && at < guard + fiber_page_size) {
    static constexpr char msg[] =
        "lab-target: fiber stack overflow: a connection's fiber ran into the guard page below its stack "
        "(raise --fiber-stack)\n";
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  }
  ::sigaction(SIGSEGV, &fiber_previous_segv, nullptr);
}

// The handler runs on an alternate stack: the fiber's own is what just ran out. One per carrier
// thread, set up by its first fiber, unless the thread already has one (ASan gives every thread
// its own, and unmaps whatever stack is installed when the thread ends).
struct fiber_signal_stack {
  fiber_signal_stack() {
    stack_t ss{};
    if (::sigaltstack(nullptr, &ss) == 0 && !(ss.ss_flags & SS_DISABLE) && ss.ss_size >= 16 * 1024) return;
    ss = {};
    ss.ss_size = 64 * 1024;
    ss.ss_sp = mem = std::malloc(ss.ss_size);
    if (mem) ::sigaltstack(&ss, nullptr);
  }
  ~fiber_signal_stack() {
    if (!mem) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    ::sigaltstack(&off, nullptr);
    std::free(mem);
  }
  void* mem = nullptr;
};

// Once per process: a second fiber server must not save this handler as the "previous" one, or a
// guard-page fault would reinstall it and fault again forever instead of ending the process.
void install_fiber_segv_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    fiber_page_size = fiber_page_bytes();
    struct sigaction sa {};
    sa.sa_sigaction = on_fiber_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, &fiber_previous_segv);
  });
}

// A fiber's stack (fiber_stack.hpp): `bytes` rounded up to pages with one PROT_NONE guard page
// below it (the stack grows down), from the carrier's pool of ended fibers' stacks when it has
// one. Boost's protected_fixedsize_stack ignores a failed mprotect, which happens at
// vm.max_map_count (the guard splits the mapping); here that stack is refused (bad_alloc: the
// connection ends, counted) rather than run without its guard. Records where the stack lies, for
// the SIGSEGV handler and the sanitizers' stack switches.
inline constexpr std::size_t fiber_pool_per_carrier = 64;
fiber_stack_pool& carrier_stack_pool() {
  thread_local fiber_stack_pool pool(fiber_pool_per_carrier);
  return pool;
}

struct guarded_stack {
  std::size_t bytes;
  bctx::stack_context* where;
  bctx::stack_context allocate() {
    const fiber_stack_memory m = carrier_stack_pool().take(bytes);
    where->size = m.total;
    where->sp = m.top();
    return *where;
  }
  // On the thread that ran the fiber's end (its carrier), or the one that destroyed it.
  void deallocate(bctx::stack_context& sc) noexcept {
    carrier_stack_pool().give_back({static_cast<char*>(sc.sp) - sc.size, sc.size});
  }
};

// --test-fiber-overflow's GET /test/overflow: 1 KiB frames until twice the stack is used, far
// past the guard page unless it stops the first one that reaches it.
[[gnu::noinline]] std::size_t fiber_probe_recurse(std::size_t depth) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  frame[sizeof frame - 1] = frame[0];
  if (depth == 0) return 0;
  return fiber_probe_recurse(depth - 1) + static_cast<std::size_t>(frame[sizeof frame - 1]);
}

// The sanitizers keep per-stack state (ASan: the stack's bounds and fake frames; TSan: a shadow
// call stack and the happens-before clock of each fiber), so every switch between a carrier and a
// fiber is announced to them (Debian's Boost.Context is not built to do it):
// - ASan: __sanitizer_start_switch_fiber just before a switch, __sanitizer_finish_switch_fiber
//   on the other stack just after it; a fiber's last switch passes no save slot, which frees its
//   fake frames.
// - TSan: __tsan_switch_to_fiber before the switch. The Boost calls between that and the actual
//   jump (fiber::resume, the constructor's first jump into fiber_entry) push their frames on the
//   shadow stack of the side being switched to, and the other side pops the same calls' frames
//   when its own resume returns, so the counts match only while both sides switch through the
//   same calls. Hence: the carrier switches to the fiber before constructing it (fiber_entry's
//   frame lands on the fiber's shadow stack, where it belongs); a fiber that ends does not switch
//   back itself (its last frames return on its own shadow stack) and the carrier switches back
//   once resume() returns it ended. A suspended fiber destroyed with its connection is unwound
//   by Boost (forced_unwind through the fiber's frames) between the same two announcements.
//   A mismatch is a few frames per connection and TSan does not check it: before these rules
//   the carrier's shadow stack ran below its start within a few connections (a TSan SEGV in its
//   stack depot at the next intercepted call).
class fiber_conn final : public async_conn {
 public:
  using async_conn::async_conn;

  ~fiber_conn() override {
    if (fiber_) {  // suspended with nothing left to resume it: unwind its stack (Boost throws in it)
      switch_in();
      { bctx::fiber unwound = std::move(fiber_); }
      switched_back(true);
    }
#if defined(__SANITIZE_THREAD__)
    if (tsan_fiber_) __tsan_destroy_fiber(tsan_fiber_);
#endif
  }

  void start() override {
    thread_local fiber_signal_stack alt_stack;
#if defined(__SANITIZE_THREAD__)
    tsan_fiber_ = __tsan_create_fiber(0);
    void* const carrier = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
    try {
      fiber_ = bctx::fiber(std::allocator_arg, guarded_stack{ctx_.config.fiber_stack, &stack_},
                           [this](bctx::fiber&& from) {
                             carrier_ = std::move(from);
                             entered();
                             body();
                             leaving(true);
                             return std::move(carrier_);
                           });
    } catch (...) {  // no stack (bad_alloc)
#if defined(__SANITIZE_THREAD__)
      __tsan_switch_to_fiber(carrier, 0);
#endif
      throw;
    }
#if defined(__SANITIZE_THREAD__)
    __tsan_switch_to_fiber(carrier, 0);
#endif
    resume();
  }

 private:
  // On the carrier: runs the fiber until it suspends or ends.
  void resume() {
    switch_in();
    fiber_ = std::move(fiber_).resume();
    switched_back(!fiber_);
  }

  // The carrier's halves of a switch into the fiber (resume, or the unwind of a destroyed one).
  void switch_in() noexcept {
    fiber_running_guard = static_cast<const char*>(stack_.sp) - stack_.size;
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_start_switch_fiber(&carrier_fake_, fiber_running_guard + fiber_page_size,
                                   stack_.size - fiber_page_size);
#endif
#if defined(__SANITIZE_THREAD__)
    carrier_tsan_ = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
  }
  void switched_back([[maybe_unused]] bool fiber_ended) noexcept {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(carrier_fake_, nullptr, nullptr);
#endif
#if defined(__SANITIZE_THREAD__)
    if (fiber_ended) __tsan_switch_to_fiber(carrier_tsan_, 0);
#endif
    fiber_running_guard = nullptr;
  }

  // In the fiber: back to the carrier until a completion handler resumes it. A destroyed
  // connection's fiber is instead unwound from here: its last switch frees its fake frames.
  void suspend() {
    leaving(false);
    try {
      carrier_ = std::move(carrier_).resume();
    } catch (...) {  // Boost's forced_unwind, rethrown as it requires
      entered();
#if defined(__SANITIZE_ADDRESS__)
      __sanitizer_start_switch_fiber(nullptr, carrier_bottom_, carrier_size_);
#endif
      throw;
    }
    entered();
  }

  // The fiber's halves of a switch.
  void entered() noexcept {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(fiber_fake_, &carrier_bottom_, &carrier_size_);
#endif
  }
  void leaving([[maybe_unused]] bool for_good) noexcept {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_start_switch_fiber(for_good ? nullptr : &fiber_fake_, carrier_bottom_, carrier_size_);
#endif
#if defined(__SANITIZE_THREAD__)
    if (!for_good) __tsan_switch_to_fiber(carrier_tsan_, 0);
#endif
  }

  // Starts an asynchronous operation with a handler that resumes this fiber, and suspends until
  // it runs. Asio never runs a handler inside the call that starts its operation, so the resume
  // always comes from the carrier's loop. The handler holds the connection: a suspended fiber
  // lives exactly as long as something will resume it.
  template <class Start>
  std::size_t await(Start&& start_op, boost::system::error_code& ec) {
    std::size_t n = 0;
    start_op([self = std::static_pointer_cast<fiber_conn>(shared_from_this()), &ec, &n](
                 const boost::system::error_code& e, auto... bytes) {
      ec = e;
      ((n = bytes), ...);
      self->resume();
    });
    suspend();
    return n;
  }

  // The blocking-style calls the connection is written with.
  std::size_t read_some(std::span<char> into, boost::system::error_code& ec) {
    return await([&](auto h) { sock_.async_read_some(asio::buffer(into.data(), into.size()), std::move(h)); }, ec);
  }
  std::size_t write_some(boost::system::error_code& ec) {
    return await([&](auto h) {
      with_output_buffers(output_to_write(), [&](const auto& buffers) { sock_.async_write_some(buffers, std::move(h)); });
    }, ec);
  }
  // Parks on sleep_timer() until it expires or is cancelled (the end of a parked call cancels it).
  void sleep(boost::system::error_code& ec) {
    await([&](auto h) { sleep_timer().async_wait(std::move(h)); }, ec);
  }

  void body() {
    try {
      if (!run()) return;
    } catch (const std::bad_alloc&) {  // an Asio operation could not allocate: this connection ends
      ctx_.stats.allocation_failed();
    }
    close_now();
  }

  // Waits for a call the session parked the request on (database, /proxy, waiting room): its end,
  // maybe before async_run returns, cancels the park. False: the connection closed meanwhile.
  bool run_parked_call(auto* call) {
    set_no_deadline();
    db_done_ = false;
    sleep_timer().expires_at(asio::steady_timer::time_point::max());
    call->async_run(loop_.ioc, shared_from_this(), [this](std::shared_ptr<void>) {
      db_done_ = true;
      sleep_timer().cancel();
    });
    boost::system::error_code ec;
    if (!db_done_) sleep(ec);
    return !closed_ && db_done_;
  }

  // Writes the output: at once while the socket takes it, else suspended until it has room.
  bool write_output() {
    boost::system::error_code ec;
    while (sess_.output_pending()) {
      const auto w = write_now();
      if (w == write_result::done) return true;
      if (w == write_result::failed) return false;
      if (w == write_result::paced) {  // a shaped link's next slot is not open yet
        arm_pace_timer();
        sleep(ec);
        if (ec || closed_) return false;
        continue;
      }
      set_write_deadline();  // progress, not the whole response, is what is timed
      writing_ = true;
      const std::size_t n = write_some(ec);
      writing_ = false;
      if (ec) return false;
      wrote(n);
    }
    return true;
  }

  // The connection, start to end. True: close it now (not after a lingering close or a reset).
  bool run() {
    boost::system::error_code ec;
    for (;;) {
      const auto st = sess_.process();
      if (!write_output()) return true;
      switch (st.what) {
        case session::next::close: linger_then_close(); return false;
        case session::next::reset: reset_now(); return false;
        case session::next::more: continue;
        case session::next::wait:  // /sleep: this fiber parks, the carrier serves the others
          set_no_deadline();
          sleep_timer().expires_after(st.wait);
          sleep(ec);
          if (ec) return true;
          sess_.finish_wait();
          continue;
        case session::next::db:
          if (!run_parked_call(sess_.db_call())) return true;
          sess_.finish_wait();
          continue;
        case session::next::call:
          if (!run_parked_call(sess_.deferred_call())) return true;
          sess_.finish_wait();
          continue;
        case session::next::join:  // another request's origin call for the same key
          if (park_for_flight()) {
            sleep(ec);
            if (closed_ || !flight_done_) return true;  // the park ends by a cancel either way
          }
          sess_.finish_wait();
          continue;
        case session::next::handoff:  // a buy the single-writer stock's owner answers
          if (park_for_handoff()) {
            sleep(ec);
            if (closed_ || !handoff_done_) return true;
          }
          sess_.finish_wait();
          continue;
        case session::next::remote:  // a command on this loop's Redis client
          if (park_for_remote()) {
            sleep(ec);
            if (closed_ || !remote_done_) return true;
          }
          sess_.finish_wait();
          continue;
        case session::next::read: break;
      }
      if (ctx_.stopping.load(std::memory_order_relaxed) && sess_.idle()) return true;
      set_read_deadline();
      reading_ = true;
      timed_out_ = false;
      std::size_t n = 0;
      bool read = false;
      if (wait_before_read()) {  // idle: wait for the next request holding no buffer
        await([&](auto h) { sock_.async_wait(tcp::socket::wait_read, std::move(h)); }, ec);
        if (!ec) n = read_ready(ec);
        read = ec != asio::error::would_block && ec != asio::error::try_again;
        if (!read) ec.clear();
      }
      if (!read) {
        const auto space = sess_.read_space();
        if (space.empty()) return true;  // out of memory growing the buffer; a zero-byte read would spin
        n = read_some(space, ec);
      }
      reading_ = false;
      if (ec) {
        // Timed out with a partial request: the next process() writes 408 and closes.
        if (timed_out_ && sess_.on_timeout()) continue;
        return true;  // idle timeout, stop, EOF, error
      }
      // read_space() starts at the bytes just read (not committed yet).
      if (ctx_.config.fiber_overflow_probe && std::string_view(sess_.read_space().data(), n).starts_with("GET /test/overflow "))
        fiber_probe_recurse(2 * stack_.size / 1024);
      sess_.commit(n);
    }
  }

  bctx::fiber fiber_;    // carrier side: the suspended fiber (empty once it has ended)
  bctx::fiber carrier_;  // fiber side: the suspended carrier to return to
  bctx::stack_context stack_{};
#if defined(__SANITIZE_ADDRESS__)
  void* carrier_fake_ = nullptr;
  void* fiber_fake_ = nullptr;
  const void* carrier_bottom_ = nullptr;
  std::size_t carrier_size_ = 0;
#endif
#if defined(__SANITIZE_THREAD__)
  void* tsan_fiber_ = nullptr;
  void* carrier_tsan_ = nullptr;
#endif
};

}  // namespace

std::unique_ptr<server> make_fiber(const server_config& cfg, int listen_fd, std::uint16_t port) {
  install_fiber_segv_handler();
  return std::make_unique<async_server>(cfg, listen_fd, port,
                                        [](event_loop& loop, tcp::socket sock, server_context& ctx) {
                                          return std::make_shared<fiber_conn>(loop, std::move(sock), ctx);
                                        });
}

}  // namespace perflab::targets::detail
