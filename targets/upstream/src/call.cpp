#include <perflab/upstream/call.hpp>

#include <limits>
#include <thread>

#include <fmt/format.h>

#include <perflab/core/clock.hpp>

namespace perflab::upstream {

namespace asio = boost::asio;

namespace {

constexpr std::string_view forwarded_headers[] = {"content-type", "accept", "authorization", "x-request-id",
                                                  "idempotency-key"};

bool forwarded(std::string_view name) noexcept {
  for (auto f : forwarded_headers) {
    if (f.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < f.size() && same; ++i) {
      char c = name[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      same = c == f[i];
    }
    if (same) return true;
  }
  return false;
}

std::size_t status_class(int status) noexcept {
  return status >= 100 && status < 600 ? static_cast<std::size_t>(status / 100 - 1) : 5;
}

}  // namespace

call::call(service& svc)
    : svc_(svc), ex_(svc.pool(), svc.cfg().connect_timeout, svc.cfg().to.address),
      backoff_(svc.cfg().retry.backoff, svc.next_seed()) {}

void call::prepare(std::string_view method, std::string_view path, std::string_view query, std::string_view body,
                   std::span<const http::header> headers) {
  const auto& to = svc_.cfg().to;
  method_.assign(method);
  head_ = method == "HEAD";
  // The cached fallback's key: the path and the query (another query is another resource).
  key_.assign(path);
  if (!query.empty()) key_.append("?").append(query);
  request_.clear();
  auto it = std::back_inserter(request_);
  fmt::format_to(it, "{} {}{}", method, to.base_path, path.empty() ? "/" : path);
  if (!query.empty()) fmt::format_to(it, "?{}", query);
  fmt::format_to(it, " HTTP/1.1\r\nHost: {}:{}\r\n", to.host, to.port);
  for (const auto& h : headers)
    if (forwarded(h.name)) fmt::format_to(it, "{}: {}\r\n", h.name, h.value);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    fmt::format_to(it, "Content-Length: {}\r\n", body.size());
  request_.append("\r\n");
  request_.append(body);
  ex_.set_request(request_, head_);
}

call::~call() {
  // A connection that ends mid-call (an attempt or a backoff pending) gives back its place in the
  // bulkhead and its breaker permit, unused: neither may leak (a full bulkhead, a breaker stuck
  // half-open).
  if (permit_.granted)
    if (auto* br = svc_.breaker()) br->release(permit_);
  if (in_bulkhead_) svc_.bulkhead()->leave();
}

bool call::start(std::int64_t now) {
  auto& c = svc_.count();
  c.calls.fetch_add(1, std::memory_order_relaxed);
  start_ns_ = now;
  const auto deadline = svc_.cfg().deadline.count();
  deadline_ns_ = deadline > 0 ? now + deadline : std::numeric_limits<std::int64_t>::max() / 2;
  attempts_ = 0;
  last_failure_ = failure::none;
  status_ = 0;
  content_type_ = body_ = {};
  fallback_.reset();
  in_bulkhead_ = false;
  permit_ = {};
  if (auto* b = svc_.bulkhead()) {
    if (!b->try_enter()) {
      c.bulkhead_rejections.fetch_add(1, std::memory_order_relaxed);
      refuse(fallback_reason::bulkhead);
      return false;
    }
    in_bulkhead_ = true;
  }
  if (auto* br = svc_.breaker()) {
    permit_ = br->try_acquire(nanos(now));
    if (!permit_) {
      c.breaker_rejections.fetch_add(1, std::memory_order_relaxed);
      if (in_bulkhead_) svc_.bulkhead()->leave();
      in_bulkhead_ = false;
      refuse(fallback_reason::breaker_open);
      return false;
    }
  }
  if (auto* bud = svc_.budget()) bud->on_call(nanos(now));
  backoff_.reset();
  return true;
}

std::int64_t call::attempt_deadline(std::int64_t now) const noexcept {
  return std::min(now + svc_.cfg().attempt_timeout.count(), deadline_ns_);
}

std::optional<nanos> call::after_attempt(failure f, std::int64_t now) {
  auto& c = svc_.count();
  ++attempts_;
  c.attempts.fetch_add(1, std::memory_order_relaxed);
  if (f != failure::none) c.failures[static_cast<std::size_t>(f)].fetch_add(1, std::memory_order_relaxed);
  last_failure_ = f;
  const int status = f == failure::none ? ex_.status() : 0;
  if (!resilience::retryable_status(status) || attempts_ >= svc_.cfg().retry.max_attempts) return std::nullopt;
  if (!resilience::idempotent(method_)) {
    c.not_idempotent.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  const nanos wait = backoff_.next(attempts_);
  // A retry that could not even start before the deadline is not made (nor charged to the budget).
  if (now + wait.count() >= deadline_ns_) return std::nullopt;
  if (auto* bud = svc_.budget(); bud && !bud->try_retry(nanos(now))) {
    c.budget_refusals.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  c.retries.fetch_add(1, std::memory_order_relaxed);
  return wait;
}

void call::answer_error(int status, std::string_view text) {
  status_ = status;
  own_type_ = "text/plain";
  own_body_.clear();
  fmt::format_to(std::back_inserter(own_body_), "{} {}\n", status, text);
  content_type_ = own_type_;
  body_ = own_body_;
}

void call::refuse(fallback_reason why) {
  answer_error(503, why == fallback_reason::bulkhead ? "upstream bulkhead full" : "upstream circuit breaker open");
  apply_fallback(why);
  svc_.count().responses[status_class(status_)].fetch_add(1, std::memory_order_relaxed);
}

void call::apply_fallback(fallback_reason why) {
  const auto& fb = svc_.cfg().fallback;
  if (fb.what == fallback_config::kind::none) return;
  if (fb.what == fallback_config::kind::fixed) {
    status_ = fb.status;
    content_type_ = "text/plain";
    body_ = fb.body;
  } else {
    // A stored response stands in for a read only: a POST or DELETE answered from a cache
    // would tell the client something happened that did not.
    cached_response r;
    if ((method_ != "GET" && !head_) || !svc_.recall(key_, r)) return;  // else the error stands
    status_ = r.status;
    own_type_ = std::move(r.content_type);
    own_body_ = std::move(r.body);
    content_type_ = own_type_;
    body_ = own_body_;
  }
  fallback_ = why;
  svc_.count().fallbacks[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed);
}

void call::finish(std::int64_t now) {
  const failure f = last_failure_;
  const bool failed = f != failure::none || ex_.status() >= 500;
  if (auto* br = svc_.breaker()) {
    const nanos took(now - start_ns_);
    if (failed) br->on_failure(permit_, took, nanos(now));
    else br->on_success(permit_, took, nanos(now));
    permit_ = {};  // ended
  }
  if (in_bulkhead_) svc_.bulkhead()->leave();
  in_bulkhead_ = false;
  if (f == failure::none) {
    status_ = ex_.status();
    content_type_ = ex_.content_type();
    body_ = ex_.body();
    if (status_ >= 200 && status_ < 300 && svc_.cfg().fallback.what == fallback_config::kind::cached && method_ == "GET")
      svc_.remember(key_, status_, content_type_, body_);
    if (failed) apply_fallback(fallback_reason::status);
  } else {
    answer_error(is_timeout(f) ? 504 : 502, fmt::format("upstream {}", to_string(f)));
    apply_fallback(is_timeout(f) ? fallback_reason::timeout : fallback_reason::error);
  }
  svc_.count().responses[status_class(status_)].fetch_add(1, std::memory_order_relaxed);
}

void call::run_blocking() {
  if (!start(now_ns())) return;
  for (;;) {
    const failure f = ex_.run_blocking(attempt_deadline(now_ns()));
    const auto wait = after_attempt(f, now_ns());
    if (!wait) break;
    std::this_thread::sleep_for(*wait);
  }
  finish(now_ns());
}

void call::async_run(asio::io_context& ioc, keep_t keep, done_fn done) {
  ioc_ = &ioc;
  if (!timer_) timer_.emplace(ioc);
  done_ = std::move(done);
  if (!start(now_ns())) {
    auto d = std::move(done_);
    return d(std::move(keep));
  }
  next_attempt(std::move(keep));
}

void call::next_attempt(keep_t keep) {
  ex_.async_run(*ioc_, attempt_deadline(now_ns()), std::move(keep),
                [this](keep_t k, failure f) { on_attempt(std::move(k), f); });
}

void call::on_attempt(keep_t keep, failure f) {
  const auto wait = after_attempt(f, now_ns());
  if (!wait) {
    finish(now_ns());
    auto d = std::move(done_);  // done may start this connection's next call
    return d(std::move(keep));
  }
  timer_->expires_after(*wait);
  timer_->async_wait([this, k = std::move(keep)](const boost::system::error_code&) mutable { next_attempt(std::move(k)); });
}

}  // namespace perflab::upstream
