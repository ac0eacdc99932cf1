#pragma once
// The blocking Redis client of the thread models: a pool of synchronous hiredis connections
// shared by all threads. A thread takes one for one command and gives it back, so the pool grows
// to the number of threads that use Redis at the same moment, and no further. Connect and each
// reply have the config's timeout (SO_RCVTIMEO/SO_SNDTIMEO), so a command never blocks longer.
//
// A failed connect starts a backoff (remote.hpp): until it ends, commands fail at once
// (remote_error::unavailable) instead of each paying a connect timeout. A command that fails on
// an open connection drops it and every idle one (after a Redis restart they are all dead), and
// the next command connects again.
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <perflab/cache/remote.hpp>

struct redisContext;

namespace perflab::cache {

class redis_pool {
 public:
  redis_pool(remote_config cfg, remote_stats& stats);
  ~redis_pool();
  redis_pool(const redis_pool&) = delete;
  redis_pool& operator=(const redis_pool&) = delete;

  // Runs r; on get's hit the value is in `value` (a reused buffer). Never throws.
  remote_status run(const remote_request& r, std::string& value) noexcept;

  std::size_t idle_connections() const;

 private:
  redisContext* acquire() noexcept;  // nullptr: none (backing off, or the connect failed)
  void release(redisContext* c) noexcept;
  void drop_all_idle() noexcept;

  remote_config cfg_;
  remote_stats& stats_;
  mutable std::mutex mutex_;
  std::vector<redisContext*> idle_;  // guarded by mutex_
  backoff backoff_;                  // guarded by mutex_
  std::int64_t retry_at_ns_ = 0;     // guarded by mutex_: no connect before this
};

}  // namespace perflab::cache
