// [[target]] dependencies, [[fault]] and [[action]] (scenario_schedule.cpp), "{name}"
// substitution (dependencies.cpp), the runner's /metrics and URL readers (timed_events.cpp,
// target_sampler.cpp), and the shipped resilience scenarios (issue 17) as a user runs them.
#include "perflab/loadgen/scenario.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "dependencies.hpp"
#include "scenario_test_support.hpp"
#include "target_sampler.hpp"
#include "timed_events.hpp"

namespace perflab::loadgen {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using testing::parse;

const std::string k_two_targets = R"(name = "t"
[[target]]
name = "dep"
model = "reactor"
fault-profile = "latency=fixed:5ms"

[[target]]
model = "thread-pool"
upstream = "{dep}/x"

[load]
duration = "10s"

[[fault]]
at = "2s"
target = "dep"
spec = "error=1:503"
duration = "3s"

[[action]]
at = "1s"
method = "PURGE"
path = "/cache"

[matrix]
"target.threads" = [4, 8]
)";

TEST(ScenarioSchedule, NamedTargetsAreDependenciesAndTheUnnamedOneIsMeasured) {
  auto sc = parse(k_two_targets, {"target.model=coroutine"});
  ASSERT_TRUE(sc) << sc.error().to_string();
  ASSERT_EQ(sc->variants.size(), 2u);
  for (const auto& v : sc->variants) {
    EXPECT_EQ(v.target.model, "coroutine");  // --set reaches the measured target
    EXPECT_EQ(v.target.params.at("upstream"), "{dep}/x");
    EXPECT_FALSE(v.target.admin);            // no fault is sent to it
    ASSERT_EQ(v.dependencies.size(), 1u);
    EXPECT_EQ(v.dependencies[0].name, "dep");
    EXPECT_EQ(v.dependencies[0].model, "reactor");
    EXPECT_TRUE(v.dependencies[0].admin);    // the runner adds --admin
    EXPECT_EQ(v.dependencies[0].params.count("name"), 0u);
    ASSERT_EQ(v.schedule.size(), 2u);        // sorted by at
    EXPECT_EQ(v.schedule[0].what, timed_event_spec::kind::action);
    EXPECT_EQ(v.schedule[0].method, "PURGE");
    EXPECT_EQ(v.schedule[0].at, 1s);
    EXPECT_EQ(v.schedule[1].what, timed_event_spec::kind::fault);
    EXPECT_EQ(v.schedule[1].target, "dep");
    EXPECT_EQ(v.schedule[1].duration, 3s);
    EXPECT_EQ(v.schedule[1].where, "s.toml:14:1");
  }
  EXPECT_EQ(sc->variants[0].target.threads, 4);
}

TEST(ScenarioSchedule, WiringErrorsNameTheirPlace) {
  const std::string head = "name = \"t\"\n[load]\nduration = \"2s\"\n";  // lines 1-3
  const std::pair<std::string, std::string> cases[] = {
      {head + "[[target]]\nmodel = \"reactor\"\n[[target]]\nmodel = \"reactor\"\n", "s.toml:6:1"},
      {head + "[[target]]\nname = \"a\"\nmodel = \"reactor\"\n", "s.toml:4:1"},
      {head + "[[target]]\nname = \"a b\"\nmodel = \"reactor\"\n[[target]]\nmodel = \"reactor\"\n", "s.toml:5:8"},
      {head + "[[target]]\nmodel = \"reactor\"\nupstream = \"{db}\"\n", "s.toml:6:1"},
      {head + "[target]\nmodel = \"reactor\"\n[[action]]\nat = \"1s\"\nmethod = \"GET\"\n", "s.toml:6:1"},
      {head + "[target]\nmodel = \"reactor\"\n[[action]]\nat = \"-1s\"\nmethod = \"GET\"\npath = \"/\"\n", "s.toml:7:6"},
      {head + "[target]\nmodel = \"reactor\"\n[[fault]]\nat = \"1s\"\nspec = \"latency=1ms\"\n", "s.toml:8:8"},
      {head + "[target]\nmodel = \"reactor\"\n[[fault]]\nat = \"1s\"\nspec = \"none\"\nduration = \"0s\"\n", "s.toml:9:12"},
      // Two faults on one target at once: the second one is refused where it is.
      {head + "[target]\nmodel = \"reactor\"\n[[fault]]\nat = \"1s\"\nspec = \"error=1:503\"\nduration = \"1s\"\n"
              "[[fault]]\nat = \"1500ms\"\nspec = \"none\"\nduration = \"1s\"\n", "s.toml:10:1"},
  };
  for (const auto& [text, where] : cases) {
    SCOPED_TRACE(text);
    auto sc = parse(text);
    ASSERT_FALSE(sc);
    EXPECT_EQ(sc.error().where.substr(0, where.size()), where) << sc.error().to_string();
  }
}

TEST(ScenarioSchedule, UrlsAreSubstitutedForNamesOnly) {
  const std::map<std::string, std::string> urls = {{"dep", "http://127.0.0.1:9"}, {"b", "http://h:1"}};
  EXPECT_EQ(detail::substitute_urls("{dep}/x", urls), "http://127.0.0.1:9/x");
  EXPECT_EQ(detail::substitute_urls("a{b}c{dep}{other}", urls), "ahttp://h:1chttp://127.0.0.1:9{other}");
  EXPECT_EQ(detail::substitute_urls("{unclosed", urls), "{unclosed");
  EXPECT_EQ(detail::substitute_urls("", urls), "");
}

TEST(TimedEvents, RequestCounterSumsAllButTheLabsOwnEndpoints) {
  const std::string metrics =
      "# TYPE perflab_target_requests_total counter\n"
      "perflab_target_requests_total{endpoint=\"hello\",status=\"200\"} 120\n"
      "perflab_target_requests_total{endpoint=\"hello\",status=\"503\"} 30\n"
      "perflab_target_requests_total{endpoint=\"metrics\",status=\"200\"} 4\n"
      "perflab_target_requests_total{endpoint=\"health\",status=\"200\"} 2\n"
      "perflab_target_requests_total{endpoint=\"admin\",status=\"200\"} 1\n"
      "perflab_target_requests_total{endpoint=\"cache\",status=\"other\"} 5\n";
  EXPECT_EQ(detail::requests_answered(metrics), 155.0);
  EXPECT_FALSE(detail::requests_answered("perflab_other_total 3\n"));
  EXPECT_EQ(detail::split_url("http://127.0.0.1:8080"), (std::pair<std::string, int>{"127.0.0.1", 8080}));
  EXPECT_EQ(detail::split_url("http://h:1/path"), (std::pair<std::string, int>{"h", 1}));
  EXPECT_FALSE(detail::split_url("https://h:1"));
  EXPECT_FALSE(detail::split_url("http://h:0"));
}

TEST(TargetSampler, GaugeValueReadsOneUnlabelledSample) {
  const std::string metrics =
      "# HELP perflab_upstream_breaker_state 0 closed, 1 open, 2 half-open\n"
      "# TYPE perflab_upstream_breaker_state gauge\n"
      "perflab_upstream_breaker_state_total 7\n"
      "perflab_upstream_breaker_transitions_total{from=\"closed\",to=\"open\"} 3\n"
      "perflab_upstream_breaker_state 2\n";
  EXPECT_EQ(detail::gauge_value(metrics, "perflab_upstream_breaker_state"), 2.0);
  EXPECT_EQ(detail::gauge_value("perflab_upstream_breaker_state 1", "perflab_upstream_breaker_state"), 1.0);
  EXPECT_EQ(detail::gauge_value("perflab_upstream_breaker_state 1 1700000000\r\n", "perflab_upstream_breaker_state"), 1.0);
  EXPECT_FALSE(detail::gauge_value("x_perflab_upstream_breaker_state 1\n", "perflab_upstream_breaker_state"));
  EXPECT_FALSE(detail::gauge_value("perflab_upstream_breaker_state_total 7\n", "perflab_upstream_breaker_state"));
  EXPECT_FALSE(detail::gauge_value("perflab_upstream_breaker_state nan?\n", "perflab_upstream_breaker_state"));
}

TEST(TargetCounters, ANameSumsItsSeriesAndNameWithLabelsIsOneSeries) {
  const std::string metrics =
      "# TYPE perflab_idempotency_requests_total counter\n"
      "perflab_idempotency_requests_total{result=\"first\"} 40\n"
      "perflab_idempotency_requests_total{result=\"replay\"} 2\n"
      "perflab_orders_created_total 42\n"
      "perflab_orders_created_total_x 7\n";
  EXPECT_EQ(detail::metric_sum(metrics, "perflab_idempotency_requests_total"), 42.0);
  EXPECT_EQ(detail::metric_sum(metrics, "perflab_idempotency_requests_total{result=\"replay\"}"), 2.0);
  EXPECT_EQ(detail::metric_sum(metrics, "perflab_orders_created_total"), 42.0) << "not a longer name";
  EXPECT_FALSE(detail::metric_sum(metrics, "perflab_idempotency_requests_total{result=\"mismatch\"}"));
  EXPECT_FALSE(detail::metric_sum(metrics, "perflab_orders"));
}

TEST(TargetCounters, ReportMetricsAreReadAndCheckedWithTheirPlace) {
  const std::string head = "name = \"t\"\n[target]\nmodel = \"reactor\"\n[load]\nrate = 10\nduration = \"1s\"\n";
  auto sc = parse(head + "[report]\nmetrics = [\"perflab_orders_created_total\", \"a_total{x=\\\"y\\\"}\"]\n");
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  EXPECT_EQ(sc->variants[0].report_metrics,
            (std::vector<std::string>{"perflab_orders_created_total", "a_total{x=\"y\"}"}));
  EXPECT_TRUE(parse(head)->variants[0].report_metrics.empty());
  struct bad {
    std::string text, where, message;
  };
  for (const auto& c : std::vector<bad>{
           {"[report]\nmetrics = []\n", "s.toml:8:11", "report.metrics: expected an array of metric names"},
           {"[report]\nmetrics = [\"orders total\"]\n", "s.toml:8:12", "report.metrics: expected a metric name"},
           {"[report]\nmetrics = [\"a{x\"]\n", "s.toml:8:12", "report.metrics: expected a metric name"},
           {"[report]\nmetrics = [3]\n", "s.toml:8:12", "report.metrics: expected an array of metric names"},
           {"[report]\nmetric = [\"a\"]\n", "s.toml:8:1", "unknown key 'report.metric'"},
       }) {
    auto r = parse(head + c.text);
    ASSERT_FALSE(r.has_value()) << c.text;
    EXPECT_EQ(r.error().where.substr(0, c.where.size()), c.where) << c.text << r.error().to_string();
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << c.text << r.error().to_string();
  }
}

TEST(TargetSampler, PoolWaitersAndTheMeanAcquireWaitOfEachIntervalFromTwoScrapes) {
  detail::target_sampler sampler({});  // no URL: nothing is scraped, record() is fed by hand
  auto scrape = [](int requests, int waiting, int peak, double wait_sum, int wait_count) {
    return fmt::format("perflab_target_requests_total{{endpoint=\"/db/query\"}} {}\n"
                       "# HELP perflab_db_pool_waiting Requests waiting for a connection now.\n"
                       "perflab_db_pool_waiting {}\n"
                       "perflab_db_pool_waiting_peak {}\n"
                       "perflab_db_pool_acquire_wait_seconds_bucket{{le=\"+Inf\"}} {}\n"
                       "perflab_db_pool_acquire_wait_seconds_sum {}\n"
                       "perflab_db_pool_acquire_wait_seconds_count {}\n",
                       requests, waiting, peak, wait_count, wait_sum, wait_count);
  };
  sampler.record("", 0.0, scrape(100, 10, 12, 5.0, 80));
  sampler.record("", 1.0, scrape(150, 20, 21, 17.5, 130));   // 50 served in the second, 12.5 s of waits
  sampler.record("", 2.0, scrape(150, 20, 21, 17.5, 130));   // none served: no mean for that second
  sampler.finish();
  std::map<std::string, std::vector<std::pair<double, double>>> got;
  for (auto& m : sampler.series()) got[m.metric] = m.points;
  EXPECT_EQ(got["pool_waiting"], (std::vector<std::pair<double, double>>{{0, 10}, {1, 20}, {2, 20}}));
  EXPECT_EQ(got["pool_waiting_peak"], (std::vector<std::pair<double, double>>{{0, 12}, {1, 21}, {2, 21}}));
  EXPECT_EQ(got["pool_acquire_wait_ms"], (std::vector<std::pair<double, double>>{{0, 250}}));
  EXPECT_EQ(got["requests_per_s"], (std::vector<std::pair<double, double>>{{0, 50}, {1, 0}}));
  EXPECT_EQ(got.count("breaker_state"), 0u);
}

// The three resilience scenarios, read as `loadgen run` reads them (no run): two variants each,
// differing in the one policy the experiment is about, a dependency with a fault profile the
// [[fault]] replaces for a window inside the measured phase, and the front wired to it.
struct resilience_case {
  const char* file;
  const char* dependency;
  const char* axis;                 // the front's option the variants differ in
  std::vector<std::string> values;  // its value per variant
  std::string front_model;
  std::chrono::nanoseconds fault_at, fault_duration;
  std::size_t hello_probes;         // [[action]] GET /hello
};

TEST(ResilienceScenarios, EachComparesOnePolicyAroundAScheduledFault) {
  const char* src = std::getenv("PERFLAB_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "PERFLAB_SOURCE_DIR is set by ctest";
  const resilience_case cases[] = {
      {"resilience-no-timeout.toml", "dep", "upstream-timeout", {"30s", "200ms"}, "thread-pool", 6s, 10s, 8},
      {"resilience-breaker.toml", "dep", "upstream-breaker",
       {"none", "count:20,min=10,failure=50%,open=2s,half-open=3"}, "reactor", 5s, 6s, 0},
      {"resilience-bulkhead.toml", "slow", "upstream-bulkhead", {"0", "4"}, "thread-pool", 6s, 10s, 8},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    auto sc = load_scenario(fs::path(src) / "scenarios" / c.file);
    ASSERT_TRUE(sc) << sc.error().to_string();
    ASSERT_EQ(sc->variants.size(), c.values.size());
    for (std::size_t i = 0; i < c.values.size(); ++i) {
      const auto& v = sc->variants[i];
      EXPECT_EQ(v.target.model, c.front_model);
      EXPECT_EQ(v.target.params.at(c.axis), c.values[i]);
      EXPECT_EQ(v.target.params.at("upstream"), std::string("{") + c.dependency + "}");
      ASSERT_EQ(v.dependencies.size(), 1u);
      EXPECT_EQ(v.dependencies[0].name, c.dependency);
      EXPECT_TRUE(v.dependencies[0].admin);  // the fault is posted to it
      EXPECT_EQ(v.dependencies[0].params.at("fault-profile"), "latency=fixed:1ms");
      EXPECT_EQ(v.load.kind, "open");
      std::size_t faults = 0, probes = 0;
      for (const auto& e : v.schedule) {
        if (e.what == timed_event_spec::kind::fault) {
          ++faults;
          EXPECT_EQ(e.target, c.dependency);
          EXPECT_EQ(e.at, c.fault_at);
          EXPECT_EQ(e.duration, c.fault_duration);
          EXPECT_LE(e.at + e.duration, v.load.duration);  // the recovery is measured too
        } else {
          probes += e.method == "GET" && e.path == "/hello" ? 1 : 0;
          EXPECT_EQ(e.target, "");
          EXPECT_LT(e.at, v.load.duration);
        }
      }
      EXPECT_EQ(faults, 1u);
      EXPECT_EQ(probes, c.hello_probes);
    }
  }
}

}  // namespace
}  // namespace perflab::loadgen
