#pragma once
// Shared by the lab-target integration tests: the program as a child process on 127.0.0.1 port 0,
// a small blocking HTTP/1.1 client, and /metrics and /proc readers.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sched.h>
#include <sys/types.h>

#include <gtest/gtest.h>

#include "../poll.hpp"

namespace perflab::testing {

using namespace std::chrono_literals;

// How to start the child, besides its arguments.
struct launch_options {
  std::vector<std::string> prefix;       // a wrapper program and its arguments (e.g. taskset)
  std::optional<cpu_set_t> affinity;     // sched_setaffinity in the child before exec
  std::string cgroup_procs;              // a cgroup.procs file the child moves itself into first
};

// A lab-target child process; killed (SIGKILL) if the test did not stop it.
class target_process {
 public:
  explicit target_process(const std::vector<std::string>& args, const launch_options& opts = {});
  ~target_process();
  target_process(const target_process&) = delete;
  target_process& operator=(const target_process&) = delete;

  int port() const { return port_; }
  const std::string& first_line() const { return first_line_; }
  pid_t pid() const { return pid_; }
  // Waits for the exit; the exit code, or -1 on timeout / signal.
  int wait_exit(std::chrono::milliseconds timeout);
  // Whether the process has ended (by exit or signal); reaps it.
  bool exited();
  // The signal that ended it, 0 if it exited or still runs.
  int term_signal() const { return term_signal_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
  bool exited_ = false;
  int term_signal_ = 0;
  std::string first_line_;
};

struct response {
  int status = 0;
  std::string head;  // status line and fields, ending with the CRLF of the last field
  std::string body;
  bool close = false;
  std::uint64_t content_length = 0;
};

// A blocking client connection with a receive timeout.
class client {
 public:
  // rcvbuf: SO_RCVBUF set before connecting (0: the kernel default), to make a slow reader slow.
  explicit client(int port, std::chrono::milliseconds timeout = 5s, int rcvbuf = 0);
  ~client();
  client(client&& o) noexcept;
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  bool send(std::string_view data);
  // Reads one response (Content-Length framed; HEAD: no body).
  std::optional<response> read(bool head_request = false);
  // Reads one response's status line and fields only; its body (content_length bytes) is next.
  std::optional<response> read_head();
  std::optional<response> request(std::string_view raw, bool head_request = false);
  // Reads and discards up to n body bytes in reads of at most `piece`; returns how many came
  // before EOF, an error or the timeout.
  std::uint64_t drain(std::uint64_t n, std::size_t piece = 1 << 16);
  // True if the server closed the connection (EOF or reset) with nothing more to read.
  bool closed_by_peer();
  // True if the server aborted the connection (a TCP reset: ECONNRESET), not an orderly end.
  bool reset_by_peer();
  // Bytes received and not yet consumed by read().
  const std::string& buffered() const { return buf_; }

 private:
  bool fill();
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

inline constexpr std::string_view get_hello = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
// A request without a body: `method` (GET by default) of `target`, with extra header fields
// (each ending in CRLF).
std::string get(std::string_view target, std::string_view fields = {}, std::string_view method = "GET");
// GET /cache/KEY.
std::string get_cache(std::string_view key);
// A POST of `body` to `target` with its Content-Length, and extra header fields (each ending in CRLF).
std::string post(std::string_view target, std::string_view body = {}, std::string_view fields = {});
// The value of a response's header field (the first with exactly this name); "" if it has none.
std::string field(const response& r, std::string_view name);

// --model M --listen 127.0.0.1:0 and a small fixed thread count (8 workers, 2 loops), then extra.
std::vector<std::string> model_args(const std::string& model, std::vector<std::string> extra = {});
// gtest parameter names: "thread-per-request" -> "threadperrequest".
std::string model_test_name(const std::string& model);
inline const std::vector<std::string> all_models = {"thread-per-request", "thread-pool", "reactor", "coroutine",
                                                    "fiber", "io-uring"};

// Why lab-target cannot run `model` on this machine (its --check-model message: io-uring where
// io_uring_setup is refused or the build has no liburing), or nullopt. Asked once per process.
std::optional<std::string> model_unavailable(const std::string& model);

// The fixture of the tests parameterised over models: a model that cannot run here is skipped
// with lab-target's reason (GTEST_SKIP), never failed.
class model_test : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (auto why = model_unavailable(GetParam())) GTEST_SKIP() << *why;
  }
  // For tests that time the first requests of new connections: under ThreadSanitizer each new
  // fiber costs ~18 ms of TSan's own set-up, which those timings would read as the model's.
  bool fiber_under_tsan() const {
#if defined(__SANITIZE_THREAD__)
    return GetParam() == "fiber";
#else
    return false;
#endif
  }
};
#define PERFLAB_SKIP_FIBER_UNDER_TSAN()                                                                  \
  if (fiber_under_tsan())                                                                                \
  GTEST_SKIP() << "fiber under ThreadSanitizer: TSan sets up ~18 ms of state per new fiber, and this test " \
                  "times new connections (the release and ASan runs check it)"

// One /metrics scrape on a fresh connection; nullopt unless it was served (200).
std::optional<std::string> scrape_metrics(int port);
// Scrapes /metrics until it holds `line`; false after `timeout`.
bool wait_for_metric(int port, const std::string& line, std::chrono::milliseconds timeout = 5s);
// The value of one metric sample (`name` with its labels, e.g. `x_total{a="b"}`), scraped once
// the scrape is served; nullopt if it never is, or the sample is missing.
std::optional<double> metric_value(int port, const std::string& name, std::chrono::milliseconds timeout = 5s);
// metric_value, or -1 when the sample is missing.
double metric(int port, const std::string& name);
// A counter: metric_value, or 0 when the sample is missing (a label set not yet counted).
double counter(int port, const std::string& name);

// A shell command's exit code (-1 when it could not run or died of a signal) and its standard
// output, trailing newlines and spaces removed (add 2>&1 to the command for its errors too).
struct command_result {
  int code = -1;
  std::string out;
};
command_result run_command(const std::string& cmd);

// A throwaway redis-server from scripts/services.sh, under a name of this process, stopped at
// the end (the Redis tests; the source dir comes from PERFLAB_SOURCE_DIR).
class redis_service {
 public:
  redis_service();
  ~redis_service();
  redis_service(const redis_service&) = delete;
  redis_service& operator=(const redis_service&) = delete;
  // Empty when it runs; else why not (exit 3: the package cannot be installed here).
  std::string unavailable() const;
  const std::string& url() const { return url_; }
  int port() const { return std::stoi(url_.substr(url_.rfind(':') + 1)); }
  pid_t pid() const;
  void stop();  // an outage; the destructor has nothing left to stop

 private:
  std::string name_;
  int code_ = -1;
  std::string url_;
  std::string message_;
};

// utime + stime of a process, in seconds (from /proc/PID/stat).
double cpu_seconds(pid_t pid);
// A "Key:   N kB" field of /proc/PID/status (VmRSS, VmHWM, Threads, ...); -1 if missing.
long proc_status(pid_t pid, const std::string& key);

// Asserts (gtest) that a fresh connection gets 200 "Hello, World!".
void expect_still_serving(int port);

}  // namespace perflab::testing
