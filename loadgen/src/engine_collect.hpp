#pragma once
// The collecting (main) thread's side of a load run, between the workers and the result: the
// collector the workers hand their seconds to (engine_internal.hpp declares it) and the
// interval_merger that writes each merged second out as it completes. run_load
// (engine_run.cpp) drives both.
#include <array>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "engine_internal.hpp"
#include "perflab/core/hdr_log.hpp"
#include "perflab/core/result.hpp"
#include "perflab/loadgen/engine.hpp"
#include "perflab/loadgen/recorder.hpp"
#include "perflab/loadgen/schedule.hpp"

namespace perflab::loadgen::detail {

// Response counts by status code, as run.json keeps them ("503": n); codes never seen are left out.
std::map<std::string, std::int64_t> status_map(const std::array<std::int64_t, 600>& counts);

// The main thread's side of the run: merges the workers' intervals in index order and writes
// each one out (interval log, CSV, series, progress line) as soon as every worker has handed it
// over or finished.
class interval_merger {
 public:
  interval_merger(const run_config& cfg, const shared_setup& s, const rate_profile& profile, std::ofstream& csv,
                  hdr::log_writer* writer, bool progress)
      : cfg_(cfg), s_(s), profile_(profile), csv_(csv), writer_(writer), progress_(progress) {}

  // One merged interval (every worker's, in index order): its interval-log lines, CSV row,
  // series point and progress line. `discard`: the run stopped in the warm-up (nothing to write).
  void add(const sample_set& merged, bool discard);

  std::vector<result::second_point>& series() noexcept { return series_; }
  std::int64_t completed_in_window() const noexcept { return completed_in_window_; }
  std::int64_t succeeded_in_window() const noexcept { return succeeded_in_window_; }

 private:
  const run_config& cfg_;
  const shared_setup& s_;
  const rate_profile& profile_;
  std::ofstream& csv_;
  hdr::log_writer* writer_;
  bool progress_;
  std::int64_t last_end_ns_ = 0;  // end of the last measured interval: where the drain begins
  std::int64_t completed_in_window_ = 0;
  std::int64_t succeeded_in_window_ = 0;
  std::vector<result::second_point> series_;
};


}  // namespace perflab::loadgen::detail
