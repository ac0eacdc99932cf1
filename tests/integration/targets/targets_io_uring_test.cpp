// What only the io-uring model has: its own completion loop, which must contain what the Asio
// models' loops contain (an allocation failure, a submission queue that takes nothing more). The
// failures are simulated through test hooks read from the environment, one ring (--threads 1) so
// that the connection hit and its neighbour share it.
#include <csignal>
#include <string>

#include <gtest/gtest.h>

#include "target_harness.hpp"

namespace perflab::testing {
namespace {

class TargetIoUring : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = model_unavailable("io-uring")) GTEST_SKIP() << *why;
  }
  static launch_options with_env(const std::string& assignment) {
    launch_options o;
    o.prefix = {"/usr/bin/env", assignment};  // env execs lab-target: the pid stays
    return o;
  }
};

// A std::bad_alloc in a connection's completion (PERFLAB_TEST_IO_URING_BAD_ALLOC: a receive that
// starts "GET /test/bad-alloc ") is counted and ends that connection only, like the other models;
// before, it left the ring's thread and ended the process.
TEST_F(TargetIoUring, AllocationFailureEndsOnlyThatConnection) {
  target_process t({"--model", "io-uring", "--threads", "1", "--listen", "127.0.0.1:0"},
                   with_env("PERFLAB_TEST_IO_URING_BAD_ALLOC=1"));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client neighbour(t.port());
  ASSERT_TRUE(neighbour.request(get_hello));
  client hit(t.port());
  ASSERT_TRUE(hit.send(get("/test/bad-alloc")));
  EXPECT_FALSE(hit.read()) << "answered although its completion failed";
  EXPECT_TRUE(hit.closed_by_peer());
  ASSERT_FALSE(t.exited()) << "lab-target died (signal " << t.term_signal() << ")";
  auto again = neighbour.request(get_hello);
  ASSERT_TRUE(again) << "the neighbour on the same ring lost its connection";
  EXPECT_EQ(again->status, 200);
  // One ring: the close (and its count) happened on the thread that then serves the scrape.
  EXPECT_EQ(counter(t.port(), "perflab_target_allocation_failures_total"), 1);
  EXPECT_EQ(metric(t.port(), "perflab_target_open_connections"), 2);  // the neighbour and the scrape
  expect_still_serving(t.port());
}

// When a submit leaves no free submission entry (PERFLAB_TEST_IO_URING_SQE_FAIL=N: every Nth
// request for one finds none), the connection that needed it closes; the ring keeps accepting
// and serving, and a stop still ends the process (its own cancels and the wake-up read are
// retried on the loop's next pass). Before, the null entry was written through.
TEST_F(TargetIoUring, FullSubmissionQueueClosesAConnectionNotTheServer) {
  target_process t({"--model", "io-uring", "--threads", "1", "--listen", "127.0.0.1:0"},
                   with_env("PERFLAB_TEST_IO_URING_SQE_FAIL=5"));
  ASSERT_GT(t.port(), 0) << t.first_line();
  constexpr int tries = 30;
  int served = 0, closed = 0;
  for (int i = 0; i < tries; ++i) {
    client c(t.port(), 3s);
    auto r = c.request(get_hello);
    if (r && r->status == 200) ++served;
    else if (!r && c.closed_by_peer()) ++closed;
  }
  EXPECT_EQ(served + closed, tries) << "a request got neither an answer nor a close";
  EXPECT_GT(served, 0);
  EXPECT_GT(closed, 0);
  ASSERT_FALSE(t.exited()) << "lab-target died (signal " << t.term_signal() << ")";
  ::kill(t.pid(), SIGTERM);
  EXPECT_EQ(t.wait_exit(10s), 0);
}

}  // namespace
}  // namespace perflab::testing
