// gzip cost per response body: the payload kinds of /bytes/{n}?kind= at 1 KiB, 16 KiB and
// 320 KiB, levels 1, 6 and 9, against a copy of the same body as the baseline. LAB.md section 5
// expects for 16 KB JSON on one core: level 1 ratio ~4.3-6.3 in ~30 us, level 6 ~5.0-7.6 in
// ~55-85 us, level 9 barely smaller at 3-5x the CPU. The ratio is reported as a counter.
#include <string>

#include <benchmark/benchmark.h>

#include <perflab/encode/gzip.hpp>
#include <perflab/targets/payloads.hpp>

namespace {

using perflab::targets::payload_kind;

std::string body(payload_kind kind, std::int64_t n) {
  std::string s;
  perflab::targets::append_payload(kind, static_cast<std::uint64_t>(n), 1, s);
  return s;
}

// Args: kind (0 pattern, 1 text, 2 json, 3 random), bytes, level.
void BM_Gzip(benchmark::State& state) {
  const auto kind = static_cast<payload_kind>(state.range(0));
  const auto in = body(kind, state.range(1));
  const int level = static_cast<int>(state.range(2));
  std::string out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(perflab::encode::append_gzip(in, level, out));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(in.size()));
  state.counters["ratio"] = static_cast<double>(in.size()) / static_cast<double>(out.size());
  state.SetLabel(std::string(perflab::targets::to_string(kind)));
}

// The baseline: what the same body costs when it is only copied into a response buffer.
void BM_Copy(benchmark::State& state) {
  const auto in = body(static_cast<payload_kind>(state.range(0)), state.range(1));
  std::string out;
  for (auto _ : state) {
    out.assign(in);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(in.size()));
}

void gzip_args(benchmark::internal::Benchmark* b) {
  for (const std::int64_t kind : {1, 2, 3})
    for (const std::int64_t n : {1024, 16384, 327680})
      for (const std::int64_t level : {1, 6, 9}) b->Args({kind, n, level});
}

BENCHMARK(BM_Gzip)->Apply(gzip_args)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Copy)->Args({2, 16384})->Args({2, 327680})->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
