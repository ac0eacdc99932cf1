// session's part of the /cache endpoints. GET/HEAD /cache/{key}: look the key up, and on a miss
// either wait for the origin (the model's wait primitive, as /sleep waits) or join the origin
// call another request is making for the same key (single-flight), then answer with X-Cache.
//
// With a remote cache (Redis) the lookup has more steps, each a remote step the model runs:
//   local store (two levels only): hit -> answer (X-Cache-Tier: local)
//   remote get: hit -> store locally, answer (tier remote); miss or failure (counted as a
//               fallback) -> the origin, as without a remote cache (tier origin)
//   after the origin call: remote set (with the TTL), then answer
// DELETE and PURGE invalidate the local store, then Redis (DEL, FLUSHDB).
//
// The origin is simulated (a wait of --origin-latency) unless lab-target was given --db: then a
// leader's origin call is one query through the pool (a db step, the row of db::item_for_key),
// and a failed query (acquire timeout, lost connection) releases the flight's waiters to retry
// and answers 503.
#include <perflab/targets/session.hpp>

#include <perflab/db/call.hpp>

namespace perflab::targets {

using role = cache::read_through::begin_result::role;

namespace {
constexpr std::string_view tier_local = "local", tier_remote = "remote", tier_origin = "origin";
}

std::optional<session::step> session::start_cache_lookup() noexcept {
  if (ctx_.config.cache_remote) return start_remote_lookup();
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
      return origin_step();
    case role::join:
      cache_wait_ = cache_wait::flight;
      return step{next::join};
  }
  return std::nullopt;
}

std::optional<session::step> session::start_remote_lookup() noexcept {
  auto& rt = *ctx_.cache;
  cache_begin_ = {};
  if (rt.has_store()) {
    try {
      cache_begin_.found = rt.lookup_local(cache_key_, now_ns(), cache_value_);
    } catch (...) {
      ctx_.stats.allocation_failed();  // no memory for the value: a miss, the remote cache is next
      cache_begin_.found = cache::lookup::miss;
    }
    if (cache_begin_.found == cache::lookup::hit) {
      waiting_ = false;
      cache_reply_.x_cache = cache::to_string(cache::lookup::hit);
      cache_reply_.tier = tier_local;
      cache_reply_.value = cache_value_;
      respond(pending_, pending_req_, keep_open(pending_keep_alive_), pending_start_ns_);
      return std::nullopt;
    }
  }
  remote_req_ = {cache::remote_op::get, cache_key_, {}};
  cache_wait_ = cache_wait::remote;
  return step{next::remote};
}

session::step session::start_remote_invalidation(const dispatch& d, const request_view& req, bool keep,
                                                 std::int64_t start, std::size_t consumed) noexcept {
  const bool purge = d.ep == endpoint::cache_purge;
  cache_key_.assign(d.key);  // within max_cache_key (the buffer has grown to it once)
  defer(d, req, keep, start, consumed);
  remote_req_ = {purge ? cache::remote_op::purge : cache::remote_op::del, cache_key_, {}};
  cache_wait_ = cache_wait::remote;
  return step{next::remote};
}

void session::finish_remote(cache::remote_status st, std::string_view value) noexcept {
  remote_status_ = st;
  if (st != cache::remote_status::hit || remote_req_.op != cache::remote_op::get) return;
  try {
    cache_value_.assign(value);
  } catch (...) {
    ctx_.stats.allocation_failed();
    remote_status_ = cache::remote_status::error;
  }
}

std::optional<session::step> session::continue_cache() noexcept {
  const auto what = cache_next_;
  cache_next_ = cache_next::none;
  switch (what) {
    case cache_next::none: return std::nullopt;
    case cache_next::lookup: return start_cache_lookup();
    case cache_next::remote_set:
      remote_req_ = {cache::remote_op::set, cache_key_, cache_value_};
      cache_wait_ = cache_wait::remote;
      return step{next::remote};
    case cache_next::origin: break;
  }
  auto& rt = *ctx_.cache;
  const auto found = cache_begin_.found;
  try {
    cache_begin_ = rt.begin_origin(cache_key_, found);
  } catch (...) {
    ctx_.stats.allocation_failed();
    cache_begin_ = {};
    waiting_ = false;
    pending_.status = 503;
    respond(pending_, pending_req_, false, pending_start_ns_);
    return std::nullopt;
  }
  if (cache_begin_.what == role::join) {
    cache_wait_ = cache_wait::flight;
    return step{next::join};
  }
  return origin_step();
}

std::optional<session::step> session::origin_step() noexcept {
  cache_wait_ = cache_wait::origin;
  if (!ctx_.config.db.given)
    return step{next::wait, std::chrono::duration_cast<std::chrono::microseconds>(ctx_.cache->config().origin.latency)};
  try {
    if (!db_call_) db_call_ = std::make_unique<db::call>(ctx_.database());
    db_call_->prepare(db::query::kind::item, -1, db::item_for_key(cache_key_));
    return step{next::db};
  } catch (...) {
    // No memory for the call: its waiters look the key up again; this request gets 503.
    ctx_.stats.allocation_failed();
    ctx_.cache->abandon(cache_key_, cache_begin_);
    cache_begin_ = {};
    cache_wait_ = cache_wait::none;
    waiting_ = false;
    pending_.status = 503;
    respond(pending_, pending_req_, false, pending_start_ns_);
    return std::nullopt;
  }
}

bool session::finish_cache_wait() noexcept {
  const auto waited = cache_wait_;
  cache_wait_ = cache_wait::none;
  const bool remote = ctx_.config.cache_remote.has_value();
  if (waited == cache_wait::remote) {
    const auto op = remote_req_.op;
    remote_req_ = {};
    switch (op) {
      case cache::remote_op::get:
        if (remote_status_ == cache::remote_status::hit) {
          try {
            ctx_.cache->fill(cache_key_, cache_value_, now_ns());
          } catch (...) {
            ctx_.stats.allocation_failed();  // not kept locally; the answer is still right
          }
          cache_reply_.x_cache = cache::to_string(cache::lookup::hit);
          cache_reply_.tier = tier_remote;
          cache_reply_.value = cache_value_;
          return true;
        }
        if (remote_status_ == cache::remote_status::error)
          ctx_.remote_stats.fallbacks.fetch_add(1, std::memory_order_relaxed);
        cache_next_ = cache_next::origin;
        return false;
      case cache::remote_op::set:
        cache_reply_.x_cache = cache::to_string(cache_begin_.found);  // MISS or STALE
        cache_reply_.tier = tier_origin;
        cache_reply_.value = cache_value_;
        cache_begin_ = {};
        return true;
      case cache::remote_op::del:
        if (remote_status_ == cache::remote_status::hit) cache_reply_.erased = true;
        return true;
      case cache::remote_op::purge:
        return true;
    }
    return true;
  }
  try {
    if (waited == cache_wait::origin && ctx_.config.db.given && db_call_->status() != 200) {
      ctx_.cache->abandon(cache_key_, cache_begin_);  // its waiters retry; nothing is stored
      cache_begin_ = {};
      pending_.status = db_call_->status();
      return true;
    }
    if (waited == cache_wait::origin) {
      if (ctx_.config.db.given) {
        cache_value_.assign(db_call_->body());
        ctx_.cache->complete_with(cache_key_, cache_begin_, now_ns(), cache_value_);
      } else {
        ctx_.cache->complete(cache_key_, cache_begin_, now_ns(), cache_value_);
      }
      cache_reply_.x_cache = cache::to_string(cache_begin_.found);  // MISS or STALE
      if (remote) {
        cache_begin_.shared.reset();
        cache_next_ = cache_next::remote_set;  // the answer waits for Redis to hold the value
        return false;
      }
    } else if (!cache_begin_.shared->result(cache_value_)) {
      cache_begin_ = {};
      cache_next_ = cache_next::lookup;  // its leader went away: look the key up again
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
  if (remote) cache_reply_.tier = tier_origin;
  cache_begin_.shared.reset();
  cache_reply_.value = cache_value_;
  return true;
}

}  // namespace perflab::targets
