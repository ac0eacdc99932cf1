// session's part of GET/HEAD /cache/{key}: look the key up, and on a miss either wait for the
// origin (the model's wait primitive, as /sleep waits) or join the origin call another request
// is making for the same key (single-flight), then answer with X-Cache.
#include <perflab/targets/session.hpp>

namespace perflab::targets {

using role = cache::read_through::begin_result::role;

std::optional<session::step> session::start_cache_lookup() noexcept {
  auto& rt = *ctx_.cache;
  try {
    cache_begin_ = rt.begin(cache_key_, now_ns(), cache_value_);
  } catch (...) {
    // No memory for the flight or the value: nothing was registered; answer 503 and close.
    ctx_.stats.allocation_failed();
    cache_begin_ = {};
    waiting_ = false;
    pending_.status = 503;
    respond(pending_, pending_req_, false, pending_start_ns_);
    return std::nullopt;
  }
  switch (cache_begin_.what) {
    case role::hit:
      waiting_ = false;
      cache_reply_.x_cache = cache::to_string(cache::lookup::hit);
      cache_reply_.value = cache_value_;
      respond(pending_, pending_req_, keep_open(pending_keep_alive_), pending_start_ns_);
      return std::nullopt;
    case role::lead:
      cache_wait_ = cache_wait::origin;
      return step{next::wait, std::chrono::duration_cast<std::chrono::microseconds>(rt.config().origin.latency)};
    case role::join:
      cache_wait_ = cache_wait::flight;
      return step{next::join};
  }
  return std::nullopt;
}

bool session::finish_cache_wait() noexcept {
  const auto waited = cache_wait_;
  cache_wait_ = cache_wait::none;
  try {
    if (waited == cache_wait::origin) {
      ctx_.cache->complete(cache_key_, cache_begin_, now_ns(), cache_value_);
      cache_reply_.x_cache = cache::to_string(cache_begin_.found);  // MISS or STALE
    } else if (!cache_begin_.shared->result(cache_value_)) {
      cache_begin_ = {};
      cache_retry_ = true;  // its leader went away: look the key up again
      return false;
    } else {
      cache_reply_.x_cache = cache::to_string(cache::lookup::miss);  // not in the cache when it came
    }
  } catch (...) {
    // No memory for the value: the flight (if any) is released empty, so its waiters retry.
    ctx_.stats.allocation_failed();
    if (waited == cache_wait::origin) ctx_.cache->abandon(cache_key_, cache_begin_);
    pending_.status = 503;
    pending_keep_alive_ = false;
  }
  cache_begin_.shared.reset();
  cache_reply_.value = cache_value_;
  return true;
}

}  // namespace perflab::targets
