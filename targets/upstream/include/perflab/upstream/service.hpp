#pragma once
// What every /proxy call of one server shares: the upstream's connection pool, the policies'
// state (bulkhead, circuit breaker, retry budget), the last good response per path for a cached
// fallback, and the counters /metrics shows (perflab_upstream_*). Thread-safe.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <perflab/resilience/breaker.hpp>
#include <perflab/resilience/bulkhead.hpp>
#include <perflab/resilience/retry.hpp>
#include <perflab/upstream/config.hpp>
#include <perflab/upstream/exchange.hpp>
#include <perflab/upstream/pool.hpp>

namespace perflab::upstream {

// Why a call was answered by the fallback (the X-Fallback header's value).
enum class fallback_reason : std::uint8_t { bulkhead, breaker_open, timeout, error, status };
inline constexpr std::size_t fallback_reason_count = 5;
std::string_view to_string(fallback_reason r) noexcept;

struct cached_response {
  int status = 200;
  std::string content_type;
  std::string body;
};

class service {
 public:
  explicit service(config c);
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  const config& cfg() const noexcept { return cfg_; }
  connection_pool& pool() noexcept { return pool_; }
  resilience::circuit_breaker* breaker() noexcept { return breaker_.get(); }
  resilience::retry_budget* budget() noexcept { return budget_.get(); }
  resilience::bulkhead* bulkhead() noexcept { return bulkhead_.get(); }
  std::uint64_t next_seed() noexcept { return cfg_.seed + seeds_.fetch_add(1, std::memory_order_relaxed); }

  // --upstream-fallback cached: the last 2xx response per path (at most max_cached paths).
  static constexpr std::size_t max_cached = 1024;
  void remember(std::string_view key, int status, std::string_view content_type, std::string_view body);
  bool recall(std::string_view key, cached_response& out) const;

  // Counters (relaxed atomics: a few per call, against a network round trip).
  struct counters {
    std::atomic<std::uint64_t> calls{0};             // /proxy requests that reached the client
    std::atomic<std::uint64_t> attempts{0};          // attempts sent (or tried) to the upstream
    std::atomic<std::uint64_t> retries{0};           // attempts after the first
    std::atomic<std::uint64_t> budget_refusals{0};   // retries the retry budget refused
    std::atomic<std::uint64_t> not_idempotent{0};    // retryable outcomes not retried: the method is not idempotent
    std::array<std::atomic<std::uint64_t>, failure_count> failures{};  // failed attempts by failure
    std::atomic<std::uint64_t> bulkhead_rejections{0};
    std::atomic<std::uint64_t> breaker_rejections{0};
    std::array<std::atomic<std::uint64_t>, fallback_reason_count> fallbacks{};
    std::array<std::atomic<std::uint64_t>, 6> responses{};  // calls answered, by status class (0: 1xx..5: other)
  };
  counters& count() noexcept { return counters_; }
  const counters& count() const noexcept { return counters_; }

  // Appends the Prometheus text of everything above, the pool and the breaker.
  void write_prometheus(std::string& out) const;

 private:
  const config cfg_;
  connection_pool pool_;
  std::unique_ptr<resilience::circuit_breaker> breaker_;
  std::unique_ptr<resilience::retry_budget> budget_;
  std::unique_ptr<resilience::bulkhead> bulkhead_;
  std::atomic<std::uint64_t> seeds_{0};
  mutable std::mutex cache_mutex_;
  std::unordered_map<std::string, cached_response> cache_;
  counters counters_;
};

}  // namespace perflab::upstream
