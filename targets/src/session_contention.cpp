// session's part of /stock, /orders and /jobs (perflab::contention): the arguments are checked
// here (a clear 4xx in JSON), the work is done in the capability, and the reply is built in the
// connection's reused buffers. Two requests wait before their reply: a single-writer buy (the
// owner thread answers: next::handoff) and an order with --order-work (the model's wait primitive,
// as /sleep). Nothing here blocks an event loop.
#include <perflab/targets/session.hpp>

#include <iterator>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include <perflab/core/text.hpp>

namespace perflab::targets {

namespace {

constexpr std::uint64_t max_qty = 1'000'000'000;
constexpr std::size_t max_key = 255;

// 1 to 255 visible ASCII characters (Stripe's limit; the IETF draft's key is any sf-string).
bool valid_key(std::string_view k) noexcept {
  if (k.empty() || k.size() > max_key) return false;
  for (char c : k)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

// "/stock/12/buy" -> "12"; "/stock/12" -> "12"; "/stock" -> "".
std::string_view item_text(std::string_view path, bool buy) noexcept {
  if (path.size() <= 7) return {};
  path.remove_prefix(7);
  if (buy) path.remove_suffix(4);
  return path;
}

double ms_between(std::int64_t from_ns, std::int64_t to_ns) noexcept {
  return static_cast<double>(to_ns - from_ns) / 1e6;
}

// GET /jobs/{id}'s body for a known job (the local and the Redis queue alike).
void job_status_json(std::string& out, std::uint64_t id, const contention::job_status& s) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{{\"id\":{},\"state\":\"{}\",\"accepted_ns\":{}", id, to_string(s.state), s.accepted_ns);
  if (s.started_ns) fmt::format_to(it, ",\"wait_ms\":{:.3f}", ms_between(s.accepted_ns, s.started_ns));
  if (s.finished_ns)
    fmt::format_to(it, ",\"work_ms\":{:.3f},\"total_ms\":{:.3f}", ms_between(s.started_ns, s.finished_ns),
                   ms_between(s.accepted_ns, s.finished_ns));
  out.append("}\n");
}

// POST /jobs' body with --job-reply done, once a worker did the job.
void job_done_json(std::string& out, const contention::job_status& j) {
  fmt::format_to(std::back_inserter(out), "{{\"state\":\"done\",\"wait_ms\":{:.3f},\"work_ms\":{:.3f},\"total_ms\":{:.3f}}}\n",
                 ms_between(j.accepted_ns, j.started_ns), ms_between(j.started_ns, j.finished_ns),
                 ms_between(j.accepted_ns, j.finished_ns));
}

}  // namespace

std::optional<session::step> session::start_contention(const dispatch& d, const request_view& req) noexcept {
  auto st = decide_contention(d, req);
  // The views last: the body may have grown (moved) while it was built.
  contention_->reply.body = contention_->body;
  contention_->reply.headers = contention_->headers;
  return st;
}

std::optional<session::step> session::decide_contention(const dispatch& d, const request_view& req) noexcept {
  contention_->body.clear();
  contention_->headers.clear();
  contention_->reply = {};
  auto& svc = ctx_.contention;
  auto body = [this]<class... A>(int status, fmt::format_string<A...> f, A&&... args) {
    contention_->reply.status = status;
    fmt::format_to(std::back_inserter(contention_->body), f, std::forward<A>(args)...);
  };
  try {
    if (d.ep == endpoint::stock || d.ep == endpoint::stock_buy) {
      auto& stock = svc.stocks();
      const auto text = item_text(req.path, d.ep == endpoint::stock_buy);
      std::uint64_t item = 0;
      if (d.ep == endpoint::stock && text.empty()) {  // GET /stock: every item
        const auto a = stock.audit();
        body(200,
             "{{\"strategy\":\"{}\",\"items\":{},\"initial\":{},\"sold\":{},\"remaining\":{},\"buys\":{},"
             "\"sold_out\":{},\"fragmented\":{},\"violations\":{},\"ok\":{}}}\n",
             to_string(stock.strategy()), a.items, a.initial, a.sold, a.remaining, a.buys, a.sold_out, a.fragmented,
             a.violations, a.ok());
      } else if (!parse_u64(text, item) || item >= stock.items()) {
        body(404, "{{\"error\":\"no such item: items are 0 to {}\"}}\n", stock.items() - 1);
      } else if (d.ep == endpoint::stock) {
        const std::int64_t sold = stock.sold(item), left = stock.remaining(item);
        const std::int64_t initial = svc.config().initial;
        body(200, "{{\"item\":{},\"strategy\":\"{}\",\"initial\":{},\"sold\":{},\"remaining\":{},\"ok\":{}}}\n", item,
             to_string(stock.strategy()), initial, sold, left, left >= 0 && sold + left == initial);
      } else {
        std::uint64_t qty = 1;
        if (const auto q = query_param(req.query, "qty"); (!q.empty() || req.query.find("qty=") != std::string_view::npos) &&
                                                           (!parse_u64(q, qty) || qty < 1 || qty > max_qty)) {
          body(400, "{{\"error\":\"qty must be a whole number from 1 to {}\"}}\n", max_qty);
          return std::nullopt;
        }
        contention_->buy_item = item;
        contention_->buy_qty = static_cast<std::int64_t>(qty);
        if (contention::answered_elsewhere(stock.strategy())) {  // an owner or worker thread answers
          if (!contention_->handoff) contention_->handoff = std::make_shared<contention::handoff>();
          contention_->handoff->start_buy(stock, item, contention_->buy_qty);
          contention_->wait = contention_wait::buy;
          return step{next::handoff};
        }
        const auto r = stock.buy(item, contention_->buy_qty);
        if (r.bought) {
          body(200, "{{\"item\":{},\"bought\":{},\"remaining\":{}}}\n", item, qty, r.remaining);
        } else {
          body(409, "{{\"item\":{},\"bought\":0,\"remaining\":{},\"error\":\"{}\"}}\n", item, r.remaining,
               r.remaining >= contention_->buy_qty ? "fragmented: no shard holds that many" : "sold out");
        }
      }
      return std::nullopt;
    }
    if (auto* q = (d.ep == endpoint::jobs || d.ep == endpoint::job) ? svc.redis_jobs() : nullptr) {
      std::uint64_t id = 0;
      if (d.ep == endpoint::job && !parse_u64(req.path.substr(6), id)) {
        body(404, "{{\"error\":\"no such job\"}}\n");
        return std::nullopt;
      }
      if (!contention_->handoff) contention_->handoff = std::make_shared<contention::handoff>();
      if (d.ep == endpoint::jobs) contention_->handoff->start_redis_job(*q, svc.config().job_reply_done);
      else contention_->handoff->start_redis_lookup(*q, id);
      contention_->wait = d.ep == endpoint::jobs ? contention_wait::redis_job : contention_wait::redis_lookup;
      return step{next::handoff};
    }
    if (d.ep == endpoint::jobs && svc.config().job_reply_done) {  // the synchronous baseline
      if (!contention_->handoff) contention_->handoff = std::make_shared<contention::handoff>();
      if (svc.submit_job_and_notify(contention_->handoff)) {
        contention_->wait = contention_wait::job;
        return step{next::handoff};
      }
      body(503, "{{\"error\":\"job queue full ({} waiting)\"}}\n", svc.config().jobs.capacity);
      contention_->headers.append("Retry-After: 1\r\n");
      return std::nullopt;
    }
    if (d.ep == endpoint::jobs) {
      if (const auto id = svc.jobs().submit()) {
        body(202, "{{\"id\":{},\"state\":\"queued\"}}\n", *id);
        fmt::format_to(std::back_inserter(contention_->headers), "Location: /jobs/{}\r\n", *id);
      } else {
        body(503, "{{\"error\":\"job queue full ({} waiting)\"}}\n", svc.config().jobs.capacity);
        contention_->headers.append("Retry-After: 1\r\n");
      }
      return std::nullopt;
    }
    if (d.ep == endpoint::job) {
      std::uint64_t id = 0;
      const auto s = parse_u64(req.path.substr(6), id) ? svc.jobs().status(id) : contention::job_status{};
      if (s.state == contention::job_state::unknown) {
        body(404, "{{\"error\":\"no such job (finished jobs are kept up to {})\"}}\n", svc.config().jobs.keep_finished);
        return std::nullopt;
      }
      contention_->reply.status = 200;
      job_status_json(contention_->body, id, s);
      return std::nullopt;
    }
    // POST /orders.
    std::string_view key;
    int keys = 0;
    for (const auto& h : parser_->headers())
      if (iequals(h.name, "idempotency-key")) {
        key = h.value;
        ++keys;
      }
    contention_->order_key.clear();
    if (keys > 1 || (keys == 1 && !valid_key(key))) {
      body(400, "{{\"error\":\"Idempotency-Key must be one header of 1 to {} visible ASCII characters\"}}\n", max_key);
      return std::nullopt;
    }
    if (keys == 0) {
      svc.count_unkeyed();
    } else {
      const auto fp = contention::fingerprint(req.query, req.path, req.body);
      if (auto* remote = svc.remote_keys()) {  // Redis or PostgreSQL: its worker runs the whole order
        if (!contention_->handoff) contention_->handoff = std::make_shared<contention::handoff>();
        contention_->handoff->start_keyed(*remote, std::string(key), fp, [&svc] {
          if (auto* o = svc.order_outbox()) {  // the order and its event, waited for on the key store's worker
            const auto r = o->create_order();
            if (r.error) throw contention::unavailable("the outbox's transaction failed");  // 503, key left in flight
            svc.create_order();
            return contention::idempotency_store::stored_response{201, fmt::format("{{\"order\":{},\"event\":{}}}\n", r.order, r.event)};
          }
          if (svc.config().order_work.count() > 0) std::this_thread::sleep_for(svc.config().order_work);
          return contention::idempotency_store::stored_response{201, fmt::format("{{\"order\":{}}}\n", svc.create_order())};
        });
        contention_->wait = contention_wait::keyed;
        return step{next::handoff};
      }
      contention::idempotency_store::stored_response stored;
      const auto v = svc.idempotency().begin(key, fp, std::chrono::nanoseconds(now_ns()), &stored);
      if (v == contention::idempotency_store::verdict::first) {
        contention_->order_key.assign(key);
      } else {
        no_work_reply(v, std::move(stored));
        return std::nullopt;
      }
    }
    if (auto* o = svc.order_outbox()) {  // the order and its event in one transaction, on a writer thread
      if (!contention_->handoff) contention_->handoff = std::make_shared<contention::handoff>();
      // The key (if any) goes with the order: its writer stores the response, or frees the key.
      auto* key_store = contention_->order_key.empty() ? nullptr : &svc.idempotency();
      contention_->handoff->start_outbox_order(*o, key_store, std::exchange(contention_->order_key, {}));
      contention_->wait = contention_wait::outbox;
      return step{next::handoff};
    }
    contention_->wait = contention_wait::order;
    if (svc.config().order_work.count() > 0)
      return step{next::wait, std::chrono::ceil<std::chrono::microseconds>(svc.config().order_work)};
    finish_contention();  // no work to wait for: the order is made now
    return std::nullopt;
  } catch (...) {
    // No memory for a part, a key or the body: 503, and a first key is freed for the retry.
    ctx_.stats.allocation_failed();
    end_contention();
    contention_->wait = contention_wait::none;
    contention_->body.clear();
    contention_->reply.status = 503;
    contention_->reply.body = {};
    return std::nullopt;
  }
}

void session::finish_contention() noexcept {
  const auto waited = contention_->wait;
  contention_->wait = contention_wait::none;
  contention_->reply.headers = {};
  try {
    auto out = std::back_inserter(contention_->body);
    if (waited == contention_wait::job) {
      contention_->reply.status = 200;
      job_done_json(contention_->body, contention_->handoff->job());
    } else if (waited == contention_wait::redis_job || waited == contention_wait::redis_lookup) {
      finish_redis_job(waited == contention_wait::redis_lookup);
    } else if (waited == contention_wait::buy) {
      const auto r = contention_->handoff->buy();
      contention_->reply.status = r.error ? 503 : r.bought ? 200 : 409;
      if (r.error)
        fmt::format_to(out, "{{\"item\":{},\"error\":\"the stock's store ({}) did not answer\"}}\n", contention_->buy_item,
                       to_string(ctx_.contention.stocks().strategy()));
      else if (r.bought)
        fmt::format_to(out, "{{\"item\":{},\"bought\":{},\"remaining\":{}}}\n", contention_->buy_item, contention_->buy_qty, r.remaining);
      else
        fmt::format_to(out, "{{\"item\":{},\"bought\":0,\"remaining\":{},\"error\":\"sold out\"}}\n", contention_->buy_item,
                       r.remaining);
    } else if (waited == contention_wait::keyed) {
      auto k = contention_->handoff->keyed();
      if (k.error) {
        contention_->reply.status = 503;
        fmt::format_to(out, "{{\"error\":\"the Idempotency-Key store ({}) did not answer\"}}\n",
                       ctx_.contention.remote_keys()->kind());
      } else if (k.verdict == contention::idempotency_store::verdict::first) {
        contention_->reply.status = k.response.status;
        contention_->body = std::move(k.response.body);
      } else {
        no_work_reply(k.verdict, std::move(k.response));
      }
    } else if (waited == contention_wait::outbox) {
      const auto r = contention_->handoff->order();
      if (r.error) {
        contention_->reply.status = 503;
        contention_->body.append("{\"error\":\"the outbox's database did not take the order\"}\n");
      } else {
        ctx_.contention.create_order();  // counted in perflab_orders_created_total
        contention_->reply.status = 201;
        fmt::format_to(out, "{{\"order\":{},\"event\":{}}}\n", r.order, r.event);
      }
    } else if (waited == contention_wait::order) {
      // The order's effect, then its response stored under the key (a repeat replays it).
      const auto id = ctx_.contention.create_order();
      contention_->reply.status = 201;
      fmt::format_to(out, "{{\"order\":{}}}\n", id);
      if (!contention_->order_key.empty())
        ctx_.contention.idempotency().complete(contention_->order_key, {201, contention_->body}, std::chrono::nanoseconds(now_ns()));
      contention_->order_key.clear();
    }
  } catch (...) {
    ctx_.stats.allocation_failed();
    contention_->reply.status = 503;
    contention_->body.clear();
  }
  contention_->reply.body = contention_->body;
  contention_->reply.headers = contention_->headers;
}

void session::finish_redis_job(bool lookup) {
  using result = contention::job_answer::result;
  const auto a = contention_->handoff->redis_job();
  auto out = std::back_inserter(contention_->body);
  if (a.r == result::error || a.r == result::full) {
    contention_->reply.status = 503;
    if (a.r == result::full) fmt::format_to(out, "{{\"error\":\"job queue full ({} waiting)\"}}\n", ctx_.contention.config().jobs.capacity);
    else contention_->body.append("{\"error\":\"the job queue's Redis did not answer\"}\n");
    contention_->headers.append("Retry-After: 1\r\n");
  } else if (a.r == result::done) {
    contention_->reply.status = 200;
    job_done_json(contention_->body, a.status);
  } else if (!lookup) {
    contention_->reply.status = 202;
    fmt::format_to(out, "{{\"id\":{},\"state\":\"queued\"}}\n", a.id);
    fmt::format_to(std::back_inserter(contention_->headers), "Location: /jobs/{}\r\n", a.id);
  } else if (a.status.state == contention::job_state::unknown) {
    contention_->reply.status = 404;
    contention_->body.append("{\"error\":\"no such job (a finished job's state expires an hour after it was done)\"}\n");
  } else {
    contention_->reply.status = 200;
    job_status_json(contention_->body, a.id, a.status);
  }
}

void session::no_work_reply(contention::idempotency_store::verdict v,
                            contention::idempotency_store::stored_response&& stored) {
  contention_->reply.status = v == contention::idempotency_store::verdict::replay ? stored.status
                             : v == contention::idempotency_store::verdict::in_flight ? 409
                                                                                       : 422;
  if (v == contention::idempotency_store::verdict::replay) {
    contention_->body = std::move(stored.body);
    contention_->headers.append("Idempotent-Replayed: true\r\n");
  } else if (v == contention::idempotency_store::verdict::in_flight) {
    contention_->body = "{\"error\":\"a request with this Idempotency-Key is in flight; retry later\"}\n";
    contention_->headers.append("Retry-After: 1\r\n");
  } else {
    contention_->body = "{\"error\":\"this Idempotency-Key was used for a different request\"}\n";
  }
}

void session::end_contention() noexcept {
  if (!contention_) return;
  if (contention_->wait == contention_wait::order && !contention_->order_key.empty() && ctx_.contention.idempotency_if_built())
    ctx_.contention.idempotency().abandon(contention_->order_key);
  contention_->order_key.clear();
}

}  // namespace perflab::targets
