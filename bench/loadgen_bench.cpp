// Hot-path pieces of the load engine, each beside a baseline measured in the same run:
//   BM_Baseline_RngNext        one xoshiro step (the floor for anything random per request)
//   BM_ArrivalSchedule_Next    next due time, constant and Poisson (open loop, per request)
//   BM_RequestMix_Pick         weighted request + Zipf key from pre-rendered buffers (per request)
//   BM_Recorder_RecordResponse the histogram updates of one completed request (8 records)
//   BM_Baseline_FormatRequest  what pre-rendering avoids: formatting a request per send
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include "perflab/loadgen/recorder.hpp"
#include "perflab/loadgen/request_mix.hpp"
#include "perflab/loadgen/schedule.hpp"

namespace {
using namespace perflab::loadgen;

void BM_Baseline_RngNext(benchmark::State& state) {
  rng r(1);
  for (auto _ : state) benchmark::DoNotOptimize(r.next());
}
BENCHMARK(BM_Baseline_RngNext);

void BM_ArrivalSchedule_Next(benchmark::State& state) {
  rate_profile profile(50000, 0, {{10.0, 100000}});
  arrival_schedule s(profile, state.range(0) == 1, 0, 1, 1);
  for (auto _ : state) benchmark::DoNotOptimize(s.next());
  state.SetLabel(state.range(0) == 1 ? "poisson" : "constant");
}
BENCHMARK(BM_ArrivalSchedule_Next)->Arg(0)->Arg(1);

void BM_RequestMix_Pick(benchmark::State& state) {
  auto url = parse_url("http://127.0.0.1:8080");
  request_spec get, post;
  get.path = "/item/{key}";
  get.weight = 9;
  post.method = "POST";
  post.path = "/item/{key}";
  post.body = "{\"v\":1}";
  auto mix = request_mix::build(*url, {get, post}, {"zipf", static_cast<std::uint64_t>(state.range(0)), 0.99});
  if (!mix) {
    state.SkipWithError(mix.error().c_str());
    return;
  }
  rng r(1);
  for (auto _ : state) benchmark::DoNotOptimize(mix->pick(r).bytes.data());
}
BENCHMARK(BM_RequestMix_Pick)->Arg(1000)->Arg(100000);

void BM_Baseline_FormatRequest(benchmark::State& state) {
  rng r(1);
  for (auto _ : state) {
    auto s = fmt::format("GET /item/{} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", r.below(100000));
    benchmark::DoNotOptimize(s.data());
  }
}
BENCHMARK(BM_Baseline_FormatRequest);

void BM_Recorder_RecordResponse(benchmark::State& state) {
  sample_set totals, interval;
  rng r(1);
  for (auto _ : state) {
    const auto lat = static_cast<std::int64_t>(50'000 + r.below(1'000'000));
    for (sample_set* s : {&totals, &interval}) {
      ++s->completed;
      s->ttfb.record(lat);
      s->ttlb.record(lat + 1000);
      s->ttfb_uncorrected.record(lat - 500);
      s->ttlb_uncorrected.record(lat + 500);
    }
  }
  benchmark::DoNotOptimize(totals.ttlb.total_count());
}
BENCHMARK(BM_Recorder_RecordResponse);

}  // namespace

BENCHMARK_MAIN();
