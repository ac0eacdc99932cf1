#include "perflab/analysis/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>

namespace perflab::analysis::stats {

double mean(std::span<const double> xs) {
  if (xs.empty()) return 0;
  return std::accumulate(xs.begin(), xs.end(), 0.0) / static_cast<double>(xs.size());
}

double median(std::span<const double> xs) {
  if (xs.empty()) return 0;
  std::vector<double> v(xs.begin(), xs.end());
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

double stddev(std::span<const double> xs) {
  if (xs.size() < 2) return 0;
  double m = mean(xs);
  double ss = 0;
  for (double x : xs) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(xs.size() - 1));
}

namespace {

// Doubled midranks (so ties stay integers) of the pooled sample x ++ y, in that order, plus the
// tie-group sizes for the variance correction.
struct ranking {
  std::vector<long> doubled;     // 2 * midrank of each pooled element
  std::vector<long> tie_sizes;   // size of every group of equal values (1 for untied values)
};

ranking rank_pooled(std::span<const double> x, std::span<const double> y) {
  std::size_t n = x.size() + y.size();
  std::vector<std::pair<double, std::size_t>> pooled;
  pooled.reserve(n);
  for (std::size_t i = 0; i < x.size(); ++i) pooled.emplace_back(x[i], i);
  for (std::size_t i = 0; i < y.size(); ++i) pooled.emplace_back(y[i], x.size() + i);
  std::sort(pooled.begin(), pooled.end());
  ranking r;
  r.doubled.assign(n, 0);
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j + 1 < n && pooled[j + 1].first == pooled[i].first) ++j;
    // Ranks i+1 .. j+1 share their mean; doubled: (i+1) + (j+1).
    long d = static_cast<long>(i + 1 + j + 1);
    for (std::size_t k = i; k <= j; ++k) r.doubled[pooled[k].second] = d;
    r.tie_sizes.push_back(static_cast<long>(j - i + 1));
    i = j + 1;
  }
  return r;
}

}  // namespace

mann_whitney_result mann_whitney(std::span<const double> x, std::span<const double> y, int exact_limit,
                                 tie_null null) {
  mann_whitney_result res;
  const std::size_t n1 = x.size(), n2 = y.size(), n = n1 + n2;
  if (n1 == 0 || n2 == 0) return res;
  ranking rk = rank_pooled(x, y);
  long s_obs = 0;  // doubled rank sum of x
  for (std::size_t i = 0; i < n1; ++i) s_obs += rk.doubled[i];
  res.u = static_cast<double>(s_obs) / 2.0 - static_cast<double>(n1 * (n1 + 1)) / 2.0;
  // Doubled expected rank sum of x under the null: n1 (n + 1).
  const long center = static_cast<long>(n1 * (n + 1));
  const long dev_obs = std::labs(s_obs - center);

  if (static_cast<long>(n) <= exact_limit) {
    // The ranks the null permutes: the observed midranks, or 1..n as if nothing were tied (the
    // observed sum keeps its midranks: ties still count half a pair in U).
    std::vector<long> null_ranks = rk.doubled;
    if (null == tie_null::untied) {
      for (std::size_t i = 0; i < n; ++i) null_ranks[i] = static_cast<long>(2 * (i + 1));
    }
    // ways[k][s]: subsets of k pooled elements with doubled rank sum s. Every subset of size n1
    // is equally likely under the null, so the distribution of the sum is ways[n1][.] / C(n, n1).
    const long max_sum = static_cast<long>(n * (n + 1));
    std::vector<std::vector<long double>> ways(n1 + 1, std::vector<long double>(static_cast<std::size_t>(max_sum) + 1));
    ways[0][0] = 1;
    for (std::size_t i = 0; i < n; ++i) {
      long d = null_ranks[i];
      std::size_t kmax = std::min(n1, i + 1);
      for (std::size_t k = kmax; k >= 1; --k) {
        auto& to = ways[k];
        const auto& from = ways[k - 1];
        for (long s = max_sum; s >= d; --s) to[static_cast<std::size_t>(s)] += from[static_cast<std::size_t>(s - d)];
      }
    }
    long double total = 0, tail = 0;
    long max_dev = 0;
    const auto& dist = ways[n1];
    for (long s = 0; s <= max_sum; ++s) {
      long double w = dist[static_cast<std::size_t>(s)];
      if (w == 0) continue;
      total += w;
      long dev = std::labs(s - center);
      if (dev >= dev_obs) tail += w;
      max_dev = std::max(max_dev, dev);
    }
    long double extreme = 0;
    for (long s = 0; s <= max_sum; ++s) {
      if (std::labs(s - center) >= max_dev) extreme += dist[static_cast<std::size_t>(s)];
    }
    res.exact = true;
    res.p_value = static_cast<double>(std::min<long double>(1, tail / total));
    res.min_p = static_cast<double>(std::min<long double>(1, extreme / total));
    return res;
  }

  // Normal approximation with continuity correction (and tie correction for the conditional null).
  const double dn1 = static_cast<double>(n1), dn2 = static_cast<double>(n2), dn = static_cast<double>(n);
  double tie_term = 0;
  if (null == tie_null::conditional) {
    for (long t : rk.tie_sizes)
      tie_term += static_cast<double>(t) * static_cast<double>(t) * static_cast<double>(t) - static_cast<double>(t);
  }
  double var = dn1 * dn2 / 12.0 * ((dn + 1) - tie_term / (dn * (dn - 1)));
  res.exact = false;
  res.min_p = 0;
  if (var <= 0) {
    res.p_value = 1;  // every value tied: no evidence either way
    return res;
  }
  double dev = std::fabs(res.u - dn1 * dn2 / 2.0) - 0.5;
  if (dev < 0) dev = 0;
  double z = dev / std::sqrt(var);
  res.p_value = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return res;
}

namespace {

double median_inplace(std::vector<double>& v) {
  std::size_t n = v.size();
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(n / 2);
  std::nth_element(v.begin(), mid, v.end());
  double hi = *mid;
  if (n % 2 == 1) return hi;
  double lo = *std::max_element(v.begin(), mid);
  return (lo + hi) / 2.0;
}

// Quantile q in [0, 1] of sorted values, linear interpolation between order statistics.
double quantile_sorted(const std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  double pos = q * static_cast<double>(v.size() - 1);
  auto lo = static_cast<std::size_t>(std::floor(pos));
  auto hi = std::min(lo + 1, v.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return v[lo] + (v[hi] - v[lo]) * frac;
}

// Percentile bootstrap of stat(median(x*), median(y*)) over resamples x*, y*; a resample for which
// `stat` gives nothing is left out.
template <class Stat>
interval bootstrap_medians(std::span<const double> x, std::span<const double> y, double confidence, int resamples,
                           std::uint64_t seed, Stat stat) {
  if (x.empty() || y.empty() || resamples <= 0) return {};
  // std::mt19937_64's output sequence is fixed by the standard; the modulo below (instead of
  // uniform_int_distribution, whose algorithm is implementation-defined) keeps results identical
  // across standard libraries. Its bias is negligible for samples far smaller than 2^64.
  std::mt19937_64 rng(seed);
  std::vector<double> bx(x.size()), by(y.size()), values;
  values.reserve(static_cast<std::size_t>(resamples));
  for (int r = 0; r < resamples; ++r) {
    for (auto& v : bx) v = x[static_cast<std::size_t>(rng() % x.size())];
    for (auto& v : by) v = y[static_cast<std::size_t>(rng() % y.size())];
    if (auto s = stat(median_inplace(bx), median_inplace(by))) values.push_back(*s);
  }
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  double a = (1.0 - confidence) / 2.0;
  return {quantile_sorted(values, a), quantile_sorted(values, 1.0 - a)};
}

}  // namespace

interval bootstrap_median_difference(std::span<const double> x, std::span<const double> y, double confidence,
                                     int resamples, std::uint64_t seed) {
  return bootstrap_medians(x, y, confidence, resamples, seed,
                           [](double mx, double my) { return std::optional<double>(my - mx); });
}

interval bootstrap_median_ratio(std::span<const double> x, std::span<const double> y, double confidence,
                                int resamples, std::uint64_t seed) {
  return bootstrap_medians(x, y, confidence, resamples, seed, [](double mx, double my) {
    return mx != 0 ? std::optional<double>(my / mx) : std::nullopt;
  });
}

}  // namespace perflab::analysis::stats
