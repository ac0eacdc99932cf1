// Hot-path pieces of the load engine, each beside a baseline measured in the same run:
//   BM_Baseline_RngNext        one xoshiro step (the floor for anything random per request)
//   BM_ArrivalSchedule_Next    next due time, constant and Poisson (open loop, per request)
//   BM_RequestMix_Pick         weighted request + Zipf key from pre-rendered buffers (per request)
//   BM_Recorder_RecordResponse the histogram updates of one completed request (8 records)
//   BM_Baseline_FormatRequest  what pre-rendering avoids: formatting a request per send
//   BM_RankMerge_Second        rank 0's work for one second of a distributed run of N ranks: decode
//                              each rank's second from its wire form and add it (docs/distributed.md)
//   BM_RankMerge_EncodeSecond  a rank's side of it: one second encoded for rank 0 (the baseline)
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include "perflab/loadgen/recorder.hpp"
#include "perflab/loadgen/request_mix.hpp"
#include "perflab/loadgen/schedule.hpp"
#include "../loadgen/src/distributed.hpp"

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

// One busy rank's second: 10,000 responses with latencies spread over 50 us - 50 ms, every
// histogram populated as a real second's (connect for 50 new connections), statuses and bytes.
sample_set bench_rank_second(std::uint64_t seed) {
  sample_set s;
  rng r(seed);
  for (int i = 0; i < 10'000; ++i) {
    const auto lat = static_cast<std::int64_t>(50'000 + r.below(50'000'000));
    s.ttfb.record(lat);
    s.ttlb.record(lat + 2'000);
    s.ttfb_uncorrected.record(lat - 1'000);
    s.ttlb_uncorrected.record(lat + 1'000);
    s.send_lag.record(static_cast<std::int64_t>(1'000 + r.below(200'000)));
    if (i % 200 == 0) s.connect.record(static_cast<std::int64_t>(20'000 + r.below(100'000)));
  }
  s.sent = s.completed = s.succeeded = 10'000;
  s.statuses[200] = 10'000;
  s.bytes_in = 1'430'000;
  s.bytes_out = 500'000;
  return s;
}

void BM_RankMerge_Second(benchmark::State& state) {
  const auto ranks = static_cast<int>(state.range(0));
  // Distinct seconds (each rank's latencies differ), encoded once as the ranks would send them.
  std::vector<std::string> wire;
  for (int rk = 0; rk < std::min(ranks, 16); ++rk)
    wire.push_back(detail::encode_sample_set(bench_rank_second(static_cast<std::uint64_t>(rk) + 1), 0));
  sample_set received, so_far, merged;
  for (auto _ : state) {
    merged.reset();
    for (int rk = 0; rk < ranks; ++rk) {
      // As dist_receiver and the collector: decode, add to the rank's running totals, merge.
      auto ok = detail::decode_sample_set(wire[static_cast<std::size_t>(rk) % wire.size()], 0, received);
      if (!ok) state.SkipWithError(ok.error().c_str());
      so_far.add(received);
      merged.add(received);
    }
    benchmark::DoNotOptimize(merged.ttlb.total_count());
  }
  state.counters["wire_bytes_per_rank"] = static_cast<double>(wire.front().size());
  state.counters["ranks"] = ranks;
}
BENCHMARK(BM_RankMerge_Second)->Arg(1)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_RankMerge_EncodeSecond(benchmark::State& state) {
  const sample_set s = bench_rank_second(1);
  for (auto _ : state) benchmark::DoNotOptimize(detail::encode_sample_set(s, 0));
}
BENCHMARK(BM_RankMerge_EncodeSecond)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
