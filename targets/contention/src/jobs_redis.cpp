#include "perflab/contention/jobs_redis.hpp"

#include "remote_handles.hpp"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include <poll.h>

#include <hiredis/hiredis.h>

#include <fmt/format.h>

#include <perflab/core/clock.hpp>

namespace perflab::contention {

std::string_view to_string(job_backend b) noexcept { return b == job_backend::redis ? "redis" : "local"; }

std::optional<job_backend> parse_job_backend(std::string_view s) noexcept {
  if (s == "local") return job_backend::local;
  if (s == "redis") return job_backend::redis;
  return std::nullopt;
}

namespace {

using detail::reply_ptr;

// KEYS: queued counter, id counter, stream. ARGV: capacity, accepted_ns, keep (ms), the job hash
// key's prefix, the done channel ('' none), the waiter's ticket. -> {id, queued}; id 0: full.
constexpr std::string_view job_submit_script =
    "local q = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "if q >= tonumber(ARGV[1]) then return {0, q} end "
    "local id = redis.call('INCR', KEYS[2]) "
    "local h = ARGV[4] .. id "
    "redis.call('HSET', h, 'state', 'queued', 'accepted_ns', ARGV[2]) "
    "redis.call('PEXPIRE', h, ARGV[3]) "
    "redis.call('XADD', KEYS[3], '*', 'job', id, 'accepted_ns', ARGV[2], 'reply', ARGV[5], 'ticket', ARGV[6]) "
    "return {id, redis.call('INCR', KEYS[1])}";

// Marks a taken job running. KEYS: queued counter, the job's hash. ARGV: started_ns, keep (ms),
// claimed ('1': taken by XAUTOCLAIM from a consumer that held it past the claim time).
// -> {1, queued after the take}, or {0, 0} when the job is done already (a slow worker finished it
// between the claim and this script): nothing to do. The job leaves the queued count only while
// its hash still says queued (or, for a plain take, has expired): a job claimed from a worker that
// died before this script still counted as waiting; one that died after it, or a late start after a
// claim, is not counted twice.
constexpr std::string_view job_start_script =
    "local st = redis.call('HGET', KEYS[2], 'state') "
    "if st == 'done' then return {0, 0} end "
    "local q "
    "if st == 'queued' or (not st and ARGV[3] ~= '1') then q = redis.call('DECR', KEYS[1]) "
    "else q = tonumber(redis.call('GET', KEYS[1]) or '0') end "
    "redis.call('HSET', KEYS[2], 'state', 'running', 'started_ns', ARGV[1]) "
    "if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[2], 'claims', 1) end "
    "redis.call('PEXPIRE', KEYS[2], ARGV[2]) "
    "return {1, q}";

// KEYS: stream, the job's hash, done counter. ARGV: group, entry id, finished_ns, keep (ms),
// channel ('' none), message. -> 1 done now, 0 acked before (not done twice).
constexpr std::string_view job_finish_script =
    "if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end "
    "redis.call('HSET', KEYS[2], 'state', 'done', 'finished_ns', ARGV[3]) "
    "redis.call('PEXPIRE', KEYS[2], ARGV[4]) "
    "redis.call('XDEL', KEYS[1], ARGV[2]) "
    "redis.call('INCR', KEYS[3]) "
    "if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end "
    "return 1";

std::string_view jobs_text(const redisReply* r) noexcept {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? std::string_view(r->str, r->len)
                                                                               : std::string_view{};
}

std::int64_t jobs_int(std::string_view s) noexcept {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

reply_ptr jobs_command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return reply_ptr(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data())));
}

bool jobs_failed(const reply_ptr& r) noexcept { return !r || r->type == REDIS_REPLY_ERROR; }

// XGROUP CREATE ... MKSTREAM: the reply (an existing group, BUSYGROUP, is no failure), or null.
// "0": a group made for a stream that already holds jobs takes them too.
reply_ptr jobs_create_group(redisContext* c, const std::string& prefix) {
  return jobs_command(c, {"XGROUP", "CREATE", prefix, prefix + ":workers", "0", "MKSTREAM"});
}

bool jobs_group_ready(const reply_ptr& r) noexcept {
  return r && (r->type == REDIS_REPLY_STATUS ||
               (r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("BUSYGROUP")));
}

class redis_jobs final : public redis_job_queue {
 public:
  explicit redis_jobs(redis_jobs_config cfg) : cfg_(std::move(cfg)) {
    std::random_device rd;
    who_ = fmt::format("{:08x}{:08x}", rd(), rd());
    channel_ = cfg_.prefix + ":done:" + who_;
    keep_ms_ = std::to_string(cfg_.keep.count());
    for (unsigned i = 0; i < cfg_.clients; ++i) threads_.emplace_back([this] { client_loop(); });
    for (unsigned i = 0; i < cfg_.queue.workers; ++i) threads_.emplace_back([this, i] { worker_loop(i); });
    if (cfg_.reply_done) threads_.emplace_back([this] { watcher_loop(); });
  }
  ~redis_jobs() override {
    {
      std::lock_guard lock(m_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    fail_waiters();  // none should be left; if any, they hear 503 rather than nothing
  }

  // Waits until the done channel is subscribed (reply_done only): false after the timeout.
  bool wait_subscribed() {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, cfg_.where.timeout * 2, [&] { return subscribed_; });
  }

  void submit_async(bool wait_done, answer_fn done) override {
    request r{0, std::move(done), 0, true};
    if (wait_done) {
      std::unique_lock lock(m_);
      if (!subscribed_) {  // a completion could be missed: refuse rather than wait for ever
        ++stats_.errors;
        ++stats_.submit_errors;
        lock.unlock();
        return done_error(r.reply);
      }
      r.ticket = ++next_ticket_;
      waiters_.emplace(r.ticket, r.reply);
    }
    enqueue(std::move(r));
  }
  void status_async(std::uint64_t id, answer_fn done) override { enqueue(request{id, std::move(done), 0, false}); }
  stats_t stats() const override {
    std::lock_guard lock(m_);
    return stats_;
  }
  const redis_jobs_config& config() const noexcept override { return cfg_; }

 private:
  struct request {
    std::uint64_t id;       // lookup: the job
    answer_fn reply;
    std::uint64_t ticket;   // submit with a done waiter: its key in waiters_ (0: none)
    bool submit;
  };

  static void done_error(const answer_fn& f) { f(job_answer{job_answer::result::error, 0, {}}); }

  void enqueue(request r) {
    {
      std::lock_guard lock(m_);
      queue_.push_back(std::move(r));
    }
    cv_.notify_all();
  }

  void count_error() {
    std::lock_guard lock(m_);
    ++stats_.errors;
  }

  // Sleeps up to d unless stopping; false when stopping.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock lock(m_);
    return !cv_.wait_for(lock, d, [&] { return stopping_; });
  }

  // ---- submits and lookups --------------------------------------------------------------------

  void client_loop() {
    redisContext* c = nullptr;
    for (;;) {
      request r;
      {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) break;
        r = std::move(queue_.front());
        queue_.pop_front();
      }
      if (!c) c = detail::redis_connect(cfg_.where);
      const auto a = c ? (r.submit ? submit(c, r.ticket) : lookup(c, r.id)) : job_answer{};
      if (c && c->err) {  // the connection is unusable: the next request connects again
        redisFree(c);
        c = nullptr;
      }
      answer(r, a);
    }
    if (c) redisFree(c);
  }

  job_answer submit(redisContext* c, std::uint64_t ticket) {
    const auto accepted = std::to_string(now_ns());
    auto rep = jobs_command(c, {"EVAL", std::string(job_submit_script), "3", cfg_.prefix + ":queued", cfg_.prefix + ":next",
                           cfg_.prefix, std::to_string(cfg_.queue.capacity), accepted, keep_ms_, cfg_.prefix + ":job:",
                           ticket ? channel_ : std::string(), std::to_string(ticket)});
    job_answer a;
    if (jobs_failed(rep) || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) return a;
    a.id = static_cast<std::uint64_t>(rep->element[0]->integer);
    a.r = a.id ? job_answer::result::accepted : job_answer::result::full;
    a.status = {job_state::queued, jobs_int(accepted), 0, 0};
    std::lock_guard lock(m_);
    stats_.queued = static_cast<std::size_t>(std::max<long long>(0, rep->element[1]->integer));
    return a;
  }

  job_answer lookup(redisContext* c, std::uint64_t id) {
    auto rep = jobs_command(c, {"HMGET", cfg_.prefix + ":job:" + std::to_string(id), "state", "accepted_ns", "started_ns",
                           "finished_ns"});
    job_answer a;
    if (jobs_failed(rep) || rep->type != REDIS_REPLY_ARRAY || rep->elements != 4) return a;
    a.r = job_answer::result::accepted;
    a.id = id;
    const auto state = jobs_text(rep->element[0]);
    a.status.state = state == "queued"    ? job_state::queued
                     : state == "running" ? job_state::running
                     : state == "done"    ? job_state::done
                                          : job_state::unknown;
    a.status.accepted_ns = jobs_int(jobs_text(rep->element[1]));
    a.status.started_ns = jobs_int(jobs_text(rep->element[2]));
    a.status.finished_ns = jobs_int(jobs_text(rep->element[3]));
    return a;
  }

  // Answers a request: a lookup or a plain submit at once; a submit with a done waiter only when
  // it failed (its waiter then leaves waiters_; whoever takes the waiter out answers it).
  void answer(const request& r, const job_answer& a) {
    {
      std::lock_guard lock(m_);
      if (a.r == job_answer::result::error) {
        ++stats_.errors;
        if (r.submit) ++stats_.submit_errors;
      }
      if (r.submit && a.r == job_answer::result::accepted) ++stats_.accepted;
      if (r.submit && a.r == job_answer::result::full) ++stats_.refused;
      if (r.ticket && a.r == job_answer::result::accepted) return;  // the done channel answers it
      if (r.ticket && waiters_.erase(r.ticket) == 0) return;        // answered already
    }
    r.reply(a);
  }

  // ---- workers --------------------------------------------------------------------------------

  struct taken {
    std::string entry, reply, ticket;
    std::uint64_t job = 0;
    std::int64_t accepted_ns = 0;
  };

  void worker_loop(unsigned index) {
    const auto consumer = fmt::format("{}-{}", who_, index);
    const auto group = cfg_.prefix + ":workers";
    const auto block_ms = std::to_string(std::min<std::int64_t>(100, cfg_.where.timeout.count() / 2));
    redisContext* c = nullptr;
    auto drop = [&] {
      count_error();
      if (c) redisFree(c);
      c = nullptr;
    };
    // When this worker next looks for jobs a dead consumer held (claim_after 0: never; also once
    // Redis says it has no XAUTOCLAIM, before 6.2), and where its scan of the pending list goes on.
    bool claiming = cfg_.claim_after.count() > 0;
    const auto claim_every = std::clamp(cfg_.claim_after / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
    auto next_claim = std::chrono::steady_clock::now() + claim_every;
    std::string cursor = "0-0";
    while (!stopping()) {
      if (!c && !(c = detail::redis_connect(cfg_.where))) {
        count_error();
        if (!pause(std::chrono::milliseconds(100))) break;
        continue;
      }
      if (claiming && std::chrono::steady_clock::now() >= next_claim) {
        next_claim = std::chrono::steady_clock::now() + claim_every;  // whatever the answer: reads go on
        taken t;
        switch (claim(c, group, consumer, cursor, t)) {
          case claim_result::one:
            next_claim = std::chrono::steady_clock::now();  // another may be waiting: look again at once
            if (!do_job(c, group, t, true)) drop();
            continue;
          case claim_result::none:
            if (cursor != "0-0") next_claim = std::chrono::steady_clock::now();  // the scan goes on
            break;
          case claim_result::no_group:  // Redis restarted empty, or the queue was reset
            count_error();
            jobs_create_group(c, cfg_.prefix);
            break;
          case claim_result::unsupported:
            count_error();
            claiming = false;
            break;
          case claim_result::failed:
            count_error();
            if (c->err) {  // the connection is unusable (a refused command is not): connect again
              redisFree(c);
              c = nullptr;
            }
            break;
        }
        if (!c) {
          if (!pause(std::chrono::milliseconds(100))) break;
          continue;
        }
      }
      auto rep = jobs_command(c, {"XREADGROUP", "GROUP", group, consumer, "COUNT", "1", "BLOCK", block_ms, "STREAMS",
                             cfg_.prefix, ">"});
      if (rep && rep->type == REDIS_REPLY_ERROR && std::string_view(rep->str, rep->len).starts_with("NOGROUP")) {
        count_error();  // Redis restarted empty (or the queue was reset): the group again
        if (!jobs_group_ready(jobs_create_group(c, cfg_.prefix)) && !pause(std::chrono::milliseconds(100))) break;
        continue;
      }
      if (jobs_failed(rep)) {
        drop();
        if (!pause(std::chrono::milliseconds(100))) break;
        continue;
      }
      const auto t = parse_entry(rep.get());
      if (!t) continue;  // nothing within the block time
      if (!do_job(c, group, *t, false)) drop();
    }
    if (c) redisFree(c);
  }

  enum class claim_result : std::uint8_t { one, none, no_group, unsupported, failed };

  // XAUTOCLAIM: the next entry pending longer than claim_after with another consumer (one that
  // died, or lost its connection, with the job taken) becomes this consumer's, in `out`. The scan
  // goes on from `cursor` (Redis reads at most ten pending entries per call) and starts over when
  // it comes back to 0-0. An entry deleted meanwhile (done after all) comes back as nothing
  // (Redis 7 lists its id apart; 6.2 gives a nil element, skipped here).
  claim_result claim(redisContext* c, const std::string& group, const std::string& consumer, std::string& cursor, taken& out) {
    auto rep = jobs_command(c, {"XAUTOCLAIM", cfg_.prefix, group, consumer, std::to_string(cfg_.claim_after.count()),
                                cursor, "COUNT", "1"});
    if (rep && rep->type == REDIS_REPLY_ERROR) {
      const std::string_view e(rep->str, rep->len);
      cursor = "0-0";
      if (e.starts_with("NOGROUP")) return claim_result::no_group;
      if (e.starts_with("ERR unknown command")) return claim_result::unsupported;
      return claim_result::failed;
    }
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 || rep->element[1]->type != REDIS_REPLY_ARRAY)
      return claim_result::failed;
    const auto next = jobs_text(rep->element[0]);
    cursor = next.empty() ? std::string("0-0") : std::string(next);
    const auto* entries = rep->element[1];
    for (std::size_t i = 0; i < entries->elements; ++i)
      if (auto t = parse_fields(entries->element[i])) {
        out = std::move(*t);
        return claim_result::one;
      }
    return claim_result::none;
  }

  // The first entry of an XREADGROUP reply: [[stream, [[id, [field, value, ...]]]]].
  static std::optional<taken> parse_entry(const redisReply* r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) return std::nullopt;
    const auto* stream = r->element[0];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2) return std::nullopt;
    const auto* entries = stream->element[1];
    if (entries->type != REDIS_REPLY_ARRAY || entries->elements < 1) return std::nullopt;
    return parse_fields(entries->element[0]);
  }

  // One stream entry: [id, [field, value, ...]].
  static std::optional<taken> parse_fields(const redisReply* e) {
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->type != REDIS_REPLY_ARRAY) return std::nullopt;
    taken t;
    t.entry = jobs_text(e->element[0]);
    const auto* f = e->element[1];
    for (std::size_t i = 0; i + 1 < f->elements; i += 2) {
      const auto name = jobs_text(f->element[i]), value = jobs_text(f->element[i + 1]);
      if (name == "job") t.job = static_cast<std::uint64_t>(jobs_int(value));
      else if (name == "accepted_ns") t.accepted_ns = jobs_int(value);
      else if (name == "reply") t.reply = value;
      else if (name == "ticket") t.ticket = value;
    }
    return t;
  }

  // Marks the job running, does it, marks it done: false when Redis failed (the entry stays pending).
  // `claimed`: taken from a consumer that held it past claim_after (XAUTOCLAIM).
  bool do_job(redisContext* c, const std::string& group, const taken& t, bool claimed) {
    const auto hash = cfg_.prefix + ":job:" + std::to_string(t.job);
    job_status s{job_state::running, t.accepted_ns, now_ns(), 0};
    auto start = jobs_command(c, {"EVAL", std::string(job_start_script), "2", cfg_.prefix + ":queued", hash,
                                  std::to_string(s.started_ns), keep_ms_, claimed ? "1" : "0"});
    if (jobs_failed(start) || start->type != REDIS_REPLY_ARRAY || start->elements != 2) return false;
    if (start->element[0]->integer == 0) return true;  // done already: its finisher acknowledged the entry
    {
      std::lock_guard lock(m_);
      stats_.queued = static_cast<std::size_t>(std::max<long long>(0, start->element[1]->integer));
      ++stats_.running;
      if (claimed) ++stats_.reclaimed;
    }
    std::this_thread::sleep_for(cfg_.queue.work);  // the job's work (simulated: the worker is busy)
    s.state = job_state::done;
    s.finished_ns = now_ns();
    const auto message = fmt::format("{} {} {} {} {}", t.ticket, t.job, s.accepted_ns, s.started_ns, s.finished_ns);
    auto fin = jobs_command(c, {"EVAL", std::string(job_finish_script), "3", cfg_.prefix, hash, cfg_.prefix + ":done", group,
                           t.entry, std::to_string(s.finished_ns), keep_ms_, t.reply, message});
    const bool ok = !jobs_failed(fin) && fin->type == REDIS_REPLY_INTEGER;
    {
      std::lock_guard lock(m_);
      --stats_.running;
      if (ok && fin->integer == 1) ++stats_.done;
    }
    if (ok && fin->integer == 1 && cfg_.on_done) cfg_.on_done(t.job, s);
    return ok;
  }

  // ---- the done channel -----------------------------------------------------------------------

  void watcher_loop() {
    while (!stopping()) {
      redisContext* c = detail::redis_connect(cfg_.where);
      reply_ptr sub(c ? static_cast<redisReply*>(redisCommand(c, "SUBSCRIBE %b", channel_.data(), channel_.size()))
                      : nullptr);
      if (!jobs_failed(sub)) {
        {
          std::lock_guard lock(m_);
          subscribed_ = true;
        }
        cv_.notify_all();
        listen(c);
        fail_waiters();  // a completion may have been published while the channel was lost
      }
      if (c) redisFree(c);
      if (stopping()) break;
      count_error();
      pause(std::chrono::milliseconds(100));
    }
  }

  // Reads the channel until the connection fails or stopping (polled every 100 ms).
  void listen(redisContext* c) {
    for (;;) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(c, &raw) != REDIS_OK) return;
      if (raw) {
        on_message(reply_ptr(static_cast<redisReply*>(raw)).get());
        continue;
      }
      if (stopping()) return;
      pollfd p{c->fd, POLLIN, 0};
      const int n = ::poll(&p, 1, 100);
      if (n < 0 && errno != EINTR) return;
      if (n > 0 && redisBufferRead(c) != REDIS_OK) return;
    }
  }

  // ["message", channel, "<ticket> <job> <accepted_ns> <started_ns> <finished_ns>"].
  void on_message(const redisReply* r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || jobs_text(r->element[0]) != "message") return;
    std::string_view m = jobs_text(r->element[2]);
    std::int64_t v[5] = {};
    for (auto& x : v) {
      const auto sp = m.find(' ');
      x = jobs_int(m.substr(0, sp));
      m = sp == std::string_view::npos ? std::string_view{} : m.substr(sp + 1);
    }
    answer_fn f;
    {
      std::lock_guard lock(m_);
      auto it = waiters_.find(static_cast<std::uint64_t>(v[0]));
      if (it == waiters_.end()) return;
      f = std::move(it->second);
      waiters_.erase(it);
    }
    f(job_answer{job_answer::result::done, static_cast<std::uint64_t>(v[1]), {job_state::done, v[2], v[3], v[4]}});
  }

  void fail_waiters() {
    std::unordered_map<std::uint64_t, answer_fn> lost;
    {
      std::lock_guard lock(m_);
      subscribed_ = false;
      lost.swap(waiters_);
      stats_.lost_waiters += lost.size();
    }
    for (auto& [ticket, f] : lost) done_error(f);
  }

  bool stopping() const {
    std::lock_guard lock(m_);
    return stopping_;
  }

  const redis_jobs_config cfg_;
  std::string who_, channel_, keep_ms_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<request> queue_;                                 // guarded by m_
  std::unordered_map<std::uint64_t, answer_fn> waiters_;      // done waiters by ticket, guarded by m_
  std::uint64_t next_ticket_ = 0;                             // guarded by m_
  bool subscribed_ = false;                                   // the done channel is read, guarded by m_
  bool stopping_ = false;                                     // guarded by m_
  stats_t stats_;                                             // guarded by m_
  std::vector<std::thread> threads_;
};

}  // namespace

tl::expected<std::unique_ptr<redis_job_queue>, std::string> make_redis_job_queue(const redis_jobs_config& cfg) {
  const auto where = fmt::format("redis://{}:{}", cfg.where.host, cfg.where.port);
  std::string why;
  redisContext* c = detail::redis_connect(cfg.where, &why);
  if (!c) return tl::unexpected(fmt::format("{}: cannot connect: {}", where, why));
  if (cfg.reset) {  // the job hashes expire by themselves
    auto del = jobs_command(c, {"DEL", cfg.prefix, cfg.prefix + ":queued", cfg.prefix + ":next", cfg.prefix + ":done"});
    if (jobs_failed(del)) {
      why = del ? std::string(del->str, del->len) : std::string(c->errstr);
      redisFree(c);
      return tl::unexpected(fmt::format("{}: cannot delete the queue: {}", where, why));
    }
  }
  auto rep = jobs_create_group(c, cfg.prefix);
  const bool ok = jobs_group_ready(rep);
  why = !rep ? std::string(c->errstr) : ok ? std::string() : std::string(rep->str, rep->len);
  rep.reset();
  redisFree(c);
  if (!ok) return tl::unexpected(fmt::format("{}: cannot create the consumer group: {}", where, why));
  auto q = std::make_unique<redis_jobs>(cfg);
  if (cfg.reply_done && !q->wait_subscribed())
    return tl::unexpected(fmt::format("{}: cannot subscribe to the done channel", where));
  return q;
}

}  // namespace perflab::contention
