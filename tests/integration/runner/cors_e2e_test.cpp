// The loadgen's browser mode ([load] cors) end to end (`loadgen run`, scenarios/cors-preflight.toml's
// physics in about 2 s): PUT /echo with a JSON body and an Authorization header (a non-simple
// request) against lab-target --cors https://app.example --cors-max-age 600. Checked through
// run.json and the target's own counters, read before the load and after its drain (warm-up 0,
// so both sides count every request):
//   same origin (cors = false)  no preflight; the target counts the requests alone
//   cache on                    one preflight per connection the load opened (max-age 600 s)
//   cache off                   one preflight per request: the target answers requests + preflights
//   another origin              every preflight refused (403): no request reaches /echo, each one
//                               counted errors.cors_refused
// Plus usage errors: the curl engine refuses the option (attack and scenario), exit 2.
// Counts, not speed: 4 x 150 requests.
#include <string>

#include <gtest/gtest.h>

#include "perflab/core/result_io.hpp"
#include "runner_fixture.hpp"

namespace {

using perflab::testing::Runner;

using CorsE2E = Runner;

// A labelled series the target exports only once such a request came: absent reads as 0.
double cors_counter(const perflab::result::variant& v, const std::string& metric) {
  return perflab::testing::counter_delta(v, metric, perflab::testing::series::zero_when_absent);
}

TEST_F(CorsE2E, PreflightsAreCountedOnBothSidesAndRefusedRequestsNeverSent) {
  const auto scenario = write("cors.toml", R"(name = "cors"

[target]
model = "reactor"
threads = 1
cors = "https://app.example"
cors-max-age = "600"

[load]
model = "open"
rate = "500/s"
connections = 8
warmup = "0s"
duration = "2s"
max_requests = 150
send_lag_bound = "500ms"   # a busy machine: counts are the point

[[request]]
method = "PUT"
path = "/echo"
headers = { "Content-Type" = "application/json", "Authorization" = "Bearer t" }
body = "{}"

[report]
metrics = ["perflab_cors_preflights_total{result=\"allowed\"}", "perflab_cors_preflights_total{result=\"refused\"}",
           "perflab_target_requests_total{endpoint=\"echo\",status=\"200\"}",
           "perflab_target_requests_total{endpoint=\"options\",status=\"204\"}"]

[matrix]
"load.cors" = [false, { origin = "https://app.example" }, { origin = "https://app.example", preflight_cache = false },
               { origin = "https://evil.example" }]

[[matrix.include]]
"load.cors" = { origin = "https://evil.example" }
"load.max_error_rate" = 1.0
)");
  const auto r = loadgen_run(scenario);
  ASSERT_TRUE(r.code == 0 || r.code == 5) << r.code << r.out << r.err;
  const auto dir = run_dir();
  const auto schema = validate_schema(dir);
  EXPECT_EQ(schema.code, 0) << schema.out << schema.err;
  auto run = perflab::result::read_run_json(dir / "run.json");
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 4u);
  const auto& same = run->variants[0];
  const auto& cached = run->variants[1];
  const auto& uncached = run->variants[2];
  const auto& refused = run->variants[3];
  const std::string allowed = "perflab_cors_preflights_total{result=\"allowed\"}";
  const std::string echo = "perflab_target_requests_total{endpoint=\"echo\",status=\"200\"}";
  const std::string options = "perflab_target_requests_total{endpoint=\"options\",status=\"204\"}";

  for (const auto& v : run->variants) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(v.sent, 150) << "a request is sent (started) when its preflight, or itself, is written";
  }
  for (const auto* v : {&same, &cached, &uncached}) {
    SCOPED_TRACE(v->name);
    EXPECT_EQ(v->succeeded, 150);
    EXPECT_EQ(v->errors.total(), 0);
    EXPECT_EQ(cors_counter(*v, echo), 150) << "every request reached the target once";
    EXPECT_EQ(cors_counter(*v, allowed), static_cast<double>(v->preflights)) << "the target saw each preflight";
    EXPECT_EQ(cors_counter(*v, options), static_cast<double>(v->preflights));
  }
  EXPECT_EQ(same.preflights, 0);
  EXPECT_TRUE(same.load.cors.empty());

  // Cache on: one preflight per connection (a new connection is a new browser), then none.
  EXPECT_GT(cached.preflights, 0);
  EXPECT_EQ(cached.preflights, cached.connections_opened);
  EXPECT_LE(cached.connections_opened, 8);
  EXPECT_EQ(cached.load.cors, "origin https://app.example, preflight cache on");

  // Cache off: a preflight before every request; the target answered both.
  EXPECT_EQ(uncached.preflights, 150);
  EXPECT_EQ(cors_counter(uncached, echo) + cors_counter(uncached, options), 300);

  // Another origin: the browser never sends the request.
  EXPECT_EQ(refused.preflights, 150);
  EXPECT_EQ(refused.errors.cors_refused, 150);
  EXPECT_EQ(refused.completed, 0);
  EXPECT_EQ(refused.error_rate, 1.0);
  EXPECT_EQ(cors_counter(refused, "perflab_cors_preflights_total{result=\"refused\"}"), 150);
  EXPECT_EQ(cors_counter(refused, echo), 0) << "nothing beyond the preflights reached the target";
  EXPECT_EQ(cors_counter(refused, allowed), 0);
}

TEST_F(CorsE2E, TheCurlEngineRefusesTheBrowserMode) {
  auto r = sh(std::string(PERFLAB_LOADGEN_BIN) +
              " attack http://127.0.0.1:9/ --engine curl --cors-origin https://app.example --requests 1");
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--cors-origin"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("asio engine"), std::string::npos) << r.err;

  r = sh(std::string(PERFLAB_LOADGEN_BIN) + " attack http://127.0.0.1:9/ --cors-origin https://app.example/page");
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("a path, query or fragment"), std::string::npos) << r.err;

  const auto scenario = write("curl.toml", R"(name = "cors-curl"

[target]
url = "http://127.0.0.1:9"

[load]
model = "closed"
connections = 1
duration = "1s"
engine = "curl"
cors = { origin = "https://app.example" }
)");
  r = loadgen_run(scenario);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("curl.toml:11"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("load.cors"), std::string::npos) << r.err;
}

}  // namespace
