// Thread-count defaults follow the CPUs the process may use (cpus::available()): the affinity
// mask it was started with, and a cgroup CPU quota. Checked on the real program through the
// threads it starts (/proc/PID/status), since that is what a user of `taskset` or a container sees.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <sched.h>
#include <unistd.h>

#include <perflab/core/cpus.hpp>

#include "target_harness.hpp"

namespace {

using namespace perflab::testing;

// The first CPU this test may run on (a CI container need not have CPU 0).
int first_allowed_cpu() {
  cpu_set_t mine;
  if (::sched_getaffinity(0, sizeof mine, &mine) != 0) return -1;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &mine)) return c;
  return -1;
}

// Threads a model starts besides its workers: main (it waits for signals) and, in the blocking
// models, the acceptor.
struct thread_shape {
  const char* model;
  long per_cpu;  // worker threads per available CPU
  long fixed;    // threads that do not depend on the CPU count
};
constexpr thread_shape shapes[] = {
    {"reactor", 1, 1},       // one event loop per CPU, plus main
    {"coroutine", 1, 1},
    {"fiber", 1, 1},         // one carrier thread per CPU, plus main
    {"io-uring", 1, 1},      // one ring per CPU, plus main
    {"thread-pool", 32, 2},  // 32 blocking workers per CPU, plus acceptor and main
};

// ThreadSanitizer's runtime runs a background thread of its own in every process it instruments.
#if defined(__SANITIZE_THREAD__)
constexpr int sanitizer_threads = 1;
#else
constexpr int sanitizer_threads = 0;
#endif

TEST(TargetCpus, ThreadDefaultsFollowTheAffinityMaskItStartsWith) {
  const int cpu = first_allowed_cpu();
  ASSERT_GE(cpu, 0);
  launch_options one_cpu;
  one_cpu.affinity.emplace();
  CPU_ZERO(&*one_cpu.affinity);
  CPU_SET(cpu, &*one_cpu.affinity);
  for (const auto& s : shapes) {
    SCOPED_TRACE(s.model);
    if (model_unavailable(s.model)) continue;  // io-uring where io_uring cannot run
    // No --threads and no --cpu: the defaults alone, as under `taskset -c N lab-target`.
    target_process t({"--model", s.model, "--listen", "127.0.0.1:0"}, one_cpu);
    ASSERT_GT(t.port(), 0) << t.first_line();
    EXPECT_EQ(proc_status(t.pid(), "Threads"), s.per_cpu * 1 + s.fixed + sanitizer_threads);
    expect_still_serving(t.port());
  }
}

// A cgroup of our own with a CPU quota, removed when the test ends (after the child it held).
class quota_cgroup {
 public:
  // quota_us per 100000 us period; empty() when this host does not let us make one.
  explicit quota_cgroup(long quota_us) {
    std::ifstream cg("/proc/self/cgroup"), mi("/proc/self/mountinfo");
    const std::string cgroup_text((std::istreambuf_iterator<char>(cg)), std::istreambuf_iterator<char>());
    const std::string mount_text((std::istreambuf_iterator<char>(mi)), std::istreambuf_iterator<char>());
    const auto where = perflab::cpus::cgroup::locate(cgroup_text, mount_text);
    if (!where) {
      why_ = "no cgroup CPU controller found in /proc/self/cgroup and mountinfo";
      return;
    }
    const auto parent = perflab::cpus::cgroup::directories(*where).front();
    dir_ = parent + "/perflab-test-" + std::to_string(::getpid());
    if (::mkdir(dir_.c_str(), 0755) != 0) {
      why_ = "cannot create " + dir_ + " (needs root and a writable cgroup hierarchy)";
      dir_.clear();
      return;
    }
    const bool v2 = where->version == 2;
    const std::string file = dir_ + (v2 ? "/cpu.max" : "/cpu.cfs_quota_us");
    std::ofstream limit(file);
    limit << (v2 ? std::to_string(quota_us) + " 100000" : std::to_string(quota_us));
    limit.flush();
    if (!limit) {
      why_ = "cannot write " + file + " (the cpu controller is not enabled for this cgroup)";
      return;
    }
    if (!v2) {
      std::ofstream period(dir_ + "/cpu.cfs_period_us");
      period << "100000";
    }
    procs_ = dir_ + "/cgroup.procs";
  }
  ~quota_cgroup() {
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  quota_cgroup(const quota_cgroup&) = delete;
  quota_cgroup& operator=(const quota_cgroup&) = delete;
  const std::string& procs() const { return procs_; }
  const std::string& why_not() const { return why_; }

 private:
  std::string dir_, procs_, why_;
};

TEST(TargetCpus, ThreadDefaultsFollowTheCgroupCpuQuota) {
  cpu_set_t mine;
  ASSERT_EQ(::sched_getaffinity(0, sizeof mine, &mine), 0);
  if (CPU_COUNT(&mine) < 2) GTEST_SKIP() << "needs two CPUs to see a quota of half a CPU lower the default";
  quota_cgroup half(50000);  // 0.5 CPU: ceil -> 1
  if (half.procs().empty()) GTEST_SKIP() << half.why_not();
  launch_options in_cgroup;
  in_cgroup.cgroup_procs = half.procs();
  for (const auto& s : shapes) {
    SCOPED_TRACE(s.model);
    if (model_unavailable(s.model)) continue;  // io-uring where io_uring cannot run
    target_process t({"--model", s.model, "--listen", "127.0.0.1:0"}, in_cgroup);
    ASSERT_GT(t.port(), 0) << t.first_line();
    EXPECT_EQ(proc_status(t.pid(), "Threads"), s.per_cpu * 1 + s.fixed + sanitizer_threads);
    expect_still_serving(t.port());
  }
}

}  // namespace
