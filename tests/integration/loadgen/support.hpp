#pragma once
// Helpers shared by the loadgen's end-to-end test files: run configurations, a run that must
// succeed, the `loadgen` program run as a child, and a histogram-resolution lower bound.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "perflab/loadgen/engine.hpp"
#include "perflab/loadgen/recorder.hpp"

namespace perflab::loadgen {

// A summary's minimum is the lowest value of its histogram bucket (HdrHistogram's convention),
// so a latency of at least `us` may read up to one bucket width (0.1 %) lower.
inline double reads_at_least(std::int64_t us) {
  const histogram h(hist_lowest_ns, hist_highest_ns, hist_digits);
  return static_cast<double>(h.lowest_equivalent(us * 1000)) / 1000.0;
}

inline run_config open_loop(const std::string& url, double rate, std::chrono::nanoseconds duration) {
  run_config cfg;
  cfg.url = url;
  cfg.kind = "open";
  cfg.rate = rate;
  cfg.duration = duration;
  cfg.threads = 1;
  return cfg;
}

inline run_config closed_loop(const std::string& url, std::int64_t connections, std::chrono::nanoseconds duration) {
  run_config cfg;
  cfg.url = url;
  cfg.kind = "closed";
  cfg.connections = connections;
  cfg.duration = duration;
  cfg.threads = 1;
  return cfg;
}

inline result::variant run_ok(const run_config& cfg) {
  auto v = run_load(cfg);
  EXPECT_TRUE(v.has_value()) << (v ? "" : v.error());
  return v ? *v : result::variant{};
}

// A 127.0.0.1 listener with backlog 0 that never accepts: once its queue holds one connection
// the kernel drops further SYNs, so connects time out. Closed when it goes out of scope.
class never_accepting_listener {
 public:
  never_accepting_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 0) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      ADD_FAILURE() << "cannot set up a listener on 127.0.0.1";
    port_ = ntohs(a.sin_port);
  }
  ~never_accepting_listener() {
    if (fd_ >= 0) ::close(fd_);
  }
  never_accepting_listener(const never_accepting_listener&) = delete;
  never_accepting_listener& operator=(const never_accepting_listener&) = delete;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  int fd_ = -1;
  unsigned short port_ = 0;
};

struct proc_result {
  int exit_code = -1;
  std::string output;  // stdout + stderr
};

inline proc_result run_program(const std::vector<std::string>& args) {
  std::string cmd = PERFLAB_LOADGEN_BIN;
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  proc_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}


}  // namespace perflab::loadgen
