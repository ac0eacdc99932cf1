#pragma once
// One /proxy request's call to the upstream, with the policies composed in resilience4j's order,
// outermost first: bulkhead -> circuit breaker -> retry -> timeout.
//   bulkhead  a place among --upstream-bulkhead calls in flight, or 503 at once;
//   breaker   a permit (open: 503 at once); it judges the whole call (one outcome after the
//             retries), so a retried blip is not a failure and a storm of retries is one;
//   retry     idempotent methods only, after no response or a 502/503/504, with backoff and
//             jitter, while the retry budget and the overall deadline allow;
//   timeout   each attempt (pool wait, connect, request, response) within --upstream-timeout and
//             the call's --upstream-deadline.
// The answer: the upstream's response, or 502 (failure) / 504 (timeout) / 503 (refused), unless a
// fallback is configured and the call was refused or failed (no response or a 5xx): then the
// fallback's, with its reason for X-Fallback. Offered blocking and on an Asio io_context (the
// backoff waits on the loop's timer). One call per HTTP connection, reused; one thread at a time.
#include <utility>  // GCC 12: before any boost/asio header that pulls in awaitable

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <perflab/core/http.hpp>
#include <perflab/resilience/retry.hpp>
#include <perflab/upstream/exchange.hpp>
#include <perflab/upstream/service.hpp>

namespace perflab::upstream {

class call {
 public:
  explicit call(service& svc);
  ~call();
  call(const call&) = delete;
  call& operator=(const call&) = delete;

  // The next request: path is what follows /proxy ("" or "/..."), forwarded as base + path +
  // ("?" query); of the headers, Content-Type, Accept, Authorization, X-Request-Id and
  // Idempotency-Key are forwarded. Everything is copied.
  void prepare(std::string_view method, std::string_view path, std::string_view query, std::string_view body,
               std::span<const http::header> headers);
  void run_blocking();
  // done(keep) on the loop when the call is over (maybe before async_run returns); keep is the
  // owner, held by every pending wait (see exchange::async_run).
  using done_fn = std::function<void(std::shared_ptr<void> keep)>;
  void async_run(boost::asio::io_context& ioc, std::shared_ptr<void> keep, done_fn done);

  // The answer (valid until the next prepare()).
  int status() const noexcept { return status_; }
  std::string_view content_type() const noexcept { return content_type_; }
  std::string_view body() const noexcept { return body_; }
  std::optional<fallback_reason> fallback() const noexcept { return fallback_; }
  unsigned attempts() const noexcept { return attempts_; }

 private:
  using keep_t = std::shared_ptr<void>;
  bool start(std::int64_t now);  // false: refused (answered)
  std::int64_t attempt_deadline(std::int64_t now) const noexcept;
  // After an attempt: the wait before the next one, or nullopt when the call is over.
  std::optional<nanos> after_attempt(failure f, std::int64_t now);
  void finish(std::int64_t now);
  void refuse(fallback_reason why);
  void answer_error(int status, std::string_view text);
  void apply_fallback(fallback_reason why);
  void next_attempt(keep_t keep);
  void on_attempt(keep_t keep, failure f);

  service& svc_;
  exchange ex_;
  resilience::backoff backoff_;
  std::string request_;   // the request bytes
  std::string method_;
  std::string key_;       // the path and query, for the cached fallback
  bool head_ = false;
  // Per call.
  std::int64_t start_ns_ = 0, deadline_ns_ = 0;
  bool in_bulkhead_ = false;
  resilience::circuit_breaker::permit permit_;
  unsigned attempts_ = 0;
  failure last_failure_ = failure::none;
  // The answer.
  int status_ = 0;
  std::string_view content_type_, body_;
  std::string own_body_, own_type_;  // a cached fallback's copy, or an error text
  std::optional<fallback_reason> fallback_;
  // Asynchronous runs only.
  boost::asio::io_context* ioc_ = nullptr;
  std::optional<boost::asio::steady_timer> timer_;  // backoff
  done_fn done_;
};

}  // namespace perflab::upstream
