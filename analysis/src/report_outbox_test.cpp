// The report's "Outbox" table and backlog plot from a target's outbox_* series: the counts at the
// last scrape, the peak backlog over the scrapes, what is still in transit, the recovery time.
#include "perflab/analysis/report.hpp"

#include <unistd.h>

#include <filesystem>
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

TEST(ReportOutbox, LastScrapeCountsPeakBacklogAndRecoveryGetATableAndTheBacklogAPlot) {
  const fs::path dir = fs::temp_directory_path() / ("perflab_report_outbox_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto run = analysis::testing::write_synthetic_run(dir, {{"mode=at-least-once", {{"mode", "at-least-once"}}}});
  ASSERT_TRUE(run) << run.error();
  auto& v = run->variants.at(0);
  v.target_metrics.push_back({"", "outbox_orders", {{0.0, 200}, {1.0, 400}, {2.0, 600}}});
  v.target_metrics.push_back({"", "outbox_consumed", {{0.0, 200}, {1.0, 200}, {2.0, 596}}});
  v.target_metrics.push_back({"", "outbox_backlog", {{0.0, 0}, {1.0, 190}, {2.0, 3}}});
  v.target_metrics.push_back({"", "outbox_duplicates", {{0.0, 0}, {1.0, 0}, {2.0, 4}}});
  v.target_metrics.push_back({"", "outbox_lost", {{0.0, 0}, {1.0, 0}, {2.0, 1}}});
  v.target_metrics.push_back({"", "outbox_recovery_s", {{2.0, 0.125}}});
  ASSERT_TRUE(result::write_run_json(dir / "run.json", *run));

  std::vector<analysis::detail::loaded_variant> vars(1);
  vars[0].v = &v;
  vars[0].label = "mode=at-least-once";
  auto plots = analysis::detail::target_metric_plots(vars);
  ASSERT_EQ(plots.size(), 1u);  // the backlog alone
  EXPECT_EQ(plots[0].second.file_stem, "outbox-backlog");

  auto paths = analysis::render_report({dir}, dir / "out");
  ASSERT_TRUE(paths) << paths.error();
  const std::string md = analysis::testing::slurp(paths->markdown);
  EXPECT_NE(md.find("## Outbox"), std::string::npos) << md;
  // 600 committed, 596 received, 600 - 596 - 1 lost = 3 in transit, 4 duplicates, peak backlog 190.
  EXPECT_NE(md.find("| mode=at-least-once | measured | 600 | 596 | 3 | 4 | 1 | 190 | 0.125 |"), std::string::npos) << md;
  fs::remove_all(dir);
}

TEST(ReportOutbox, NoOutboxSeriesNoSection) {
  const fs::path dir = fs::temp_directory_path() / ("perflab_report_no_outbox_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto run = analysis::testing::write_synthetic_run(dir, {{"rate=80", {{"rate", "80"}}}});
  ASSERT_TRUE(run) << run.error();
  auto paths = analysis::render_report({dir}, dir / "out");
  ASSERT_TRUE(paths) << paths.error();
  EXPECT_EQ(analysis::testing::slurp(paths->markdown).find("## Outbox"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
