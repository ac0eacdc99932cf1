#include "perflab/analysis/ci_formats.hpp"

#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "perflab/core/exit_codes.hpp"

using namespace perflab;
using analysis::junit_xml;

namespace {

std::size_t count(const std::string& s, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

result::run sample_run() {
  result::run r;
  r.scenario_name = "ci-smoke";
  r.started_at = "2026-11-22T03:00:00.000Z";
  auto add = [&](const char* name, double tps) -> result::variant& {
    result::variant v;
    v.name = name;
    v.params = {{"model", name}};
    v.measured_s = 2;
    v.tps_mean = v.rps_mean = tps;
    v.completed = v.succeeded = static_cast<std::int64_t>(tps * 2);
    v.ttlb.count = v.completed;
    v.ttlb.p99_us = 900;
    v.thresholds.push_back({"ttlb.p99 < 50ms", 900, 50000, true});
    r.variants.push_back(v);
    return r.variants.back();
  };
  add("reactor", 3000);
  auto& failing = add("thread-pool & <friends>", 400);
  failing.thresholds.push_back({"tps.mean > 1000", 400, 1000, false});
  failing.stalled = 3;
  failing.carried_in = 5;
  auto& saturated = add("coroutine", 2900);
  saturated.loadgen.saturated = true;
  return r;
}

}  // namespace

TEST(JUnit, OneTestcasePerThresholdAndPerVariantStatusWithFailuresThatSayWhy) {
  auto r = sample_run();
  auto xml = junit_xml(r);
  // 1 run testcase + 3 status testcases + 4 threshold testcases; failing: thread-pool's status
  // (STALLED) and its tps threshold, coroutine's status (SATURATED).
  EXPECT_EQ(count(xml, "<testcase "), 8u) << xml;
  EXPECT_EQ(count(xml, "<failure "), 3u) << xml;
  EXPECT_NE(xml.find("<testsuite name=\"ci-smoke\" tests=\"8\" failures=\"3\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"thread-pool &amp; &lt;friends&gt;: tps.mean &gt; 1000\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("message=\"tps.mean &gt; 1000: actual 400.0 req/s, limit 1000 req/s\""), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure type=\"STALLED\" message=\"STALLED: 3 of the 5 requests carried in"), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure type=\"SATURATED\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("timestamp=\"2026-11-22T03:00:00\""), std::string::npos) << xml;
  // A passing threshold says its numbers too.
  EXPECT_NE(xml.find("<system-out>actual 900 us, limit 50.0 ms</system-out>"), std::string::npos) << xml;
  // Nothing unescaped: every '&' starts an entity.
  EXPECT_FALSE(std::regex_search(xml, std::regex("&(?!(amp|lt|gt|quot|apos|#[0-9]+);)"))) << xml;
  EXPECT_NE(xml.find("<property name=\"exit_code\" value=\"5\"/>"), std::string::npos) << xml;
}

TEST(JUnit, AnIncompleteRunFailsItsRunTestcase) {
  auto r = sample_run();
  r.variants.resize(1);
  EXPECT_NE(junit_xml(r).find("failures=\"0\""), std::string::npos);
  r.complete = false;
  auto xml = junit_xml(r);
  EXPECT_NE(xml.find("name=\"run: complete\" time=\"0.000\">\n      <failure type=\"INCOMPLETE\""), std::string::npos)
      << xml;
  EXPECT_EQ(analysis::verdict_exit_code(r), exit_code::interrupted);
}

TEST(SummaryMarkdown, VerdictLineTableFindingsAndWarnings) {
  auto r = sample_run();
  auto md = analysis::summary_markdown(r);
  // Saturated (5) outranks thresholds (3) and a failing target (7): exit_code::combine.
  EXPECT_EQ(md.rfind("### perflab ci-smoke: FAILED, exit 5 (the load generator was saturated: numbers suspect)\n", 0),
            0u)
      << md;
  EXPECT_NE(md.find("3 variant runs: 1 ok, 1 SATURATED, 1 STALLED, 1 THRESHOLD FAILED."), std::string::npos) << md;
  EXPECT_NE(md.find("| variant | goodput/s | TTFB p50 ms |"), std::string::npos) << md;
  EXPECT_NE(md.find("| thread-pool & <friends> | 400.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("**Findings**\n\n- goodput: reactor 3,000/s vs thread-pool & <friends> [STALLED, THRESHOLD FAILED] "
                    "400/s (x7.5)"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("- **STALLED** `thread-pool & <friends>`: 3 of the 5"), std::string::npos) << md;
  r.variants.resize(1);
  EXPECT_EQ(analysis::summary_markdown(r).rfind("### perflab ci-smoke: PASSED\n", 0), 0u);
}
