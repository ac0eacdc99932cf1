// POST /jobs with the queue in Redis (--job-queue-backend redis) and two lab-target processes
// sharing one throwaway redis-server (scripts/services.sh; skipped, with the reason, when it cannot
// be installed here): A (reactor, 202 at once) and B (thread-pool, --job-reply done). Jobs posted
// to A are done by the workers of both; B reports a job posted to A; B's own POST answers when a
// worker (of either) did it; every accepted job is done exactly once (the per-server done counts
// and Redis's own done counter all equal the accepted count, and nothing is left queued); and once
// Redis is stopped, POST and GET answer 503 within the connection's timeout, counted. A job a
// killed server held is claimed and done by the survivor after --job-redis-claim-after; a claim
// time under twice a job's work is a usage error.
#include <gtest/gtest.h>

#include <csignal>
#include <regex>
#include <string>
#include <vector>

#include "target_harness.hpp"

namespace {

using namespace std::chrono_literals;
using namespace perflab::testing;

std::uint64_t job_id(const std::string& body) {
  std::smatch m;
  if (!std::regex_search(body, m, std::regex("\"id\":([0-9]+)"))) return 0;
  return std::stoull(m[1]);
}

TEST(TargetJobsRedis, TwoServersShareTheQueueDoEachJobOnceAndAStoppedRedisIs503) {
  redis_service redis;
  if (auto why = redis.unavailable(); !why.empty()) GTEST_SKIP() << why;
  const std::vector<std::string> shared = {"--job-queue-backend", "redis", "--job-redis", redis.url(),
                                           "--job-workers", "2", "--job-work", "20ms"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), shared.begin(), shared.end());
    return extra;
  };
  target_process a(model_args("reactor", with({})));
  ASSERT_GT(a.port(), 0) << a.first_line();
  target_process b(model_args("thread-pool", with({"--job-reply", "done"})));
  ASSERT_GT(b.port(), 0) << b.first_line();
  client ca(a.port()), cb(b.port());

  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 40; ++i) {
    auto r = ca.request(post("/jobs"));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    ids.push_back(job_id(r->body));
    EXPECT_EQ(field(*r, "Location"), "/jobs/" + std::to_string(ids.back()));
  }
  auto own = cb.request(post("/jobs"));  // --job-reply done: answered once a worker did it
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 200) << own->body;
  EXPECT_NE(own->body.find("\"state\":\"done\""), std::string::npos) << own->body;
  std::string seen;
  ASSERT_TRUE(poll_until([&] {
    auto r = cb.request(get("/jobs/" + std::to_string(ids.back())));
    seen = r ? std::to_string(r->status) + " " + r->body : "no answer";
    return seen.find("\"state\":\"done\"") != std::string::npos;
  }, 10s)) << "B never reported A's last job done: " << seen;
  EXPECT_TRUE(seen.starts_with("200 {\"id\":" + std::to_string(ids.back()) + ",")) << seen;
  auto missing = cb.request(get("/jobs/999999"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  const auto done = [&] {
    return counter(a.port(), "perflab_jobs_total{result=\"done\"}") + counter(b.port(), "perflab_jobs_total{result=\"done\"}");
  };
  ASSERT_TRUE(poll_until([&] { return done() >= 41; }, 10s)) << done();
  EXPECT_EQ(done(), 41) << "every accepted job done exactly once";
  EXPECT_GE(counter(b.port(), "perflab_jobs_total{result=\"done\"}"), 1) << "B's workers took jobs A accepted";
  EXPECT_EQ(metric(a.port(), "perflab_jobs_total{result=\"accepted\"}"), 40);
  EXPECT_EQ(metric(b.port(), "perflab_jobs_total{result=\"accepted\"}"), 1);
  EXPECT_EQ(metric(a.port(), "perflab_jobs_completion_seconds_count") +
                metric(b.port(), "perflab_jobs_completion_seconds_count"),
            41);
  EXPECT_EQ(metric(a.port(), "perflab_jobs_backend_info{backend=\"redis\"}"), 1);
  const auto cli = "redis-cli -p " + std::to_string(redis.port()) + " ";
  EXPECT_EQ(run_command(cli + "GET perflab:jobs:done").out, "41") << "Redis's own count of jobs done";
  EXPECT_EQ(run_command(cli + "GET perflab:jobs:queued").out, "0");
  EXPECT_EQ(run_command(cli + "XLEN perflab:jobs").out, "0") << "every entry acknowledged and deleted";
  EXPECT_EQ(metric(a.port(), "perflab_jobs_redis_errors_total"), 0);
  EXPECT_EQ(metric(a.port(), "perflab_jobs_reclaimed_total") + metric(b.port(), "perflab_jobs_reclaimed_total"), 0)
      << "no live worker's job claimed";

  redis.stop();
  auto refused = ca.request(post("/jobs"));  // the client's 5 s timeout is the hang bound
  ASSERT_TRUE(refused) << "POST /jobs hung with Redis stopped";
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_EQ(field(*refused, "Retry-After"), "1");
  auto lookup = cb.request(get("/jobs/1"));
  ASSERT_TRUE(lookup) << "GET /jobs hung with Redis stopped";
  EXPECT_EQ(lookup->status, 503) << lookup->body;
  auto waited = cb.request(post("/jobs"));
  ASSERT_TRUE(waited) << "POST /jobs (done) hung with Redis stopped";
  EXPECT_EQ(waited->status, 503) << waited->body;
  EXPECT_EQ(metric(a.port(), "perflab_jobs_unavailable_total"), 1);
  EXPECT_GE(metric(a.port(), "perflab_jobs_redis_errors_total"), 1);
  expect_still_serving(a.port());
  expect_still_serving(b.port());
}

TEST(TargetJobsRedis, AnUnreachableRedisAtStartExits2NamingTheOption) {
  launch_options to_stdout;
  to_stdout.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
  target_process t(model_args("reactor", {"--job-queue-backend", "redis", "--job-redis", "redis://127.0.0.1:1"}), to_stdout);
  EXPECT_EQ(t.wait_exit(5s), 2);
  EXPECT_NE(t.first_line().find("--job-redis: redis://127.0.0.1:1: cannot connect"), std::string::npos) << t.first_line();
}

// A server killed (SIGKILL) while its worker does a job: the job stays pending in the group until
// a worker of the surviving server claims it after --job-redis-claim-after and does it; GET on the
// survivor then reports it done.
TEST(TargetJobsRedis, AJobAKilledServerHeldIsDoneByAnotherAfterTheClaimTime) {
  redis_service redis;
  if (auto why = redis.unavailable(); !why.empty()) GTEST_SKIP() << why;
  const std::vector<std::string> shared = {"--job-queue-backend", "redis", "--job-redis", redis.url(), "--job-workers",
                                           "1", "--job-work", "1s", "--job-redis-claim-after", "2s"};
  target_process a(model_args("reactor", shared));
  ASSERT_GT(a.port(), 0) << a.first_line();
  client ca(a.port());
  auto r = ca.request(post("/jobs"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const auto id = job_id(r->body);
  ASSERT_TRUE(poll_until([&] { return metric(a.port(), "perflab_jobs_running") == 1; }, 5s)) << "A's worker took it";
  ::kill(a.pid(), SIGKILL);
  a.wait_exit(5s);
  const auto killed = std::chrono::steady_clock::now();

  target_process b(model_args("coroutine", shared));
  ASSERT_GT(b.port(), 0) << b.first_line();
  client cb(b.port());
  std::string seen;
  ASSERT_TRUE(poll_until([&] {
    auto g = cb.request(get("/jobs/" + std::to_string(id)));
    seen = g ? std::to_string(g->status) + " " + g->body : "no answer";
    return seen.find("\"state\":\"done\"") != std::string::npos;
  }, 10s)) << "the killed server's job was never done: " << seen;
  EXPECT_GE(std::chrono::steady_clock::now() - killed, 2s)
      << "claimed once held 2 s, then 1 s of work (less the moments between the take and the kill)";
  EXPECT_EQ(metric(b.port(), "perflab_jobs_reclaimed_total"), 1);
  // The worker counts the job after its last script returns, which is when GET can first see it done.
  EXPECT_TRUE(poll_until([&] { return metric(b.port(), "perflab_jobs_total{result=\"done\"}") == 1; }, 5s));
  const auto cli = "redis-cli -p " + std::to_string(redis.port()) + " ";
  EXPECT_EQ(run_command(cli + "GET perflab:jobs:queued").out, "0") << "marked running by A: not taken off twice";
  EXPECT_EQ(run_command(cli + "HGET perflab:jobs:job:" + std::to_string(id) + " claims").out, "1");
  EXPECT_EQ(run_command(cli + "XLEN perflab:jobs").out, "0") << "acknowledged and deleted by the survivor";
}

TEST(TargetJobsRedis, AClaimTimeUnderTwiceAJobsWorkExits2) {
  launch_options to_stdout;
  to_stdout.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
  target_process t(model_args("reactor", {"--job-queue-backend", "redis", "--job-redis", "redis://127.0.0.1:1",
                                          "--job-work", "200ms", "--job-redis-claim-after", "399ms"}),
                   to_stdout);
  EXPECT_EQ(t.wait_exit(5s), 2);
  EXPECT_NE(t.first_line().find("--job-redis-claim-after: 399ms is less than twice --job-work 200ms"), std::string::npos)
      << t.first_line();
}

}  // namespace
