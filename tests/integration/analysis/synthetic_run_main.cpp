// perflab_synthetic_run: writes a synthetic run directory (run.json + .hlog + .csv per variant) for
// the analysis integration tests, so `loadgen report` and `loadgen compare` can be exercised without
// a real load run, and its CI files (--junit, --summary-md, from the analysis library's writers) so
// they can be checked with parsers we did not write. Deterministic for a given --seed.
//   perflab_synthetic_run DIR [--tps 5000] [--latency-us 800] [--repeats 1] [--seed 1] [--saturated]
//                         [--stalled N] [--threshold-fail] [--junit FILE] [--summary-md FILE]
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "perflab/analysis/ci_formats.hpp"
#include "synthetic_run.hpp"

int main(int argc, char** argv) {
  CLI::App app{"write a synthetic perflab run directory", "perflab_synthetic_run"};
  std::string dir;
  double tps = 5000, latency_us = 800, error_rate = 0;
  int repeats = 1;
  std::uint64_t seed = 1;
  bool saturated = false, threshold_fail = false;
  std::int64_t stalled = 0;
  std::string junit, summary;
  app.add_option("dir", dir, "run directory to write")->required();
  app.add_option("--tps", tps, "mean TPS of the first variant (the second gets 60% of it)");
  app.add_option("--latency-us", latency_us, "median TTLB of the first variant, microseconds");
  app.add_option("--error-rate", error_rate, "fraction of 5xx responses");
  app.add_option("--repeats", repeats, "repeats per variant");
  app.add_option("--seed", seed, "random seed (latency samples and per-second noise)");
  app.add_flag("--saturated", saturated, "mark the second variant saturated");
  app.add_option("--stalled", stalled, "stalled requests of the first variant (of 2x as many carried in)");
  app.add_flag("--threshold-fail", threshold_fail, "give the first variant a failed threshold");
  app.add_option("--junit", junit, "also write the run's JUnit XML to FILE");
  app.add_option("--summary-md", summary, "also write the run's Markdown summary to FILE");
  CLI11_PARSE(app, argc, argv);

  std::vector<perflab::analysis::testing::synthetic_variant> vs;
  for (int r = 0; r < repeats; ++r) {
    // Repeats differ by a small deterministic wobble (+-1%), as real repeats do.
    double wobble = 1.0 + 0.01 * ((r * 7 + static_cast<int>(seed)) % 5 - 2) / 2.0;
    vs.push_back({"model=reactor,connections=10", {{"model", "reactor"}, {"connections", "10"}}, r, tps * wobble,
                  latency_us * wobble, error_rate});
    vs.back().threshold_failed = threshold_fail;
    vs.back().stalled = stalled;
    vs.back().carried_in = 2 * stalled;
    vs.push_back({"model=reactor,connections=100", {{"model", "reactor"}, {"connections", "100"}}, r,
                  0.6 * tps * wobble, 3 * latency_us * wobble, error_rate, saturated});
  }
  perflab::analysis::testing::synthetic_options opt;
  opt.seed = seed;
  opt.duration_s = 3;
  opt.samples_per_second = 200;
  auto run = perflab::analysis::testing::write_synthetic_run(dir, vs, opt);
  if (!run) {
    std::fprintf(stderr, "perflab_synthetic_run: %s\n", run.error().c_str());
    return 1;
  }
  for (const auto& [file, text] : {std::pair{junit, perflab::analysis::junit_xml(*run)},
                                   std::pair{summary, perflab::analysis::summary_markdown(*run)}}) {
    if (file.empty()) continue;
    if (auto w = perflab::analysis::write_text_file(file, text); !w) {
      std::fprintf(stderr, "perflab_synthetic_run: %s\n", w.error().c_str());
      return 1;
    }
  }
  return 0;
}
