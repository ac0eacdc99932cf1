#pragma once
// Client-side retries ([load] retry in a scenario, `loadgen attack --retry-*`): which answers a
// request is sent again for, and how long it waits before each retry. Only idempotent requests
// (request_mix: RFC 9110 methods, or an Idempotency-Key header) are retried, unless `unsafe` plays
// a client that retries anything. `on` may hold reset_code: a connection reset (or closed) before
// any byte of the answer is retried too (the answer was lost; the work may have been done). The
// backoff and its
// jitter are perflab::resilience's (LAB.md section 6: full jitter sleeps rand(0, min(cap,
// base * 2^(n-1)))). The engine keeps a retried request's intended send time, so its latency runs
// from the first attempt to the final answer (docs/scenarios.md, [load] retry).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/resilience/retry.hpp"

namespace perflab::loadgen {

struct retry_policy {
  // In `on`: no status but a connection reset or closed before any byte of the answer ("reset").
  static constexpr int reset_code = 0;
  std::int64_t max = 0;                   // retries per request after its first attempt (0: off)
  std::vector<int> on = {502, 503, 504};  // statuses of a complete response that are retried (and reset_code)
  bool unsafe = false;                    // requests that are not idempotent are retried too (a naive client)
  bool exponential = true;                // backoff "exponential"; false: "none" (the retry goes at once)
  resilience::backoff_config backoff{std::chrono::milliseconds(50), std::chrono::seconds(1),
                                     resilience::jitter::full};
  bool retry_after = false;               // a Retry-After in seconds sets the wait instead (capped at cap)

  bool enabled() const noexcept { return max > 0; }
  bool retries_status(int status) const noexcept;
  // "2 on 503,429, exponential 50ms..1s full jitter, Retry-After" ("" when off): the load model's text.
  std::string describe() const;
};

// After an attempt answered with `status` (reset_code: reset before any byte of the answer): is
// the request sent again? retries_done: its retries so far.
bool should_retry(const retry_policy& p, bool idempotent, int status, std::int64_t retries_done) noexcept;

// The wait before retry number `retry` (1 for the first): Retry-After when honoured and present
// (retry_after_s >= 0, capped at cap), else the backoff's draw (0 with backoff "none").
std::chrono::nanoseconds retry_delay(const retry_policy& p, resilience::backoff& b, unsigned retry,
                                     std::int64_t retry_after_s);

// Values as a user writes them; errors say what was expected (the caller names the key or option).
tl::expected<std::vector<int>, std::string> parse_retry_statuses(std::string_view list);  // "503,429,reset"
tl::expected<bool, std::string> parse_retry_backoff(std::string_view text);               // true: exponential
tl::expected<resilience::jitter, std::string> parse_retry_jitter(std::string_view text);  // none|full|equal
// The whole policy: base > 0, cap >= base, max within 0..100.
tl::expected<void, std::string> check_retry_policy(const retry_policy& p);

}  // namespace perflab::loadgen
