// `loadgen report RESULTS... [--output DIR]` and
// `loadgen compare BASELINE CANDIDATE [--tolerance 5%] [--alpha 0.05] [--metric NAME]... [--json]`.
// Thin: map the command line onto the analysis library and its result onto an exit code.
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "perflab/analysis/compare.hpp"
#include "perflab/analysis/report.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/core/result_io.hpp"
#include "perflab/loadgen/commands.hpp"

namespace perflab::loadgen {
namespace {

namespace fs = std::filesystem;

// A results argument is a run directory (with run.json) or a run.json file. Missing ones are
// usage errors, so they are checked before any work.
bool check_results_path(const fs::path& p, const char* cmd) {
  std::error_code ec;
  if (fs::is_directory(p, ec) ? fs::exists(p / "run.json", ec) : fs::is_regular_file(p, ec)) return true;
  std::cerr << fmt::format("loadgen {}: {}: {}\n", cmd, p.string(),
                           fs::is_directory(p, ec) ? "no run.json in this directory" : "no such file or directory");
  return false;
}

struct compare_args {
  std::string baseline;
  std::string candidate;
  std::string tolerance = "5%";
  double alpha = 0.05;
  std::vector<std::string> metrics;
  bool json = false;
};

int run_compare(const compare_args& a) {
  analysis::compare_options opt;
  auto tol = analysis::parse_tolerance(a.tolerance);
  if (!tol) {
    std::cerr << "loadgen compare: " << tol.error() << "\n";
    return exit_code::usage;
  }
  opt.tolerance = *tol;
  if (!(a.alpha > 0 && a.alpha < 1)) {
    std::cerr << fmt::format("loadgen compare: --alpha {} out of range (accepted: 0 < alpha < 1)\n", a.alpha);
    return exit_code::usage;
  }
  opt.alpha = a.alpha;
  if (!a.metrics.empty()) {
    opt.metrics.clear();
    opt.capacities = false;  // the list says what to compare ("capacity" included when named)
    for (const auto& name : a.metrics) {
      auto m = analysis::parse_metric(name);
      if (!m) {
        std::cerr << "loadgen compare: " << m.error() << "\n";
        return exit_code::usage;
      }
      opt.metrics.push_back(*m);
    }
  }
  if (!check_results_path(a.baseline, "compare") || !check_results_path(a.candidate, "compare")) {
    return exit_code::usage;
  }
  auto base = result::read_run_json(a.baseline);
  if (!base) {
    std::cerr << "loadgen compare: " << base.error() << "\n";
    return exit_code::runtime_error;
  }
  auto cand = result::read_run_json(a.candidate);
  if (!cand) {
    std::cerr << "loadgen compare: " << cand.error() << "\n";
    return exit_code::runtime_error;
  }
  auto c = analysis::compare_runs(*base, *cand, opt);
  if (a.json) {
    std::cout << analysis::comparison_json(c, opt).dump(2) << "\n";
  } else {
    std::cout << analysis::format_comparison(c, opt);
  }
  std::cout.flush();
  return c.exit_code();
}

}  // namespace

void add_report_command(CLI::App& app, int& exit_code) {
  struct args {
    std::vector<std::string> results;
    std::string output;
  };
  auto a = std::make_shared<args>();
  auto* cmd = app.add_subcommand("report", "render report.md and a self-contained report.html from results");
  cmd->add_option("results", a->results, "run directories or run.json files (several: variants labelled by run)")
      ->required();
  cmd->add_option("--output,-o", a->output, "directory for the report (default: the first results directory)");
  cmd->callback([a, &exit_code] {
    std::vector<fs::path> dirs;
    for (const auto& r : a->results) {
      if (!check_results_path(r, "report")) {
        exit_code = exit_code::usage;
        return;
      }
      dirs.emplace_back(r);
    }
    auto paths = analysis::render_report(dirs, a->output);
    if (!paths) {
      std::cerr << "loadgen report: " << paths.error() << "\n";
      exit_code = exit_code::runtime_error;
      return;
    }
    std::cout << "report: " << paths->markdown.string() << "\n";
    std::cout << "report: " << paths->html.string() << "\n";
    exit_code = exit_code::ok;
  });
}

void add_compare_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<compare_args>();
  auto* cmd = app.add_subcommand(
      "compare", "compare two runs per variant and metric; exit 4 when a metric regressed beyond the tolerance");
  cmd->add_option("baseline", a->baseline, "baseline run directory or run.json")->required();
  cmd->add_option("candidate", a->candidate, "candidate run directory or run.json")->required();
  cmd->add_option("--tolerance,-t", a->tolerance, "relative change treated as noise, e.g. 5% or 0.05 (default 5%)");
  cmd->add_option("--alpha", a->alpha, "significance level of the Mann-Whitney test over repeats (default 0.05)");
  cmd->add_option("--metric,-m", a->metrics,
                  "metric to compare (repeatable or comma-separated; default tps.mean, ttlb.p50, ttlb.p99, "
                  "ttfb.p99, errors.rate, and capacity where both runs searched a variant), e.g. ttlb.p99.9, "
                  "connect.p99, send_lag.p99, target.rss, capacity")
      ->delimiter(',');
  cmd->add_flag("--json", a->json, "print the comparison as JSON instead of a table");
  cmd->callback([a, &exit_code] { exit_code = run_compare(*a); });
}

}  // namespace perflab::loadgen
