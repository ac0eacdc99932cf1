#pragma once
// Rate limiters, the five algorithms of LAB.md section 6, behind one decision type:
//   token-bucket   rate r, burst b: at most b + r*t accepted in any interval t
//   leaky-bucket   a queue drained at r (nginx limit_req with a burst queue): a request is
//                  accepted with a delay (its place in the queue) or refused when `queue` wait
//   fixed-window   `limit` per window, counters reset at window edges (up to 2x across an edge)
//   sliding-log    exact: the accepted times of the last window (memory per request)
//   sliding-window the current window's count plus the previous one's, weighted by overlap
// A decision carries what the response headers say: the limit, what remains, when it resets and,
// when refused, when to retry. Thread-safe (one mutex per limiter; a keyed limiter shards its keys).
// Time is an argument.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <tl/expected.hpp>

namespace perflab::resilience {

using nanos = std::chrono::nanoseconds;

enum class limiter_algorithm : std::uint8_t { token_bucket, leaky_bucket, fixed_window, sliding_log, sliding_window };
std::string_view to_string(limiter_algorithm a);

struct limiter_config {
  limiter_algorithm algorithm = limiter_algorithm::token_bucket;
  double rate = 100;             // per second, > 0
  std::uint64_t burst = 0;       // token bucket: bucket size (0: one second of rate, at least 1)
  std::uint64_t queue = 0;       // leaky bucket: requests that may wait (0: one second of rate)
  nanos window = std::chrono::seconds(1);  // window algorithms: the window; limit = rate * window
  enum class key_kind : std::uint8_t { global, ip, header } key = key_kind::global;
  std::string key_header;        // key_kind::header: the header whose value keys the limit

  std::uint64_t limit() const;   // the number a client sees in X-RateLimit-Limit
};

// "ALGO:RATE[,burst=B][,queue=Q][,window=W][,key=ip|header:NAME]", e.g. "token-bucket:100/s,burst=10".
tl::expected<limiter_config, std::string> parse_rate_limit(std::string_view spec);

struct limit_decision {
  bool allowed = false;
  nanos delay{0};               // leaky bucket: wait this long before serving (0 elsewhere)
  std::uint64_t limit = 0;      // X-RateLimit-Limit
  std::uint64_t remaining = 0;  // X-RateLimit-Remaining, after this decision
  nanos reset{0};               // X-RateLimit-Reset: until the allowance is whole again (or the window ends)
  nanos retry_after{0};         // refused: the earliest time a retry may be accepted
};

// Header lines for a decision ("X-RateLimit-Limit: 100\r\n..." and, when refused, "Retry-After"),
// seconds rounded up as the headers want whole seconds. The second form appends to `out`, so a
// connection reuses its buffer (no allocation per request once it has grown).
std::string rate_limit_headers(const limit_decision& d);
void append_rate_limit_headers(const limit_decision& d, std::string& out);

class rate_limiter {
 public:
  virtual ~rate_limiter() = default;
  virtual limit_decision acquire(nanos now) = 0;
  // Nothing refused or queued would differ from a fresh limiter (safe to forget the key).
  virtual bool idle(nanos now) const = 0;
};

// One limiter of the configured algorithm (keys ignored).
std::unique_ptr<rate_limiter> make_limiter(const limiter_config& config);

// A limiter per key (client address or a header's value), created on first use. Keys idle long
// enough to be as good as new are dropped when the table grows past `max_keys`, so a scan of
// many addresses cannot grow memory without bound. Thread-safe (16 shards).
class keyed_limiter {
 public:
  explicit keyed_limiter(limiter_config config, std::size_t max_keys = 100'000);
  limit_decision acquire(std::string_view key, nanos now);
  std::size_t keys() const;
  const limiter_config& config() const { return config_; }
  struct stats_t {
    std::uint64_t allowed = 0, refused = 0, delayed = 0;  // delayed: allowed with a leaky-bucket wait
  };
  stats_t stats() const;

 private:
  // Lookups by string_view without building a std::string per request.
  struct key_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const noexcept { return std::hash<std::string_view>{}(k); }
  };
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::unique_ptr<rate_limiter>, key_hash, std::equal_to<>> limiters;
  };
  limiter_config config_;
  std::size_t max_keys_per_shard_;
  std::vector<shard> shards_;
  std::atomic<std::uint64_t> allowed_{0}, refused_{0}, delayed_{0};
};

}  // namespace perflab::resilience
