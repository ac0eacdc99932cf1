#include "push_wait.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <perflab/core/clock.hpp>

namespace perflab::targets::detail {

namespace asio = boost::asio;

struct push_wait::wake_fd {
  int fd = -1;
  wake_fd() : fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  wake_fd(const wake_fd&) = delete;
  wake_fd& operator=(const wake_fd&) = delete;
  ~wake_fd() {
    if (fd >= 0) ::close(fd);
  }
};

push_wait::~push_wait() = default;

namespace {

// Whether fd has bytes (or its end) to read now, without waiting.
bool readable_now(int fd) noexcept {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && p.revents != 0;
}

}  // namespace

void push_wait::run_blocking() {
  if (watch_fd_ >= 0) return run_blocking_watched();
  const auto left = std::chrono::nanoseconds(std::max<std::int64_t>(0, deadline_ns_ - now_ns()));
  sub_->wait_until(std::chrono::steady_clock::now() + left);
}

// The thread waits in poll() on the socket and an eventfd the publisher's notification writes
// to. Without an eventfd (none left, no memory) it polls the socket in 10 ms slices.
void push_wait::run_blocking_watched() {
  readable_ = false;
  bool parked = false;
  try {
    if (!wake_) {
      auto w = std::make_shared<wake_fd>();
      if (w->fd >= 0) wake_ = std::move(w);
    }
    if (wake_) {
      std::uint64_t stale = 0;  // a notification that lost a race with the socket last time
      while (::read(wake_->fd, &stale, sizeof stale) > 0) {
      }
      parked = sub_->notify_once([w = wake_] {
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(w->fd, &one, sizeof one);
      });
      if (!parked) return;  // something to take now
    }
  } catch (...) {  // std::bad_alloc: the slices below
    parked = false;
  }
  std::int64_t left_ms = (std::max<std::int64_t>(0, deadline_ns_ - now_ns()) + 999'999) / 1'000'000;
  if (!parked) left_ms = std::min<std::int64_t>(left_ms, 10);
  pollfd fds[2] = {{watch_fd_, POLLIN, 0}, {parked ? wake_->fd : -1, POLLIN, 0}};
  int n = 0;
  do n = ::poll(fds, 2, static_cast<int>(std::min<std::int64_t>(left_ms, 60'000)));
  while (n < 0 && errno == EINTR);
  readable_ = n > 0 && fds[0].revents != 0;
  if (parked) sub_->cancel_notify();
}

void push_wait::async_run(asio::io_context& ioc, std::shared_ptr<void> keep, done_fn done) {
  done_ = std::move(done);
  readable_ = false;
  if (watch_fd_ >= 0 && readable_now(watch_fd_)) {
    // The client spoke while the last step ran: read it first. (Checked here because the reactor
    // reports a socket's readiness as an edge: bytes that came before the wait below would not wake it.)
    readable_ = true;
    auto d = std::move(done_);
    return d(std::move(keep));
  }
  if (!timer_) timer_.emplace(ioc);
  // Every completion carries this wait's generation: the losers of the race (a notification posted
  // as the timer fired, the cancelled timer or socket wait) must not end a later wait.
  const std::uint64_t gen = ++gen_;
  std::weak_ptr<void> weak = keep;
  const bool parked = sub_->notify_once([weak, &ioc, this, gen] {
    if (auto k = weak.lock())
      asio::post(ioc, [this, gen, k = std::move(k)]() mutable { on_ready(gen, std::move(k)); });
  });
  if (!parked) {
    ++gen_;
    auto d = std::move(done_);
    return d(std::move(keep));
  }
  if (watch_fd_ >= 0 && !watched_) {
    if (const int copy = ::dup(watch_fd_); copy >= 0) {
      boost::system::error_code ec;
      watched_.emplace(ioc);
      watched_->assign(copy, ec);
      if (ec) {
        ::close(copy);
        watched_.reset();  // no socket watch: the client's frames are read at the next message or ping
      }
    }
  }
  if (watched_) {
    watched_->async_wait(asio::posix::stream_descriptor::wait_read,
                         [this, gen, k = keep](const boost::system::error_code& ec) mutable {
                           if (!ec && gen == gen_) on_readable(std::move(k));
                         });
  }
  timer_->expires_after(std::chrono::nanoseconds(std::max<std::int64_t>(0, deadline_ns_ - now_ns())));
  timer_->async_wait([this, gen, k = std::move(keep)](const boost::system::error_code& ec) mutable {
    if (!ec && gen == gen_) on_timer(std::move(k));
  });
}

void push_wait::on_ready(std::uint64_t gen, std::shared_ptr<void> keep) {
  if (gen != gen_) return;
  finish(std::move(keep));
}

void push_wait::on_timer(std::shared_ptr<void> keep) {
  if (sub_) sub_->cancel_notify();
  finish(std::move(keep));
}

void push_wait::on_readable(std::shared_ptr<void> keep) {
  readable_ = true;
  if (sub_) sub_->cancel_notify();
  finish(std::move(keep));
}

void push_wait::finish(std::shared_ptr<void> keep) {
  ++gen_;
  timer_->cancel();
  if (watched_) {
    boost::system::error_code ignored;
    watched_->cancel(ignored);
  }
  auto d = std::move(done_);
  d(std::move(keep));
}

}  // namespace perflab::targets::detail
