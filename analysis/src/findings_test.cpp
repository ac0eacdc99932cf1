#include "perflab/analysis/findings.hpp"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

using namespace perflab;
using namespace perflab::analysis;

namespace {

struct spec {
  std::map<std::string, std::string> params;
  double tps;             // goodput, req/s
  double ttlb_p99_ms;
  double target_cpu_s;
  double rss_mib;
  int repeat = 0;
};

result::variant make(const spec& s) {
  result::variant v;
  for (const auto& [k, val] : s.params) v.name += (v.name.empty() ? "" : ",") + k + "=" + val;
  v.params = s.params;
  v.repeat = s.repeat;
  v.load.kind = "open";
  v.measured_s = 10;
  v.tps_mean = v.rps_mean = s.tps;
  v.completed = v.succeeded = static_cast<std::int64_t>(s.tps * 10);
  v.ttlb.count = v.completed;
  v.ttlb.p99_us = s.ttlb_p99_ms * 1e3;
  v.ttlb.mean_us = v.ttlb.p99_us / 4;
  v.target.spawned = true;
  v.target.cpu_user_s = s.target_cpu_s;
  v.target.peak_rss_bytes = static_cast<std::int64_t>(s.rss_mib * 1024 * 1024);
  return v;
}

result::run make_run(const std::vector<spec>& specs) {
  result::run r;
  for (const auto& s : specs) r.variants.push_back(make(s));
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

const contrast* find(const findings& f, const std::string& dim, const std::string& context, finding_metric m) {
  for (const auto& c : f.contrasts)
    if (c.dimension == dim && c.context == context && c.metric == m) return &c;
  return nullptr;
}

}  // namespace

// The strongest contrasts in the words of the terminal: goodput, TTLB p99, then CPU or RSS.
TEST(FindingsText, NamesBestAndWorstWithTheirRatio) {
  // CPU in proportion to responses: CPU per response is alike, so the third line is peak RSS.
  auto r = make_run({{{{"model", "reactor"}}, 3180, 21.6, 3.18, 10},
                     {{{"model", "thread-pool"}}, 398, 2050, 0.398, 70}});
  auto lines = lines_of(findings_text(r));
  ASSERT_EQ(lines.size(), 3u) << findings_text(r);
  EXPECT_EQ(lines[0], "goodput: reactor 3,180/s vs thread-pool 398/s (x8.0)");
  EXPECT_EQ(lines[1], "ttlb p99: thread-pool 2.05 s is x95 reactor's 21.6 ms");
  EXPECT_EQ(lines[2], "peak rss: thread-pool 70.0 MiB is x7.0 reactor's 10.0 MiB");
  // A variant whose numbers are suspect carries its status next to its name.
  r.variants[1].loadgen.saturated = true;
  EXPECT_EQ(lines_of(findings_text(r))[0], "goodput: reactor 3,180/s vs thread-pool [SATURATED] 398/s (x8.0)");
}

// What a model costs in threads is a finding of its own: a thread per connection against an
// event loop is the lab's central comparison (peak threads come before CPU and RSS).
TEST(FindingsText, ThreadsComeBeforeCpuAndMemory) {
  auto r = make_run({{{{"model", "thread-per-request"}}, 1000, 121, 1.0, 7},
                     {{{"model", "reactor"}}, 1000, 118, 1.0, 12}});
  r.variants[0].target.threads = 141;
  r.variants[1].target.threads = 2;
  const auto lines = lines_of(findings_text(r));
  ASSERT_FALSE(lines.empty()) << findings_text(r);
  EXPECT_EQ(lines[0], "threads: thread-per-request 141 threads is x70 reactor's 2 threads");
}

TEST(FindingsText, SaysNothingWhenThereIsNothingToCompare) {
  struct row {
    const char* what;
    std::vector<spec> specs;
  };
  const row rows[] = {
      {"one variant", {{{{"model", "reactor"}}, 3180, 21.6, 3, 10}}},
      {"differences under 5%", {{{{"model", "reactor"}}, 3180, 21.6, 3, 10}, {{{"model", "coroutine"}}, 3100, 22, 3, 10}}},
  };
  for (const auto& r : rows) EXPECT_EQ(findings_text(make_run(r.specs)), "") << r.what;
}

// Each dimension is compared with the other keys held fixed: one contrast per context.
TEST(Findings, EachDimensionWithinEachContextOfTheOtherKeys) {
  auto r = make_run({
      {{{"model", "reactor"}, {"path", "/hello"}}, 9000, 0.4, 2, 10},
      {{{"model", "reactor"}, {"path", "/sleep"}}, 300, 10.3, 0.2, 10},
      {{{"model", "thread-pool"}, {"path", "/hello"}}, 6000, 0.8, 2, 30},
      {{{"model", "thread-pool"}, {"path", "/sleep"}}, 290, 17.5, 0.3, 30},
  });
  auto f = compute_findings(r);
  EXPECT_EQ(f.dimensions, (std::vector<std::string>{"model", "path"}));
  struct row {
    const char* dim;
    const char* context;
    finding_metric metric;
    const char* best;
    const char* worst;
    double ratio;
  };
  const row rows[] = {
      {"model", "path=/hello", finding_metric::goodput, "reactor", "thread-pool", 1.5},
      {"model", "path=/hello", finding_metric::ttlb_p99, "reactor", "thread-pool", 2.0},
      {"model", "path=/sleep", finding_metric::ttlb_p99, "reactor", "thread-pool", 17.5 / 10.3},
      {"model", "path=/sleep", finding_metric::peak_rss, "reactor", "thread-pool", 3.0},
      {"path", "model=reactor", finding_metric::goodput, "/hello", "/sleep", 30},
      {"path", "model=thread-pool", finding_metric::ttlb_p99, "/hello", "/sleep", 17.5 / 0.8},
  };
  for (const auto& w : rows) {
    const auto* c = find(f, w.dim, w.context, w.metric);
    ASSERT_NE(c, nullptr) << w.dim << " " << w.context << " " << to_string(w.metric);
    EXPECT_EQ(c->best, w.best) << w.dim << " " << w.context << " " << to_string(w.metric);
    EXPECT_EQ(c->worst, w.worst) << w.dim << " " << w.context << " " << to_string(w.metric);
    EXPECT_NEAR(c->ratio, w.ratio, 1e-9) << w.dim << " " << w.context << " " << to_string(w.metric);
    EXPECT_EQ(c->strength, evidence::single_runs);
    EXPECT_FALSE(c->p_value.has_value());
  }
  // RSS does not vary with the path: no contrast to report there.
  EXPECT_EQ(find(f, "path", "model=reactor", finding_metric::peak_rss), nullptr);
  // CPU per response = target CPU / responses: reactor /hello 2 s / 90,000 = 22.2 us.
  const auto* cpu = find(f, "model", "path=/hello", finding_metric::cpu_per_response);
  ASSERT_NE(cpu, nullptr);
  EXPECT_NEAR(cpu->best_value, 2e6 / 90000, 1e-6);
  // Numeric values read as key=value in prose.
  auto n = compute_findings(make_run({{{{"connections", "10"}}, 5000, 1, 1, 10}, {{{"connections", "100"}}, 3000, 9, 1, 10}}));
  ASSERT_FALSE(n.contrasts.empty());
  EXPECT_EQ(n.contrasts[0].best, "connections=10");
}

// Push runs (`loadgen subscribe`) have no responses: they are contrasted by delivery latency.
TEST(Findings, PushRunsAreComparedByDeliveryNotGoodput) {
  result::run r;
  for (auto [style, p99_ms] : {std::pair{"sse", 2.0}, std::pair{"long-poll", 5.0}, std::pair{"short-poll", 500.0}}) {
    result::variant v;
    v.name = std::string("style=") + style;
    v.params = {{"style", style}};
    v.load.kind = "subscribe";
    v.measured_s = 10;
    v.delivery.count = 1000;
    v.delivery.p99_us = p99_ms * 1e3;
    r.variants.push_back(v);
  }
  auto f = compute_findings(r);
  const auto* d = find(f, "style", "", finding_metric::delivery_p99);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->best, "sse");
  EXPECT_EQ(d->worst, "short-poll");
  EXPECT_DOUBLE_EQ(d->ratio, 250.0);
  EXPECT_EQ(find(f, "style", "", finding_metric::goodput), nullptr) << "no responses: no goodput contrast";
}

// With repeats, compare's rule says whether the difference between best and worst holds.
TEST(Findings, RepeatsAreJudgedWithCompareRule) {
  struct row {
    const char* what;
    std::vector<double> best_tps, worst_tps;
    evidence expected;
  };
  const row rows[] = {
      {"5 vs 5 separated", {5000, 5010, 4990, 5020, 4980}, {3000, 3010, 2990, 3020, 2980}, evidence::significant},
      {"3 vs 3 separated", {5000, 5010, 4990}, {3000, 3010, 2990}, evidence::repeats_agree},
      {"5 vs 5 overlapping", {5000, 2000, 5200, 4900, 3100}, {3000, 3010, 5100, 2950, 3200}, evidence::not_significant},
      {"5 vs 5 within 5%", {5000, 5010, 4990, 5020, 4980}, {4900, 4910, 4890, 4920, 4880}, evidence::within_tolerance},
  };
  for (const auto& w : rows) {
    std::vector<spec> specs;
    for (std::size_t i = 0; i < w.best_tps.size(); ++i)
      specs.push_back({{{"model", "reactor"}}, w.best_tps[i], 1, 1, 10, static_cast<int>(i)});
    for (std::size_t i = 0; i < w.worst_tps.size(); ++i)
      specs.push_back({{{"model", "thread-pool"}}, w.worst_tps[i], 1, 1, 10, static_cast<int>(i)});
    auto f = compute_findings(make_run(specs));
    const auto* c = find(f, "model", "", finding_metric::goodput);
    ASSERT_NE(c, nullptr) << w.what;
    EXPECT_EQ(c->best, "reactor") << w.what;
    EXPECT_EQ(c->strength, w.expected) << w.what << ": " << c->method;
    EXPECT_EQ(c->best_repeats, w.best_tps.size()) << w.what;
    ASSERT_TRUE(c->p_value.has_value()) << w.what;
  }
  // The 5 vs 5 separated case: the exact p of complete separation, 2 / C(10, 5).
  std::vector<spec> specs;
  for (int i = 0; i < 5; ++i) specs.push_back({{{"model", "reactor"}}, 5000.0 + i, 1, 1, 10, i});
  for (int i = 0; i < 5; ++i) specs.push_back({{{"model", "thread-pool"}}, 3000.0 + i, 1, 1, 10, i});
  auto f = compute_findings(make_run(specs));
  EXPECT_NEAR(*find(f, "model", "", finding_metric::goodput)->p_value, 2.0 / 252, 1e-12);
  EXPECT_NE(findings_text(f).find("significant (p 0.00794, 5 vs 5 repeats)"), std::string::npos) << findings_text(f);
}

// Closed loop: throughput ~ connections / (mean TTLB + think time).
TEST(Findings, LittlesLawForClosedLoops) {
  auto closed = [](const char* model, double rps, double mean_ttlb_ms) {
    spec s{{{"model", model}}, rps, mean_ttlb_ms * 4, 1, 10};
    auto v = make(s);
    v.load.kind = "closed";
    v.load.connections = 64;
    v.ttlb.mean_us = mean_ttlb_ms * 1e3;
    return v;
  };
  result::run r;
  r.variants.push_back(closed("reactor", 3180, 20));
  auto f = compute_findings(r);
  ASSERT_EQ(f.little.size(), 1u);
  EXPECT_NEAR(f.little[0].predicted_per_s, 3200, 1e-9);
  EXPECT_NEAR(f.little[0].ratio, 3180.0 / 3200, 1e-12);
  EXPECT_EQ(findings_text(r), "little's law (model=reactor): 64 connections / 20.0 ms mean TTLB = 3,200/s; measured "
                              "3,180/s (99%)\n");
  // Several within 10%: one line says so; one far off is named instead.
  r.variants.push_back(closed("coroutine", 3150, 20));
  EXPECT_NE(findings_text(r).find("little's law holds within 10% for all 2 closed-loop variants"), std::string::npos)
      << findings_text(r);
  r.variants.push_back(closed("thread-pool", 1000, 20));
  EXPECT_NE(findings_text(r).find("little's law (model=thread-pool): 64 connections / 20.0 ms mean TTLB = 3,200/s; "
                                  "measured 1,000/s (31%)"),
            std::string::npos)
      << findings_text(r);
  // A STALLED variant's clients did not all cycle: the law's premise fails, and its status says so.
  r.variants.back().stalled = 32;
  EXPECT_EQ(findings_text(r).find("model=thread-pool"), std::string::npos) << findings_text(r);
  // Open loop: the law is not a throughput prediction there.
  r.variants.clear();
  r.variants.push_back(make({{{"model", "reactor"}}, 3180, 21.6, 3, 10}));
  EXPECT_TRUE(compute_findings(r).little.empty());
}
