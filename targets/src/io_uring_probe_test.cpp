#include "models.hpp"

#include <cerrno>
#include <cstdlib>

#include <gtest/gtest.h>

#include <perflab/targets/server.hpp>

namespace perflab::targets::detail {
namespace {

// The message names the cause a user can act on, for each way io_uring_setup is refused.
TEST(IoUringUnavailable, NamesTheCauseOfEachRefusal) {
  struct row {
    int err;
    const char* sysctl;
    const char* expected;
  };
  const row rows[] = {
      {EPERM, "2", "kernel.io_uring_disabled sysctl is 2"},
      {EPERM, "1", "kernel.io_uring_disabled sysctl is 1"},
      {EPERM, "0", "seccomp"},
      {EPERM, "", "seccomp"},
      {ENOSYS, "", "kernel has no io_uring"},
      {ENOMEM, "", "locked-memory limit"},
  };
  for (const auto& r : rows) {
    const std::string why = describe_io_uring_failure(r.err, r.sysctl);
    SCOPED_TRACE(why);
    EXPECT_EQ(why.rfind("--model io-uring: io_uring is unavailable: io_uring_setup failed with ", 0), 0u);
    EXPECT_NE(why.find(r.expected), std::string::npos);
    EXPECT_NE(why.find("use another --model"), std::string::npos);
  }
}

// PERFLAB_TEST_IO_URING_ERRNO takes the failure path without touching the machine's sysctl.
TEST(IoUringUnavailable, ForcedFailureIsReportedAndOtherModelsAreUnaffected) {
  ::setenv("PERFLAB_TEST_IO_URING_ERRNO", "ENOSYS", 1);
  const auto why = model_unavailable_reason(model::io_uring);
  const auto reactor = model_unavailable_reason(model::reactor);
  ::unsetenv("PERFLAB_TEST_IO_URING_ERRNO");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("ENOSYS"), std::string::npos) << *why;
  EXPECT_FALSE(reactor);
}

}  // namespace
}  // namespace perflab::targets::detail
