// The outbox's relays (outbox.hpp): rounds of claim, publish, mark sent, commit, and the crash a
// test or a scenario asks for at one of those steps.
#include "outbox_parts.hpp"

#include <cstdlib>

namespace perflab::contention::detail {

void outbox_impl::relay_loop(unsigned index, bool restart) {
  outbox_pg pg(pg_url_);
  outbox_redis redis(redis_);
  if (restart) {
    std::unique_lock lock(rm_);
    if (index == 0) {
      lock.unlock();
      snapshot_backlog(pg);
      lock.lock();
      snapshot_pending_ = false;
      rcv_.notify_all();
    } else {
      rcv_.wait(lock, [&] { return !snapshot_pending_ || relays_stop_; });
    }
  }
  for (;;) {
    {
      std::lock_guard lock(rm_);
      if (relays_stop_) break;
    }
    const auto end = relay_round(pg, redis);
    if (end == round_end::crashed) {
      // A death: whatever this relay held goes with it. Closing the connection mid-transaction is
      // what a killed process does; PostgreSQL rolls the round back.
      pg.close();
      redis.close();
      crashes_.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard lock(rm_);
      if (--up_ == 0) crash_at_.reset();
      return;
    }
    if (end == round_end::failed) relay_errors_.fetch_add(1, std::memory_order_relaxed);
    if (end != round_end::full) {
      std::unique_lock lock(rm_);
      rcv_.wait_for(lock, cfg_.poll, [&] { return relays_stop_ || crash_at_ == relay_step::any; });
    }
  }
  std::lock_guard lock(rm_);
  --up_;
}

bool outbox_impl::crash_due(relay_step step) {
  const auto first_write = cfg_.mode == outbox_mode::at_least_once ? relay_step::publish : relay_step::commit;
  std::lock_guard lock(rm_);
  return crash_at_ && (*crash_at_ == relay_step::any || *crash_at_ == step ||
                       (*crash_at_ == relay_step::midway && step == first_write));
}

void outbox_impl::snapshot_backlog(outbox_pg& pg) {
  result_ptr r;
  if (pg.ready()) r = pg.run("unsent", {});
  std::lock_guard lock(cm_);
  waiting_.clear();
  if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) {  // no backlog known: no recovery time
    relay_errors_.fetch_add(1, std::memory_order_relaxed);
    recovering_ = false;
    return;
  }
  const int n = PQntuples(r.get());
  backlog_at_restart_ = static_cast<std::uint64_t>(n);
  for (int i = 0; i < n; ++i) {
    const auto id = std::strtoull(PQgetvalue(r.get(), i, 0), nullptr, 10);
    if (!seen_.contains(id)) waiting_.insert(id);  // published before the crash, not marked: already here
  }
  if (waiting_.empty()) {
    recovering_ = false;
    recovery_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - restart_at_).count();
  }
}

bool outbox_impl::publish(outbox_redis& redis, const PGresult* rows) {
  auto* c = redis.ready();
  if (!c) return false;
  const int n = PQntuples(rows);
  // One round trip: every XADD appended, then the replies read in order.
  for (int i = 0; i < n; ++i) {
    if (redisAppendCommand(c, "XADD %s * event %s order %s payload %s", cfg_.stream.c_str(), PQgetvalue(rows, i, 0),
                           PQgetvalue(rows, i, 1), PQgetvalue(rows, i, 2)) != REDIS_OK)
      return redis.close(), false;
  }
  bool ok = true;
  for (int i = 0; i < n; ++i) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || !raw) return redis.close(), false;  // the rest never came
    reply_ptr r(static_cast<redisReply*>(raw));
    if (r->type == REDIS_REPLY_STRING) published_.fetch_add(1, std::memory_order_relaxed);
    else ok = false;
  }
  return ok;
}

outbox_impl::round_end outbox_impl::relay_round(outbox_pg& pg, outbox_redis& redis) {
  if (!pg.ready() || !pg.command("BEGIN")) return round_end::failed;
  const auto batch = std::to_string(cfg_.batch);
  auto rows = pg.run("claim", {batch.c_str()});
  auto give_up = [&] {
    pg.command("ROLLBACK");
    return round_end::failed;
  };
  if (PQresultStatus(rows.get()) != PGRES_TUPLES_OK) return give_up();
  if (crash_due(relay_step::claim)) return round_end::crashed;
  const int n = PQntuples(rows.get());
  if (n == 0) return pg.command("COMMIT") ? round_end::idle : give_up();
  std::string ids = "{";
  for (int i = 0; i < n; ++i) (ids += i ? "," : "") += PQgetvalue(rows.get(), i, 0);
  ids += '}';
  auto mark_and_commit = [&] {
    auto m = pg.run("mark", {ids.c_str()});
    if (PQresultStatus(m.get()) != PGRES_COMMAND_OK || !pg.command("COMMIT")) return false;
    marked_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    rounds_.fetch_add(1, std::memory_order_relaxed);
    return true;
  };
  if (cfg_.mode == outbox_mode::at_least_once) {
    // Published before marked: a death between the two leaves the rows unsent, published again.
    if (!publish(redis, rows.get())) return give_up();
    if (crash_due(relay_step::publish)) return round_end::crashed;
    if (!mark_and_commit()) return give_up();
    if (crash_due(relay_step::commit)) return round_end::crashed;
  } else {
    // Marked before published: a death between the two loses the round's events.
    if (!mark_and_commit()) return give_up();
    if (crash_due(relay_step::commit)) return round_end::crashed;
    if (!publish(redis, rows.get())) return round_end::failed;  // marked sent: lost
    if (crash_due(relay_step::publish)) return round_end::crashed;
  }
  return static_cast<unsigned>(n) < cfg_.batch ? round_end::partial : round_end::full;
}

}  // namespace perflab::contention::detail
