// [load] follow end to end (issue 18): `loadgen run` POSTs /jobs to lab-target, whose workers do
// each job in 20 ms after answering 202 + Location; the loadgen polls the Location until the job
// says "done". Physics, not speed: every request's work is found done exactly once (the target's
// done counter moves by the requests sent), no completion is shorter than the 20 ms of work, the
// 202 comes before the completion, each request polls at least once and at most once per `every`
// of its completion; a job slower than the follow timeout is given up and counted, its latency a
// lower bound at least the timeout; one still followed at the drain deadline is abandoned with the
// 202's first byte as its TTFB. Both engines, the same numbers.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "perflab/core/result_io.hpp"
#include "runner_fixture.hpp"

namespace {

using perflab::testing::Runner;

using FollowE2E = Runner;

TEST_F(FollowE2E, EveryAcceptedJobIsFollowedToItsEndOnceAndASlowOneIsGivenUpAtTheTimeout) {
  const auto scenario = write("follow.toml", R"(name = "follow"

[target]
model = "reactor"
threads = 1
job-workers = 2
job-work = "20ms"

[load]
model = "open"
rate = "50/s"
warmup = "0s"
duration = "3s"
max_requests = 60
send_lag_bound = "500ms"   # a busy machine: counts are the point
follow = { every = "5ms", until = '"state":"done"', timeout = "2s" }

[[request]]
method = "POST"
path = "/jobs"

[report]
metrics = ["perflab_jobs_total{result=\"done\"}", "perflab_jobs_total{result=\"accepted\"}"]

[matrix]
"load.engine" = ["asio", "curl"]
"target.job-work" = ["20ms", "400ms", "1s"]
[[matrix.include]]
"target.job-work" = "400ms"
"load.follow" = { every = "10ms", until = '"state":"done"', timeout = "150ms" }
"load.max_requests" = 10
[[matrix.include]]
"target.job-work" = "1s"
"load.follow" = { every = "40ms", until = '"state":"done"', timeout = "10s" }
"load.max_requests" = 5
"load.drain_timeout" = "150ms"
)");
  const auto r = loadgen_run(scenario);
  ASSERT_TRUE(r.code == 0 || r.code == 5 || r.code == 7) << r.code << r.out << r.err;
  const auto dir = run_dir();
  const auto schema = validate_schema(dir);
  EXPECT_EQ(schema.code, 0) << schema.out << schema.err;
  auto run = perflab::result::read_run_json(dir / "run.json");
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 6u);
  auto variant = [&](const std::string& engine, const std::string& work) -> const perflab::result::variant* {
    for (const auto& v : run->variants)
      if (v.name.find("engine=" + engine) != std::string::npos && v.name.find("job-work=" + work) != std::string::npos)
        return &v;
    ADD_FAILURE() << "no variant " << engine << " " << work;
    return nullptr;
  };

  // The same rules on both engines: the asio worker's and the curl worker's follow_next.
  for (const std::string engine : {"asio", "curl"}) {
    SCOPED_TRACE("engine " + engine);
    const auto* vp = variant(engine, "20ms");
    ASSERT_NE(vp, nullptr);
    const auto& v = *vp;
    EXPECT_EQ(v.load.follow, "every 5ms until '\"state\":\"done\"', timeout 2s");
    EXPECT_EQ(v.sent, 60);
    EXPECT_EQ(v.succeeded, 60);
    EXPECT_EQ(v.followed, 60) << "every job was found done";
    EXPECT_EQ(v.errors.total(), 0);
    EXPECT_EQ(v.statuses.at("200"), 60) << "a request's final answer is the poll that found its job done";
    EXPECT_EQ(v.accepted.count, 60);
    EXPECT_EQ(v.ttlb.count, 60);
    EXPECT_EQ(v.send_lag.count, 60) << "one send per request: a poll has no schedule";
    EXPECT_EQ(perflab::testing::counter_delta(v, "perflab_jobs_total{result=\"accepted\"}"), 60) << "polls start no job";
    EXPECT_EQ(perflab::testing::counter_delta(v, "perflab_jobs_total{result=\"done\"}"), 60);
    EXPECT_GE(v.ttlb.min_us, 19'980) << "no job is done before its 20 ms of work (less the histogram's 0.1 %)";
    EXPECT_LT(v.accepted.p50_us, v.ttlb.p50_us) << "the 202 comes before the work is done";
    EXPECT_GE(v.follow_polls, v.followed) << "at least one poll per request";
    EXPECT_LE(static_cast<double>(v.follow_polls), static_cast<double>(v.followed) * (v.ttlb.max_us / 5'000 + 1))
        << "at most one poll per 5 ms of a request's completion";

    const auto* slowp = variant(engine, "400ms");
    ASSERT_NE(slowp, nullptr);
    const auto& slow = *slowp;
    EXPECT_EQ(slow.sent, 10);
    EXPECT_EQ(slow.errors.follow_timeout, 10) << "400 ms of work against a 150 ms follow timeout";
    EXPECT_EQ(slow.followed, 0);
    EXPECT_EQ(slow.completed, 0);
    EXPECT_EQ(slow.accepted.count, 10);
    EXPECT_EQ(slow.ttlb.count, 10) << "given up, recorded as lower bounds";
    EXPECT_GE(slow.ttlb.min_us, 149'800) << "at least the timeout (less the histogram's 0.1 % resolution)";
    EXPECT_DOUBLE_EQ(slow.error_rate, 1.0);
    EXPECT_LE(slow.ttfb.max_us, slow.accepted.max_us) << "a given-up request's first byte is its 202's";

    // Jobs still being followed at the drain deadline (most of the time between polls) are
    // abandoned: lower bounds, their first byte still the 202's, not the abandon time.
    const auto* cutp = variant(engine, "1s");
    ASSERT_NE(cutp, nullptr);
    const auto& cut = *cutp;
    EXPECT_EQ(cut.sent, 5);
    EXPECT_EQ(cut.abandoned, 5) << "1 s of work, a 150 ms drain";
    EXPECT_EQ(cut.completed, 0);
    EXPECT_EQ(cut.accepted.count, 5);
    EXPECT_EQ(cut.ttlb.count, 5);
    EXPECT_EQ(cut.ttfb.count, 5);
    EXPECT_LE(cut.ttfb.max_us, cut.accepted.max_us) << "TTFB is the 202's first byte";
    EXPECT_GE(cut.ttlb.min_us, 100'000) << "abandoned at the drain deadline";
  }
}

TEST_F(FollowE2E, TheCurlEngineFollowsFromTheCommandLineToo) {
  // `attack --engine curl --follow-*` against a spawned-by-hand target is the scenario's path
  // above; here only that the options reach the curl engine (a target that is not there: every
  // request a connect error, none followed, exit 0 with errors counted).
  const auto r = sh(std::string(PERFLAB_LOADGEN_BIN) +
                    " attack --engine curl --follow-every 10ms --follow-until done --rate 10/s -d 300ms http://127.0.0.1:9/jobs");
  EXPECT_NE(r.code, 2) << "not a usage error any more: " << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("engine: curl"), std::string::npos) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("followed (every 10ms until 'done', timeout 30s)"), std::string::npos) << r.out << r.err;
}

}  // namespace
