// The outbox's consumer (outbox.hpp): reads the stream, applies each event once (dropping the
// entries whose event id it already holds), and audits the table: events committed, still
// unsent, and marked sent long enough ago that their absence is a loss.
#include "outbox_parts.hpp"

#include <cstdlib>
#include <cstring>

namespace perflab::contention::detail {

namespace {

constexpr std::size_t xread_count = 1000;  // entries per read; fewer back: caught up with the stream

// The value of field `name` in a stream entry's field list, or null.
const redisReply* entry_field(const redisReply* fields, std::string_view name) {
  if (!fields || fields->type != REDIS_REPLY_ARRAY) return nullptr;
  for (std::size_t i = 0; i + 1 < fields->elements; i += 2) {
    const auto* f = fields->element[i];
    if (f->type == REDIS_REPLY_STRING && std::string_view(f->str, f->len) == name) return fields->element[i + 1];
  }
  return nullptr;
}

}  // namespace

void outbox_impl::consumer_loop() {
  outbox_redis redis(redis_);
  outbox_pg pg(pg_url_);
  std::string last = "0";               // the last entry read: the next read starts after it
  std::string audited_to = "-infinity";  // events marked sent before this were checked for loss
  auto next_audit = std::chrono::steady_clock::now();
  const auto count = std::to_string(xread_count);
  std::vector<std::uint64_t> events;
  events.reserve(xread_count);
  while (!consumer_stop_.load(std::memory_order_acquire)) {
    auto* c = redis.ready();
    if (!c) {
      std::unique_lock lock(cm_);
      ccv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return consumer_stop_.load(std::memory_order_acquire); });
      continue;
    }
    reply_ptr r(static_cast<redisReply*>(
        redisCommand(c, "XREAD COUNT %s BLOCK 100 STREAMS %s %s", count.c_str(), cfg_.stream.c_str(), last.c_str())));
    if (!r) {
      redis.close();
      continue;
    }
    bool caught_up = r->type == REDIS_REPLY_NIL;  // nothing new within the block
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements == 2) {
      const auto* entries = r->element[0]->element[1];
      events.clear();
      for (std::size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; ++i) {
        const auto* e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING) continue;
        last.assign(e->element[0]->str, e->element[0]->len);
        if (const auto* id = entry_field(e->element[1], "event"); id && id->type == REDIS_REPLY_STRING)
          events.push_back(std::strtoull(id->str, nullptr, 10));
      }
      apply(events);
      caught_up = entries->elements < xread_count;
    }
    if (!caught_up) continue;
    bool asked = false;
    {
      std::lock_guard lock(cm_);
      asked = audit_asked_;
    }
    if (asked || std::chrono::steady_clock::now() >= next_audit) {
      audit(pg, audited_to);
      next_audit = std::chrono::steady_clock::now() + cfg_.audit;
    }
  }
}

void outbox_impl::apply(const std::vector<std::uint64_t>& events) {
  std::lock_guard lock(cm_);
  for (const auto id : events) {
    ++entries_;
    if (!seen_.insert(id).second) {  // already applied: the duplicate is dropped
      ++duplicates_;
      continue;
    }
    if (recovering_ && waiting_.erase(id) && waiting_.empty()) {
      recovering_ = false;
      recovery_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - restart_at_).count();
    }
  }
}

void outbox_impl::audit(outbox_pg& pg, std::string& audited_to) {
  {
    std::lock_guard lock(cm_);
    audit_asked_ = false;
  }
  if (!pg.ready()) return;
  // Asked after the read that caught up with the stream: every event marked sent before the
  // cutoff (grace before now) was published before that read, or never will be.
  const auto grace = std::to_string(cfg_.grace.count());
  auto counts = pg.run("audit", {grace.c_str()});
  if (PQresultStatus(counts.get()) != PGRES_TUPLES_OK || PQntuples(counts.get()) != 1) return;
  const std::string cutoff = PQgetvalue(counts.get(), 0, 2);
  auto marked = pg.run("marked", {audited_to.c_str(), cutoff.c_str()});
  if (PQresultStatus(marked.get()) != PGRES_TUPLES_OK) return;
  std::lock_guard lock(cm_);
  for (int i = 0, n = PQntuples(marked.get()); i < n; ++i)
    lost_ += !seen_.contains(std::strtoull(PQgetvalue(marked.get(), i, 0), nullptr, 10));
  audited_to = cutoff;
  committed_ = std::strtoull(PQgetvalue(counts.get(), 0, 0), nullptr, 10);
  backlog_ = std::strtoull(PQgetvalue(counts.get(), 0, 1), nullptr, 10);
  ++audits_;
  ccv_.notify_all();
}

void outbox_impl::audit_now() {
  std::unique_lock lock(cm_);
  // Two audits: one may have begun before this call and read the table before it.
  const auto want = audits_ + 2;
  audit_asked_ = true;
  ccv_.wait_for(lock, std::chrono::seconds(10), [&] {
    if (audits_ < want) audit_asked_ = true;
    return audits_ >= want;
  });
}

}  // namespace perflab::contention::detail
