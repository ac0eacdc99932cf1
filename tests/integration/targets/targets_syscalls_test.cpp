// System calls per keep-alive request, counted with strace over a fixed number of requests and
// compared with the bound docs/targets.md states for each model. The client pauses briefly
// between requests (a client's think time), so the server is waiting for each request when it
// comes: the case where a read that polls first costs extra calls.
#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "target_harness.hpp"

namespace {

using namespace perflab::testing;

// The strace program, or empty with the reason in why.
std::string find_strace(std::string& why) {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/local/bin"}) {
    const std::string p = std::string(dir) + "/strace";
    if (::access(p.c_str(), X_OK) == 0) {
      // ptrace may be forbidden (containers without CAP_SYS_PTRACE, Yama scope 3).
      if (std::system((p + " -f -qq -o /dev/null true >/dev/null 2>&1").c_str()) == 0) return p;
      why = p + " cannot trace here (ptrace not permitted)";
      return {};
    }
  }
  why = "strace is not installed (Debian: apt-get install strace)";
  return {};
}

// Every thread of pid is traced (TracerPid set in each /proc/PID/task/*/status).
bool all_threads_traced(pid_t pid) {
  int threads = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream st(task.path() / "status");
    std::string line;
    bool traced = false;
    while (std::getline(st, line))
      if (line.rfind("TracerPid:", 0) == 0) traced = std::atoi(line.c_str() + 10) != 0;
    if (!traced) return false;
    ++threads;
  }
  return threads > 0;
}

// "% time seconds usecs/call calls errors syscall" rows of `strace -c`: calls by name.
std::map<std::string, long> read_summary(const std::string& path) {
  std::map<std::string, long> calls;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string pct, secs, usecs, count, a, b;
    if (!(f >> pct >> secs >> usecs >> count >> a)) continue;
    if (pct.empty() || !std::isdigit(static_cast<unsigned char>(pct[0]))) continue;
    const std::string name = (f >> b) ? b : a;  // the errors column is blank when there are none
    if (name != "total") calls[name] = std::atol(count.c_str());
  }
  return calls;
}

struct bound {
  const char* model;
  double per_request;  // documented upper bound, all system calls of the process
};
// docs/targets.md, "System calls per request".
constexpr bound bounds[] = {
    {"thread-per-request", 2.05},  // recvfrom + sendto
    {"thread-pool", 2.05},         // recvfrom + sendto
    {"reactor", 4.05},             // epoll_wait, recvfrom, sendto, Asio's speculative recvfrom (EAGAIN)
    {"coroutine", 4.05},
    {"fiber", 4.05},               // the same loop: a fiber switch is no system call
    {"io-uring", 2.05},            // io_uring_enter after the receive (submits the send, waits) and after the send
};

void PrintTo(const bound& b, std::ostream* os) { *os << b.model; }

class TargetSyscalls : public ::testing::TestWithParam<bound> {};

TEST_P(TargetSyscalls, KeepAliveRequestsCostAtMostTheDocumentedSystemCalls) {
  std::string why;
  const std::string strace = find_strace(why);
  if (strace.empty()) GTEST_SKIP() << why;
  const bound b = GetParam();
  if (auto unavailable = model_unavailable(b.model)) GTEST_SKIP() << *unavailable;
  target_process t({"--model", b.model, "--listen", "127.0.0.1:0", "--threads", b.model[0] == 't' ? "2" : "1"});
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  ASSERT_TRUE(c.request(get_hello));  // the connection (and its thread) exists before tracing starts

  const std::string out = ::testing::TempDir() + "strace-" + b.model + "-" + std::to_string(::getpid()) + ".txt";
  const pid_t tracer = ::fork();
  if (tracer == 0) {
    const std::string pid = std::to_string(t.pid());
    ::execl(strace.c_str(), "strace", "-f", "-qq", "-c", "-o", out.c_str(), "-p", pid.c_str(), nullptr);
    ::_exit(127);
  }
  ASSERT_TRUE(poll_until([&] { return all_threads_traced(t.pid()); }, 10s)) << "strace did not attach";
  constexpr int n = 2000;
  for (int i = 0; i < n; ++i) {
    auto r = c.request(get_hello);
    ASSERT_TRUE(r && r->status == 200) << "request " << i;
    std::this_thread::sleep_for(std::chrono::microseconds(500));  // think time (see the file comment)
  }
  ::kill(tracer, SIGINT);  // detaches and writes the summary
  int status = 0;
  ASSERT_EQ(::waitpid(tracer, &status, 0), tracer);
  const auto calls = read_summary(out);
  std::filesystem::remove(out);
  ASSERT_FALSE(calls.empty()) << "no strace summary";
  long total = 0;
  std::string seen;
  for (const auto& [name, count] : calls) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // The sanitizer's allocator maps its own memory (quarantine, shadow): ~0.17 mmap per request
    // under ASan on thread-per-request, none of them lab-target's. Release counts them.
    if (name == "mmap" || name == "munmap") continue;
#endif
    total += count;
    seen += " " + name + "=" + std::to_string(count);
  }
  const double per_request = static_cast<double>(total) / n;
  EXPECT_LE(per_request, b.per_request) << b.model << ": " << per_request << " system calls per request;" << seen;
  RecordProperty("syscalls_per_request", std::to_string(per_request));
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetSyscalls, ::testing::ValuesIn(bounds),
                         [](const auto& p) { return model_test_name(p.param.model); });

}  // namespace
