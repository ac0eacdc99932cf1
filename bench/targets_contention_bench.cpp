// The cost of one buy per stock strategy, alone and with 2 and 4 threads buying the same hot item
// (or one of 1,000 items), against the baseline of a plain increment of a thread-local counter in
// the same run. Thread counts above the machine's cores measure preemption as well as contention.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <benchmark/benchmark.h>

#include "perflab/contention/stock.hpp"

namespace {

using namespace perflab::contention;

constexpr std::int64_t endless = std::int64_t{1} << 60;  // never sold out: every buy succeeds

// One stock per (strategy, items) pair, shared by the benchmark's threads.
stock& shared_stock(stock_strategy s, std::uint64_t items) {
  static std::mutex m;
  static std::unique_ptr<stock> made[4][2];
  std::lock_guard lock(m);
  auto& p = made[static_cast<int>(s)][items > 1];
  if (!p) p = make_stock(s, items, endless);
  return *p;
}

void BM_Baseline_LocalIncrement(benchmark::State& state) {
  std::int64_t n = 0;
  for (auto _ : state) {
    ++n;
    benchmark::DoNotOptimize(n);
  }
}

void BM_Stock_Buy(benchmark::State& state) {
  const auto strategy = static_cast<stock_strategy>(state.range(0));
  const auto items = static_cast<std::uint64_t>(state.range(1));
  stock& st = shared_stock(strategy, items);  // built by whichever thread comes first
  std::uint64_t item = static_cast<std::uint64_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    item = items > 1 ? (item * 6364136223846793005ull + 1442695040888963407ull) : 0;
    benchmark::DoNotOptimize(st.buy(items > 1 ? (item >> 33) % items : 0, 1));
  }
  state.SetLabel(std::string(to_string(strategy)) + (items > 1 ? ", 1000 items" : ", hot item"));
}

void strategies(benchmark::internal::Benchmark* b) {
  for (int s = 0; s < 4; ++s)
    for (int items : {1, 1000}) b->Args({s, items});
}

BENCHMARK(BM_Baseline_LocalIncrement);
BENCHMARK(BM_Stock_Buy)->Apply(strategies)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
