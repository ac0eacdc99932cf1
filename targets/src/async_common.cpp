#include "async_common.hpp"

#include <limits>
#include <new>

#include <boost/asio/post.hpp>

#include <sys/socket.h>

namespace perflab::targets::detail {

namespace {
constexpr std::int64_t linger_ns = 2'000'000'000;
constexpr std::int64_t timeout_grace_ns = 1'000'000'000;  // to write the 408 after a timeout
}  // namespace

async_conn::async_conn(event_loop& loop, tcp::socket sock, server_context& ctx)
    : loop_(loop), ctx_(ctx), sock_(std::move(sock)), sess_(ctx), watchdog_(loop.ioc) {
  next_ = loop_.conns;
  if (next_) next_->prev_ = this;
  loop_.conns = this;
  set_nodelay(sock_.native_handle());
  sess_.set_peer(sock_.native_handle());
  // Synchronous operations (write_now) must return would_block instead of waiting.
  boost::system::error_code ignored;
  sock_.non_blocking(true, ignored);
}

async_conn::write_result async_conn::write_now() noexcept {
  while (sess_.output_pending()) {
    auto out = sess_.output();
    if (auto* link = sess_.link()) {
      const auto slot = link->next(out.size(), now_ns());
      if (slot.at_ns > now_ns()) {
        pace_at_ns_ = slot.at_ns;
        return write_result::paced;
      }
      out = first_bytes(out, slot.bytes);
    }
    boost::system::error_code ec;
    const std::size_t n = with_output_buffers(out, [&](const auto& buffers) { return sock_.write_some(buffers, ec); });
    if (ec == asio::error::would_block || ec == asio::error::try_again) return write_result::would_block;
    if (ec) return write_result::failed;
    wrote(n);
  }
  return write_result::done;
}

std::size_t async_conn::read_ready(boost::system::error_code& ec) noexcept {
  const auto space = sess_.read_space();
  if (space.empty()) {  // out of memory borrowing the buffer
    ec = asio::error::no_memory;
    return 0;
  }
  return sock_.read_some(asio::buffer(space.data(), space.size()), ec);
}

session::output_view async_conn::output_to_write() noexcept {
  const auto out = sess_.output();
  auto* link = sess_.link();
  if (!link) return out;
  return first_bytes(out, link->next(out.size(), now_ns()).bytes);  // the slot write_now found open
}

void async_conn::wrote(std::size_t n) noexcept {
  sess_.output_written(n);
  if (auto* link = sess_.link()) link->sent(n, sess_.output_pending());
}

asio::steady_timer& async_conn::sleep_timer() {
  if (!sleep_timer_) sleep_timer_ = std::make_unique<asio::steady_timer>(loop_.ioc);
  return *sleep_timer_;
}

void async_conn::arm_pace_timer() {
  set_write_deadline();
  sleep_timer().expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(pace_at_ns_)));
}

async_conn::~async_conn() {
  if (prev_) prev_->next_ = next_;
  else loop_.conns = next_;
  if (next_) next_->prev_ = prev_;
  ctx_.stats.connection_closed();
}

void async_conn::on_server_stop() {
  if (reading_ && sess_.idle()) {
    boost::system::error_code ec;
    sock_.cancel(ec);
  }
}

void async_conn::set_deadline(std::int64_t deadline_ns) {
  deadline_ns_ = deadline_ns;
  if (deadline_ns < watchdog_at_ns_) arm_watchdog(deadline_ns);
}

void async_conn::set_write_deadline() {
  set_deadline(now_ns() + std::chrono::nanoseconds(ctx_.config.send_timeout).count());
}

void async_conn::arm_watchdog(std::int64_t at_ns) {
  watchdog_at_ns_ = at_ns;
  // now_ns() and steady_timer share std::chrono::steady_clock's epoch. expires_at cancels a
  // pending wait, whose handler then sees operation_aborted and does nothing.
  watchdog_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(at_ns)));
  watchdog_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) { self->on_watchdog(ec); });
}

void async_conn::on_watchdog(const boost::system::error_code& ec) {
  if (ec == asio::error::operation_aborted || closed_) return;
  watchdog_at_ns_ = std::numeric_limits<std::int64_t>::max();
  const std::int64_t now = now_ns();
  if (now >= deadline_ns_) {
    if (!reading_) {  // a stalled write or linger: give up on the client
      if (writing_) ctx_.stats.send_timed_out();
      close_now();
      return;
    }
    // The read handler answers 408 (partial request) or closes (idle); give it time to.
    timed_out_ = true;
    deadline_ns_ = now + timeout_grace_ns;
    boost::system::error_code ignored;
    sock_.cancel(ignored);
  }
  arm_watchdog(deadline_ns_);
}

void async_conn::linger_then_close() {
  if (closed_) return;
  boost::system::error_code ec;
  sock_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return close_now();
  reading_ = false;
  // Shorter when stopping: the process should not outlive its clients by much.
  set_deadline(now_ns() + (ctx_.stopping.load(std::memory_order_relaxed) ? linger_ns / 4 : linger_ns));
  do_linger();
}

void async_conn::do_linger() {
  sock_.async_read_some(asio::buffer(loop_.discard),
                        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                          if (ec) return self->close_now();
                          self->do_linger();
                        });
}

bool async_conn::park_for_flight() {
  flight_done_ = false;
  // The flight ends on the leader's thread, maybe another loop's: only a post reaches this one.
  // A weak reference, so a flight never keeps a closed connection alive; a connection still
  // alive means its loop is too.
  std::weak_ptr<async_conn> weak = weak_from_this();
  const bool parked = sess_.joined_flight()->subscribe([weak] {
    if (auto c = weak.lock()) {
      auto& ioc = c->loop_.ioc;
      asio::post(ioc, [c = std::move(c)] {
        c->flight_done_ = true;
        c->sleep_timer().cancel();
      });
    }
  });
  if (parked) {
    set_no_deadline();
    sleep_timer().expires_at(asio::steady_timer::time_point::max());
  }
  return parked;
}

bool async_conn::park_for_handoff() {
  handoff_done_ = false;
  // Answered on the owner thread: only a post reaches this loop (a weak reference, as for a
  // flight, so an answer never keeps a closed connection alive).
  std::weak_ptr<async_conn> weak = weak_from_this();
  const bool parked = sess_.handoff()->subscribe([weak] {
    if (auto c = weak.lock()) {
      auto& ioc = c->loop_.ioc;
      asio::post(ioc, [c = std::move(c)] {
        c->handoff_done_ = true;
        c->sleep_timer().cancel();
      });
    }
  });
  if (parked) {
    set_no_deadline();
    sleep_timer().expires_at(asio::steady_timer::time_point::max());
  }
  return parked;
}

bool async_conn::park_for_remote() {
  remote_done_ = false;
  if (!loop_.remote || !loop_.remote->submit(sess_.remote_request(), this)) {
    sess_.finish_remote(cache::remote_status::error, {});
    return false;
  }
  remote_self_ = shared_from_this();
  set_no_deadline();  // the client's own timeout bounds the wait
  sleep_timer().expires_at(asio::steady_timer::time_point::max());
  return true;
}

void async_conn::on_remote(cache::remote_status st, std::string_view value) noexcept {
  const auto keep = std::move(remote_self_);  // released last, after this connection's work
  sess_.finish_remote(st, value);
  remote_done_ = true;
  sleep_timer().cancel();
}

void async_conn::close_now() noexcept {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  watchdog_.cancel();
  if (sleep_timer_) sleep_timer_->cancel();
  sock_.close(ec);
}

void async_conn::reset_now() noexcept {
  if (closed_) return;
  boost::system::error_code ec;
  sock_.set_option(asio::socket_base::linger(true, 0), ec);
  close_now();
}

async_server::async_server(const server_config& cfg, int fd, std::uint16_t port, conn_factory make)
    : server(cfg, fd, port), make_(std::move(make)) {
  const unsigned n = std::max(1u, effective_threads(ctx_.config));
  for (unsigned i = 0; i < n; ++i) {
    loops_.push_back(std::make_unique<event_loop>());
    loops_.back()->guard.emplace(loops_.back()->ioc.get_executor());
  }
  acceptor_.emplace(loops_[0]->ioc, tcp::v4(), listen_fd_);
  listen_fd_ = -1;  // the acceptor owns it now
  accept_retry_.emplace(loops_[0]->ioc);
  if (ctx_.config.cache_remote)
    for (auto& l : loops_) l->remote = std::make_unique<cache::redis_asio>(l->ioc, *ctx_.config.cache_remote, ctx_.remote_stats);
  if (ctx_.auth)
    for (auto& l : loops_) l->auth_remote = ctx_.auth->make_loop_client(l->ioc);
}

async_server::~async_server() {
  if (!joined_) {
    request_stop();
    join(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  }
}

void async_server::start() {
  for (auto& l : loops_)
    if (l->remote) l->remote->start();  // a non-blocking connect; completes on the loop
  for (auto& l : loops_)
    if (l->auth_remote) l->auth_remote->start();
  do_accept();
  running_ = static_cast<unsigned>(loops_.size());
  for (auto& l : loops_) {
    l->thread = std::thread([this, loop = l.get()] {
      for (;;) {
        try {
          loop->ioc.run();
          break;
        } catch (const std::bad_alloc&) {
          // An Asio operation could not allocate. The connection whose handler threw lost its
          // last references with it (its socket is closed); the loop goes on with the others.
          ctx_.stats.allocation_failed();
        } catch (...) {
          // Nothing else is thrown by our handlers; should it happen, one connection ends, not the server.
        }
      }
      std::lock_guard lock(mutex_);
      if (--running_ == 0) all_done_.notify_all();
    });
  }
}

void async_server::do_accept() {
  event_loop& target = *loops_[next_loop_];
  next_loop_ = (next_loop_ + 1) % loops_.size();
  acceptor_->async_accept(target.ioc, [this, &target](const boost::system::error_code& ec, tcp::socket sock) {
    if (ctx_.stopping.load(std::memory_order_relaxed) || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors or memory: back off instead of spinning on a readable listener.
      accept_retry_->expires_after(std::chrono::milliseconds(10));
      accept_retry_->async_wait([this](const boost::system::error_code& e) {
        if (!e && !ctx_.stopping.load(std::memory_order_relaxed)) do_accept();
      });
      return;
    }
    if (static_cast<std::size_t>(ctx_.stats.open_connections()) >= ctx_.config.max_connections) {
      refuse_connection(sock.release(), ctx_);
    } else {
      ctx_.stats.connection_opened();
      asio::post(target.ioc, [this, &target, s = std::move(sock)]() mutable {
        std::shared_ptr<async_conn> conn;
        try {
          conn = make_(target, std::move(s), ctx_);
        } catch (const std::bad_alloc&) {
          // No connection object to count its close: the socket closed as it unwound.
          ctx_.stats.allocation_failed();
          ctx_.stats.connection_closed();
          return;
        }
        conn->start();
      });
    }
    do_accept();
  });
}

void async_server::on_stop() {
  asio::post(loops_[0]->ioc, [this] {
    boost::system::error_code ec;
    acceptor_->close(ec);
    accept_retry_->cancel();
  });
  for (auto& l : loops_) {
    asio::post(l->ioc, [loop = l.get()] {
      loop->guard.reset();
      if (loop->remote) loop->remote->stop();  // requests still in flight fall back to the origin
      if (loop->auth_remote) loop->auth_remote->stop();  // session lookups in flight answer 503
      // cancel() only queues handlers, so the list does not change while we walk it.
      for (auto* c = loop->conns; c; c = c->next_in_loop()) c->on_server_stop();
    });
  }
}

bool async_server::join(std::chrono::steady_clock::time_point deadline) {
  if (joined_) return true;
  bool done;
  {
    std::unique_lock lock(mutex_);
    done = all_done_.wait_until(lock, deadline, [this] { return running_ == 0; });
  }
  if (!done)
    for (auto& l : loops_) l->ioc.stop();  // past the deadline: drop what is left
  for (auto& l : loops_)
    if (l->thread.joinable()) l->thread.join();
  joined_ = true;
  return done;
}

}  // namespace perflab::targets::detail
