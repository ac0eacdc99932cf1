#pragma once
// Small-sample statistics for comparing repeated runs: Mann-Whitney U (exact distribution, ties
// by midranks, two null models for ties) and a seeded percentile bootstrap. Pure functions, no I/O.
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
  double min_p = 1;      // smallest two-sided p-value this null can produce (exact only)
};

// The null distribution the observed U is judged against.
enum class tie_null {
  // The textbook exact test: every split of the observed midranks is equally likely (ties shrink
  // the null's spread, so it is the most powerful with ties). Its p-value can rise when a value
  // that agrees with the shift is added: x = {1,1,1,1}, y = {0,2,2,2,2,2} gives p = 1/21; one
  // more 2 in y gives 2/33. min_p is the smallest p of the observed tie pattern, which can exceed
  // alpha although untied samples of the same sizes could reach it (4 vs 4 {0,0,0,0} vs
  // {0,1,1,1}: 0.143, untied 0.029).
  conditional,
  // The observed U (ties count half a pair) against the exact distribution of U for untied samples
  // of the same sizes. Conservative under ties, min_p = 2 / C(n + m, n) whatever the ties, and
  // adding a value that agrees with the shift never raised p in an exhaustive check over small
  // tied samples (compare_test.cpp): what a verdict that must not flip with more repeats needs.
  untied,
};

// Two-sided Mann-Whitney U test of x against y. Exact when n + m <= exact_limit (the null
// distribution of the rank sum is enumerated over all C(n + m, n) splits); beyond that the normal
// approximation with continuity correction (and tie correction for tie_null::conditional).
// Empty samples give p = 1.
mann_whitney_result mann_whitney(std::span<const double> x, std::span<const double> y, int exact_limit = 60,
                                 tie_null null = tie_null::conditional);

struct interval {
  double low = 0;
  double high = 0;
};

// Percentile bootstrap interval at `confidence` (e.g. 0.95) of median(y) - median(x), from
// `resamples` resamples of each sample with replacement. Deterministic for a given seed.
interval bootstrap_median_difference(std::span<const double> x, std::span<const double> y, double confidence,
                                     int resamples, std::uint64_t seed);

// The same for median(y) / median(x), the A/B ratio (1.08: the candidate's median is 8 % above the
// baseline's). Resamples whose median(x) is 0 are left out; {0, 0} when every one is (a metric
// that is 0 on the baseline, such as an error rate, has no ratio).
interval bootstrap_median_ratio(std::span<const double> x, std::span<const double> y, double confidence,
                                int resamples, std::uint64_t seed);

}  // namespace perflab::analysis::stats
