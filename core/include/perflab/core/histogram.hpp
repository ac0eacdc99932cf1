#pragma once
// A log-linear histogram with HdrHistogram's bucket layout and query semantics.
//
// Layout: sub_bucket_count = 2^ceil(log2(2 * 10^digits)); bucket 0 holds sub_bucket_count
// linear slots of width 2^unit_magnitude (unit_magnitude = floor(log2(lowest))); every further
// bucket doubles the width and holds the upper half of its sub-buckets. The counts array is
// indexed exactly as HdrHistogram's, so the V2 encoding is interoperable.
//
// Recording is O(1) and never allocates. Values above highest_trackable are counted in
// too_large() and kept out of the counts, never dropped silently. (The counts array, as in
// HdrHistogram, is rounded up to whole buckets and so covers a little more than
// highest_trackable; a decoded histogram written by another tool may hold counts there, and
// they are kept as decoded.)
#include <bit>
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
  // A count <= 0 records nothing (returns false when negative).
  bool record(std::int64_t value) noexcept { return record(value, 1); }
  bool record(std::int64_t value, std::int64_t count) noexcept {
    if (value < 0 || count < 0) return false;
    if (value > highest_) {
      too_large_ += count;
      return false;
    }
    // index_of(value) < counts_len() for every value <= highest_ (checked by the constructor).
    counts_[static_cast<std::size_t>(index_of(value))] += count;
    total_count_ += count;
    if (count != 0) {
      if (value < min_value_) min_value_ = value;
      if (value > max_value_) max_value_ = value;
    }
    return true;
  }

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
  // Mean and (population) standard deviation, each slot counted at its median-equivalent value,
  // as HdrHistogram does.
  double mean() const noexcept;
  double stddev() const noexcept;
  // Highest-equivalent value of the slot holding the percentile (0 < p <= 100; p = 0 gives min).
  // The slot is that of the value of rank ceil(p/100 * total_count) (HdrHistogram Java's rule).
  std::int64_t value_at_percentile(double percentile) const noexcept;
  // Number of recorded values v with lowest_equivalent(low) <= v <= highest_equivalent(high).
  std::int64_t count_between(std::int64_t low, std::int64_t high) const noexcept;

  // Slot arithmetic, as HdrHistogram defines it.
  std::int64_t lowest_equivalent(std::int64_t value) const noexcept;
  std::int64_t highest_equivalent(std::int64_t value) const noexcept;
  std::int64_t median_equivalent(std::int64_t value) const noexcept;
  // Width of the slot holding value.
  std::int64_t equivalent_range(std::int64_t value) const noexcept;
  bool values_equivalent(std::int64_t a, std::int64_t b) const noexcept {
    return lowest_equivalent(a) == lowest_equivalent(b);
  }

  // Raw counts access, for the codec and iterators.
  std::int32_t counts_len() const noexcept { return static_cast<std::int32_t>(counts_.size()); }
  std::int64_t count_at_index(std::int32_t index) const noexcept { return counts_[static_cast<std::size_t>(index)]; }
  std::int64_t value_at_index(std::int32_t index) const noexcept;   // lowest value of that slot
  // Index of the slot holding value (0 <= value; the result may be >= counts_len() for values
  // beyond the array).
  std::int32_t index_of(std::int64_t value) const noexcept {
    // Bucket: position of the highest set bit above the sub-bucket range; OR-ing the mask puts
    // every value below sub_bucket_count << unit_magnitude into bucket 0.
    const int pow2_ceiling = 64 - std::countl_zero(static_cast<std::uint64_t>(value | sub_bucket_mask_));
    const int bucket = pow2_ceiling - unit_magnitude_ - (sub_bucket_half_count_magnitude_ + 1);
    const auto sub_bucket = static_cast<std::int32_t>(value >> (bucket + unit_magnitude_));
    return ((bucket + 1) << sub_bucket_half_count_magnitude_) + (sub_bucket - sub_bucket_half_count_);
  }
  // Sets a raw count (decoder use); keeps totals, min and max consistent. count >= 0.
  void set_count_at_index(std::int32_t index, std::int64_t count) noexcept;
  // Adds to too_large() (decoder and merge use).
  void add_too_large(std::int64_t count) noexcept { too_large_ += count; }

  // One point of the percentile spectrum (HdrHistogram's percentile iterator).
  struct percentile_point {
    double percentile;              // percentile level reached at this step, in [0, 100]
    std::int64_t value;             // highest-equivalent value of the step
    std::int64_t count_at_value;    // count added since the previous step (0 when the value repeats)
    std::int64_t cumulative_count;  // count of values <= value
  };
  // Spectrum with `ticks_per_half_distance` steps per halving of the remaining distance to 100%
  // (HdrHistogram's outputPercentileDistribution uses 5). Ends with the 100% point. Empty when
  // empty(). Allocates; not for the hot path.
  std::vector<percentile_point> percentile_spectrum(int ticks_per_half_distance = 5) const;

  // Same layout (lowest, highest, digits), same counts, same too_large().
  friend bool operator==(const histogram& a, const histogram& b) noexcept;

 private:
  bool same_layout(const histogram& other) const noexcept;
  void recompute_extremes() noexcept;

  std::int64_t lowest_;
  std::int64_t highest_;
  int digits_;
  int unit_magnitude_;                    // floor(log2(lowest))
  int sub_bucket_half_count_magnitude_;   // log2(sub_bucket_count) - 1
  std::int32_t sub_bucket_count_;         // linear slots in bucket 0
  std::int32_t sub_bucket_half_count_;    // slots added by each further bucket
  std::int64_t sub_bucket_mask_;          // (sub_bucket_count - 1) << unit_magnitude
  std::int32_t bucket_count_;             // buckets needed to cover highest
  std::int64_t total_count_ = 0;
  std::int64_t too_large_ = 0;
  std::int64_t min_value_ = std::numeric_limits<std::int64_t>::max();  // smallest recorded value
  std::int64_t max_value_ = 0;                                         // largest recorded value
  std::vector<std::int64_t> counts_;
};

}  // namespace perflab
