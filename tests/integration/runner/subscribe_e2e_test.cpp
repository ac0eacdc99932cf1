// `loadgen run` of a push scenario ([load] model = "subscribe"): the runner spawns the target,
// runs the subscribers and the built-in publisher per variant, and writes the same run.json,
// interval log, CSV and report as a request/response run. Counts, not speed: 12 subscribers on 3
// topics, 40 messages/s per topic for 500 ms, so every subscriber expects its topic's 20
// messages, and every one arrives exactly once in order.
#include <gtest/gtest.h>

#include "perflab/core/result_io.hpp"
#include "runner_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using perflab::testing::Runner;
using perflab::testing::slurp;

const char* k_push = R"(name = "push-e2e"
[target]
model = "reactor"
[load]
model = "subscribe"
subscribers = 12
topics = 3
publish_rate = "40/s"
poll_interval = "50ms"
duration = "500ms"
[matrix]
"load.style" = ["sse", "long-poll", "short-poll", "ws"]
)";

TEST_F(Runner, APushScenarioDeliversEveryMessageOnceInEachStyleAndReportsDelivery) {
  auto r = loadgen_run(write("push.toml", k_push));
  ASSERT_EQ(r.code == 0 || r.code == 5, true) << r.out << r.err;  // 5: the publisher fell behind on a busy machine
  const fs::path run = run_dir();
  EXPECT_EQ(validate_schema(run).code, 0);
  auto result = perflab::result::read_run_json(run / "run.json");
  ASSERT_TRUE(result) << result.error();
  ASSERT_EQ(result->variants.size(), 4u);
  for (const auto& v : result->variants) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(v.load.kind, "subscribe");
    EXPECT_EQ(v.load.subscribers, 12);
    EXPECT_GT(v.published, 0);
    EXPECT_EQ(v.expected, v.published * 4) << "each topic's messages reach its 4 subscribers";
    EXPECT_EQ(v.received, v.expected);
    EXPECT_EQ(v.lost, 0);
    EXPECT_EQ(v.duplicated, 0);
    EXPECT_EQ(v.out_of_order, 0);
    EXPECT_EQ(v.delivery.count, v.received);
    EXPECT_TRUE(v.target.spawned);
    EXPECT_GT(v.target.cpu_user_s + v.target.cpu_system_s, 0) << "the target's CPU over the publishing phase";
    EXPECT_TRUE(fs::exists(run / v.interval_log)) << v.interval_log;
  }
  const std::string md = slurp(run / "report.md");
  EXPECT_NE(md.find("## Delivery"), std::string::npos);
  EXPECT_EQ(md.find("## Throughput and errors"), std::string::npos);
  EXPECT_NE(r.out.find("delivered/s"), std::string::npos) << r.out;
}

}  // namespace
