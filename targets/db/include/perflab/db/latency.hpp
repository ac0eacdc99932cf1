#pragma once
// Service-time distributions for queries (--db-latency): fixed:5ms, exp:5ms (mean), or
// lognormal:5ms,0.5 (median 5ms, sigma 0.5 of the underlying normal). Deterministic from a seed.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace perflab::db {

struct latency_dist {
  enum class shape : std::uint8_t { fixed, exp, lognormal } what = shape::fixed;
  std::chrono::microseconds scale{5000};  // fixed: the value; exp: the mean; lognormal: the median
  double sigma = 0.5;                     // lognormal only
};
// "5ms" (fixed), "fixed:5ms", "exp:5ms", "lognormal:5ms,0.5"; the error says what is accepted.
tl::expected<latency_dist, std::string> parse_latency(std::string_view text);

// Draws service times, thread-safe (one lock per draw: a /db request, not a hot loop).
class latency_sampler {
 public:
  latency_sampler(const latency_dist& d, std::uint64_t seed) : dist_(d), rng_(seed) {}
  std::chrono::microseconds draw();
  const latency_dist& dist() const noexcept { return dist_; }

 private:
  latency_dist dist_;
  std::mutex mutex_;
  std::mt19937_64 rng_;  // guarded by mutex_
};

}  // namespace perflab::db
