#pragma once
// Internal: a push subscription's wait (session_push.cpp's long polls and SSE streams,
// session_ws.cpp's WebSocket streams), run by the model as a call step: blocking on a thread
// model, on the loop's io_context on an event loop. It ends at the subscription's next message,
// drop or close, at the deadline, or (watch(fd): a WebSocket, whose client also speaks) when the
// connection's socket becomes readable, which readable() then says.
#include <cstdint>
#include <memory>
#include <optional>

#include <utility>  // GCC 12: before any boost/asio header that pulls in awaitable

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <perflab/push/hub.hpp>
#include <perflab/targets/session.hpp>

namespace perflab::targets::detail {

class push_wait final : public deferred {
 public:
  push_wait() = default;
  push_wait(const push_wait&) = delete;
  push_wait& operator=(const push_wait&) = delete;
  ~push_wait() override;

  void arm(std::shared_ptr<push::subscription> sub, std::int64_t deadline_ns) {
    sub_ = std::move(sub);
    deadline_ns_ = deadline_ns;
    readable_ = false;
  }
  // The next waits also end when fd (the connection's socket, not owned) is readable.
  void watch(int fd) noexcept { watch_fd_ = fd; }
  // The last wait ended because the watched socket was readable (bytes, or its end).
  bool readable() const noexcept { return readable_; }
  push::subscription* sub() const noexcept { return sub_.get(); }
  std::shared_ptr<push::subscription> release() noexcept { return std::move(sub_); }

  void run_blocking() override;
  void async_run(boost::asio::io_context& ioc, std::shared_ptr<void> keep, done_fn done) override;

 private:
  struct wake_fd;  // an eventfd the publisher's notification writes to (blocking watch)
  void run_blocking_watched();
  void on_ready(std::uint64_t gen, std::shared_ptr<void> keep);
  void on_timer(std::shared_ptr<void> keep);
  void on_readable(std::shared_ptr<void> keep);
  void finish(std::shared_ptr<void> keep);

  std::shared_ptr<push::subscription> sub_;
  std::int64_t deadline_ns_ = 0;
  std::optional<boost::asio::steady_timer> timer_;
  done_fn done_;
  std::uint64_t gen_ = 0;
  int watch_fd_ = -1;
  bool readable_ = false;
  std::shared_ptr<wake_fd> wake_;
  // A dup of the watched socket on the loop's reactor (its own registration: the model's socket
  // keeps its own, or none on io-uring).
  std::optional<boost::asio::posix::stream_descriptor> watched_;
};

}  // namespace perflab::targets::detail
