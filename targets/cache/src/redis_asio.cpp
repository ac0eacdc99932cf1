#include <perflab/cache/redis_asio.hpp>

#include <boost/asio/post.hpp>
#include <perflab/core/clock.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "redis_command.hpp"

namespace perflab::cache {

namespace asio = boost::asio;

namespace {

redis_asio* owner(const redisAsyncContext* ac) noexcept { return static_cast<redis_asio*>(ac->data); }

}  // namespace

struct redis_asio::pending {
  remote_op op;
  remote_waiter* waiter;
  std::int64_t deadline_ns;
};

redis_asio::redis_asio(asio::io_context& ioc, remote_config cfg, remote_stats& stats)
    : ioc_(ioc), cfg_(std::move(cfg)), stats_(stats), timer_(ioc) {}

redis_asio::~redis_asio() { stop(); }

void redis_asio::stop() {
  closing_ = true;
  timer_.cancel();
  if (ac_) {
    drop_reason_ = remote_error::unavailable;
    redisAsyncFree(ac_);  // pending waiters are called with error; ev_cleanup releases the socket
  }
}

void redis_asio::start() { connect(); }

void redis_asio::connect() {
  if (closing_ || ac_) return;
  redisAsyncContext* ac = redisAsyncConnect(cfg_.host.c_str(), cfg_.port);
  if (!ac || ac->err) {
    if (ac) redisAsyncFree(ac);
    stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    retry_at_ns_ = backoff_.failed(now_ns());
    arm_timer(retry_at_ns_);
    return;
  }
  ac_ = ac;
  ++gen_;
  ac->data = this;
  ac->ev.data = this;
  ac->ev.addRead = ev_add_read;
  ac->ev.delRead = ev_del_read;
  ac->ev.addWrite = ev_add_write;
  ac->ev.delWrite = ev_del_write;
  ac->ev.cleanup = ev_cleanup;
  boost::system::error_code ec;
  sock_.emplace(ioc_);
  sock_->assign(ac->c.fd, ec);
  connect_deadline_ns_ = now_ns() + std::chrono::nanoseconds(cfg_.timeout).count();
  drop_reason_ = remote_error::io;
  // The hooks must be in place first: setting the connect callback asks for write interest
  // (connect completes when the socket turns writable).
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  if (ec) return drop(remote_error::io);
  arm_timer(connect_deadline_ns_);
}

bool redis_asio::submit(const remote_request& r, remote_waiter* w) noexcept {
  if (!ac_ || closing_) {
    stats_.error(remote_error::unavailable);
    return false;
  }
  thread_local detail::redis_argv args;
  try {
    args.build(r, cfg_.ttl);
    const auto deadline = now_ns() + std::chrono::nanoseconds(cfg_.timeout).count();
    pending_.push_back({r.op, w, deadline});
    if (redisAsyncCommandArgv(ac_, on_reply, nullptr, args.argc, args.argv.data(), args.len.data()) != REDIS_OK) {
      pending_.pop_back();
      stats_.error(remote_error::io);
      return false;
    }
    if (deadline < timer_at_ns_) arm_timer(deadline);
    return true;
  } catch (...) {  // no memory for the command
    stats_.error(remote_error::io);
    return false;
  }
}

void redis_asio::on_reply(redisAsyncContext* ac, void* reply, void*) {
  auto* self = owner(ac);
  if (self->pending_.empty()) return;  // not ours (cannot happen: every command has an entry)
  const pending p = self->pending_.front();
  self->pending_.pop_front();
  remote_status st = remote_status::error;
  try {
    st = detail::interpret(remote_request{p.op, {}, {}}, static_cast<redisReply*>(reply), self->value_, self->stats_);
  } catch (...) {
    self->stats_.error(remote_error::io);  // no memory for the value
  }
  if (!reply) self->stats_.error(self->drop_reason_);
  p.waiter->on_remote(st, st == remote_status::hit ? std::string_view(self->value_) : std::string_view());
}

void redis_asio::on_connect(const redisAsyncContext* ac, int status) {
  auto* self = owner(ac);
  if (status != REDIS_OK) {
    self->stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    return;  // hiredis frees the context next (ev_cleanup)
  }
  self->connected_ = true;
  self->backoff_.succeeded();
  self->stats_.connects.fetch_add(1, std::memory_order_relaxed);
  self->stats_.connected.fetch_add(1, std::memory_order_relaxed);
}

void redis_asio::on_disconnect(const redisAsyncContext*, int) {
  // Nothing left to do: ev_cleanup (called just before) has already counted and scheduled.
}

void redis_asio::ev_add_read(void* p) {
  auto* self = static_cast<redis_asio*>(p);
  self->want_read_ = true;
  self->arm_read();
}
void redis_asio::ev_del_read(void* p) { static_cast<redis_asio*>(p)->want_read_ = false; }

void redis_asio::ev_add_write(void* p) {
  auto* self = static_cast<redis_asio*>(p);
  self->want_write_ = true;
  if (!self->connected_) return self->arm_write();  // connecting: wait for writability
  if (self->flush_posted_ || self->writing_) return;
  self->flush_posted_ = true;
  asio::post(self->ioc_, [self, g = self->gen_] {
    if (g != self->gen_) return;  // that context is gone (a new one posts its own)
    self->flush_posted_ = false;
    self->flush();
  });
}
void redis_asio::ev_del_write(void* p) { static_cast<redis_asio*>(p)->want_write_ = false; }

void redis_asio::ev_cleanup(void* p) {
  // The context is being freed (by hiredis after an error or EOF, or by us): its pending
  // commands have been failed already. Give the fd back (hiredis closes it), forget the
  // context, and connect again after the backoff.
  auto* self = static_cast<redis_asio*>(p);
  if (self->sock_) {
    self->sock_->release();
    self->sock_.reset();
  }
  ++self->gen_;
  self->ac_ = nullptr;
  self->want_read_ = self->want_write_ = self->reading_ = self->writing_ = self->flush_posted_ = false;
  if (self->connected_) self->stats_.connected.fetch_sub(1, std::memory_order_relaxed);
  self->connected_ = false;
  self->pending_.clear();
  if (self->closing_) return;
  self->retry_at_ns_ = self->backoff_.failed(now_ns());
  self->arm_timer(self->retry_at_ns_);
}

void redis_asio::flush() {
  if (!ac_ || !want_write_) return;
  redisAsyncHandleWrite(ac_);
  if (ac_ && want_write_) arm_write();  // the socket took only part: wait for room
}

void redis_asio::arm_read() {
  if (reading_ || !sock_ || closing_) return;
  reading_ = true;
  sock_->async_wait(asio::posix::descriptor_base::wait_read, [this, g = gen_](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || g != gen_) return;
    reading_ = false;
    if (ec) return drop(remote_error::io);
    on_readable();
  });
}

void redis_asio::on_readable() {
  const auto g = gen_;
  for (;;) {
    if (!ac_ || !want_read_) return;
    redisAsyncHandleRead(ac_);  // may free the context (EOF, error): then gen_ moves
    if (g != gen_ || !sock_) return;
    boost::system::error_code ec;
    asio::posix::descriptor_base::bytes_readable unread;  // FIONREAD
    sock_->io_control(unread, ec);
    if (ec || unread.get() == 0) break;  // nothing left: the next edge will come
  }
  if (want_read_) arm_read();
}

void redis_asio::arm_write() {
  if (writing_ || !sock_ || closing_) return;
  writing_ = true;
  sock_->async_wait(asio::posix::descriptor_base::wait_write, [this, g = gen_](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || g != gen_) return;
    writing_ = false;
    if (ec) return drop(remote_error::io);
    if (ac_ && want_write_) redisAsyncHandleWrite(ac_);  // while connecting, this completes the connect
    if (g == gen_ && ac_ && want_write_) arm_write();
  });
}

void redis_asio::arm_timer(std::int64_t at_ns) {
  if (closing_ || at_ns >= timer_at_ns_) return;
  timer_at_ns_ = at_ns;
  timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(at_ns)));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted) return;
    timer_at_ns_ = INT64_MAX;
    on_timer();
  });
}

void redis_asio::on_timer() {
  const auto now = now_ns();
  if (!ac_) {
    if (now >= retry_at_ns_) return connect();
    return arm_timer(retry_at_ns_);
  }
  if (!connected_ && now >= connect_deadline_ns_) return drop(remote_error::timeout);
  if (!pending_.empty() && now >= pending_.front().deadline_ns) return drop(remote_error::timeout);
  if (!connected_) arm_timer(connect_deadline_ns_);
  if (!pending_.empty()) arm_timer(pending_.front().deadline_ns);
}

void redis_asio::drop(remote_error why) {
  if (!ac_) return;
  if (!connected_) stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
  drop_reason_ = why;
  redisAsyncFree(ac_);  // fails the pending commands with drop_reason_, then ev_cleanup
}

}  // namespace perflab::cache
