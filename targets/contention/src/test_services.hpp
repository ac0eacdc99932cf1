#pragma once
// For the tests that need a real server: scripts/services.sh start/stop under a name of this
// process's own (ctest runs each test in its own process, side by side).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include <sys/wait.h>
#include <unistd.h>

namespace perflab::contention::testing {

// Runs a shell command: the last line of its stdout and its exit code.
inline std::pair<std::string, int> run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {"", -1};
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out = buf;
  const int st = ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return {out, WIFEXITED(st) ? WEXITSTATUS(st) : -1};
}

// A throwaway server: url set and code 0 when it started; code 3 when its package cannot be
// installed here (the test skips, saying so). Stopped by the destructor.
class service_instance {
 public:
  explicit service_instance(const std::string& service) : name_("contention-test-" + service + "-" + std::to_string(::getpid())) {
    auto [url, rc] = run(script() + " start " + service + " --name " + name_);
    code_ = rc;
    if (rc == 0) url_ = url;
  }
  ~service_instance() { stop(); }
  // Stops it now (an outage); the destructor then has nothing left to do.
  void stop() {
    if (code_ == 0) run(script() + " stop " + name_ + " >/dev/null 2>&1");
    code_ = -1;
  }
  service_instance(const service_instance&) = delete;
  service_instance& operator=(const service_instance&) = delete;
  int code() const { return code_; }
  const std::string& url() const { return url_; }

 private:
  // ctest sets PERFLAB_SOURCE_DIR for every unit test (perflab_add_test).
  static std::string script() {
    const char* dir = std::getenv("PERFLAB_SOURCE_DIR");
    return std::string("'") + (dir ? dir : ".") + "/scripts/services.sh'";
  }
  std::string name_, url_;
  int code_ = -1;
};

}  // namespace perflab::contention::testing
