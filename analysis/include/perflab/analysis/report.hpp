#pragma once
// Reports of one or more run directories: report.md and a self-contained report.html (plots as
// inline SVG drawn by gnuplot), plus the plain-text variant table printed after `loadgen run`.
#include <filesystem>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/core/result.hpp"

namespace perflab::analysis {

struct report_paths {
  std::filesystem::path markdown;  // <out_dir>/report.md
  std::filesystem::path html;      // <out_dir>/report.html
};

// Renders the report of `run_dirs` (run directories or run.json files; several runs: variants are
// labelled by run) into out_dir (created if missing; empty: the first run's directory). Percentile
// spectra come from each variant's interval log, TPS over time from its series. Plots need
// gnuplot on PATH; without it the report says so and still has every table. The Markdown report
// links the plots as report-*.svg files written next to it; report.html embeds them.
// Errors: unreadable run.json, unwritable out_dir.
tl::expected<report_paths, std::string> render_report(const std::vector<std::filesystem::path>& run_dirs,
                                                      const std::filesystem::path& out_dir);

struct ab_verdict;  // ab.hpp (which includes this header through compare.hpp)
struct ab_options;

// The report of a `loadgen ab` run into out_dir: its findings are the A/B verdict (every variant and
// metric with baseline and candidate medians, change, the ratio's 95 % interval, p, the smallest
// change this run could detect, the verdict), then both runs as render_report shows two runs
// (variants labelled "baseline: ..." and "candidate: ..."). Errors as render_report's.
tl::expected<report_paths, std::string> render_ab_report(const std::filesystem::path& baseline_dir,
                                                         const std::filesystem::path& candidate_dir,
                                                         const std::filesystem::path& out_dir, const ab_verdict& v,
                                                         const ab_options& opt);

// Plain-text table of the run's variants with aligned columns, for the terminal: TPS, TTFB and
// TTLB p50/p99 (ms), errors, and flags (saturated, incomplete, thresholds failed). Ends with '\n'.
std::string comparison_table(const result::run& r);

}  // namespace perflab::analysis
