// The report of a run with a dependency and a timed schedule (schema 6): the targets' table with
// requests per loadgen request (load amplification), the events with scheduled and actual times,
// and the markers the time-series plots get.
#include "perflab/analysis/report.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "perflab/core/result_io.hpp"
#include "plot.hpp"
#include "report_parts.hpp"
#include "synthetic_run.hpp"
#include "test_files.hpp"

namespace fs = std::filesystem;
using namespace perflab;

namespace {

using perflab::analysis::testing::slurp;

result::timed_event fault_event() {
  result::timed_event e;
  e.kind = "fault";
  e.target = "dep";
  e.spec = "error=1:503";
  e.restored = "none";
  e.method = "POST";
  e.path = "/admin/fault";
  e.at_s = 1;
  e.duration_s = 1;
  e.start_s = 1.004;
  e.end_s = 2.01;
  e.status = 200;
  return e;
}

TEST(ReportEvents, ShowsAmplificationAndEventTimesAndMarksThePlots) {
  const fs::path dir = fs::temp_directory_path() / ("perflab_report_events_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto run = analysis::testing::write_synthetic_run(dir, {{"model=reactor", {{"model", "reactor"}}}});
  ASSERT_TRUE(run) << run.error();
  auto& v = run->variants.at(0);
  v.sent = 1000;
  v.target.requests = 1000;
  result::target_info dep;
  dep.name = "dep";
  dep.spawned = true;
  dep.model = "reactor";
  dep.requests = 2500;  // retries: 2.5 attempts per loadgen request
  dep.peak_rss_bytes = 5 << 20;
  v.dependencies.push_back(dep);
  v.events.push_back(fault_event());
  result::timed_event purge;
  purge.kind = "action";
  purge.method = "PURGE";
  purge.path = "/cache";
  purge.at_s = 0.5;
  purge.start_s = 0.51;
  purge.end_s = 0.52;
  purge.status = 200;
  v.events.push_back(purge);
  ASSERT_TRUE(result::write_run_json(dir / "run.json", *run));

  auto paths = analysis::render_report({dir}, dir / "out");
  ASSERT_TRUE(paths) << paths.error();
  const std::string md = slurp(paths->markdown);
  EXPECT_NE(md.find("## Dependencies, faults and timed actions"), std::string::npos) << md;
  EXPECT_NE(md.find("| dep | reactor |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2500 | 1000 | 2.50 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1000 | 1000 | 1.00 |"), std::string::npos) << md;  // the measured target
  EXPECT_NE(md.find("| fault | dep | error=1:503 | 1.00 | 1.00 | 1.00 | 2.01 | 200 | then none |"), std::string::npos) << md;
  EXPECT_NE(md.find("| action | measured | PURGE /cache | 0.50 | - | 0.51 | 0.52 | 200 |"), std::string::npos) << md;

  std::vector<analysis::detail::loaded_variant> vars(1);
  vars[0].v = &v;
  const auto markers = analysis::detail::event_markers(vars);
  ASSERT_EQ(markers.size(), 2u);
  EXPECT_DOUBLE_EQ(markers[0].from, 1.004);
  EXPECT_DOUBLE_EQ(markers[0].to, 2.01);
  EXPECT_EQ(markers[0].label, "fault dep: error=1:503");
  EXPECT_DOUBLE_EQ(markers[1].to, markers[1].from);  // an action: a line
  if (analysis::detail::gnuplot_available()) {
    EXPECT_NE(md.find("Errors over time"), std::string::npos);
    analysis::detail::plot_spec spec;
    spec.title = "t";
    spec.lines.push_back({"x", {{0, 1}, {3, 2}}, false, 0});
    spec.markers = markers;
    auto svg = analysis::detail::render_svg(spec);
    ASSERT_TRUE(svg) << svg.error();
    EXPECT_NE(svg->find("fault dep: error=1:503"), std::string::npos);
  }
  fs::remove_all(dir);
}

TEST(ReportEvents, PlotsTheBreakerStateAndEachTargetsRequestsUnderTheFaults) {
  const fs::path dir = fs::temp_directory_path() / ("perflab_report_breaker_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto run = analysis::testing::write_synthetic_run(dir, {{"breaker=on", {{"breaker", "on"}}}});
  ASSERT_TRUE(run) << run.error();
  auto& v = run->variants.at(0);
  v.events.push_back(fault_event());
  v.target_metrics.push_back({"", "breaker_state", {{0.0, 0}, {1.0, 0}, {2.0, 1}, {3.0, 2}, {4.0, 0}}});
  v.target_metrics.push_back({"", "requests_per_s", {{0.0, 100}, {1.0, 100}, {2.0, 100}, {3.0, 100}}});
  v.target_metrics.push_back({"dep", "requests_per_s", {{0.0, 100}, {1.0, 12}, {2.0, 3}, {3.0, 100}}});
  ASSERT_TRUE(result::write_run_json(dir / "run.json", *run));
  auto back = result::read_run_json(dir / "run.json");  // run.json keeps the series as written
  ASSERT_TRUE(back) << back.error();
  ASSERT_EQ(back->variants.at(0).target_metrics.size(), 3u);
  EXPECT_EQ(back->variants.at(0).target_metrics[2].target, "dep");
  EXPECT_EQ(back->variants.at(0).target_metrics[0].points[3], (std::pair<double, double>{3.0, 2}));

  std::vector<analysis::detail::loaded_variant> vars(1);
  vars[0].v = &v;
  vars[0].label = "breaker=on";
  auto plots = analysis::detail::target_metric_plots(vars);
  ASSERT_EQ(plots.size(), 2u);
  const auto& [breaker, breaker_text] = plots[0];
  EXPECT_EQ(breaker.title, "Circuit breaker state over time");
  EXPECT_EQ(breaker_text.file_stem, "breaker-state");
  ASSERT_EQ(breaker.lines.size(), 1u);  // only the front has a breaker
  EXPECT_EQ(breaker.lines[0].title, "breaker=on: measured");
  EXPECT_EQ(breaker.lines[0].points.size(), 5u);
  ASSERT_EQ(breaker.markers.size(), 1u);  // under the fault's shading
  EXPECT_DOUBLE_EQ(breaker.markers[0].from, 1.004);
  const auto& [requests, requests_text] = plots[1];
  ASSERT_EQ(requests.lines.size(), 2u);  // the front and its dependency
  EXPECT_EQ(requests.lines[1].title, "breaker=on: dep");
  EXPECT_NE(requests_text.caption.find("Shaded"), std::string::npos);

  // A run without sampled metrics gets neither plot.
  result::variant plain;
  vars[0].v = &plain;
  EXPECT_TRUE(analysis::detail::target_metric_plots(vars).empty());

  auto paths = analysis::render_report({dir}, dir / "out");
  ASSERT_TRUE(paths) << paths.error();
  if (analysis::detail::gnuplot_available()) {
    const std::string md = slurp(paths->markdown);
    EXPECT_NE(md.find("Circuit breaker state over time"), std::string::npos) << md;
    EXPECT_TRUE(fs::exists(dir / "out" / "report-breaker-state.svg"));
  }
  fs::remove_all(dir);
}

TEST(ReportEvents, PoolWaitersAndAcquireWaitGetATableAndTwoPlots) {
  const fs::path dir = fs::temp_directory_path() / ("perflab_report_pool_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto run = analysis::testing::write_synthetic_run(dir, {{"rate=80", {{"rate", "80"}}}});
  ASSERT_TRUE(run) << run.error();
  auto& v = run->variants.at(0);
  v.target_metrics.push_back({"", "pool_acquire_wait_ms", {{0.0, 240}, {1.0, 250}, {2.0, 251}}});
  v.target_metrics.push_back({"", "pool_waiting", {{0.0, 12}, {1.0, 19}, {2.0, 17}, {3.0, 18}}});
  v.target_metrics.push_back({"", "pool_waiting_peak", {{0.0, 20}, {1.0, 23}, {2.0, 23}, {3.0, 23}}});
  ASSERT_TRUE(result::write_run_json(dir / "run.json", *run));

  std::vector<analysis::detail::loaded_variant> vars(1);
  vars[0].v = &v;
  vars[0].label = "rate=80";
  auto plots = analysis::detail::target_metric_plots(vars);
  ASSERT_EQ(plots.size(), 2u);  // no breaker, no requests series: the pool's two
  EXPECT_EQ(plots[0].second.file_stem, "pool-waiting");
  EXPECT_EQ(plots[0].first.lines.at(0).points.size(), 4u);
  EXPECT_EQ(plots[1].second.file_stem, "pool-acquire-wait");

  auto paths = analysis::render_report({dir}, dir / "out");
  ASSERT_TRUE(paths) << paths.error();
  const std::string md = slurp(paths->markdown);
  EXPECT_NE(md.find("## Database pool"), std::string::npos) << md;
  // peak 23 (the target's own peak, not the most seen at a scrape), 19 at a scrape, 18 at the end,
  // the median second's mean wait 250 ms.
  EXPECT_NE(md.find("| rate=80 | measured | 23 | 19 | 18 | 250.0 |"), std::string::npos) << md;
  fs::remove_all(dir);
}

}  // namespace
