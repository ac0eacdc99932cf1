#pragma once
// Small-sample statistics for comparing repeated runs: Mann-Whitney U (exact distribution, ties
// handled by midranks) and a seeded percentile bootstrap. Pure functions, no I/O.
#include <cstdint>
#include <span>
#include <vector>

namespace perflab::analysis::stats {

double mean(std::span<const double> xs);    // 0 for an empty sample
double median(std::span<const double> xs);  // mean of the two middle values for even sizes; 0 when empty
double stddev(std::span<const double> xs);  // sample standard deviation (n - 1); 0 for n < 2

struct mann_whitney_result {
  double u = 0;          // U statistic of the first sample: pairs (x, y) with x > y, ties count 1/2
  double p_value = 1;    // two-sided
  bool exact = false;    // true: exact null distribution (enumerated); false: normal approximation
  double min_p = 1;      // smallest two-sided p-value these sample sizes can produce (exact only)
};

// Two-sided Mann-Whitney U test of x against y. Exact (the null distribution of the rank sum is
// computed over all C(n+m, n) assignments, ties by midranks) when n + m <= exact_limit; beyond that
// the normal approximation with tie and continuity correction. Empty samples give p = 1.
mann_whitney_result mann_whitney(std::span<const double> x, std::span<const double> y, int exact_limit = 60);

struct interval {
  double low = 0;
  double high = 0;
};

// Percentile bootstrap interval at `confidence` (e.g. 0.95) of median(y) - median(x), from
// `resamples` resamples of each sample with replacement. Deterministic for a given seed.
interval bootstrap_median_difference(std::span<const double> x, std::span<const double> y, double confidence,
                                     int resamples, std::uint64_t seed);

}  // namespace perflab::analysis::stats
