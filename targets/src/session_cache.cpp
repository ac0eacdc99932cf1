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
    cache_->begin = rt.begin(cache_->key, now_ns(), cache_->value);
  } catch (...) {
    // No memory for the flight or the value: nothing was registered; answer 503 and close.
    ctx_.stats.allocation_failed();
    cache_->begin = {};
    waiting_ = false;
    pending_.status = 503;
    respond(pending_, pending_request(), false, pending_start_ns_);
    return std::nullopt;
  }
  switch (cache_->begin.what) {
    case role::hit:
      waiting_ = false;
      cache_->reply.x_cache = cache::to_string(cache::lookup::hit);
      cache_->reply.value = cache_->value;
      respond(pending_, pending_request(), keep_open(pending_keep_alive_), pending_start_ns_);
      return std::nullopt;
    case role::lead:
      return origin_step();
    case role::join:
      cache_->wait = cache_wait::flight;
      return step{next::join};
  }
  return std::nullopt;
}

std::optional<session::step> session::start_remote_lookup() noexcept {
  auto& rt = *ctx_.cache;
  cache_->begin = {};
  if (rt.has_store()) {
    try {
      cache_->begin.found = rt.lookup_local(cache_->key, now_ns(), cache_->value);
    } catch (...) {
      ctx_.stats.allocation_failed();  // no memory for the value: a miss, the remote cache is next
      cache_->begin.found = cache::lookup::miss;
    }
    if (cache_->begin.found == cache::lookup::hit) {
      waiting_ = false;
      cache_->reply.x_cache = cache::to_string(cache::lookup::hit);
      cache_->reply.tier = tier_local;
      cache_->reply.value = cache_->value;
      respond(pending_, pending_request(), keep_open(pending_keep_alive_), pending_start_ns_);
      return std::nullopt;
    }
  }
  cache_->remote_req = {cache::remote_op::get, cache_->key, {}};
  cache_->wait = cache_wait::remote;
  return step{next::remote};
}

session::step session::start_remote_invalidation(const dispatch& d, const request_view& req, bool keep,
                                                 std::int64_t start, std::size_t consumed) noexcept {
  const bool purge = d.ep == endpoint::cache_purge;
  cache_->key.assign(d.key);  // within max_cache_key (the buffer has grown to it once)
  defer(d, req, keep, start, consumed);
  cache_->remote_req = {purge ? cache::remote_op::purge : cache::remote_op::del, cache_->key, {}};
  cache_->wait = cache_wait::remote;
  return step{next::remote};
}

void session::finish_remote(cache::remote_status st, std::string_view value) noexcept {
  cache_->remote_status = st;
  if (st != cache::remote_status::hit || cache_->remote_req.op != cache::remote_op::get) return;
  try {
    cache_->value.assign(value);
  } catch (...) {
    ctx_.stats.allocation_failed();
    cache_->remote_status = cache::remote_status::error;
  }
}

std::optional<session::step> session::continue_cache() noexcept {
  const auto what = cache_->next;
  cache_->next = cache_next::none;
  switch (what) {
    case cache_next::none: return std::nullopt;
    case cache_next::lookup: return start_cache_lookup();
    case cache_next::remote_set:
      cache_->remote_req = {cache::remote_op::set, cache_->key, cache_->value};
      cache_->wait = cache_wait::remote;
      return step{next::remote};
    case cache_next::origin: break;
  }
  auto& rt = *ctx_.cache;
  const auto found = cache_->begin.found;
  try {
    cache_->begin = rt.begin_origin(cache_->key, found);
  } catch (...) {
    ctx_.stats.allocation_failed();
    cache_->begin = {};
    waiting_ = false;
    pending_.status = 503;
    respond(pending_, pending_request(), false, pending_start_ns_);
    return std::nullopt;
  }
  if (cache_->begin.what == role::join) {
    cache_->wait = cache_wait::flight;
    return step{next::join};
  }
  return origin_step();
}

std::optional<session::step> session::origin_step() noexcept {
  cache_->wait = cache_wait::origin;
  if (!ctx_.config.db.given)
    return step{next::wait, std::chrono::duration_cast<std::chrono::microseconds>(ctx_.cache->config().origin.latency)};
  try {
    if (!db_->call) db_->call = std::make_unique<db::call>(ctx_.database());
    db_->call->prepare(db::query::kind::item, -1, db::item_for_key(cache_->key));
    return step{next::db};
  } catch (...) {
    // No memory for the call: its waiters look the key up again; this request gets 503.
    ctx_.stats.allocation_failed();
    ctx_.cache->abandon(cache_->key, cache_->begin);
    cache_->begin = {};
    cache_->wait = cache_wait::none;
    waiting_ = false;
    pending_.status = 503;
    respond(pending_, pending_request(), false, pending_start_ns_);
    return std::nullopt;
  }
}

bool session::finish_cache_wait() noexcept {
  const auto waited = cache_->wait;
  cache_->wait = cache_wait::none;
  const bool remote = ctx_.config.cache_remote.has_value();
  if (waited == cache_wait::remote) {
    const auto op = cache_->remote_req.op;
    cache_->remote_req = {};
    switch (op) {
      case cache::remote_op::get:
        if (cache_->remote_status == cache::remote_status::hit) {
          try {
            ctx_.cache->fill(cache_->key, cache_->value, now_ns());
          } catch (...) {
            ctx_.stats.allocation_failed();  // not kept locally; the answer is still right
          }
          cache_->reply.x_cache = cache::to_string(cache::lookup::hit);
          cache_->reply.tier = tier_remote;
          cache_->reply.value = cache_->value;
          return true;
        }
        if (cache_->remote_status == cache::remote_status::error)
          ctx_.remote_stats.fallbacks.fetch_add(1, std::memory_order_relaxed);
        cache_->next = cache_next::origin;
        return false;
      case cache::remote_op::set:
        cache_->reply.x_cache = cache::to_string(cache_->begin.found);  // MISS or STALE
        cache_->reply.tier = tier_origin;
        cache_->reply.value = cache_->value;
        cache_->begin = {};
        return true;
      case cache::remote_op::del:
        if (cache_->remote_status == cache::remote_status::hit) cache_->reply.erased = true;
        return true;
      case cache::remote_op::purge:
        return true;
    }
    return true;
  }
  try {
    if (waited == cache_wait::origin && ctx_.config.db.given && db_->call->status() != 200) {
      ctx_.cache->abandon(cache_->key, cache_->begin);  // its waiters retry; nothing is stored
      cache_->begin = {};
      pending_.status = db_->call->status();
      return true;
    }
    if (waited == cache_wait::origin) {
      if (ctx_.config.db.given) {
        cache_->value.assign(db_->call->body());
        ctx_.cache->complete_with(cache_->key, cache_->begin, now_ns(), cache_->value);
      } else {
        ctx_.cache->complete(cache_->key, cache_->begin, now_ns(), cache_->value);
      }
      cache_->reply.x_cache = cache::to_string(cache_->begin.found);  // MISS or STALE
      if (remote) {
        cache_->begin.shared.reset();
        cache_->next = cache_next::remote_set;  // the answer waits for Redis to hold the value
        return false;
      }
    } else if (!cache_->begin.shared->result(cache_->value)) {
      cache_->begin = {};
      cache_->next = cache_next::lookup;  // its leader went away: look the key up again
      return false;
    } else {
      cache_->reply.x_cache = cache::to_string(cache::lookup::miss);  // not in the cache when it came
    }
  } catch (...) {
    // No memory for the value: the flight (if any) is released empty, so its waiters retry.
    ctx_.stats.allocation_failed();
    if (waited == cache_wait::origin) ctx_.cache->abandon(cache_->key, cache_->begin);
    pending_.status = 503;
    pending_keep_alive_ = false;
  }
  if (remote) cache_->reply.tier = tier_origin;
  cache_->begin.shared.reset();
  cache_->reply.value = cache_->value;
  return true;
}

}  // namespace perflab::targets
