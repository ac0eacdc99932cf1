#include "perflab/analysis/capacity.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "perflab/analysis/ci_formats.hpp"
#include "perflab/analysis/compare.hpp"
#include "perflab/analysis/findings.hpp"
#include "perflab/analysis/report.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/core/result_io.hpp"
#include "plot.hpp"

namespace perflab::analysis {
namespace {

namespace fs = std::filesystem;

// One step's run: a spawned target at `rate`, with the numbers Little's law reads.
result::variant step_run(const std::string& model, const std::string& threads, double rate, double mean_us,
                         double cpu_s, std::int64_t completed) {
  result::variant v;
  v.load.kind = "open";
  v.load.rate = rate;
  v.measured_s = 2;
  v.tps_mean = rate;
  v.completed = completed;
  v.ttlb.count = v.ttlb_uncorrected.count = completed;
  v.ttlb.p99_us = 2 * mean_us;
  v.ttlb_uncorrected.mean_us = mean_us;
  v.target.spawned = true;
  v.target.model = model;
  if (!threads.empty()) v.target.params["threads"] = threads;
  v.target.cpus = {1};
  v.target.cpu_user_s = cpu_s;
  return v;
}

// A step with the objective's checks as the search records them (limits in microseconds and fractions).
result::search_step step(double value, const char* outcome, result::variant run) {
  result::search_step s;
  s.value = value;
  s.outcome = outcome;
  const bool pass = std::string(outcome) == "pass";
  s.objective = {{"ttlb.p99 < 50ms", run.ttlb.p99_us, 50'000, pass}, {"errors.rate < 0.1%", 0, 0.001, true}};
  s.run = std::move(run);
  return s;
}

result::search_result search(const std::string& variant, const char* verdict, double capacity, double band_high) {
  result::search_result s;
  s.variant = variant;
  s.variable = "load.rate";
  s.unit = "req/s";
  s.objective = {"ttlb.p99 < 50ms", "errors.rate < 0.1%"};
  s.range_low = 250;
  s.range_high = 32000;
  s.resolution = 0.05;
  s.confirmations = 1;
  s.verdict = verdict;
  s.capacity = capacity;
  s.band_low = capacity;
  s.band_high = band_high;
  s.reason = std::string("synthetic: ") + verdict;
  return s;
}

// A thread pool of 32 workers on a 10 ms wait (3,200/s by Little's law) that found 3,100/s, and a
// reactor on 222 us of CPU per response (4,500/s on one core) that found 4,300/s.
result::run two_searches() {
  result::run r;
  auto pool = search("model=thread-pool", "found", 3100, 3200);
  pool.steps = {step(250, "pass", step_run("thread-pool", "32", 250, 10'000, 0.005, 500)),
                step(3100, "pass", step_run("thread-pool", "32", 3100, 10'500, 0.062, 6200)),
                step(3200, "fail", step_run("thread-pool", "32", 3200, 90'000, 0.07, 6000))};
  auto reactor = search("model=reactor", "found", 4300, 4500);
  reactor.steps = {step(250, "pass", step_run("reactor", "", 250, 250, 0.11, 500)),
                   step(4300, "pass", step_run("reactor", "", 4300, 400, 1.9, 8600))};
  for (auto* s : {&pool, &reactor}) {
    result::variant rep = s->steps[1].run;
    rep.name = s->variant;
    rep.params = {{"model", s->variant.substr(s->variant.find('=') + 1)}};
    r.variants.push_back(rep);
  }
  r.searches = {pool, reactor};
  return r;
}

TEST(CapacityValue, StandsForWhatTheSearchFound) {
  EXPECT_EQ(capacity_value(search("v", "found", 3100, 3200)), 3100);
  EXPECT_EQ(capacity_value(search("v", "within_noise", 3000, 3400)), 3000);
  EXPECT_EQ(capacity_value(search("v", "above_range", 32000, 32000)), 32000) << "a lower bound";
  EXPECT_EQ(capacity_value(search("v", "below_range", 0, 250)), 0);
  EXPECT_FALSE(capacity_value(search("v", "loadgen_limited", 0, 16000))) << "never a capacity";
  EXPECT_FALSE(capacity_value(search("v", "incomplete", 0, 0)));
}

TEST(CapacityChecks, LittlesLawBoundsAPoolByItsWorkersAndEveryModelByItsCpu) {
  const auto checks = capacity_checks(two_searches());
  ASSERT_EQ(checks.size(), 2u);
  const auto& pool = checks[0];
  EXPECT_EQ(pool.workers, 32);
  EXPECT_DOUBLE_EQ(pool.service_time_us, 10'000) << "the lowest passing step: no queueing in it";
  EXPECT_NEAR(pool.cpu_per_response_us, 10, 1e-9);
  EXPECT_DOUBLE_EQ(pool.predicted, 3200) << "32 workers / 10 ms; the CPU bound (100,000/s) is looser";
  EXPECT_EQ(pool.bound, "32 workers / 10.0 ms");
  EXPECT_NEAR(pool.ratio, 3100.0 / 3200, 1e-9);
  EXPECT_DOUBLE_EQ(pool.goodput_at_capacity, 3100);
  const auto& reactor = checks[1];
  EXPECT_EQ(reactor.workers, 0) << "an event loop has no worker bound";
  EXPECT_EQ(reactor.cores, 1);
  EXPECT_NEAR(reactor.predicted, 1e6 / (1.9e6 / 8600), 1e-6);
  EXPECT_NE(reactor.bound.find("1 core / 221 us CPU"), std::string::npos) << reactor.bound;
  EXPECT_NEAR(reactor.cpu_share, 1.9 / 2, 1e-9) << "CPU seconds over the 2 s measured phase, one core";
}

TEST(CapacityText, OneRowPerSearchAndWhyTheOthersFoundNone) {
  auto r = two_searches();
  auto limited = search("model=coroutine", "loadgen_limited", 0, 16000);
  limited.band_low = 8000;
  limited.reason = "limited by the load generator at 16,000/s";
  limited.steps = {step(8000, "pass", step_run("coroutine", "", 8000, 300, 0.4, 16000)),
                   step(16000, "limited", step_run("coroutine", "", 16000, 300, 0.8, 30000))};
  r.searches.push_back(limited);
  const std::string t = capacity_text(r);
  EXPECT_NE(t.find("capacity: ttlb.p99 < 50ms and errors.rate < 0.1% (load.rate from 250/s to 32,000/s"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("3,100/s"), std::string::npos) << t;
  EXPECT_NE(t.find("3,200/s (32 workers / 10.0 ms)"), std::string::npos) << t;
  EXPECT_NE(t.find("97%"), std::string::npos) << t;
  EXPECT_NE(t.find("model=coroutine: loadgen-limited: limited by the load generator at 16,000/s"), std::string::npos) << t;
  EXPECT_TRUE(capacity_text(result::run{}).empty());
}

TEST(CapacityFindings, CompareCapacitiesAcrossVariantsFirst) {
  auto r = two_searches();
  const std::string text = findings_text(r);
  EXPECT_EQ(text.rfind("capacity: reactor 4,300/s vs thread-pool 3,100/s (x1.4)", 0), 0u) << text;
  // A search that ended above its range is a lower bound and says so.
  r.searches[1].verdict = "above_range";
  EXPECT_NE(findings_text(r).find("reactor [above range] 4,300/s"), std::string::npos) << findings_text(r);
}

result::run with_capacity(double capacity, const char* verdict = "found", double resolution = 0.05) {
  auto r = two_searches();
  r.searches[0].capacity = capacity;
  r.searches[0].verdict = verdict;
  r.searches[0].resolution = resolution;
  return r;
}

const metric_change* capacity_change(const comparison& c, const std::string& variant) {
  for (const auto& ch : c.changes)
    if (ch.metric == "capacity" && ch.variant == variant) return &ch;
  return nullptr;
}

TEST(CompareCapacity, ChangesBeyondTheSearchesResolutionCount) {
  const compare_options opt;
  struct row {
    double baseline, candidate, resolution;
    verdict want;
  };
  const row rows[] = {
      {3100, 2400, 0.05, verdict::regressed},
      {3100, 3000, 0.05, verdict::unchanged},
      {3100, 3600, 0.05, verdict::improved},
      {3100, 2850, 0.10, verdict::unchanged},  // -8 %: beyond compare's 5 %, within the searches' 10 %
  };
  for (const auto& r : rows) {
    const auto c = compare_runs(with_capacity(r.baseline, "found", r.resolution),
                                with_capacity(r.candidate, "found", r.resolution), opt);
    const auto* ch = capacity_change(c, "model=thread-pool");
    ASSERT_NE(ch, nullptr) << r.candidate;
    EXPECT_EQ(ch->result, r.want) << r.baseline << " -> " << r.candidate;
    EXPECT_EQ(ch->unit, "req/s");
    if (r.resolution > opt.tolerance) {
      EXPECT_NE(ch->method.find("the searches' resolution"), std::string::npos) << ch->method;
    }
  }
  const auto regressed = compare_runs(with_capacity(3100), with_capacity(2400), opt);
  EXPECT_EQ(regressed.exit_code(), exit_code::regression);
  // Below the range counts as 0: a regression.
  EXPECT_EQ(capacity_change(compare_runs(with_capacity(3100), with_capacity(0, "below_range"), opt),
                            "model=thread-pool")->result,
            verdict::regressed);
}

TEST(CompareCapacity, SearchedOnBothSidesComparesTheCapacityOnly) {
  // Each side's entry is a step at its own capacity: its goodput says nothing about a change.
  const auto c = compare_runs(with_capacity(3100), with_capacity(2400), {});
  for (const auto& ch : c.changes) {
    if (ch.variant == "model=thread-pool") {
      EXPECT_EQ(ch.metric, "capacity");
    }
  }
  ASSERT_EQ(c.notes.size(), 2u);
  EXPECT_NE(c.notes[0].find("compared by capacity only"), std::string::npos);
  EXPECT_EQ(c.regressions, 1);
  EXPECT_NE(format_comparison(c, {}).find("note: variant 'model=thread-pool': capacity searches on both sides"),
            std::string::npos);
}

TEST(CompareCapacity, LimitedOrOneSidedSearchesAreWarningsNotChanges) {
  const compare_options opt;
  auto c = compare_runs(with_capacity(3100), with_capacity(0, "loadgen_limited"), opt);
  EXPECT_EQ(capacity_change(c, "model=thread-pool"), nullptr);
  bool warned = false;
  for (const auto& w : c.warnings)
    warned = warned || w.find("capacity not compared: the search was loadgen-limited") != std::string::npos;
  EXPECT_TRUE(warned);
  auto plain = two_searches();
  plain.searches.clear();
  auto one_sided = compare_runs(plain, two_searches(), opt);
  EXPECT_EQ(capacity_change(one_sided, "model=reactor"), nullptr);
  // An explicit --metric list compares what it names.
  compare_options only_tps;
  only_tps.metrics = {*parse_metric("tps.mean")};
  only_tps.capacities = false;
  EXPECT_EQ(capacity_change(compare_runs(with_capacity(3100), with_capacity(2400), only_tps), "model=thread-pool"),
            nullptr);
  only_tps.metrics.push_back(*parse_metric("capacity"));
  EXPECT_NE(capacity_change(compare_runs(with_capacity(3100), with_capacity(2400), only_tps), "model=thread-pool"),
            nullptr);
}

TEST(CapacityJunit, OneTestcasePerSearchFailingWhenNoneWasFound) {
  auto r = two_searches();
  r.searches[1].verdict = "below_range";
  r.searches[1].reason = "the objective failed at the range's low end 250/s";
  const std::string xml = junit_xml(r);
  EXPECT_NE(xml.find("name=\"model=thread-pool: capacity\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<system-out>3,100/s (found, 3 steps)"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure type=\"BELOW RANGE\" message=\"no capacity: below range\">the objective failed at the "
                     "range&apos;s low end 250/s</failure>"),
            std::string::npos)
      << xml;
  EXPECT_NE(summary_markdown(r).find("capacity: ttlb.p99 < 50ms"), std::string::npos) << "the summary has the table";
}

TEST(CapacityReport, SectionWithTheBoundsThePlotsAndEveryStep) {
  const fs::path dir = fs::temp_directory_path() / ("perflab_capacity_report_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto r = two_searches();
  r.variants[0].stopped_early = true;
  r.variants[0].stop_condition = "errors.count > 10 (12 after 1.0 s)";
  ASSERT_TRUE(result::write_run_json(dir / "run.json", r));
  auto paths = render_report({dir}, dir);
  ASSERT_TRUE(paths.has_value()) << paths.error();
  std::ifstream in(paths->markdown);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string md = ss.str();
  EXPECT_NE(md.find("## Capacity"), std::string::npos);
  EXPECT_LT(md.find("## Findings"), md.find("## Capacity")) << "findings first";
  EXPECT_NE(md.find("| model=thread-pool | found | **3,100/s** | 3,100 to 3,200/s | 3 | 3,100/s | 3,200/s (32 workers "
                    "/ 10.0 ms) | 97% | 3% |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("### Steps: `model=reactor`"), std::string::npos);
  EXPECT_NE(md.find("STOPPED EARLY"), std::string::npos) << "the stop condition is a warning";
  ASSERT_TRUE(detail::gnuplot_available()) << "gnuplot is a dependency (scripts/setup.sh)";
  EXPECT_TRUE(fs::exists(dir / "report-capacity-load-rate-ttlb-p99.svg"));
  EXPECT_TRUE(fs::exists(dir / "report-capacity-load-rate-errors-rate.svg"));
  std::ifstream svg(dir / "report-capacity-load-rate-ttlb-p99.svg");
  std::stringstream svg_text;
  svg_text << svg.rdbuf();
  EXPECT_NE(svg_text.str().find("objective: ttlb.p99 &lt; 50ms"), std::string::npos) << "the objective is drawn";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace perflab::analysis
