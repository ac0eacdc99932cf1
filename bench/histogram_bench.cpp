// Histogram hot path and codec costs. Goal: record <= 5 ns per value (RelWithDebInfo), against a
// baseline of incrementing a plain array slot in the same run.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "perflab/core/hdr_log.hpp"
#include "perflab/core/histogram.hpp"

namespace {

constexpr std::int64_t one_hour_ns = 3'600'000'000'000;
constexpr std::size_t value_count = 1 << 16;  // power of two: index with a mask

// Latency-like values (log-normal around ~160 us, tails into seconds), generated once.
const std::vector<std::int64_t>& sample_values() {
  static const std::vector<std::int64_t> values = [] {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> d(12.0, 1.5);
    std::vector<std::int64_t> v(value_count);
    for (auto& x : v) x = std::min<std::int64_t>(static_cast<std::int64_t>(d(rng)), one_hour_ns);
    return v;
  }();
  return values;
}

void BM_Histogram_Record(benchmark::State& state) {
  perflab::histogram h(1, one_hour_ns, 3);
  const auto& values = sample_values();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.record(values[i++ & (value_count - 1)]));
  }
  benchmark::ClobberMemory();
  benchmark::DoNotOptimize(h.total_count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Histogram_Record);

// Baseline: the cheapest possible "record": one increment of a slot chosen by the value's bits.
void BM_Baseline_ArrayIncrement(benchmark::State& state) {
  std::vector<std::int64_t> counts(33792, 0);  // same size as the histogram's counts array
  const auto& values = sample_values();
  std::size_t i = 0;
  for (auto _ : state) {
    const auto v = static_cast<std::uint64_t>(values[i++ & (value_count - 1)]);
    ++counts[v % counts.size()];
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(counts.data());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Baseline_ArrayIncrement);

perflab::histogram filled_histogram() {
  perflab::histogram h(1, one_hour_ns, 3);
  for (auto v : sample_values()) h.record(v);
  return h;
}

void BM_Histogram_ValueAtPercentile(benchmark::State& state) {
  const auto h = filled_histogram();
  for (auto _ : state) benchmark::DoNotOptimize(h.value_at_percentile(99.9));
}
BENCHMARK(BM_Histogram_ValueAtPercentile);

void BM_Histogram_Merge(benchmark::State& state) {
  const auto src = filled_histogram();
  perflab::histogram dst(1, one_hour_ns, 3);
  for (auto _ : state) {
    dst.add(src);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Histogram_Merge);

// Worst case for the codec: every slot of a 1 ns .. 1 h, 3-digit histogram holds a count.
perflab::histogram full_histogram() {
  perflab::histogram h(1, one_hour_ns, 3);
  for (std::int32_t i = 0; i < h.counts_len(); ++i) h.set_count_at_index(i, 1 + (i % 1000));
  return h;
}

void BM_Histogram_EncodeFull(benchmark::State& state) {
  const auto h = full_histogram();
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto blob = perflab::hdr::encode_compressed(h);
    bytes = blob.size();
    benchmark::DoNotOptimize(blob.data());
  }
  state.counters["blob_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Histogram_EncodeFull)->Unit(benchmark::kMicrosecond);

void BM_Histogram_EncodeTypical(benchmark::State& state) {
  const auto h = filled_histogram();
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto blob = perflab::hdr::encode_compressed(h);
    bytes = blob.size();
    benchmark::DoNotOptimize(blob.data());
  }
  state.counters["blob_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Histogram_EncodeTypical)->Unit(benchmark::kMicrosecond);

void BM_Histogram_DecodeFull(benchmark::State& state) {
  const auto blob = perflab::hdr::encode_compressed(full_histogram());
  for (auto _ : state) {
    auto h = perflab::hdr::decode_compressed(blob);
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_Histogram_DecodeFull)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
