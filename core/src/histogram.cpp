#include "perflab/core/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace perflab {

namespace {

int ceil_log2(std::int64_t v) {
  int r = 0;
  while ((std::int64_t{1} << r) < v) ++r;
  return r;
}

}  // namespace

histogram::histogram(std::int64_t lowest_discernible, std::int64_t highest_trackable, int significant_digits)
    : lowest_(lowest_discernible), highest_(highest_trackable), digits_(significant_digits) {
  if (lowest_ < 1)
    throw std::invalid_argument("histogram: lowest discernible value must be >= 1, got " + std::to_string(lowest_));
  if (highest_ < 2 || highest_ / 2 < lowest_)
    throw std::invalid_argument("histogram: highest trackable value must be >= 2 * lowest (" +
                                std::to_string(lowest_) + "), got " + std::to_string(highest_));
  if (digits_ < 1 || digits_ > 5)
    throw std::invalid_argument("histogram: significant digits must be 1..5, got " + std::to_string(digits_));

  std::int64_t largest_single_unit = 2;
  for (int i = 0; i < digits_; ++i) largest_single_unit *= 10;
  const int sub_bucket_count_magnitude = ceil_log2(largest_single_unit);
  sub_bucket_half_count_magnitude_ = std::max(sub_bucket_count_magnitude, 1) - 1;
  unit_magnitude_ = 63 - std::countl_zero(static_cast<std::uint64_t>(lowest_));
  if (unit_magnitude_ + sub_bucket_half_count_magnitude_ > 61)
    throw std::invalid_argument("histogram: lowest discernible value " + std::to_string(lowest_) +
                                " is too large for " + std::to_string(digits_) + " significant digits");
  sub_bucket_count_ = std::int32_t{1} << (sub_bucket_half_count_magnitude_ + 1);
  sub_bucket_half_count_ = sub_bucket_count_ / 2;
  sub_bucket_mask_ = (static_cast<std::int64_t>(sub_bucket_count_) - 1) << unit_magnitude_;

  // Buckets needed so that the last one's top exceeds highest (HdrHistogram's buckets_needed_to_cover_value).
  std::int64_t smallest_untrackable = static_cast<std::int64_t>(sub_bucket_count_) << unit_magnitude_;
  std::int32_t buckets = 1;
  while (smallest_untrackable <= highest_) {
    if (smallest_untrackable > std::numeric_limits<std::int64_t>::max() / 2) {
      ++buckets;
      break;
    }
    smallest_untrackable <<= 1;
    ++buckets;
  }
  bucket_count_ = buckets;
  counts_.assign(static_cast<std::size_t>(bucket_count_ + 1) * static_cast<std::size_t>(sub_bucket_half_count_), 0);
}

std::int64_t histogram::value_at_index(std::int32_t index) const noexcept {
  int bucket = (index >> sub_bucket_half_count_magnitude_) - 1;
  std::int32_t sub_bucket = (index & (sub_bucket_half_count_ - 1)) + sub_bucket_half_count_;
  if (bucket < 0) {
    sub_bucket -= sub_bucket_half_count_;
    bucket = 0;
  }
  return static_cast<std::int64_t>(sub_bucket) << (bucket + unit_magnitude_);
}

std::int64_t histogram::equivalent_range(std::int64_t value) const noexcept {
  const int pow2_ceiling = 64 - std::countl_zero(static_cast<std::uint64_t>(value | sub_bucket_mask_));
  const int bucket = pow2_ceiling - unit_magnitude_ - (sub_bucket_half_count_magnitude_ + 1);
  const std::int64_t sub_bucket = value >> (bucket + unit_magnitude_);
  const int adjusted = sub_bucket >= sub_bucket_count_ ? bucket + 1 : bucket;
  return std::int64_t{1} << (unit_magnitude_ + adjusted);
}

std::int64_t histogram::lowest_equivalent(std::int64_t value) const noexcept {
  const int pow2_ceiling = 64 - std::countl_zero(static_cast<std::uint64_t>(value | sub_bucket_mask_));
  const int bucket = pow2_ceiling - unit_magnitude_ - (sub_bucket_half_count_magnitude_ + 1);
  const std::int64_t sub_bucket = value >> (bucket + unit_magnitude_);
  return sub_bucket << (bucket + unit_magnitude_);
}

std::int64_t histogram::highest_equivalent(std::int64_t value) const noexcept {
  return lowest_equivalent(value) + equivalent_range(value) - 1;
}

std::int64_t histogram::median_equivalent(std::int64_t value) const noexcept {
  return lowest_equivalent(value) + (equivalent_range(value) >> 1);
}

void histogram::add(const histogram& other) {
  too_large_ += other.too_large_;
  if (other.total_count_ == 0) return;
  if (same_layout(other)) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_count_ += other.total_count_;
    min_value_ = std::min(min_value_, other.min_value_);
    max_value_ = std::max(max_value_, other.max_value_);
    return;
  }
  for (std::int32_t i = 0; i < other.counts_len(); ++i) {
    const std::int64_t c = other.count_at_index(i);
    if (c == 0) continue;
    // Highest equivalent: a coarser source slot is charged at its top, so merged percentiles
    // never come out lower than the source's.
    record(other.highest_equivalent(other.value_at_index(i)), c);
  }
}

void histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_count_ = 0;
  too_large_ = 0;
  min_value_ = std::numeric_limits<std::int64_t>::max();
  max_value_ = 0;
}

std::int64_t histogram::min() const noexcept {
  if (total_count_ == 0) return 0;
  return lowest_equivalent(min_value_);
}

std::int64_t histogram::max() const noexcept {
  if (total_count_ == 0) return 0;
  return highest_equivalent(max_value_);
}

double histogram::mean() const noexcept {
  if (total_count_ == 0) return 0.0;
  double sum = 0.0;
  for (std::int32_t i = 0; i < counts_len(); ++i) {
    const std::int64_t c = counts_[static_cast<std::size_t>(i)];
    if (c != 0) sum += static_cast<double>(c) * static_cast<double>(median_equivalent(value_at_index(i)));
  }
  return sum / static_cast<double>(total_count_);
}

double histogram::stddev() const noexcept {
  if (total_count_ == 0) return 0.0;
  const double m = mean();
  double sum_sq = 0.0;
  for (std::int32_t i = 0; i < counts_len(); ++i) {
    const std::int64_t c = counts_[static_cast<std::size_t>(i)];
    if (c == 0) continue;
    const double d = static_cast<double>(median_equivalent(value_at_index(i))) - m;
    sum_sq += static_cast<double>(c) * d * d;
  }
  return std::sqrt(sum_sq / static_cast<double>(total_count_));
}

std::int64_t histogram::value_at_percentile(double percentile) const noexcept {
  if (total_count_ == 0) return 0;
  if (!(percentile > 0.0)) return min();  // also catches NaN
  // nextafter downwards: 50% of 100 values is rank 50, not 51 after a rounding error upwards.
  const double requested = std::min(std::nextafter(percentile, 0.0), 100.0);
  auto rank = static_cast<std::int64_t>(std::ceil(requested / 100.0 * static_cast<double>(total_count_)));
  rank = std::clamp<std::int64_t>(rank, 1, total_count_);
  std::int64_t seen = 0;
  for (std::int32_t i = 0; i < counts_len(); ++i) {
    seen += counts_[static_cast<std::size_t>(i)];
    if (seen >= rank) return highest_equivalent(value_at_index(i));
  }
  return max();
}

std::int64_t histogram::count_between(std::int64_t low, std::int64_t high) const noexcept {
  if (high < low) return 0;
  const std::int64_t top = value_at_index(counts_len() - 1);
  const std::int32_t lo_i = index_of(std::clamp<std::int64_t>(low, 0, top));
  if (low > top) return 0;
  const std::int32_t hi_i = index_of(std::clamp<std::int64_t>(high, 0, top));
  std::int64_t n = 0;
  for (std::int32_t i = lo_i; i <= hi_i; ++i) n += counts_[static_cast<std::size_t>(i)];
  return n;
}

void histogram::set_count_at_index(std::int32_t index, std::int64_t count) noexcept {
  if (index < 0 || index >= counts_len() || count < 0) return;
  auto& slot = counts_[static_cast<std::size_t>(index)];
  const std::int64_t old = slot;
  slot = count;
  total_count_ += count - old;
  if (count > 0) {
    const std::int64_t v = value_at_index(index);
    min_value_ = std::min(min_value_, v);
    max_value_ = std::max(max_value_, v);
  } else if (old > 0) {
    recompute_extremes();
  }
}

void histogram::recompute_extremes() noexcept {
  min_value_ = std::numeric_limits<std::int64_t>::max();
  max_value_ = 0;
  for (std::int32_t i = 0; i < counts_len(); ++i) {
    if (counts_[static_cast<std::size_t>(i)] == 0) continue;
    const std::int64_t v = value_at_index(i);
    min_value_ = std::min(min_value_, v);
    max_value_ = std::max(max_value_, v);
  }
}

std::vector<histogram::percentile_point> histogram::percentile_spectrum(int ticks_per_half_distance) const {
  // A transcription of HdrHistogram's PercentileIterator: walk the slots; each time the
  // cumulative percentile reaches the next level, emit a point and move the level on by
  // 100 / (ticks * 2^(halvings + 1)), so steps shrink as the remaining distance to 100% halves.
  std::vector<percentile_point> out;
  if (total_count_ == 0) return out;
  const int ticks = std::max(ticks_per_half_distance, 1);
  const auto total = static_cast<double>(total_count_);
  double level = 0.0;
  std::int64_t cumulative = 0;
  std::int64_t cumulative_prev = 0;
  std::int32_t i = 0;
  bool fresh = true;
  const std::int32_t len = counts_len();
  while (i < len && cumulative < total_count_) {
    const std::int64_t c = counts_[static_cast<std::size_t>(i)];
    if (fresh) {
      cumulative += c;
      fresh = false;
    }
    if (c != 0 && 100.0 * static_cast<double>(cumulative) / total >= level) {
      out.push_back({level, highest_equivalent(value_at_index(i)), cumulative - cumulative_prev, cumulative});
      cumulative_prev = cumulative;
      const double halvings = std::floor(std::log2(100.0 / (100.0 - level)));
      const double reporting_ticks = ticks * std::exp2(halvings + 1);
      const double next = level + 100.0 / reporting_ticks;
      // With huge counts the level reaches the resolution of a double just below 100 and stops
      // moving (HdrHistogram would loop there forever); what is left is the closing 100% point.
      if (cumulative >= total_count_ || !(next > level) || next >= 100.0) break;
      level = next;
      continue;
    }
    ++i;
    fresh = true;
  }
  // The closing 100% point at the last recorded slot.
  std::int32_t last = len - 1;
  while (last > 0 && counts_[static_cast<std::size_t>(last)] == 0) --last;
  out.push_back({100.0, highest_equivalent(value_at_index(last)), total_count_ - cumulative_prev, total_count_});
  return out;
}

bool histogram::same_layout(const histogram& other) const noexcept {
  return lowest_ == other.lowest_ && highest_ == other.highest_ && digits_ == other.digits_;
}

bool operator==(const histogram& a, const histogram& b) noexcept {
  return a.same_layout(b) && a.total_count_ == b.total_count_ && a.too_large_ == b.too_large_ &&
         a.counts_ == b.counts_;
}

}  // namespace perflab
