#pragma once
// The open-loop arrival schedule: when each request is due, as nanoseconds from the start of the
// run (warm-up included). The rate is piecewise linear in time: the warm-up at the start rate,
// then each stage ramps linearly from the previous rate to its target, then the last rate holds.
//
// Arrivals are points of the cumulative-arrivals function N(t) = integral of rate: arrival k of a
// constant schedule is due when N(t) = k, a Poisson schedule draws unit exponential gaps in N
// (a time change of a unit-rate Poisson process, so ramps stay Poisson). A worker w of W takes
// every W-th arrival (constant: k = w, w+W, ...; Poisson: gaps of W * Exp(1), its own seed), so
// W workers together produce the global schedule without sharing anything at run time.
// A distributed run (docs/distributed.md) splits the same way one level up: rank r of R takes
// arrivals k = r, r+R, ... (constant: rank r's first is due at r/(R*rate), so the merged arrivals
// stay evenly spaced), and its worker w of W every W-th of those: k = r + R*w + R*W*i.
#include <cstdint>
#include <limits>
#include <vector>

#include "perflab/core/result.hpp"

namespace perflab::loadgen {

// splitmix64 seeding + xoshiro256** generator: fast, no allocation, reproducible across platforms.
class rng {
 public:
  explicit rng(std::uint64_t seed) noexcept;
  std::uint64_t next() noexcept;
  // Uniform in [0, 1).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias below 2^-64 * n).
  std::uint64_t below(std::uint64_t n) noexcept {
    __extension__ using u128 = unsigned __int128;
    return static_cast<std::uint64_t>((static_cast<u128>(next()) * n) >> 64);
  }
  // Exponential with mean 1.
  double exponential() noexcept;

 private:
  std::uint64_t s_[4];
};

// The rate as a function of time, and its inverse cumulative.
class rate_profile {
 public:
  // warmup_ns at warmup_rate (default: start_rate), then the stages (the first ramps from
  // start_rate, each next one from the previous target), then the last rate forever. With no
  // stages: start_rate after the warm-up.
  rate_profile(double start_rate, std::int64_t warmup_ns, const std::vector<result::stage>& stages,
               double warmup_rate = -1);

  // Requests per second at t (ns from the run start).
  double rate_at(std::int64_t t_ns) const noexcept;
  // Expected arrivals in [0, t).
  double arrivals_before(std::int64_t t_ns) const noexcept;
  // The time t with arrivals_before(t) == n; max() when the rate drops to 0 before n arrivals.
  // `hint` is a segment index the caller keeps between calls (n is non-decreasing per caller).
  std::int64_t time_of(double n, std::size_t& hint) const noexcept;

  static constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

 private:
  struct segment {
    double t0_s, t1_s;  // seconds from run start; t1 = infinity for the last
    double r0, r1;      // rate at t0 and t1 (per second)
    double n0;          // arrivals before t0
  };
  std::vector<segment> segments_;
};

// One worker's share of the schedule: successive due times, non-decreasing.
class arrival_schedule {
 public:
  // rank/ranks: this process's share of a distributed run (0 of 1: the whole schedule).
  arrival_schedule(const rate_profile& profile, bool poisson, int worker, int workers, std::uint64_t seed,
                   int rank = 0, int ranks = 1) noexcept;
  // Due time of the next arrival (ns from run start), rate_profile::never when none.
  std::int64_t next() noexcept;

 private:
  const rate_profile* profile_;
  bool poisson_;
  double step_;      // R*W: distance in N between this worker's arrivals
  double cursor_;    // position in N of the next arrival
  std::size_t hint_ = 0;
  rng rng_;
};

}  // namespace perflab::loadgen
