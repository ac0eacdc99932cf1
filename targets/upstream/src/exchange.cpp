#include <perflab/upstream/exchange.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <perflab/core/clock.hpp>
#include <perflab/core/text.hpp>

namespace perflab::upstream {

namespace asio = boost::asio;

namespace {

// Waits for fd to be ready for ev until deadline_ns: 1 ready, 0 timed out, -1 error.
int wait_fd(int fd, short ev, std::int64_t deadline_ns) noexcept {
  for (;;) {
    const std::int64_t left = deadline_ns - now_ns();
    if (left <= 0) return 0;
    pollfd p{fd, ev, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>((left + 999'999) / 1'000'000, 1 << 30)));
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return -1;
  }
}

int new_socket() noexcept {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

int socket_error(int fd) noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Decodes a chunked body the parser has already validated.
void dechunk(std::string_view in, std::string& out) {
  while (!in.empty()) {
    std::size_t size = 0, i = 0;
    for (; i < in.size(); ++i) {
      const char c = in[i];
      int v;
      if (c >= '0' && c <= '9') v = c - '0';
      else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
      else break;
      size = size * 16 + static_cast<std::size_t>(v);
    }
    const auto eol = in.find('\n', i);
    if (eol == std::string_view::npos || size == 0) return;
    in.remove_prefix(eol + 1);
    out.append(in.substr(0, size));
    in.remove_prefix(std::min(in.size(), size));
    const auto next = in.find('\n');
    if (next == std::string_view::npos) return;
    in.remove_prefix(next + 1);
  }
}

}  // namespace

std::string_view to_string(failure f) noexcept {
  switch (f) {
    case failure::none: return "none";
    case failure::pool_timeout: return "pool_timeout";
    case failure::connect: return "connect";
    case failure::connect_timeout: return "connect_timeout";
    case failure::timeout: return "timeout";
    case failure::closed: return "closed";
    case failure::bad_response: return "bad_response";
  }
  return "none";
}

exchange::exchange(connection_pool& pool, nanos connect_timeout, const sockaddr_in& address)
    : pool_(pool), connect_timeout_(connect_timeout), address_(address) {}

exchange::~exchange() {
  if (phase_ == phase::acquiring && !slot_) {
    if (!pool_.cancel(waiter_) && waiter_.granted) pool_.release(waiter_.fd, true, now_ns());
  }
  if (sd_) sd_->release();  // the pool closes it below
  if (slot_) {
    fail_ = failure::closed;
    give_back();
  }
}

void exchange::begin() noexcept {
  parser_.reset(head_);
  if (raw_.capacity() > (1u << 20)) std::string().swap(raw_);
  raw_.clear();
  body_.clear();
  content_type_ = {};
  status_at_ = 0;
  completed_ = extra_bytes_ = reused_ = timed_out_ = false;
  fail_ = failure::none;
  written_ = 0;
}

bool exchange::on_bytes(std::size_t n) noexcept {
  const auto p = parser_.feed({buf_.data(), n});
  if (p.status_line) status_at_ = raw_.size() + p.status_line_at;
  if (raw_.size() + p.consumed > max_response_bytes) {
    fail_ = failure::bad_response;
    return true;
  }
  try {
    raw_.append(buf_.data(), p.consumed);
  } catch (...) {
    fail_ = failure::bad_response;
    return true;
  }
  if (p.error != http::errc::ok) {
    fail_ = failure::bad_response;
    return true;
  }
  if (p.complete) {
    completed_ = true;
    extra_bytes_ = p.consumed < n;  // the upstream sent more than one response: do not reuse
    finish_response();
    return true;
  }
  return false;
}

bool exchange::on_eof() noexcept {
  if (parser_.in_progress() && parser_.finish_eof() && parser_.complete()) {
    completed_ = true;
    extra_bytes_ = true;  // closed: not reusable
    finish_response();
  } else {
    fail_ = failure::closed;
  }
  return true;
}

void exchange::finish_response() noexcept {
  std::string_view all(raw_);
  std::string_view rest = all.substr(status_at_);
  std::size_t head_len = rest.find("\r\n\r\n");
  std::size_t sep = 4;
  if (head_len == std::string_view::npos) {
    head_len = rest.find("\n\n");
    sep = 2;
  }
  if (head_len == std::string_view::npos) {
    fail_ = failure::bad_response;
    return;
  }
  const std::string_view head = rest.substr(0, head_len);
  const std::string_view wire_body = rest.substr(head_len + sep);
  for (std::size_t at = head.find('\n'); at != std::string_view::npos;) {
    const auto next = head.find('\n', at + 1);
    const auto line = head.substr(at + 1, next == std::string_view::npos ? std::string_view::npos : next - at - 1);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), "content-type"))
      content_type_ = trim(line.substr(colon + 1));
    at = next;
  }
  try {
    if (head_) return;
    if (parser_.chunked()) dechunk(wire_body, body_);
    else body_.assign(wire_body.substr(0, parser_.body_bytes()));
  } catch (...) {
    fail_ = failure::bad_response;
  }
}

void exchange::give_back() noexcept {
  // Unused (granted after its deadline), or a clean response on a connection kept alive.
  const bool clean = completed_ && fail_ == failure::none && parser_.keep_alive() && !extra_bytes_;
  const bool unused = phase_ == phase::acquiring;
  pool_.release(fd_, fd_ >= 0 && (clean || unused), now_ns());
  fd_ = -1;
  slot_ = false;
}

failure exchange::run_blocking(std::int64_t deadline_ns) {
  begin();
  waiter_.notify = nullptr;
  phase_ = phase::acquiring;
  if (!pool_.acquire_blocking(waiter_, deadline_ns)) {
    phase_ = phase::idle;
    return fail_ = failure::pool_timeout;
  }
  slot_ = true;
  fd_ = waiter_.fd;
  reused_ = fd_ >= 0;
  phase_ = phase::connecting;
  auto fail = [&](failure f) {
    fail_ = f;
    give_back();
    phase_ = phase::idle;
    return f;
  };
  if (fd_ < 0) {
    fd_ = new_socket();
    if (fd_ < 0) return fail(failure::connect);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) != 0) {
      if (errno != EINPROGRESS) return fail(failure::connect);
      const int r = wait_fd(fd_, POLLOUT, std::min(deadline_ns, now_ns() + connect_timeout_.count()));
      if (r == 0) return fail(failure::connect_timeout);
      if (r < 0 || socket_error(fd_) != 0) return fail(failure::connect);
    }
    pool_.opened();
  }
  phase_ = phase::writing;
  while (written_ < request_.size()) {
    const auto n = ::send(fd_, request_.data() + written_, request_.size() - written_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      written_ += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(failure::closed);
    const int r = wait_fd(fd_, POLLOUT, deadline_ns);
    if (r == 0) return fail(failure::timeout);
    if (r < 0) return fail(failure::closed);
  }
  phase_ = phase::reading;
  for (;;) {
    const auto n = ::recv(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT);
    if (n > 0) {
      if (on_bytes(static_cast<std::size_t>(n))) break;
      continue;
    }
    if (n == 0) {
      on_eof();
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(failure::closed);
    const int r = wait_fd(fd_, POLLIN, deadline_ns);
    if (r == 0) return fail(failure::timeout);
    if (r < 0) return fail(failure::closed);
  }
  return fail(fail_);
}

void exchange::async_run(asio::io_context& ioc, std::int64_t deadline_ns, keep_t keep, done_fn done) {
  ioc_ = &ioc;
  if (!timer_) timer_.emplace(ioc);
  done_ = std::move(done);
  deadline_ns_ = deadline_ns;
  begin();
  granted_ = false;
  // The grant comes on whichever thread releases a connection: it only posts here, and only while
  // the owner lives (then so do this exchange and its loop).
  std::weak_ptr<void> weak = keep;
  waiter_.notify = [weak, this] {
    if (auto k = weak.lock()) asio::post(*ioc_, [this, k = std::move(k)]() mutable { on_granted(std::move(k)); });
  };
  phase_ = phase::acquiring;
  if (pool_.try_acquire(waiter_, now_ns())) return on_slot(std::move(keep));
  arm(deadline_ns_, std::move(keep));
}

void exchange::arm(std::int64_t at_ns, keep_t keep) {
  const auto gen = ++timer_gen_;
  timer_->expires_at(asio::steady_timer::time_point(std::chrono::nanoseconds(at_ns)));
  timer_->async_wait([this, gen, k = std::move(keep)](const boost::system::error_code& ec) mutable {
    if (ec || gen != timer_gen_) return;  // re-armed or cancelled
    on_timer(std::move(k));
  });
}

void exchange::on_timer(keep_t keep) {
  timed_out_ = true;
  if (phase_ == phase::acquiring) {
    // Withdrawn: timed out. Else the grant's post is on its way; on_granted ends the attempt.
    if (pool_.cancel(waiter_)) return finish(std::move(keep), failure::pool_timeout);
    // The grant's notify posts only while the owner lives, and this handler's keep may be its
    // last reference: held until on_granted.
    held_ = std::move(keep);
    return;
  }
  boost::system::error_code ignored;
  if (sd_) sd_->cancel(ignored);  // the pending operation's handler ends the attempt
}

void exchange::on_granted(keep_t keep) {
  held_.reset();  // keep is the same owner
  granted_ = true;
  if (phase_ != phase::acquiring) return;
  if (timed_out_ || now_ns() >= deadline_ns_) {  // granted too late to be of use: given back unused
    slot_ = true;
    fd_ = waiter_.fd;
    return finish(std::move(keep), failure::pool_timeout);
  }
  ++timer_gen_;
  on_slot(std::move(keep));
}

void exchange::on_slot(keep_t keep) {
  slot_ = true;
  fd_ = waiter_.fd;
  reused_ = fd_ >= 0;
  if (fd_ < 0) return start_connect(std::move(keep));
  phase_ = phase::writing;
  sd_.emplace(*ioc_, fd_);
  arm(deadline_ns_, keep);
  do_write(std::move(keep));
}

void exchange::start_connect(keep_t keep) {
  phase_ = phase::connecting;
  fd_ = new_socket();
  if (fd_ < 0) return finish(std::move(keep), failure::connect);
  sd_.emplace(*ioc_, fd_);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) == 0)
    return on_connected(std::move(keep), {});
  if (errno != EINPROGRESS) return finish(std::move(keep), failure::connect);
  arm(std::min(deadline_ns_, now_ns() + connect_timeout_.count()), keep);
  sd_->async_wait(asio::posix::stream_descriptor::wait_write,
                  [this, k = std::move(keep)](const boost::system::error_code& ec) mutable { on_connected(std::move(k), ec); });
}

void exchange::on_connected(keep_t keep, const boost::system::error_code& ec) {
  if (timed_out_) return finish(std::move(keep), failure::connect_timeout);
  if (ec || socket_error(fd_) != 0) return finish(std::move(keep), failure::connect);
  pool_.opened();
  phase_ = phase::writing;
  arm(deadline_ns_, keep);
  do_write(std::move(keep));
}

void exchange::do_write(keep_t keep) {
  asio::async_write(*sd_, asio::buffer(request_.data(), request_.size()),
                    [this, k = std::move(keep)](const boost::system::error_code& ec, std::size_t) mutable {
                      if (timed_out_) return finish(std::move(k), failure::timeout);
                      if (ec) return finish(std::move(k), failure::closed);
                      phase_ = phase::reading;
                      do_read(std::move(k));
                    });
}

void exchange::do_read(keep_t keep) {
  sd_->async_read_some(asio::buffer(buf_), [this, k = std::move(keep)](const boost::system::error_code& ec, std::size_t n) mutable {
    if (timed_out_) return finish(std::move(k), failure::timeout);
    if (ec == asio::error::eof) {
      on_eof();
      return finish(std::move(k), fail_);
    }
    if (ec) return finish(std::move(k), failure::closed);
    if (on_bytes(n)) return finish(std::move(k), fail_);
    do_read(std::move(k));
  });
}

void exchange::finish(keep_t keep, failure f) {
  fail_ = f;
  ++timer_gen_;
  timer_->cancel();
  if (sd_) {
    sd_->release();  // the fd is the pool's: closed or kept there
    sd_.reset();
  }
  if (slot_) give_back();
  phase_ = phase::idle;
  auto done = std::move(done_);  // done may start the next attempt, which sets done_ again
  done(std::move(keep), f);
}

}  // namespace perflab::upstream
