// Push delivery end to end: the real `loadgen subscribe` against a lab-target's topic hub, each
// style (SSE, long polling, short polling) on an event loop and on thread-per-request. Every
// message published during the run reaches every subscriber of its topic exactly once and in
// order (sequence numbers, counted by the loadgen into run.json), and the delivery latencies are
// those of the published messages. Short: half a second of publishing per style.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <perflab/core/result_io.hpp>

#include "target_harness.hpp"

#ifdef PERFLAB_LOADGEN_BIN
namespace {

using namespace perflab::testing;

class TargetPush : public model_test {};

TEST_P(TargetPush, EveryStyleDeliversEveryMessageOnceInOrder) {
  // A short heartbeat, so an SSE stream whose client left is noticed within the test.
  target_process t(model_args(GetParam(), {"--push", "heartbeat=200ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const std::string url = "http://127.0.0.1:" + std::to_string(t.port());
  const auto dir = std::filesystem::temp_directory_path() / ("perflab-push-" + std::to_string(::getpid()));
  for (const std::string style : {"sse", "long-poll", "short-poll"}) {
    SCOPED_TRACE(style);
    std::filesystem::remove_all(dir);
    // 12 subscribers on 3 topics (4 each), 40 messages/s per topic for 0.5 s: 20 per topic, so 240
    // expected in all. The topics are the same for every style: each run starts after what the
    // previous one published (the loadgen reads the topics' last numbers first).
    const std::string cmd = std::string(PERFLAB_LOADGEN_BIN) + " subscribe " + url + " --style " + style +
                            " --subscribers 12 --topics 3 --publish-rate 40/s --duration 500ms"
                            " --poll-interval 50ms --poll-timeout 2s --drain 5s -o " + dir.string() +
                            " >/dev/null 2>&1";
    // 0, or 5 when this (possibly loaded) machine let the publisher fall behind its schedule: the
    // delivery guarantees below hold either way; 7 would mean a message lost, repeated or reordered.
    const int rc = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(rc)) << cmd;
    ASSERT_TRUE(WEXITSTATUS(rc) == 0 || WEXITSTATUS(rc) == 5) << cmd << " exited " << WEXITSTATUS(rc);
    auto r = perflab::result::read_run_json(dir / "run.json");
    ASSERT_TRUE(r) << r.error();
    ASSERT_EQ(r->variants.size(), 1u);
    const auto& v = r->variants[0];
    EXPECT_EQ(v.load.kind, "subscribe");
    EXPECT_EQ(v.load.style, style);
    // The publisher's schedule gives 20 per topic; a loaded machine may let it fall a message or
    // two behind, so the count is checked against what it had accepted, which must be most of it.
    EXPECT_GE(v.published, 54);
    EXPECT_LE(v.published, 60);
    EXPECT_EQ(v.expected, 4 * v.published);
    EXPECT_EQ(v.received, v.expected);
    EXPECT_EQ(v.lost, 0);
    EXPECT_EQ(v.duplicated, 0);
    EXPECT_EQ(v.out_of_order, 0);
    EXPECT_EQ(v.delivery.count, v.received);
    EXPECT_GT(v.delivery.max_us, 0);
    EXPECT_EQ(v.errors.total(), 0);
    if (style == "sse") {
      EXPECT_EQ(v.sent, 12);  // one request per stream, no reconnect
    } else {
      EXPECT_GT(v.requests_per_delivered, 0);
    }
    EXPECT_TRUE(std::filesystem::exists(dir / "subscribe.hlog"));
    EXPECT_TRUE(std::filesystem::exists(dir / "subscribe.csv"));
  }
  std::filesystem::remove_all(dir);
  // Every subscription left the hub: a held poll whose client left ends at its timeout (2 s), a
  // stream at its next heartbeat (200 ms), when the write fails.
  EXPECT_TRUE(wait_for_metric(t.port(), "perflab_push_subscribers 0\n", 8s));
  expect_still_serving(t.port());
}

INSTANTIATE_TEST_SUITE_P(EventLoopAndThreads, TargetPush, ::testing::Values("reactor", "thread-per-request"),
                         [](const auto& p) { return model_test_name(p.param); });

}  // namespace
#endif
