// What only the fiber model has: a fixed-size stack per connection with a guard page below it.
// The other behaviour (handlers, limits, metrics) is checked on every model by the shared tests.
#include <csignal>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include <unistd.h>

#include "target_harness.hpp"

namespace perflab::testing {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// GET /test/overflow (hidden --test-fiber-overflow) recurses through twice its stack. The guard
// page must stop it at the first frame past the end: the process dies of SIGSEGV at that page
// (its handler names the overflow only for a fault inside the running fiber's guard page),
// instead of writing on into the memory below, where other connections' stacks lie. Under ASan
// the handler hands the fault on to ASan's, whose stack-overflow report ends the process; under
// TSan likewise to TSan's (its report, then exit code 66).
TEST(TargetFiber, StackOverflowDiesOnTheGuardPage) {
  const std::string err = ::testing::TempDir() + "fiber-overflow-" + std::to_string(::getpid()) + ".txt";
  launch_options o;
  // stderr to a file, no core file; exec keeps the pid, so the test sees lab-target's own end.
  o.prefix = {"/bin/sh", "-c", "ulimit -c 0; exec \"$0\" \"$@\" 2>" + err};
  target_process t({"--model", "fiber", "--threads", "1", "--fiber-stack", "64KiB", "--test-fiber-overflow",
                    "--listen", "127.0.0.1:0"},
                   o);
  ASSERT_GT(t.port(), 0) << t.first_line();
  client neighbour(t.port());
  ASSERT_TRUE(neighbour.request(get_hello));  // a second fiber, parked in its read on the same carrier
  auto ok = neighbour.request("GET /test/overflow-not HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 404);  // the probe answers one exact path only
  client c(t.port());
  ASSERT_TRUE(c.send("GET /test/overflow HTTP/1.1\r\nHost: t\r\n\r\n"));
  const int code = t.wait_exit(10s);
  const std::string text = read_text(err);
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_GT(code, 0);
  EXPECT_NE(text.find("AddressSanitizer: stack-overflow"), std::string::npos) << text;
#elif defined(__SANITIZE_THREAD__)
  EXPECT_GT(code, 0);
  EXPECT_NE(text.find("ThreadSanitizer: stack-overflow"), std::string::npos) << text;
#else
  EXPECT_EQ(code, -1);
  EXPECT_EQ(t.term_signal(), SIGSEGV);
#endif
  EXPECT_NE(text.find("lab-target: fiber stack overflow"), std::string::npos) << text;
  ::unlink(err.c_str());
}

}  // namespace
}  // namespace perflab::testing
