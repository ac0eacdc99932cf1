#pragma once
// Retries: which calls may be retried, how long to wait before each retry (exponential backoff
// with the three jitters of LAB.md section 6), and a retry budget that caps retries at a fraction
// of calls (Finagle's RetryBudget: a share of the calls of the last `window`, plus a small floor
// per second, so a lone failing call can still be retried).
//   no jitter:    sleep = min(cap, base * 2^(n-1))              (n = 1 for the first retry)
//   full:         sleep = rand(0, min(cap, base * 2^(n-1)))
//   equal:        t = min(cap, base * 2^(n-1)); sleep = t/2 + rand(0, t/2)
//   decorrelated: sleep = min(cap, rand(base, previous sleep * 3)), the first previous being base
// Time is an argument; the random draws come from a seeded generator, so runs repeat.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace perflab::resilience {

using nanos = std::chrono::nanoseconds;

enum class jitter : std::uint8_t { none, full, equal, decorrelated };
std::string_view to_string(jitter j);

struct backoff_config {
  nanos base = std::chrono::milliseconds(100);  // the first retry's (maximum) wait, > 0
  nanos cap = std::chrono::seconds(10);         // no wait longer than this, >= base
  jitter kind = jitter::full;
};

// One call's sequence of waits. Not thread-safe: one per call (or per thread), reset between calls.
class backoff {
 public:
  backoff(backoff_config config, std::uint64_t seed);
  // The wait before retry number `retry` (1 for the first retry) of the current call.
  nanos next(unsigned retry);
  void reset();  // a new call: decorrelated jitter starts again from base
  const backoff_config& config() const { return config_; }

 private:
  nanos ceiling(unsigned retry) const;  // min(cap, base * 2^(retry-1))
  nanos uniform(nanos lo, nanos hi);
  backoff_config config_;
  std::mt19937_64 rng_;
  nanos previous_;
};

struct retry_budget_config {
  double ratio = 0.2;             // retries may be this fraction of the calls in the window, in [0, 1]
  double min_per_second = 10;     // plus this many per second of window, >= 0
  nanos window = std::chrono::seconds(10);  // whole seconds, >= 1 s
};

// Thread-safe. Calls and retries are counted in one-second buckets over the window.
class retry_budget {
 public:
  explicit retry_budget(retry_budget_config config);
  void on_call(nanos now);      // an original call (not a retry) was made
  bool try_retry(nanos now);    // may a retry be made now? If so it is counted as made.
  struct stats_t {
    std::uint64_t calls = 0, retries = 0, refused = 0;
  };
  stats_t stats() const;
  const retry_budget_config& config() const { return config_; }

 private:
  struct bucket {
    std::int64_t second = -1;
    std::uint64_t calls = 0, retries = 0;
  };
  bucket& at(nanos now);  // mutex_ held: the current second's bucket, cleared if stale
  retry_budget_config config_;
  mutable std::mutex mutex_;
  std::vector<bucket> buckets_;
  stats_t stats_;
};

struct retry_config {
  unsigned max_attempts = 1;  // attempts per call, the first included; 1 = no retry
  backoff_config backoff;
  bool budgeted = false;      // a budget applies (budget= given)
  retry_budget_config budget;
};

// "ATTEMPTS[,base=100ms][,cap=10s][,jitter=none|full|equal|decorrelated][,budget=20%][,budget-min=10/s]"
tl::expected<retry_config, std::string> parse_retry(std::string_view spec);

// RFC 9110 section 9.2.2: GET, HEAD, OPTIONS, TRACE, PUT and DELETE. Only these are retried.
bool idempotent(std::string_view method);
// A failed attempt worth retrying: no response (connect failure, reset, timeout: status 0) or a
// 502, 503 or 504 from the dependency. 4xx and other 5xx are answers, not transient failures.
bool retryable_status(int status);

}  // namespace perflab::resilience
