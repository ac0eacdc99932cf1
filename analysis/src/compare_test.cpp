#include "perflab/analysis/compare.hpp"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "perflab/core/exit_codes.hpp"

using namespace perflab;
using namespace perflab::analysis;

namespace {

result::variant make_variant(const std::string& name, int repeat, double tps, double ttlb_p99_us,
                             double error_rate = 0) {
  result::variant v;
  v.name = name;
  v.repeat = repeat;
  v.tps_mean = tps;
  v.ttlb.p50_us = ttlb_p99_us / 4;
  v.ttlb.p99_us = ttlb_p99_us;
  v.ttfb.p99_us = ttlb_p99_us * 0.9;
  v.error_rate = error_rate;
  return v;
}

// A run with one variant per (name, value set); `values` gives one (tps, p99) per repeat.
result::run make_run(const std::string& name, const std::vector<std::pair<double, double>>& values) {
  result::run r;
  int rep = 0;
  for (auto [tps, p99] : values) r.variants.push_back(make_variant(name, rep++, tps, p99));
  return r;
}

const metric_change* find(const comparison& c, const std::string& variant, const std::string& metric) {
  for (const auto& ch : c.changes)
    if (ch.variant == variant && ch.metric == metric) return &ch;
  return nullptr;
}

}  // namespace

TEST(CompareVerdict, ClearRegressionIsFlaggedWithExitFour) {
  auto base = make_run("model=reactor", {{10000, 2000}});
  auto cand = make_run("model=reactor", {{8000, 3000}});  // -20% TPS, +50% p99
  compare_options opt;
  auto c = compare_runs(base, cand, opt);
  EXPECT_EQ(c.exit_code(), exit_code::regression);
  const auto* tps = find(c, "model=reactor", "tps.mean");
  ASSERT_NE(tps, nullptr);
  EXPECT_EQ(tps->result, verdict::regressed);
  EXPECT_NEAR(tps->change, -0.20, 1e-12);
  EXPECT_FALSE(tps->p_value.has_value());
  EXPECT_NE(tps->method.find("tolerance only"), std::string::npos);
  EXPECT_EQ(find(c, "model=reactor", "ttlb.p99")->result, verdict::regressed);
  auto text = format_comparison(c, opt);
  EXPECT_NE(text.find("REGRESSED"), std::string::npos) << text;
  EXPECT_NE(text.find("exit 4"), std::string::npos) << text;
  EXPECT_NE(text.find("tolerance alone"), std::string::npos) << text;
}

TEST(CompareVerdict, NoiseWithinToleranceIsUnchanged) {
  auto base = make_run("v", {{10000, 2000}});
  auto cand = make_run("v", {{9800, 2080}});  // -2% TPS, +4% p99, tolerance 5%
  compare_options opt;
  auto c = compare_runs(base, cand, opt);
  EXPECT_EQ(c.exit_code(), exit_code::ok);
  EXPECT_EQ(c.regressions, 0);
  for (const auto& ch : c.changes) EXPECT_EQ(ch.result, verdict::unchanged) << ch.metric;
  // A tighter tolerance turns the same p99 change into a regression.
  opt.tolerance = 0.03;
  EXPECT_EQ(compare_runs(base, cand, opt).exit_code(), exit_code::regression);
}

TEST(CompareVerdict, ImprovementsAreReportedButDoNotFail) {
  auto base = make_run("v", {{10000, 2000}});
  auto cand = make_run("v", {{12000, 1000}});
  auto c = compare_runs(base, cand, {});
  EXPECT_EQ(c.exit_code(), exit_code::ok);
  EXPECT_EQ(find(c, "v", "tps.mean")->result, verdict::improved);
  EXPECT_EQ(find(c, "v", "ttlb.p99")->result, verdict::improved);
  EXPECT_GE(c.improvements, 2);
}

TEST(CompareVerdict, RepeatsNeedASignificantMannWhitneyTest) {
  compare_options opt;
  // 5 vs 5 repeats, every candidate p99 above every baseline p99 (+10%): exact p = 2/252.
  auto base = make_run("v", {{1000, 2000}, {1000, 2010}, {1000, 1990}, {1000, 2005}, {1000, 1995}});
  auto cand = make_run("v", {{1000, 2200}, {1000, 2210}, {1000, 2190}, {1000, 2205}, {1000, 2195}});
  auto c = compare_runs(base, cand, opt);
  const auto* p99 = find(c, "v", "ttlb.p99");
  ASSERT_NE(p99, nullptr);
  ASSERT_TRUE(p99->p_value.has_value());
  EXPECT_NEAR(*p99->p_value, 2.0 / 252, 1e-12);
  EXPECT_EQ(p99->result, verdict::regressed);
  EXPECT_EQ(p99->baseline.size(), 5u);
  EXPECT_NE(p99->method.find("mann-whitney"), std::string::npos);
  // The bootstrap interval of the median difference (+200 us) excludes 0.
  ASSERT_TRUE(p99->ci_low.has_value());
  EXPECT_GT(*p99->ci_low, 0.0);
  EXPECT_LE(*p99->ci_low, 200.0);
  EXPECT_GE(*p99->ci_high, 200.0);

  // Medians differ by +10% but the repeats overlap heavily: not significant, so unchanged.
  auto noisy_base = make_run("v", {{1000, 1500}, {1000, 2500}, {1000, 2000}, {1000, 3000}, {1000, 1000}});
  auto noisy_cand = make_run("v", {{1000, 1400}, {1000, 2600}, {1000, 2200}, {1000, 3100}, {1000, 1100}});
  auto n = compare_runs(noisy_base, noisy_cand, opt);
  const auto* np99 = find(n, "v", "ttlb.p99");
  ASSERT_TRUE(np99->p_value.has_value());
  EXPECT_GT(*np99->p_value, 0.05);
  EXPECT_NEAR(np99->change, 0.10, 1e-12);
  EXPECT_EQ(np99->result, verdict::unchanged);
  EXPECT_EQ(n.exit_code(), exit_code::ok);
}

TEST(CompareVerdict, TooFewRepeatsForSignificanceFallBackToTolerance) {
  auto base = make_run("v", {{1000, 2000}, {1000, 2010}, {1000, 1990}});
  auto cand = make_run("v", {{1000, 3000}, {1000, 3010}, {1000, 2990}});
  auto c = compare_runs(base, cand, {});
  const auto* p99 = find(c, "v", "ttlb.p99");
  EXPECT_NEAR(*p99->p_value, 0.1, 1e-12);
  EXPECT_NE(p99->method.find("too few"), std::string::npos) << p99->method;
  EXPECT_EQ(p99->result, verdict::regressed);
}

TEST(CompareVerdict, ErrorRateFromZeroUsesAnAbsoluteFloor) {
  result::run base, tiny, big;
  base.variants.push_back(make_variant("v", 0, 1000, 2000, 0.0));
  tiny.variants.push_back(make_variant("v", 0, 1000, 2000, 0.0005));  // 0.05%: below the 0.1% floor
  big.variants.push_back(make_variant("v", 0, 1000, 2000, 0.02));     // 2%
  EXPECT_EQ(find(compare_runs(base, tiny, {}), "v", "errors.rate")->result, verdict::unchanged);
  auto c = compare_runs(base, big, {});
  const auto* er = find(c, "v", "errors.rate");
  EXPECT_TRUE(er->change_is_absolute);
  EXPECT_EQ(er->result, verdict::regressed);
  EXPECT_EQ(c.exit_code(), exit_code::regression);
}

TEST(CompareWarnings, IncompleteSaturatedAndUnmatchedAreReported) {
  auto base = make_run("a", {{1000, 2000}});
  base.variants.push_back(make_variant("only-in-baseline", 0, 1, 1));
  auto cand = make_run("a", {{1000, 2000}});
  cand.complete = false;
  cand.variants[0].loadgen.saturated = true;
  cand.variants[0].complete = false;
  cand.variants[0].incomplete_reason = "interrupted";
  auto c = compare_runs(base, cand, {});
  EXPECT_EQ(c.exit_code(), exit_code::ok);
  ASSERT_EQ(c.unmatched.size(), 1u);
  EXPECT_NE(c.unmatched[0].find("only-in-baseline"), std::string::npos);
  std::string all;
  for (const auto& w : c.warnings) all += w + "\n";
  EXPECT_NE(all.find("candidate run is incomplete"), std::string::npos) << all;
  EXPECT_NE(all.find("saturated"), std::string::npos) << all;
  EXPECT_NE(all.find("interrupted"), std::string::npos) << all;
  auto j = comparison_json(c, {});
  EXPECT_EQ(j["verdict"], "ok");
  EXPECT_EQ(j["exit_code"], 0);
  EXPECT_FALSE(j["warnings"].empty());
}

TEST(CompareJson, CarriesEveryChangeAndTheVerdict) {
  auto c = compare_runs(make_run("v", {{10000, 2000}}), make_run("v", {{5000, 2000}}), {});
  auto j = comparison_json(c, {});
  EXPECT_EQ(j["verdict"], "regression");
  EXPECT_EQ(j["exit_code"], exit_code::regression);
  ASSERT_EQ(j["changes"].size(), default_metrics().size());
  EXPECT_EQ(j["changes"][0]["metric"], "tps.mean");
  EXPECT_EQ(j["changes"][0]["verdict"], "regressed");
  EXPECT_TRUE(j["changes"][0]["p_value"].is_null());
  EXPECT_TRUE(j["changes"][0]["ci95_median_difference"].is_null());
}

TEST(CompareParse, Tolerance) {
  struct row {
    const char* text;
    bool ok;
    double value;
  };
  const row rows[] = {{"5%", true, 0.05},  {"0.05", true, 0.05}, {" 12.5 % ", true, 0.125}, {"0", true, 0},
                      {"", false, 0},      {"%", false, 0},      {"five", false, 0},        {"-1%", false, 0},
                      {"5%%", false, 0},   {"2000%", false, 0}};
  for (const auto& r : rows) {
    auto t = parse_tolerance(r.text);
    EXPECT_EQ(t.has_value(), r.ok) << r.text;
    if (r.ok && t) {
      EXPECT_NEAR(*t, r.value, 1e-12) << r.text;
    }
    if (!r.ok && !t) {
      EXPECT_NE(t.error().find("tolerance"), std::string::npos);
    }
  }
}

TEST(CompareParse, Metrics) {
  struct row {
    const char* text;
    bool ok;
    const char* canonical;
    better dir;
  };
  const row rows[] = {
      {"tps.mean", true, "tps.mean", better::higher},   {"tps", true, "tps.mean", better::higher},
      {"ttlb.p99", true, "ttlb.p99", better::lower},    {"ttfb.p99.9", true, "ttfb.p999", better::lower},
      {"connect.max", true, "connect.max", better::lower}, {"errors.rate", true, "errors.rate", better::lower},
      {"send_lag.p99", true, "send_lag.p99", better::lower}, {"target.rss", true, "target.rss", better::lower},
      {"ttlb.p42", false, "", better::lower},           {"latency.p99", false, "", better::lower},
      {"", false, "", better::lower},
  };
  for (const auto& r : rows) {
    auto m = parse_metric(r.text);
    EXPECT_EQ(m.has_value(), r.ok) << r.text;
    if (r.ok && m) {
      EXPECT_EQ(m->name, r.canonical);
      EXPECT_EQ(m->direction, r.dir) << r.text;
    }
    if (!r.ok && !m) {
      EXPECT_NE(m.error().find("accepted"), std::string::npos);
    }
  }
  result::variant v;
  v.ttfb.p999_us = 42;
  v.target.peak_rss_bytes = 1024;
  EXPECT_EQ(metric_value(v, *parse_metric("ttfb.p99.9")), 42);
  EXPECT_EQ(metric_value(v, *parse_metric("target.rss")), 1024);
}

TEST(ComparisonTable, ListsEveryVariantInAlignedColumnsWithFlags) {
  result::run r;
  r.variants.push_back(make_variant("model=reactor,connections=100", 0, 12345.6, 2500));
  r.variants.push_back(make_variant("model=thread-per-request,connections=100", 0, 800, 150000, 0.25));
  r.variants[1].errors.status_5xx = 200;
  r.variants[1].loadgen.saturated = true;
  r.variants[1].thresholds.push_back({"ttlb.p99 < 50ms", 150000, 50000, false});
  auto t = comparison_table(r);
  std::istringstream in(t);
  std::vector<std::string> lines, context;
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("load: ", 0) == 0 || l.rfind("measured: ", 0) == 0 || l.rfind("cpus: ", 0) == 0)
      context.push_back(l);
    else
      lines.push_back(l);
  }
  // The load model behind the numbers comes first: both variants share one, so one line each.
  ASSERT_EQ(context.size(), 3u) << t;
  EXPECT_EQ(context[0].rfind("load: ", 0), 0u) << t;
  ASSERT_EQ(lines.size(), 4u) << t;  // header, rule, two variants
  EXPECT_NE(lines[2].find("model=reactor,connections=100"), std::string::npos);
  EXPECT_NE(lines[2].find("12346"), std::string::npos) << t;
  EXPECT_NE(lines[2].find("2.500"), std::string::npos) << t;  // TTLB p99 in ms
  EXPECT_NE(lines[3].find("SATURATED"), std::string::npos) << t;
  EXPECT_NE(lines[3].find("THRESHOLD FAILED"), std::string::npos) << t;
  EXPECT_NE(lines[3].find("200 (25.00%)"), std::string::npos) << t;
  // Right-aligned columns: every row ends at the same column.
  EXPECT_EQ(lines[0].size(), lines[2].size()) << t;
  EXPECT_EQ(lines[0].size(), lines[3].size()) << t;
  EXPECT_EQ(lines[1].size(), lines[0].size()) << t;
}
