#include "perflab/loadgen/schedule.hpp"

#include <cmath>

namespace perflab::loadgen {

namespace {
std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
constexpr double inf = std::numeric_limits<double>::infinity();
}  // namespace

rng::rng(std::uint64_t seed) noexcept {
  for (auto& s : s_) s = splitmix64(seed);
}

std::uint64_t rng::next() noexcept {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double rng::exponential() noexcept {
  // 1 - u is in (0, 1], so the log is finite.
  return -std::log(1.0 - uniform());
}

rate_profile::rate_profile(double start_rate, std::int64_t warmup_ns, const std::vector<result::stage>& stages,
                           double warmup_rate) {
  if (warmup_rate < 0) warmup_rate = start_rate;
  double t = 0;
  double n = 0;
  double rate = warmup_rate;
  auto add = [&](double length_s, double r1) {
    if (length_s <= 0) {
      rate = r1;
      return;
    }
    segments_.push_back({t, t + length_s, rate, r1, n});
    n += (rate + r1) / 2 * length_s;
    t += length_s;
    rate = r1;
  };
  add(static_cast<double>(warmup_ns) / 1e9, warmup_rate);
  rate = start_rate;
  for (const auto& s : stages) add(s.duration_s, s.target_rate);
  segments_.push_back({t, inf, rate, rate, n});
}

double rate_profile::rate_at(std::int64_t t_ns) const noexcept {
  const double t = static_cast<double>(t_ns) / 1e9;
  for (const auto& s : segments_) {
    if (t < s.t1_s) {
      if (s.t1_s == inf) return s.r0;
      return s.r0 + (s.r1 - s.r0) * (t - s.t0_s) / (s.t1_s - s.t0_s);
    }
  }
  return segments_.back().r1;
}

double rate_profile::arrivals_before(std::int64_t t_ns) const noexcept {
  const double t = static_cast<double>(t_ns) / 1e9;
  if (t <= 0) return 0;
  for (const auto& s : segments_) {
    if (t < s.t1_s) {
      const double tau = t - s.t0_s;
      const double a = s.t1_s == inf ? 0 : (s.r1 - s.r0) / (s.t1_s - s.t0_s);
      return s.n0 + s.r0 * tau + a * tau * tau / 2;
    }
  }
  return segments_.back().n0;
}

std::int64_t rate_profile::time_of(double n, std::size_t& hint) const noexcept {
  for (std::size_t i = hint; i < segments_.size(); ++i) {
    const auto& s = segments_[i];
    const bool last = s.t1_s == inf;
    const double n1 = last ? inf : s.n0 + (s.r0 + s.r1) / 2 * (s.t1_s - s.t0_s);
    if (n >= n1) continue;
    hint = i;
    const double m = n - s.n0;
    if (m <= 0) return static_cast<std::int64_t>(std::llround(s.t0_s * 1e9));
    double tau;
    if (last) {
      if (s.r0 <= 0) return never;
      tau = m / s.r0;
    } else {
      const double a = (s.r1 - s.r0) / (s.t1_s - s.t0_s);
      // Root of r0*tau + a*tau^2/2 = m in the form that stays exact when a -> 0.
      const double disc = std::max(0.0, s.r0 * s.r0 + 2 * a * m);
      const double denom = s.r0 + std::sqrt(disc);
      tau = denom > 0 ? 2 * m / denom : 0;
    }
    const double t = (s.t0_s + tau) * 1e9;
    if (!(t < 9.0e18)) return never;
    return static_cast<std::int64_t>(std::llround(t));
  }
  return never;
}

arrival_schedule::arrival_schedule(const rate_profile& profile, bool poisson, int worker, int workers,
                                   std::uint64_t seed, int rank, int ranks) noexcept
    : profile_(&profile),
      poisson_(poisson),
      step_(static_cast<double>(workers) * static_cast<double>(ranks)),
      cursor_(poisson ? 0.0 : static_cast<double>(rank) + static_cast<double>(ranks) * static_cast<double>(worker)),
      rng_(seed * 0x100000001b3ULL + static_cast<std::uint64_t>(worker) + 1) {
  if (poisson_) cursor_ = step_ * rng_.exponential();
}

std::int64_t arrival_schedule::next() noexcept {
  const std::int64_t t = profile_->time_of(cursor_, hint_);
  cursor_ += poisson_ ? step_ * rng_.exponential() : step_;
  return t;
}

}  // namespace perflab::loadgen
