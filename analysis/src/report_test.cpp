#include "perflab/analysis/report.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "perflab/analysis/findings.hpp"
#include "plot.hpp"
#include "report_parts.hpp"
#include "synthetic_run.hpp"
#include "perflab/core/result_io.hpp"
#include "test_files.hpp"

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

using perflab::analysis::testing::slurp;
std::string html_of(const fs::path& p) { return slurp(p); }

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

// Issue 10: findings first (computed from the results), then warnings, then the detailed tables.
TEST(ReportRender, OpensWithFindingsThenWarningsThenTables) {
  temp_dir d;
  auto run = write_synthetic_run(d.path, sweep_variants());
  ASSERT_TRUE(run) << run.error();
  auto paths = analysis::render_report({d.path}, {});
  ASSERT_TRUE(paths) << paths.error();
  auto md = slurp(paths->markdown);
  auto findings = md.find("## Findings"), warnings = md.find("## Warnings"), run_section = md.find("## Run"),
       tables = md.find("## Throughput and errors");
  ASSERT_NE(findings, std::string::npos) << md;
  ASSERT_NE(warnings, std::string::npos) << md;
  EXPECT_LT(findings, warnings);
  EXPECT_LT(warnings, run_section);
  EXPECT_LT(run_section, tables);
  // The strongest findings, as `loadgen run` prints them, are in the report, and one table per
  // dimension holds every contrast.
  auto text = analysis::findings_text(*run);
  ASSERT_FALSE(text.empty());
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);) EXPECT_NE(md.find("- " + l), std::string::npos) << l << "\n" << md;
  EXPECT_NE(md.find("### By `model`"), std::string::npos);
  EXPECT_NE(md.find("### By `connections`"), std::string::npos);
  EXPECT_NE(md.find("| connections=100 | goodput | `reactor` "), std::string::npos) << md;
  EXPECT_NE(html_of(paths->html).find("<h2>Findings</h2>"), std::string::npos);
}

// Every condition that makes numbers suspect or incomplete has its own warning, before the tables;
// the throughput table counts goodput, all responses, carried-in, stalled and unanswered requests.
TEST(ReportRender, WarnsOfErrorsStalledAndCarriedInRequests) {
  temp_dir d;
  std::vector<synthetic_variant> vs{{"model=thread-per-request", {{"model", "thread-per-request"}}, 0, 400, 9000, 0.05},
                                    {"model=reactor", {{"model", "reactor"}}, 0, 3000, 800}};
  vs[0].carried_in = 40;
  vs[0].stalled = 12;
  vs[0].abandoned = 12;
  vs[1].carried_in = 3;
  ASSERT_TRUE(write_synthetic_run(d.path, vs));
  auto paths = analysis::render_report({d.path}, {});
  ASSERT_TRUE(paths) << paths.error();
  auto md = slurp(paths->markdown);
  const auto tables = md.find("## Throughput and errors");
  for (const char* needle :
       {"ERRORS: `model=thread-per-request`: error rate 5.", "above the bound 1.00% (`load.max_error_rate`): status 5xx",
        "STALLED: `model=thread-per-request`: 12 of the 40 requests carried in from the warm-up got no answer",
        "UNANSWERED: `model=thread-per-request`: 12 requests", "CARRIED-IN: `model=thread-per-request`: 40 requests",
        "CARRIED-IN: `model=reactor`: 3 requests"}) {
    auto at = md.find(needle);
    ASSERT_NE(at, std::string::npos) << needle << "\n" << md;
    EXPECT_LT(at, tables) << needle;
  }
  EXPECT_EQ(md.find("STALLED: `model=reactor`"), std::string::npos);
  EXPECT_EQ(md.find("ERRORS: `model=reactor`"), std::string::npos);
  // Goodput differs from all responses (5xx): both columns; the status comes from the verdict.
  EXPECT_NE(md.find("| variant | goodput/s | responses/s | succeeded | completed | sent | carried-in | stalled | "
                    "unanswered |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("**ERRORS, STALLED, THRESHOLD FAILED**"), std::string::npos) << md;
}

// A table of zeros says why it is empty, in the table.
TEST(ReportRender, EmptyLatencyRowsSayWhy) {
  temp_dir d;
  std::vector<synthetic_variant> vs{{"model=reactor", {{"model", "reactor"}}, 0, 3000, 800}};
  vs[0].new_connections = false;
  synthetic_options opt;
  opt.kind = "closed";
  ASSERT_TRUE(write_synthetic_run(d.path, vs, opt));
  auto paths = analysis::render_report({d.path}, {});
  ASSERT_TRUE(paths) << paths.error();
  auto md = slurp(paths->markdown);
  auto connect = md.substr(md.find("### Connect, ms"));
  connect = connect.substr(0, connect.find("###", 4));
  EXPECT_NE(connect.find("| model=reactor | 0 | - | - | - | - | - | - | no new connections in the measured phase: "
                         "the 50 keep-alive connections opened during the warm-up were reused"),
            std::string::npos)
      << connect;
  EXPECT_NE(connect.find("| note |"), std::string::npos) << connect;
  // With samples, the table has no note column.
  auto ttlb = md.substr(md.find("### TTLB, ms (corrected)"));
  ttlb = ttlb.substr(0, ttlb.find("###", 4));
  EXPECT_EQ(ttlb.find("note"), std::string::npos) << ttlb;
}

// A push run (`loadgen subscribe`): a Delivery section with what reached the subscribers and how
// late, the publisher's saturation said as such, and no empty request/response tables.
TEST(ReportRender, PushRunsGetADeliverySectionInsteadOfEmptyRequestTables) {
  temp_dir d;
  result::variant v;
  v.name = "style=long-poll";
  v.load.kind = "subscribe";
  v.load.style = "long-poll";
  v.load.subscribers = 50;
  v.load.topics = 5;
  v.load.publish_rate = 10;
  v.load.poll_timeout_s = 30;
  v.published = 100;
  v.expected = 1000;
  v.received = 996;
  v.lost = 4;
  v.duplicated = 2;
  v.delivery.count = 996;
  v.delivery.p50_us = 1250;
  v.delivery.p99_us = 8000;
  v.requests_per_delivered = 0.35;
  v.loadgen.saturated = true;
  v.measured_s = 2;
  for (int i = 0; i < 2; ++i) {
    result::second_point p;
    p.t_s = i;
    p.length_s = 1;
    p.phase = "measured";
    p.delivered = 498;
    v.series.push_back(p);
  }
  ASSERT_TRUE(result::write_run_json(d.path / "run.json", result::single_variant_run("2026-12-02T00:00:00Z", v)));
  auto paths = analysis::render_report({d.path}, {});
  ASSERT_TRUE(paths) << paths.error();
  auto md = slurp(paths->markdown);
  EXPECT_NE(md.find("Load model: subscribe (long-poll, 50 subscribers on 5 topics, 10.0 messages/s per topic from "
                    "the built-in publisher, polls held up to 30.00 s)"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| style=long-poll | long-poll | 100 | 1000 | 996 | **4** | 2 | 0 | 0 | 0.350 |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| style=long-poll | 996 | 1.250 |"), std::string::npos) << md;
  EXPECT_NE(md.find("built-in publisher fell behind its schedule"), std::string::npos) << md;
  EXPECT_EQ(md.find("send lag p99"), std::string::npos) << "a push run's saturation is the publisher's";
  EXPECT_EQ(md.find("## Throughput and errors"), std::string::npos) << "no empty request/response tables";
  EXPECT_EQ(md.find("### TTLB"), std::string::npos);
  EXPECT_NE(md.find("## Resources"), std::string::npos);
  const auto t = analysis::detail::throughput_of(v, true);  // plotted: messages delivered per second
  EXPECT_EQ(t.goodput, (std::vector<std::pair<double, double>>{{0, 498}, {1, 498}}));
}

// Throughput over time plots goodput per second of each measured interval, divides by the
// interval's length and leaves the drain row out.
TEST(ReportPlots, ThroughputOverTimeUsesIntervalLengthsAndSkipsTheDrain) {
  result::variant v;
  auto point = [](double t, double len, const char* phase, std::int64_t completed, std::int64_t succeeded) {
    result::second_point p;
    p.t_s = t;
    p.length_s = len;
    p.phase = phase;
    p.completed = completed;
    p.succeeded = succeeded;
    return p;
  };
  v.series = {point(0, 1, "measured", 1000, 1000), point(1, 1, "measured", 1000, 900),
              point(2, 0.5, "measured", 500, 500), point(2.5, 0.3, "drain", 30, 30)};
  auto t = analysis::detail::throughput_of(v, true);
  using pts = std::vector<std::pair<double, double>>;
  EXPECT_EQ(t.goodput, (pts{{0, 1000}, {1, 900}, {2, 1000}}));
  EXPECT_EQ(t.all, (pts{{0, 1000}, {1, 1000}, {2, 1000}}));
  EXPECT_TRUE(t.differs);
  EXPECT_DOUBLE_EQ(t.drain_s, 0.3);
  // Schema 1 recorded no successes per second: all responses stand in for goodput.
  auto old = analysis::detail::throughput_of(v, false);
  EXPECT_EQ(old.goodput, old.all);
  EXPECT_FALSE(old.differs);
}

TEST(ReportPlots, LatencyPlotsUseALogAxisWhenVariantsSpanMoreThanTenfold) {
  struct row {
    double fast_us, slow_us;
    bool log;
  };
  const row rows[] = {{400, 10'000, true}, {400, 3'000, false}};
  for (const auto& r : rows) {
    temp_dir d;
    std::vector<synthetic_variant> vs{{"path=/hello", {{"path", "/hello"}}, 0, 3000, r.fast_us},
                                      {"path=/sleep", {{"path", "/sleep"}}, 0, 300, r.slow_us}};
    ASSERT_TRUE(write_synthetic_run(d.path, vs));
    auto paths = analysis::render_report({d.path}, {});
    ASSERT_TRUE(paths) << paths.error();
    auto md = slurp(paths->markdown);
    auto caption = md.substr(md.find("![TTLB percentile spectrum]"));
    caption = caption.substr(0, caption.find("**", 3));
    EXPECT_EQ(caption.find("The y axis is logarithmic: the variants' medians span x") != std::string::npos, r.log)
        << r.slow_us << ": " << caption;
  }
}

TEST(ReportRender, SeveralRunsLabelVariantsByRun) {
  temp_dir d;
  std::vector<synthetic_variant> one{{"model=reactor", {{"model", "reactor"}}, 0, 5000, 400}};
  ASSERT_TRUE(write_synthetic_run(d.path / "baseline", one));
  one[0].tps = 4000;
  ASSERT_TRUE(write_synthetic_run(d.path / "candidate", one));
  auto paths = analysis::render_report({d.path / "baseline", d.path / "candidate" / "run.json"}, d.path / "both");
  ASSERT_TRUE(paths) << paths.error();
  auto md = slurp(paths->markdown);
  EXPECT_NE(md.find("baseline: model=reactor"), std::string::npos) << md;
  EXPECT_NE(md.find("candidate: model=reactor"), std::string::npos) << md;
  // The run is one more dimension of the findings.
  EXPECT_NE(md.find("### By `run`"), std::string::npos) << md;
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
