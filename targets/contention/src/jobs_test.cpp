// The job queue: 202 when queued, the workers are the limit (Little's law), a full queue refuses,
// and finished jobs are forgotten oldest first.
#include "perflab/contention/jobs.hpp"

#include <algorithm>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "perflab/core/clock.hpp"

namespace {

using namespace std::chrono_literals;
using perflab::contention::job_queue;
using perflab::contention::job_state;

void wait_until(const std::function<bool()>& done) {
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (!done() && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
}

TEST(Jobs, TwoWorkersDoTenJobsInNoLessThanFiveRounds) {
  job_queue q({2, 100, 20ms, 1000});
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(*q.submit());
  EXPECT_LE(q.stats().running, 2u);
  wait_until([&] { return q.stats().done == 10; });
  ASSERT_EQ(q.stats().done, 10u);
  std::int64_t first_accept = INT64_MAX, last_finish = 0;
  for (auto id : ids) {
    const auto s = q.status(id);
    EXPECT_EQ(s.state, job_state::done);
    EXPECT_LE(s.accepted_ns, s.started_ns);
    EXPECT_GE(s.finished_ns - s.started_ns, 20'000'000) << "each job is its work long";
    first_accept = std::min(first_accept, s.accepted_ns);
    last_finish = std::max(last_finish, s.finished_ns);
  }
  // Little's law for the workers: 10 jobs x 20 ms over 2 workers cannot take less than 100 ms.
  EXPECT_GE(last_finish - first_accept, 100'000'000);
  // Jobs start in the order they were accepted.
  for (std::size_t i = 1; i < ids.size(); ++i)
    EXPECT_LE(q.status(ids[i - 1]).started_ns, q.status(ids[i]).started_ns);
}

TEST(Jobs, AFullQueueRefuses) {
  {
    job_queue q({1, 2, 300ms, 10});
    const auto first = q.submit();
    ASSERT_TRUE(first);
    wait_until([&] { return q.status(*first).state == job_state::running; });
    EXPECT_TRUE(q.submit());
    EXPECT_TRUE(q.submit());
    EXPECT_FALSE(q.submit()) << "two waiting fill a queue of 2";
    EXPECT_EQ(q.stats().refused, 1u);
    EXPECT_EQ(q.stats().queued, 2u);
  }  // the stop waits for the running job only: the two queued are dropped
}

TEST(Jobs, FinishedJobsAreForgottenOldestFirst) {
  job_queue q({2, 100, 1ms, 3});
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(*q.submit());
  wait_until([&] { return q.stats().done == 6; });
  int known = 0;
  for (auto id : ids) known += q.status(id).state == job_state::done;
  EXPECT_EQ(known, 3);
  EXPECT_EQ(q.status(999).state, job_state::unknown);
}

TEST(Jobs, EveryFinishedJobIsReported) {
  std::atomic<int> reported{0};
  job_queue q({3, 100, 1ms, 100});
  q.on_done([&](std::uint64_t, const perflab::contention::job_status& s) {
    EXPECT_EQ(s.state, job_state::done);
    ++reported;
  });
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(q.submit());
  wait_until([&] { return reported.load() == 20; });
  EXPECT_EQ(reported.load(), 20);
}

}  // namespace
