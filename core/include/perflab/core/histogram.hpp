#pragma once
// A log-linear histogram with HdrHistogram's bucket layout and query semantics.
//
// Layout: sub_bucket_count = 2^ceil(log2(2 * 10^digits)); bucket 0 holds sub_bucket_count
// linear slots of width 2^unit_magnitude (unit_magnitude = floor(log2(lowest))); every further
// bucket doubles the width and holds the upper half of its sub-buckets. The counts array is
// indexed exactly as HdrHistogram's, so the V2 encoding is interoperable.
//
// Recording is O(1) and never allocates. Values above highest_trackable are counted in
// too_large() and kept out of the counts, never dropped silently.
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

namespace perflab {

class histogram {
 public:
  // lowest >= 1, highest >= 2 * lowest, 1 <= digits <= 5; otherwise std::invalid_argument.
  histogram(std::int64_t lowest_discernible, std::int64_t highest_trackable, int significant_digits);

  // Record one value (or `count` of it). Negative values count as too small and are rejected
  // (returns false); values over highest_trackable go to too_large() (returns false).
  bool record(std::int64_t value) noexcept { return record(value, 1); }
  bool record(std::int64_t value, std::int64_t count) noexcept;

  // Adds other's counts (and its too_large()). Same layout is a fast path; otherwise each slot of
  // `other` is re-recorded at its highest-equivalent value, and what does not fit adds to too_large().
  void add(const histogram& other);
  void reset() noexcept;

  // Layout.
  std::int64_t lowest_discernible() const noexcept { return lowest_; }
  std::int64_t highest_trackable() const noexcept { return highest_; }
  int significant_digits() const noexcept { return digits_; }

  // Totals. total_count() excludes too_large().
  std::int64_t total_count() const noexcept { return total_count_; }
  std::int64_t too_large() const noexcept { return too_large_; }
  bool empty() const noexcept { return total_count_ == 0; }

  // Statistics over recorded values (0 when empty). min()/max() are exact recorded extremes
  // rounded as HdrHistogram does (lowest/highest equivalent value of their slot).
  std::int64_t min() const noexcept;
  std::int64_t max() const noexcept;
  double mean() const noexcept;
  double stddev() const noexcept;
  // Highest-equivalent value of the slot holding the percentile (0 < p <= 100; p = 0 gives min).
  std::int64_t value_at_percentile(double percentile) const noexcept;
  // Number of recorded values v with lowest_equivalent(low) <= v <= highest_equivalent(high).
  std::int64_t count_between(std::int64_t low, std::int64_t high) const noexcept;

  // Slot arithmetic, as HdrHistogram defines it.
  std::int64_t lowest_equivalent(std::int64_t value) const noexcept;
  std::int64_t highest_equivalent(std::int64_t value) const noexcept;
  bool values_equivalent(std::int64_t a, std::int64_t b) const noexcept {
    return lowest_equivalent(a) == lowest_equivalent(b);
  }

  // Raw counts access, for the codec and iterators.
  std::int32_t counts_len() const noexcept { return static_cast<std::int32_t>(counts_.size()); }
  std::int64_t count_at_index(std::int32_t index) const noexcept { return counts_[static_cast<std::size_t>(index)]; }
  std::int64_t value_at_index(std::int32_t index) const noexcept;   // lowest value of that slot
  std::int32_t index_of(std::int64_t value) const noexcept;          // value must be <= highest
  // Sets a raw count (decoder use); keeps totals, min and max consistent.
  void set_count_at_index(std::int32_t index, std::int64_t count) noexcept;

  // One point of the percentile spectrum (HdrHistogram's percentile iterator).
  struct percentile_point {
    double percentile;              // percentile reached at this value, in [0, 100]
    std::int64_t value;             // highest-equivalent value of the step
    std::int64_t count_at_value;    // count in this step's slots
    std::int64_t cumulative_count;  // count of values <= value
  };
  // Spectrum with `ticks_per_half_distance` steps per halving of the remaining distance to 100%
  // (HdrHistogram's outputPercentileDistribution uses 5). Ends with the 100% point. Empty when
  // empty(). Allocates; not for the hot path.
  std::vector<percentile_point> percentile_spectrum(int ticks_per_half_distance = 5) const;

  friend bool operator==(const histogram& a, const histogram& b) noexcept;

 private:
  std::int64_t lowest_;
  std::int64_t highest_;
  int digits_;
  int unit_magnitude_;
  int sub_bucket_half_count_magnitude_;
  std::int32_t sub_bucket_count_;
  std::int32_t sub_bucket_half_count_;
  std::int64_t sub_bucket_mask_;
  std::int32_t bucket_count_;
  std::int64_t total_count_ = 0;
  std::int64_t too_large_ = 0;
  std::int64_t min_value_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_value_ = 0;
  std::vector<std::int64_t> counts_;
};

}  // namespace perflab
