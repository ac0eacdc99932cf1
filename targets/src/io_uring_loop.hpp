#pragma once
// Internal (io-uring model, built only with liburing): one ring and its thread, shared by the
// server shell (model_io_uring.cpp: rings, accept, the loop, stop) and the connection
// (io_uring_conn.cpp: the session driven by completions).
#include <utility>  // GCC 12: before boost/asio headers

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <vector>

#include <liburing.h>
#include <unistd.h>

#include <perflab/cache/redis_asio.hpp>

#include "models.hpp"

namespace perflab::targets::detail {

inline constexpr std::int64_t uring_aux_tick_ns = 1'000'000;  // how often the Asio side is polled while used
inline constexpr unsigned uring_entries = 1024;
inline constexpr unsigned uring_buffers = 256;        // provided buffers per ring (a power of two)
inline constexpr unsigned uring_buffer_size = 4096;   // bytes each
inline constexpr int uring_buffer_group = 0;

// user_data: a connection's address with the operation in the low bits (connections are aligned
// to at least 8), or one of the loop's own operations.
enum uring_op : std::uint64_t { op_recv = 0, op_send = 1, op_linger = 2, op_cancel = 3 };
inline constexpr std::uint64_t uring_ud_accept = 1ull << 60;
inline constexpr std::uint64_t uring_ud_wake = (1ull << 60) + 1;
inline constexpr std::uint64_t uring_ud_ignore = (1ull << 60) + 2;

class uring_conn;  // io_uring_conn.cpp

// Test hooks, read once from the environment (models.hpp has the io_uring_setup one):
// PERFLAB_TEST_IO_URING_SQE_FAIL=N: every Nth sqe() finds no free entry even after a submit;
// PERFLAB_TEST_IO_URING_BAD_ALLOC=1: a receive that starts "GET /test/bad-alloc " throws
// std::bad_alloc in its completion, as an allocation there would.
unsigned uring_test_sqe_fail_every() noexcept;
bool uring_test_bad_alloc() noexcept;

inline constexpr std::uint64_t uring_accept_retry = std::numeric_limits<std::uint64_t>::max();

struct uring_timer {
  std::int64_t at_ns;
  std::weak_ptr<uring_conn> conn;
  std::uint64_t seq;  // 0: the connection's watchdog; uring_accept_retry; else the sleep it belongs to
  bool operator>(const uring_timer& o) const noexcept { return at_ns > o.at_ns; }
};

// One ring and its thread, and the connections it owns (touched only on that thread).
struct uring_loop {
  io_uring ring{};
  io_uring_buf_ring* bufs = nullptr;  // null: the kernel has no provided-buffer rings
  std::unique_ptr<char[]> buf_memory;
  char discard[4096];                 // lingering-close reads land here (contents never used)
  int listen_fd = -1;
  bool accept_armed = false;
  bool accept_cancelled = false;      // the stop's cancel of the accept is submitted
  bool wake_armed = false;            // the eventfd read is submitted
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
  std::unique_ptr<cache::redis_asio> auth_remote;  // --auth session-redis (auth_gate::make_loop_client)
  std::thread thread;

  // A free submission entry, or null when even a submit leaves none (the kernel refused the
  // queue: -EBUSY with completions overflowing, -EAGAIN, -ENOMEM). Every caller copes with null:
  // a connection closes, the loop retries its own operations on its next pass.
  io_uring_sqe* sqe() {
    if (const unsigned every = uring_test_sqe_fail_every(); every && ++sqe_calls % every == 0) return nullptr;
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    if (!s) {  // the submission queue is full: hand it to the kernel now
      io_uring_submit(&ring);
      s = io_uring_get_sqe(&ring);
    }
    return s;
  }
  std::uint64_t sqe_calls = 0;  // for the test hook
  char* buffer(unsigned bid) noexcept { return buf_memory.get() + std::size_t(bid) * uring_buffer_size; }
  void recycle(unsigned bid) noexcept {
    if (!bufs) return;  // torn down
    io_uring_buf_ring_add(bufs, buffer(bid), uring_buffer_size, static_cast<unsigned short>(bid),
                          io_uring_buf_ring_mask(uring_buffers), 0);
    io_uring_buf_ring_advance(bufs, 1);
  }
  // False: no entry; the accept-retry timer arms it later.
  bool arm_accept() {
    io_uring_sqe* s = sqe();
    if (!s) return false;
    if (multishot_accept) io_uring_prep_multishot_accept(s, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    else io_uring_prep_accept(s, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, uring_ud_accept);
    accept_armed = true;
    return true;
  }
  // When these find no entry, the loop's next pass tries again (run_loop bounds its wait meanwhile).
  void arm_wake() {
    io_uring_sqe* s = sqe();
    if (!s) return;
    io_uring_prep_read(s, wake_fd, &wake_value, sizeof wake_value, 0);
    io_uring_sqe_set_data64(s, uring_ud_wake);
    wake_armed = true;
  }
  void cancel_accept() {
    io_uring_sqe* s = sqe();
    if (!s) return;
    io_uring_prep_cancel64(s, uring_ud_accept, 0);
    io_uring_sqe_set_data64(s, uring_ud_ignore);
    accept_cancelled = true;
  }
  // An operation of the loop's own is still to be (re)submitted.
  bool owes_submission() const noexcept { return !wake_armed || (stopping && accept_armed && !accept_cancelled); }
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

// The connection's side, called by the loop (io_uring_conn.cpp). Each may end the connection.
// A new connection on this loop: created and started (throws std::bad_alloc).
void uring_conn_open(uring_loop& loop, int fd, server_context& ctx);
// A completion whose user_data is a connection's operation.
void uring_conn_complete(std::uint64_t user_data, int res, unsigned flags);
// A timer entry of a connection came due (its watchdog or a sleep).
void uring_conn_timer(const uring_timer& t);
// The server stops: an idle connection waiting in a receive is closed.
void uring_conn_server_stop(uring_conn* c);
// The loop is torn down past the stop's deadline: the loop lets go of the connection.
void uring_conn_abandon(uring_conn* c);

}  // namespace perflab::targets::detail
