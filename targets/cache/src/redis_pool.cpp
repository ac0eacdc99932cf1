#include <perflab/cache/redis_pool.hpp>

#include <cerrno>
#include <chrono>

#include <perflab/core/clock.hpp>

#include <sys/time.h>

#include "redis_command.hpp"

namespace perflab::cache {

namespace {

timeval to_timeval(std::chrono::milliseconds t) noexcept {
  return timeval{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>(t.count() % 1000 * 1000)};
}

}  // namespace

redis_pool::redis_pool(remote_config cfg, remote_stats& stats) : cfg_(std::move(cfg)), stats_(stats) {}

redis_pool::~redis_pool() { drop_all_idle(); }

std::size_t redis_pool::idle_connections() const {
  std::lock_guard l(mutex_);
  return idle_.size();
}

void redis_pool::drop_all_idle() noexcept {
  std::vector<redisContext*> dead;
  {
    std::lock_guard l(mutex_);
    dead.swap(idle_);
  }
  for (auto* c : dead) {
    redisFree(c);
    stats_.connected.fetch_sub(1, std::memory_order_relaxed);
  }
}

redisContext* redis_pool::acquire() noexcept {
  {
    std::lock_guard l(mutex_);
    if (!idle_.empty()) {
      auto* c = idle_.back();
      idle_.pop_back();
      return c;
    }
    if (now_ns() < retry_at_ns_) return nullptr;  // backing off after a failed connect
  }
  // Connect outside the lock: other threads go on with idle connections meanwhile.
  redisContext* c = redisConnectWithTimeout(cfg_.host.c_str(), cfg_.port, to_timeval(cfg_.timeout));
  if (!c || c->err || redisSetTimeout(c, to_timeval(cfg_.timeout)) != REDIS_OK) {
    if (c) redisFree(c);
    stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard l(mutex_);
    retry_at_ns_ = backoff_.failed(now_ns());
    return nullptr;
  }
  stats_.connects.fetch_add(1, std::memory_order_relaxed);
  stats_.connected.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard l(mutex_);
  backoff_.succeeded();
  return c;
}

void redis_pool::release(redisContext* c) noexcept {
  try {
    std::lock_guard l(mutex_);
    idle_.push_back(c);
    return;
  } catch (...) {
  }
  redisFree(c);  // no memory to keep it
  stats_.connected.fetch_sub(1, std::memory_order_relaxed);
}

remote_status redis_pool::run(const remote_request& r, std::string& value) noexcept {
  redisContext* c = acquire();
  if (!c) {
    stats_.error(remote_error::unavailable);
    return remote_status::error;
  }
  thread_local detail::redis_argv args;  // reused: no allocation per command once grown
  remote_status st = remote_status::error;
  redisReply* reply = nullptr;
  try {
    args.build(r, cfg_.ttl);
    reply = static_cast<redisReply*>(redisCommandArgv(c, args.argc, args.argv.data(), args.len.data()));
    if (!reply) {
      // EAGAIN on a blocking socket with SO_RCVTIMEO: the reply did not come in time.
      stats_.error(c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK) ? remote_error::timeout
                                                                                         : remote_error::io);
    } else {
      st = detail::interpret(r, reply, value, stats_);
    }
  } catch (...) {
    stats_.error(remote_error::io);  // no memory for the command or the value
  }
  if (reply) freeReplyObject(reply);
  if (c->err) {
    // The connection is broken (or out of step after a timeout): drop it, and the idle ones too,
    // which a restarted Redis has closed as well.
    redisFree(c);
    stats_.connected.fetch_sub(1, std::memory_order_relaxed);
    drop_all_idle();
  } else {
    release(c);
  }
  return st;
}

}  // namespace perflab::cache
