#include "perflab/analysis/compare.hpp"

#include <algorithm>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "perflab/analysis/ab.hpp"
#include "perflab/analysis/stats.hpp"
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
  EXPECT_NE(text.find("no usable test"), std::string::npos) << text;
}

TEST(CompareVerdict, PushRunsCompareDeliveryAndLostMessagesNotRequestMetrics) {
  const auto push_run = [](double p99_us, std::int64_t lost) {
    result::run r;
    result::variant v;
    v.name = "style=sse";
    v.load.kind = "subscribe";
    v.delivery.p50_us = p99_us / 4;
    v.delivery.p99_us = p99_us;
    v.lost = lost;
    r.variants.push_back(v);
    return r;
  };
  compare_options opt;  // the default metrics: tps, TTLB, TTFB, error rate
  auto c = compare_runs(push_run(1000, 0), push_run(2000, 7), opt);
  EXPECT_EQ(find(c, "style=sse", "tps.mean"), nullptr) << "a push run has no goodput to compare";
  EXPECT_EQ(find(c, "style=sse", "ttlb.p99"), nullptr);
  ASSERT_NE(find(c, "style=sse", "delivery.p99"), nullptr);
  EXPECT_EQ(find(c, "style=sse", "delivery.p99")->result, verdict::regressed);
  ASSERT_NE(find(c, "style=sse", "lost"), nullptr);
  EXPECT_EQ(find(c, "style=sse", "lost")->result, verdict::regressed) << "0 -> 7 messages lost";
  EXPECT_EQ(c.exit_code(), exit_code::regression);
  // Named metrics that apply to push runs are kept; the others are dropped for them, with a note.
  opt.metrics = {*parse_metric("delivery.p50"), *parse_metric("ttlb.p50")};
  auto named = compare_runs(push_run(1000, 0), push_run(1000, 0), opt);
  ASSERT_EQ(named.changes.size(), 1u);
  EXPECT_EQ(named.changes[0].metric, "delivery.p50");
  EXPECT_EQ(named.changes[0].result, verdict::unchanged);
  EXPECT_EQ(named.exit_code(), exit_code::ok);
  ASSERT_EQ(named.notes.size(), 1u);
  EXPECT_NE(named.notes[0].find("ttlb.p50 not compared"), std::string::npos) << named.notes[0];
  // ab's defaults hold target.cpu_per_response, which a push run (no responses) cannot give:
  // the delivery metrics are still compared.
  opt.metrics = ab_default_metrics();
  auto ab = compare_runs(push_run(1000, 0), push_run(2000, 0), opt);
  EXPECT_EQ(find(ab, "style=sse", "target.cpu_per_response"), nullptr);
  ASSERT_NE(find(ab, "style=sse", "delivery.p99"), nullptr);
  EXPECT_EQ(find(ab, "style=sse", "delivery.p99")->result, verdict::regressed);
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

// Per-repeat values -> verdict, through compare_runs on errors.rate (lower is better, floor 0.1
// percentage points, baseline 0: absolute change). The first two rows are issue 11 #8: 4 vs 4
// used to be "unchanged" (p 0.143, the smallest its ties allow) where 3 vs 3 was "regressed".
TEST(CompareVerdict, ErrorRateRepeatsTable) {
  struct row {
    const char* what;
    std::vector<double> baseline, candidate;
    verdict expected;
    const char* method_has;
  };
  const row rows[] = {
      {"3 vs 3, every repeat shifted", {0, 0, 0}, {.2, .2, .2}, verdict::regressed, "too few"},
      {"4 vs 4, three of four shifted", {0, 0, 0, 0}, {0, .2, .2, .2}, verdict::regressed, "ties keep p"},
      {"4 vs 4, every repeat shifted", {0, 0, 0, 0}, {.2, .2, .2, .2}, verdict::regressed, "mann-whitney"},
      {"5 vs 5, three of five shifted", {0, 0, 0, 0, 0}, {0, 0, .2, .2, .2}, verdict::regressed, "repeats agree"},
      {"5 vs 5, median unchanged", {0, 0, 0, 0, 0}, {0, 0, 0, .2, .2}, verdict::unchanged, ""},
      {"5 vs 5, shifted but a baseline repeat is worse", {0, 0, 0, 0, .3}, {0, .1, .2, .2, .2}, verdict::unchanged,
       "overlap"},
      {"1 vs 1", {0}, {.2}, verdict::regressed, "tolerance only"},
      {"1 vs 3, one candidate repeat below the baseline", {.1}, {.05, .3, .3}, verdict::unchanged, "disagree"},
      {"4 vs 4, improvement", {.2, .2, .2, 0}, {0, 0, 0, 0}, verdict::improved, "ties keep p"},
  };
  for (const auto& r : rows) {
    result::run base, cand;
    for (std::size_t i = 0; i < r.baseline.size(); ++i)
      base.variants.push_back(make_variant("v", static_cast<int>(i), 1000, 2000, r.baseline[i]));
    for (std::size_t i = 0; i < r.candidate.size(); ++i)
      cand.variants.push_back(make_variant("v", static_cast<int>(i), 1000, 2000, r.candidate[i]));
    auto c = compare_runs(base, cand, {});
    const auto* er = find(c, "v", "errors.rate");
    ASSERT_NE(er, nullptr) << r.what;
    EXPECT_EQ(er->result, r.expected) << r.what << ": " << er->method;
    EXPECT_NE(er->method.find(r.method_has), std::string::npos) << r.what << ": " << er->method;
  }
}

// Enumerates small tied samples (values 0, .1, .2, .3; 1 to 5 repeats a side) and checks that a
// repeat agreeing with the shift (a candidate value at or beyond the candidate median, or a
// baseline value at or below the baseline median, in the direction of the change) never turns
// "regressed" into something else, for a lower-is-better and a higher-is-better metric.
TEST(CompareVerdict, AnAgreeingRepeatNeverHidesARegression) {
  const std::vector<double> values{0, .1, .2, .3};
  std::vector<std::vector<double>> samples;
  std::function<void(std::vector<double>, std::size_t)> grow = [&](std::vector<double> s, std::size_t from) {
    if (!s.empty()) samples.push_back(s);
    if (s.size() == 5) return;
    for (std::size_t i = from; i < values.size(); ++i) {
      s.push_back(values[i]);
      grow(s, i);
      s.pop_back();
    }
  };
  grow({}, 0);
  compare_options opt;
  for (const char* name : {"errors.rate", "tps.mean"}) {
    const metric m = *parse_metric(name);
    // tps.mean is higher-better: a regression is a drop, so "agreeing" values are low ones.
    const double sign = m.direction == better::lower ? 1 : -1;
    auto shift = [&](const std::vector<double>& s) {
      std::vector<double> out;
      for (double v : s) out.push_back(m.direction == better::lower ? v : 1.0 - v);
      return out;
    };
    int regressed = 0, by_test = 0, by_agreement = 0;
    for (const auto& b0 : samples) {
      for (const auto& c0 : samples) {
        auto b = shift(b0), c = shift(c0);
        auto before = judge_change(b, c, m, opt);
        if (before.result != verdict::regressed) continue;
        ++regressed;
        (before.method.rfind("mann-whitney", 0) == 0 ? by_test : by_agreement)++;
        const double bmed = stats::median(b), cmed = stats::median(c);
        for (double v : values) {
          const double x = m.direction == better::lower ? v : 1.0 - v;
          if (sign * (x - cmed) >= 0) {
            auto c2 = c;
            c2.push_back(x);
            auto after = judge_change(b, c2, m, opt);
            ASSERT_EQ(after.result, verdict::regressed)
                << name << ": candidate repeat " << x << " added; before: " << before.method
                << ", after: " << after.method;
          }
          if (sign * (x - bmed) <= 0) {
            auto b2 = b;
            b2.push_back(x);
            auto after = judge_change(b2, c, m, opt);
            ASSERT_EQ(after.result, verdict::regressed)
                << name << ": baseline repeat " << x << " added; before: " << before.method
                << ", after: " << after.method;
          }
        }
      }
    }
    // Not vacuous: both ways of counting a change are exercised.
    EXPECT_GT(by_test, 100) << name;
    EXPECT_GT(by_agreement, 100) << name;
    EXPECT_GT(regressed, 1000) << name;
  }
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

// Warnings follow the verdict's status words: a failing target (ERRORS, STALLED) is named too.
TEST(CompareWarnings, StatusWordsOfEveryVariantWithWhatTheyMean) {
  auto base = make_run("a", {{1000, 2000}});
  auto cand = make_run("a", {{1000, 2000}});
  cand.variants[0].error_rate = 0.2;
  cand.variants[0].errors.status_5xx = 200;
  cand.variants[0].carried_in = 8;
  cand.variants[0].stalled = 5;
  auto c = compare_runs(base, cand, {});
  std::string all;
  for (const auto& w : c.warnings) all += w + "\n";
  EXPECT_NE(all.find("candidate variant 'a' (repeat 0): ERRORS: error rate 20.00% is above the bound 1.00%"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("candidate variant 'a' (repeat 0): STALLED: 5 of the 8 requests carried in"), std::string::npos)
      << all;
  EXPECT_EQ(all.find("baseline variant"), std::string::npos) << all;
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

// Goodput is the TPS column; all responses/s, carried-in, stalled and unanswered columns appear
// when some variant has something there; the status column is the verdict's.
TEST(ComparisonTable, GoodputColumnsOnDemandAndTheVerdictsStatus) {
  result::run r;
  r.variants.push_back(make_variant("model=reactor", 0, 3000, 2500));
  r.variants[0].rps_mean = 3000;
  auto narrow = comparison_table(r);
  EXPECT_NE(narrow.find("goodput/s"), std::string::npos) << narrow;
  for (const char* absent : {"responses/s", "carried-in", "stalled", "unanswered"})
    EXPECT_EQ(narrow.find(absent), std::string::npos) << absent << "\n" << narrow;

  r.variants.push_back(make_variant("model=thread-pool", 0, 2500, 9000, 0.17));
  auto& v = r.variants[1];
  v.rps_mean = 3000;
  v.errors.status_5xx = 1500;
  v.carried_in = 10;
  v.stalled = 4;
  auto t = comparison_table(r);
  std::istringstream in(t);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);)
    if (l.rfind("load: ", 0) != 0 && l.rfind("measured: ", 0) != 0 && l.rfind("cpus: ", 0) != 0) lines.push_back(l);
  ASSERT_EQ(lines.size(), 4u) << t;
  for (const char* h : {"goodput/s", "responses/s", "carried-in", "stalled", "status"})
    EXPECT_NE(lines[0].find(h), std::string::npos) << h << "\n" << t;
  EXPECT_EQ(lines[0].find("unanswered"), std::string::npos) << t;
  std::istringstream row(lines[3]);
  std::string name, goodput, responses;
  row >> name >> goodput >> responses;
  EXPECT_EQ(goodput, "2500") << t;
  EXPECT_EQ(responses, "3000") << t;
  EXPECT_EQ(lines[3].substr(lines[3].size() - std::string("ERRORS,STALLED").size()), "ERRORS,STALLED") << t;
  EXPECT_EQ(lines[2].substr(lines[2].size() - 2), "ok") << t;
}

// What each model cost sits next to what it delivered: spawned targets add their peak threads
// and peak RSS, so a thread per connection is visible in the first table a user sees.
TEST(ComparisonTable, SpawnedTargetsShowThreadsAndPeakRss) {
  result::run r;
  r.variants.push_back(make_variant("model=thread-per-request", 0, 1000, 121000));
  r.variants.push_back(make_variant("model=reactor", 0, 1000, 118000));
  EXPECT_EQ(comparison_table(r).find("peak RSS"), std::string::npos) << "external URLs: no target columns";
  r.variants[0].target.spawned = r.variants[1].target.spawned = true;
  r.variants[0].target.threads = 141;
  r.variants[1].target.threads = 2;
  r.variants[0].target.peak_rss_bytes = 7 * 1024 * 1024;
  r.variants[1].target.peak_rss_bytes = 12 * 1024 * 1024;
  const auto t = comparison_table(r);
  EXPECT_NE(t.find("threads"), std::string::npos) << t;
  EXPECT_NE(t.find("peak RSS"), std::string::npos) << t;
  EXPECT_NE(t.find(" 141 "), std::string::npos) << t;
  EXPECT_NE(t.find("12.0 MiB"), std::string::npos) << t;
}

// A run whose responses carried X-Cache gets a hit ratio column; a variant without any says "-".
TEST(ComparisonTable, HitRatioColumnWhenResponsesCarriedXCache) {
  result::run r;
  r.variants.push_back(make_variant("cache=lru", 0, 5000, 3000));
  r.variants.push_back(make_variant("cache=none", 0, 5000, 6000));
  EXPECT_EQ(comparison_table(r).find("hit ratio"), std::string::npos) << "no X-Cache: no column";
  r.variants[0].cache = {6640, 3360, 0, 0};
  r.variants[0].cache_hit_ratio = r.variants[0].cache.hit_ratio();
  const auto t = comparison_table(r);
  EXPECT_NE(t.find("hit ratio"), std::string::npos) << t;
  EXPECT_NE(t.find(" 0.664 "), std::string::npos) << t;
  const auto none_row = t.substr(t.find("cache=none"));
  EXPECT_NE(none_row.find(" - "), std::string::npos) << t;
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
