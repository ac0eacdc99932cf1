#pragma once
// Internal: the sections of report.md / report.html, in the order render_report() adds them:
// findings (report_findings.cpp), capacity searches (report_capacity.cpp), warnings
// (report_findings.cpp), run context and tables (report_tables.cpp), plots (report_plots.cpp).
// Each appends blocks to the document; none does I/O except the plots, which run gnuplot.
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "document.hpp"
#include "perflab/analysis/report.hpp"
#include "perflab/core/histogram.hpp"
#include "perflab/core/result.hpp"

namespace perflab::analysis::detail {

struct loaded_run {
  std::filesystem::path dir;  // run directory (interval logs are relative to it)
  std::string label;          // prefix of variant labels when several runs share a report ("" for one run)
  result::run run;
};

struct loaded_variant {
  const loaded_run* run = nullptr;
  const result::variant* v = nullptr;
  std::string label;                        // "<run label>: <variant name> #<repeat>"
  std::map<std::string, histogram> merged;  // interval-log tag -> all intervals merged
  std::string log_note;                     // why spectra are missing, if they are
};

// The findings section of a report: add_findings for `loadgen report`, the A/B verdict for `loadgen ab`.
using findings_section =
    std::function<void(document& doc, const std::vector<loaded_run>& runs, const std::vector<loaded_variant>& vars)>;

// render_report with `findings` as its first section and "<title_prefix><scenario names>" as its title.
tl::expected<report_paths, std::string> render_report_with(const std::vector<std::filesystem::path>& run_dirs,
                                                           const std::filesystem::path& out_dir,
                                                           const std::string& title_prefix,
                                                           const findings_section& findings);

// "Findings": per dimension, best vs worst (analysis/findings.hpp); Little's law.
void add_findings(document& doc, const std::vector<loaded_run>& runs, const std::vector<loaded_variant>& vars);
// "Capacity": per capacity search its verdict, capacity, band and Little's law bound, the plots of
// the objective's metrics against the searched variable, and every step (report_capacity.cpp).
// Nothing when no run has a search.
void add_capacity(document& doc, const std::vector<loaded_run>& runs);
// "Warnings": every variant note (status words and the rest), sanitizer builds, incomplete runs.
void add_warnings(document& doc, const std::vector<loaded_run>& runs, const std::vector<loaded_variant>& vars);
// "Run": results, scenario, host, tool, load model.
void add_run_context(document& doc, const std::vector<loaded_run>& runs);
// Throughput and errors, latency (with why a row is empty), resources, thresholds.
void add_tables(document& doc, const std::vector<loaded_variant>& vars);
// "Dependencies, faults and timed actions" (report_events.cpp): each target's cost and requests
// per loadgen request (load amplification), every [[fault]] and [[action]]. Nothing without them.
void add_events(document& doc, const std::vector<loaded_variant>& vars);
// "Database pool" (report_events.cpp): each sampled pool's peak and sampled waiters and its acquire
// wait. Nothing for runs without a pool's metrics.
void add_pool(document& doc, const std::vector<loaded_variant>& vars);
// "Outbox" (report_outbox.cpp): a target's outbox counts at the last scrape (committed, received,
// duplicates, lost, backlog, recovery). Nothing for runs without them.
void add_outbox(document& doc, const std::vector<loaded_variant>& vars);
// "Plots": spectra, throughput over time, sweeps; what could not be drawn, and why, as bullets.
void add_plots(document& doc, const std::vector<loaded_variant>& vars);

// One variant's throughput over time, as plotted: per measured interval, responses divided by the
// interval's length (a short last second is not a dip), at the interval's start. The drain row is
// left out: it is the drain's whole length, not a second of steady load.
struct throughput_lines {
  std::vector<std::pair<double, double>> goodput;  // (t_s, successful responses per second)
  std::vector<std::pair<double, double>> all;      // (t_s, all responses per second)
  bool differs = false;     // some interval had responses that were not successes
  double drain_s = -1;      // length of the drain row (-1: none)
};
// goodput_known: false for schema-1 runs, which recorded no successes per second (goodput then
// plots all responses, as they were measured).
throughput_lines throughput_of(const result::variant& v, bool goodput_known);

struct marker;  // plot.hpp
// The faults (shaded spans) and actions (lines) of the first variant that recorded events, for the
// time-series plots.
std::vector<marker> event_markers(const std::vector<loaded_variant>& vars);

// The time-series plots of the targets' /metrics as the runner sampled them each second
// (report_events.cpp): each breaker's state, the requests each target answered per second, a
// database pool's waiters and mean acquire wait, with the fault markers. Empty for runs without them.
struct plot_spec;  // plot.hpp
struct titled_plot {
  std::string file_stem;
  std::string caption;
};
std::vector<std::pair<plot_spec, titled_plot>> target_metric_plots(const std::vector<loaded_variant>& vars);

}  // namespace perflab::analysis::detail
