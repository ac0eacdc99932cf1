// The job queue in Redis against a real redis-server (scripts/services.sh, one per test, stopped
// at the end; skipped, with the reason, when it cannot be installed here): two queues sharing one
// Redis do the jobs either accepts, each exactly once, and either reports any job's state; the
// bound refuses once capacity jobs wait (and a reset queue starts empty); a done waiter hears when the job is done; jobs a
// dead worker held are done by another after the claim time, once; and a stopped
// Redis is an error answered within the connection's timeout, never a hang.
#include "perflab/contention/jobs_redis.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "test_services.hpp"

namespace {

using namespace std::chrono_literals;
using perflab::contention::job_answer;
using perflab::contention::job_state;
using perflab::contention::make_redis_job_queue;
using perflab::contention::parse_stock_redis_url;
using perflab::contention::redis_job_queue;
using perflab::contention::redis_jobs_config;
using result = job_answer::result;

job_answer submit(redis_job_queue& q, bool wait_done = false) {
  std::promise<job_answer> p;
  auto f = p.get_future();
  q.submit_async(wait_done, [&p](const job_answer& a) { p.set_value(a); });
  if (f.wait_for(10s) != std::future_status::ready) return {result::error, ~0ull, {}};  // a hang, reported as such
  return f.get();
}

job_answer lookup(redis_job_queue& q, std::uint64_t id) {
  std::promise<job_answer> p;
  auto f = p.get_future();
  q.status_async(id, [&p](const job_answer& a) { p.set_value(a); });
  if (f.wait_for(10s) != std::future_status::ready) return {result::error, ~0ull, {}};
  return f.get();
}

redis_jobs_config config_for(const std::string& url, unsigned workers, std::chrono::milliseconds work,
                             std::size_t capacity = 1000) {
  redis_jobs_config c;
  c.where = *parse_stock_redis_url(url);
  c.queue.workers = workers;
  c.queue.work = work;
  c.queue.capacity = capacity;
  return c;
}

bool wait_until(const std::function<bool()>& f, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!f()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

#define PERFLAB_START_REDIS(server)                                                                            \
  perflab::contention::testing::service_instance server("redis");                                              \
  if (server.code() == 3) GTEST_SKIP() << "redis cannot be installed on this machine (scripts/services.sh exit 3)"; \
  ASSERT_EQ(server.code(), 0) << "scripts/services.sh start redis failed"

TEST(RedisJobQueue, TwoServersShareTheQueueEachJobIsDoneOnceAndEitherReportsIt) {
  PERFLAB_START_REDIS(server);
  std::atomic<int> done_a{0}, done_b{0};
  auto ca = config_for(server.url(), 2, 20ms), cb = ca;
  ca.on_done = [&](std::uint64_t, const perflab::contention::job_status&) { ++done_a; };
  cb.on_done = [&](std::uint64_t, const perflab::contention::job_status&) { ++done_b; };
  auto a = make_redis_job_queue(ca);
  ASSERT_TRUE(a) << a.error();
  auto b = make_redis_job_queue(cb);
  ASSERT_TRUE(b) << b.error();
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 40; ++i) {
    const auto r = submit(**a);
    ASSERT_EQ(r.r, result::accepted);
    ids.push_back(r.id);
  }
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], i + 1) << "ids count from 1, as the local queue's";
  ASSERT_TRUE(wait_until([&] { return done_a + done_b >= 40; }, 20s)) << done_a << " + " << done_b;
  std::this_thread::sleep_for(100ms);  // a job done twice would show up by now
  EXPECT_EQ(done_a + done_b, 40) << "each accepted job done exactly once";
  EXPECT_GE(done_b, 1) << "B's workers took jobs A accepted";
  EXPECT_EQ((*a)->stats().accepted, 40u);
  EXPECT_EQ((*a)->stats().done + (*b)->stats().done, 40u);
  EXPECT_EQ((*b)->stats().errors, 0u);
  const auto seen = lookup(**b, ids.back());
  ASSERT_EQ(seen.r, result::accepted);
  EXPECT_EQ(seen.status.state, job_state::done);
  EXPECT_GT(seen.status.started_ns, seen.status.accepted_ns);
  EXPECT_GE(seen.status.finished_ns - seen.status.started_ns, std::chrono::nanoseconds(20ms).count());
  EXPECT_EQ(lookup(**b, 4242).status.state, job_state::unknown) << "never accepted";
}

TEST(RedisJobQueue, AFullQueueRefusesAndTakesJobsAgainOnceWorkersDrainIt) {
  PERFLAB_START_REDIS(server);
  auto idle = make_redis_job_queue(config_for(server.url(), 0, 0ms, 3));  // no workers: nothing leaves
  ASSERT_TRUE(idle) << idle.error();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(submit(**idle).r, result::accepted) << i;
  EXPECT_EQ(submit(**idle).r, result::full);
  EXPECT_EQ(submit(**idle).r, result::full);
  EXPECT_EQ((*idle)->stats().refused, 2u);
  EXPECT_EQ((*idle)->stats().queued, 3u);
  EXPECT_EQ(lookup(**idle, 3).status.state, job_state::queued);
  std::atomic<int> done{0};
  auto cw = config_for(server.url(), 1, 0ms, 3);
  cw.on_done = [&](std::uint64_t, const perflab::contention::job_status&) { ++done; };
  auto workers = make_redis_job_queue(cw);
  ASSERT_TRUE(workers) << workers.error();
  ASSERT_TRUE(wait_until([&] { return done == 3; }, 10s)) << done;
  EXPECT_EQ(submit(**idle).r, result::accepted) << "room again";

  auto cr = config_for(server.url(), 0, 0ms, 3);  // --job-redis-reset: a new queue, ids from 1
  cr.reset = true;
  workers->reset();  // nobody takes jobs meanwhile
  EXPECT_EQ(submit(**idle).r, result::accepted);
  auto fresh = make_redis_job_queue(cr);
  ASSERT_TRUE(fresh) << fresh.error();
  for (std::uint64_t i = 1; i <= 3; ++i) EXPECT_EQ(submit(**fresh).id, i) << "the old jobs are gone";
  EXPECT_EQ(submit(**fresh).r, result::full);
}

TEST(RedisJobQueue, ADoneWaiterHearsWhenAnotherServerDidTheJob) {
  PERFLAB_START_REDIS(server);
  auto cw = config_for(server.url(), 0, 0ms);
  cw.reply_done = true;
  auto waiter = make_redis_job_queue(cw);  // no workers of its own
  ASSERT_TRUE(waiter) << waiter.error();
  auto doer = make_redis_job_queue(config_for(server.url(), 1, 30ms));
  ASSERT_TRUE(doer) << doer.error();
  const auto r = submit(**waiter, true);
  ASSERT_EQ(r.r, result::done);
  EXPECT_EQ(r.id, 1u);
  EXPECT_GE(r.status.finished_ns - r.status.started_ns, std::chrono::nanoseconds(30ms).count());
  EXPECT_EQ((*doer)->stats().done, 1u);
}

// Workers that took a job and died before finishing it: the entry stays pending until another
// worker claims it. With claiming off it stays; with it on, each is done once more, not before the
// claim time, counted reclaimed; a job the dead worker never marked running leaves the queued
// count when claimed, one it marked running (and took off the count) is not taken off twice; and
// a claiming worker that finds the group gone makes it again.
TEST(RedisJobQueue, JobsADeadWorkerHeldAreDoneByAnotherAfterTheClaimTime) {
  PERFLAB_START_REDIS(server);
  const auto where = *parse_stock_redis_url(server.url());
  // One command on a connection of the test's own: its integer answer (or a string's number), -1000
  // when it failed.
  auto redis_int = [&](const char* command) -> long long {
    redisContext* rc = redisConnect(where.host.c_str(), where.port);
    if (!rc || rc->err) return -1000;
    auto* r = static_cast<redisReply*>(redisCommand(rc, command));
    const long long v = !r                                ? -1000
                        : r->type == REDIS_REPLY_INTEGER ? r->integer
                        : r->type == REDIS_REPLY_STRING  ? std::stoll(std::string(r->str, r->len))
                        : r->type == REDIS_REPLY_ARRAY   ? 0
                                                         : -1000;
    if (r) freeReplyObject(r);
    redisFree(rc);
    return v;
  };
  // A consumer that takes the next job from the group and is never heard of again; `started`:
  // after marking it running as a worker does (the hash, and the job off the queued count).
  auto die_holding_one = [&](std::uint64_t job, bool started) {
    if (redis_int("XREADGROUP GROUP perflab:jobs:workers dead COUNT 1 STREAMS perflab:jobs >") != 0) return false;
    if (!started) return true;
    const auto hset = "HSET perflab:jobs:job:" + std::to_string(job) + " state running";
    return redis_int(hset.c_str()) >= 0 && redis_int("DECR perflab:jobs:queued") >= 0;
  };
  auto idle = make_redis_job_queue(config_for(server.url(), 0, 0ms));  // accepts, does nothing
  ASSERT_TRUE(idle) << idle.error();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(submit(**idle).r, result::accepted) << i;
  ASSERT_TRUE(die_holding_one(1, false));  // dies before marking it running

  std::mutex m;
  std::map<std::uint64_t, std::chrono::steady_clock::time_point> done_at;
  auto record = [&](std::uint64_t id, const perflab::contention::job_status&) {
    std::lock_guard lock(m);
    done_at[id] = std::chrono::steady_clock::now();
  };
  auto count = [&] {
    std::lock_guard lock(m);
    return done_at.size();
  };
  auto never = config_for(server.url(), 1, 0ms);
  never.claim_after = 0ms;
  never.on_done = record;
  auto off = make_redis_job_queue(never);
  ASSERT_TRUE(off) << off.error();
  ASSERT_TRUE(wait_until([&] { return count() == 2; }, 10s)) << count();
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(count(), 2u) << "claiming off: the dead worker's job stays pending";
  EXPECT_EQ(lookup(**off, 1).status.state, job_state::queued);
  off->reset();

  ASSERT_EQ(submit(**idle).r, result::accepted);  // job 4, taken by another dying worker
  const auto took = std::chrono::steady_clock::now();
  ASSERT_TRUE(die_holding_one(4, true));  // dies mid-job
  EXPECT_EQ(redis_int("GET perflab:jobs:queued"), 1) << "job 1 (never marked running) still counts as waiting";
  auto claiming = config_for(server.url(), 1, 0ms);
  claiming.claim_after = 300ms;
  claiming.on_done = record;
  auto on = make_redis_job_queue(claiming);
  ASSERT_TRUE(on) << on.error();
  ASSERT_TRUE(wait_until([&] { return count() == 4; }, 10s)) << count();
  {
    std::lock_guard lock(m);
    // Redis counts idle time in whole milliseconds.
    EXPECT_GE(done_at[4] - took, 298ms) << "not claimed before it was held for the claim time";
  }
  EXPECT_EQ((*on)->stats().reclaimed, 2u);
  EXPECT_EQ((*on)->stats().done, 2u);
  EXPECT_EQ(redis_int("GET perflab:jobs:queued"), 0)
      << "job 1 (never marked running) left the queued count when claimed, job 4 (running) not twice";
  for (std::uint64_t id = 1; id <= 4; ++id) EXPECT_EQ(lookup(**on, id).status.state, job_state::done) << id;
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(count(), 4u) << "each claimed once: acknowledged when done";
  EXPECT_EQ((*on)->stats().reclaimed, 2u);
  EXPECT_EQ((*on)->stats().errors, 0u);

  // The stream and its group gone (as after Redis restarted empty): the claiming worker makes the
  // group again and goes on taking jobs.
  EXPECT_EQ(redis_int("DEL perflab:jobs"), 1);
  ASSERT_EQ(submit(**idle).r, result::accepted);
  EXPECT_TRUE(wait_until([&] { return count() == 5; }, 10s)) << "no worker took a job after the group was lost";
  EXPECT_GE((*on)->stats().errors, 1u) << "NOGROUP counted";
}

TEST(RedisJobQueue, AStoppedRedisIsAnErrorNotAHang) {
  PERFLAB_START_REDIS(server);
  auto cw = config_for(server.url(), 1, 0ms);
  cw.reply_done = true;
  auto q = make_redis_job_queue(cw);
  ASSERT_TRUE(q) << q.error();
  ASSERT_EQ(submit(**q).r, result::accepted);
  server.stop();
  const auto r = submit(**q);  // answered within the 1 s timeouts (submit() reports a hang after 10 s)
  EXPECT_EQ(r.r, result::error);
  EXPECT_NE(r.id, ~0ull) << "no answer within 10 s";
  EXPECT_EQ(lookup(**q, 1).r, result::error);
  EXPECT_EQ(submit(**q, true).r, result::error) << "a done waiter is refused once the done channel is lost";
  EXPECT_GE((*q)->stats().submit_errors, 2u);
  EXPECT_GE((*q)->stats().errors, 3u);

  auto none = make_redis_job_queue(config_for("redis://127.0.0.1:1", 1, 0ms));
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("redis://127.0.0.1:1: cannot connect"), std::string::npos) << none.error();
}

}  // namespace
