#pragma once
// Test fixture (header-only, not part of the library): writes a synthetic run directory exactly
// as `loadgen run` lays it out (run.json, one HdrHistogram interval log and one per-second CSV per
// variant), from a deterministic pseudo-random latency model. Used by the analysis unit tests and
// by the integration test tool perflab_synthetic_run.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <tl/expected.hpp>

#include "perflab/core/hdr_log.hpp"
#include "perflab/core/histogram.hpp"
#include "perflab/core/result.hpp"
#include "perflab/core/result_io.hpp"

namespace perflab::analysis::testing {

struct synthetic_variant {
  std::string name;                           // e.g. "model=reactor,connections=100"
  std::map<std::string, std::string> params;  // matrix values
  int repeat = 0;
  double tps = 1000;                          // mean responses per second
  double ttlb_median_us = 800;                // median TTLB; TTFB is 80% of it
  double error_rate = 0;                      // fraction of 5xx responses
  bool saturated = false;
  bool complete = true;
  bool threshold_failed = false;              // adds a failed "ttlb.p99 < 1ms" verdict
  std::int64_t abandoned = 0;                 // unanswered at the drain deadline
  std::int64_t retries = 0;                   // resent after a stale keep-alive connection
  std::int64_t carried_in = 0;                // warm-up requests in flight when the measured phase began
  std::int64_t stalled = 0;                   // of those, unanswered through the whole measured phase
  bool new_connections = true;                // false: every connection opened in the warm-up (connect count 0)
  double target_cpu_s = 2.0;                  // target CPU over the variant
  std::int64_t peak_rss_bytes = 12 * 1024 * 1024;
};

struct synthetic_options {
  std::string scenario_name = "synthetic";
  std::string kind = "open";   // load model kind
  double duration_s = 5;       // seconds of series and intervals
  double drain_s = 0.25;       // length of the series' final "drain" row
  int samples_per_second = 400;
  std::uint64_t seed = 1;
  bool complete = true;
};

// Writes the run into dir (created). Returns the run as written.
inline tl::expected<result::run, std::string> write_synthetic_run(const std::filesystem::path& dir,
                                                                  const std::vector<synthetic_variant>& variants,
                                                                  const synthetic_options& opt = {}) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return tl::make_unexpected(fmt::format("{}: {}", dir.string(), ec.message()));
  result::run r;
  r.tool = result::this_tool();
  r.host = result::detect_host();
  r.started_at = "2026-11-22T03:00:00.000Z";
  r.scenario_name = opt.scenario_name;
  r.scenario_path = "scenarios/" + opt.scenario_name + ".toml";
  r.scenario_text = "name = \"" + opt.scenario_name + "\"\n";
  r.complete = opt.complete;
  std::mt19937_64 rng(opt.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  int index = 0;
  for (const auto& sv : variants) {
    result::variant v;
    v.name = sv.name;
    v.params = sv.params;
    v.repeat = sv.repeat;
    v.complete = sv.complete;
    if (!sv.complete) v.incomplete_reason = "interrupted";
    v.load.kind = opt.kind;
    v.load.arrival = opt.kind == "open" ? "constant" : "";
    v.load.rate = opt.kind == "open" ? sv.tps : 0;
    v.load.connections = opt.kind == "open" ? 64 : 50;
    v.load.duration_s = opt.duration_s;
    v.load.warmup_s = 1;
    v.load.keepalive = "keep-alive";
    v.load.connect_timeout_s = 2;
    v.load.request_timeout_s = 10;
    v.load.threads = 1;
    v.load.cpus = {0};
    v.target.spawned = true;
    v.target.url = "http://127.0.0.1:40000";
    v.target.model = sv.params.count("model") ? sv.params.at("model") : "reactor";
    v.target.cpus = {1};
    v.target.cpu_user_s = 0.75 * sv.target_cpu_s;
    v.target.cpu_system_s = 0.25 * sv.target_cpu_s;
    v.target.peak_rss_bytes = sv.peak_rss_bytes;
    v.target.threads = 4;
    v.target.exit_status = "exit 0";
    v.loadgen.saturated = sv.saturated;
    v.abandoned = sv.abandoned;
    v.retries = sv.retries;
    v.carried_in = sv.carried_in;
    v.stalled = sv.stalled;
    std::string prefix = fmt::format("v{}", index++);
    v.interval_log = prefix + ".hlog";
    v.series_csv = prefix + ".csv";

    const char* tags[] = {"connect", "ttfb", "ttlb", "ttfb_uncorrected", "ttlb_uncorrected", "send_lag"};
    constexpr std::int64_t highest = 3'600'000'000'000LL;  // 1 h in ns
    std::map<std::string, histogram> total;
    for (const char* t : tags) total.emplace(t, histogram(1, highest, 3));
    std::ofstream hlog(dir / v.interval_log);
    std::ofstream csv(dir / v.series_csv);
    if (!hlog || !csv) return tl::make_unexpected("cannot write into " + dir.string());
    csv << "t_s,sent,completed,errors,ttlb_p50_us,ttlb_p99_us,target_rate,in_flight,retries\n";
    hdr::log_writer writer(hlog, 1'795'000'000.0);
    const int seconds = static_cast<int>(opt.duration_s);
    const double lag_us = sv.saturated ? 5000 : 20;
    for (int s = 0; s < seconds; ++s) {
      std::map<std::string, histogram> iv;
      for (const char* t : tags) iv.emplace(t, histogram(1, highest, 3));
      for (int i = 0; i < opt.samples_per_second; ++i) {
        // Log-normal TTLB around the median; the tail grows with sigma 0.5.
        double ttlb_us = sv.ttlb_median_us * std::exp(0.5 * normal(rng));
        double lag = lag_us * std::exp(0.3 * normal(rng));
        auto ns = [](double us) { return static_cast<std::int64_t>(us * 1000.0); };
        iv.at("ttlb").record(ns(ttlb_us + lag));
        iv.at("ttfb").record(ns(0.8 * ttlb_us + lag));
        iv.at("ttlb_uncorrected").record(ns(ttlb_us));
        iv.at("ttfb_uncorrected").record(ns(0.8 * ttlb_us));
        iv.at("send_lag").record(ns(lag));
        if (sv.new_connections && i % 50 == 0) iv.at("connect").record(ns(60 * std::exp(0.2 * normal(rng))));
      }
      for (const char* t : tags) {
        writer.write(std::string_view(t), s, 1.0, iv.at(t));
        total.at(t).add(iv.at(t));
      }
      result::second_point p;
      p.t_s = s;
      p.completed = static_cast<std::int64_t>(sv.tps * (1 + 0.01 * normal(rng)));
      p.sent = p.completed;
      p.errors = static_cast<std::int64_t>(static_cast<double>(p.completed) * sv.error_rate);
      p.succeeded = p.completed - p.errors;  // the errors are 5xx responses
      p.stalled = sv.stalled;
      p.ttlb_p50_us = static_cast<double>(iv.at("ttlb").value_at_percentile(50)) / 1000;
      p.ttlb_p99_us = static_cast<double>(iv.at("ttlb").value_at_percentile(99)) / 1000;
      p.target_rate = opt.kind == "open" ? sv.tps : 0;
      p.in_flight = 3;
      v.series.push_back(p);
      csv << fmt::format("{},{},{},{},{},{},{},{},{}\n", p.t_s, p.sent, p.completed, p.errors, p.ttlb_p50_us,
                         p.ttlb_p99_us, p.target_rate, p.in_flight, p.retries);
    }
    v.measured_s = opt.duration_s;
    for (const auto& p : v.series) {
      v.completed += p.completed;
      v.succeeded += p.succeeded;
      v.errors.status_5xx += p.errors;
      v.sent += p.sent;
    }
    v.completed_in_window = v.completed;
    v.succeeded_in_window = v.succeeded;
    // The drain: the stalled requests stay unanswered, the rest of the in-flight ones complete.
    result::second_point drain;
    drain.t_s = opt.duration_s;
    drain.length_s = opt.drain_s;
    drain.phase = "drain";
    drain.completed = drain.succeeded = 3;
    drain.stalled = sv.stalled;
    v.series.push_back(drain);
    v.tps_mean = static_cast<double>(v.succeeded_in_window) / v.measured_s;
    v.rps_mean = static_cast<double>(v.completed_in_window) / v.measured_s;
    v.error_rate = static_cast<double>(v.errors.total() + v.abandoned) /
                   static_cast<double>(v.completed + v.errors.transport() + v.abandoned);
    v.connections_opened = sv.new_connections ? v.load.connections : 0;
    v.connections_warmup = sv.new_connections ? 0 : v.load.connections;
    v.connect = result::summarize(total.at("connect"));
    v.ttfb = result::summarize(total.at("ttfb"));
    v.ttlb = result::summarize(total.at("ttlb"));
    v.ttfb_uncorrected = result::summarize(total.at("ttfb_uncorrected"));
    v.ttlb_uncorrected = result::summarize(total.at("ttlb_uncorrected"));
    v.send_lag = result::summarize(total.at("send_lag"));
    v.loadgen.cpu_user_s = 0.8;
    v.loadgen.cpu_system_s = 0.4;
    v.loadgen.cpu_per_request_us = 1.2e6 / static_cast<double>(v.completed);
    if (sv.threshold_failed) v.thresholds.push_back({"ttlb.p99 < 1ms", v.ttlb.p99_us, 1000, false});
    v.thresholds.push_back({"errors.rate < 5%", v.error_rate, 0.05, v.error_rate < 0.05});
    r.variants.push_back(std::move(v));
  }
  auto w = result::write_run_json(dir / "run.json", r);
  if (!w) return tl::make_unexpected(w.error());
  return r;
}

}  // namespace perflab::analysis::testing
