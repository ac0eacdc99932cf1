#include "perflab/analysis/report.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "plot.hpp"
#include "synthetic_run.hpp"

namespace fs = std::filesystem;
using namespace perflab;
using perflab::analysis::testing::synthetic_options;
using perflab::analysis::testing::synthetic_variant;
using perflab::analysis::testing::write_synthetic_run;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("perflab_report_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<synthetic_variant> sweep_variants() {
  return {
      {"model=reactor,connections=10", {{"model", "reactor"}, {"connections", "10"}}, 0, 5000, 400},
      {"model=reactor,connections=100", {{"model", "reactor"}, {"connections", "100"}}, 0, 9000, 900},
      {"model=thread-pool,connections=10", {{"model", "thread-pool"}, {"connections", "10"}}, 0, 4000, 500},
      {"model=thread-pool,connections=100",
       {{"model", "thread-pool"}, {"connections", "100"}}, 0, 3000, 4000, 0.01, true, true, true},
  };
}

// Every http:// or https:// reference other than the SVG namespace.
std::vector<std::string> external_references(const std::string& html) {
  std::vector<std::string> bad;
  std::regex url(R"(https?://[^\s"'<>)]*)");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), url); it != std::sregex_iterator(); ++it) {
    if (it->str() != "http://www.w3.org/2000/svg") bad.push_back(it->str());
  }
  return bad;
}

}  // namespace

TEST(ReportRender, WritesSelfContainedHtmlAndMarkdownForARunDirectory) {
  temp_dir d;
  auto run = write_synthetic_run(d.path / "run1", sweep_variants());
  ASSERT_TRUE(run) << run.error();
  auto paths = analysis::render_report({d.path / "run1"}, {});
  ASSERT_TRUE(paths) << paths.error();
  EXPECT_EQ(paths->markdown, d.path / "run1" / "report.md");
  EXPECT_EQ(paths->html, d.path / "run1" / "report.html");
  ASSERT_TRUE(fs::exists(paths->markdown));
  ASSERT_TRUE(fs::exists(paths->html));
  auto html = slurp(paths->html);
  auto md = slurp(paths->markdown);

  ASSERT_TRUE(analysis::detail::gnuplot_available()) << "gnuplot is a dependency (scripts/setup.sh)";
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  auto bad = external_references(html);
  EXPECT_TRUE(bad.empty()) << "external reference: " << (bad.empty() ? "" : bad[0]);
  // Spectra (TTFB, TTLB), TPS over time, and TPS and p99 against the swept `connections`.
  std::size_t svgs = 0;
  for (auto p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) ++svgs;
  EXPECT_EQ(svgs, 5u) << md;
  EXPECT_NE(html.find("TPS vs connections"), std::string::npos);
  EXPECT_NE(html.find("TTLB p99 vs connections"), std::string::npos);
  EXPECT_NE(html.find("99.9%"), std::string::npos);  // percentile axis labels
  EXPECT_EQ(html.find("TPS vs model"), std::string::npos);  // not numeric: no sweep plot

  // The Markdown names the load model, measurement, pinning, host and tool, and every variant.
  for (const char* needle : {"open loop", "warm-up 1 s", "duration 5 s", "pinned to CPU 0", "Host:", "Tool: perflab",
                             "Status: complete", "report-ttlb-spectrum.svg"}) {
    EXPECT_NE(md.find(needle), std::string::npos) << needle;
  }
  for (const auto& v : sweep_variants()) EXPECT_NE(md.find(v.name), std::string::npos) << v.name;
  EXPECT_TRUE(fs::exists(d.path / "run1" / "report-ttlb-spectrum.svg"));
}

TEST(ReportRender, FlagsSaturationThresholdFailuresAndIncompleteRunsProminently) {
  temp_dir d;
  synthetic_options opt;
  opt.complete = false;
  auto variants = sweep_variants();
  variants[1].abandoned = 7;
  variants[1].retries = 3;
  ASSERT_TRUE(write_synthetic_run(d.path, variants, opt));
  auto paths = analysis::render_report({d.path}, d.path / "out");
  ASSERT_TRUE(paths) << paths.error();
  auto md = slurp(paths->markdown);
  auto html = slurp(paths->html);
  // Warnings come before the first table.
  auto first_table = md.find("| variant");
  auto sat = md.find("SATURATED: `model=thread-pool,connections=100`");
  auto thr = md.find("THRESHOLD FAILED: `model=thread-pool,connections=100`: `ttlb.p99 < 1ms`");
  auto inc = md.find("INCOMPLETE");
  ASSERT_NE(sat, std::string::npos) << md;
  ASSERT_NE(thr, std::string::npos) << md;
  ASSERT_NE(inc, std::string::npos) << md;
  EXPECT_LT(sat, first_table);
  EXPECT_LT(thr, first_table);
  EXPECT_LT(inc, first_table);
  auto unanswered = md.find("UNANSWERED: `model=reactor,connections=100`: 7 requests");
  auto retried = md.find("RETRIED: `model=reactor,connections=100`: 3 requests");
  ASSERT_NE(unanswered, std::string::npos) << md;
  ASSERT_NE(retried, std::string::npos) << md;
  EXPECT_LT(retried, first_table);
  // Variants without either get neither line.
  EXPECT_EQ(md.find("UNANSWERED: `model=reactor,connections=10`"), std::string::npos);
  EXPECT_EQ(md.find("RETRIED: `model=reactor,connections=10`"), std::string::npos);
  EXPECT_NE(html.find("class=\"alert\""), std::string::npos);
  EXPECT_NE(md.find("**FAILED**"), std::string::npos);
  EXPECT_NE(md.find("Status: **INCOMPLETE**"), std::string::npos);
}

TEST(ReportRender, SeveralRunsLabelVariantsByRun) {
  temp_dir d;
  std::vector<synthetic_variant> one{{"model=reactor", {{"model", "reactor"}}, 0, 5000, 400}};
  ASSERT_TRUE(write_synthetic_run(d.path / "baseline", one));
  ASSERT_TRUE(write_synthetic_run(d.path / "candidate", one));
  auto paths = analysis::render_report({d.path / "baseline", d.path / "candidate" / "run.json"}, d.path / "both");
  ASSERT_TRUE(paths) << paths.error();
  auto md = slurp(paths->markdown);
  EXPECT_NE(md.find("baseline: model=reactor"), std::string::npos) << md;
  EXPECT_NE(md.find("candidate: model=reactor"), std::string::npos) << md;
  EXPECT_TRUE(fs::exists(d.path / "both" / "report.html"));
}

TEST(ReportRender, MissingIntervalLogStillGivesTablesAndSaysWhy) {
  temp_dir d;
  std::vector<synthetic_variant> one{{"model=reactor", {{"model", "reactor"}}, 0, 5000, 400}};
  ASSERT_TRUE(write_synthetic_run(d.path, one));
  fs::remove(d.path / "v0.hlog");
  auto paths = analysis::render_report({d.path}, {});
  ASSERT_TRUE(paths) << paths.error();
  auto md = slurp(paths->markdown);
  EXPECT_NE(md.find("no percentile spectrum"), std::string::npos) << md;
  EXPECT_NE(md.find("TTLB, ms (corrected)"), std::string::npos);
}

TEST(ReportRender, UnreadableResultsAreAnError) {
  temp_dir d;
  auto paths = analysis::render_report({d.path / "nope"}, {});
  ASSERT_FALSE(paths);
  EXPECT_NE(paths.error().find("nope"), std::string::npos) << paths.error();
  EXPECT_FALSE(analysis::render_report({}, {}));
}

TEST(InlineSvg, DropsPrologAndXlinkAndPrefixesIds) {
  std::string svg =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
      "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n<svg \n xmlns=\"http://www.w3.org/2000/svg\"\n "
      "xmlns:xlink=\"http://www.w3.org/1999/xlink\"\n>\n<path id='gpPt0'/><use xlink:href='#gpPt0' "
      "filter='url(#textbox)'/></svg>\n";
  auto out = analysis::detail::inline_svg(svg, "p3_");
  EXPECT_EQ(out.rfind("<svg", 0), 0u) << out;
  EXPECT_EQ(out.find("1999/xlink"), std::string::npos) << out;
  EXPECT_EQ(out.find("DOCTYPE"), std::string::npos) << out;
  EXPECT_NE(out.find("id='p3_gpPt0'"), std::string::npos) << out;
  EXPECT_NE(out.find("href='#p3_gpPt0'"), std::string::npos) << out;
  EXPECT_NE(out.find("url(#p3_textbox)"), std::string::npos) << out;
}
