#pragma once
// Child processes for the scenario runner: start a lab target pinned to its CPUs, read the line
// it prints once listening, watch it without reaping it (so /proc stays readable), sample its
// CPU time, threads and RSS, and stop it (SIGTERM, then SIGKILL after a deadline).
#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace perflab::loadgen {

struct spawn_options {
  std::filesystem::path program;
  std::vector<std::string> args;    // argv[1..]
  std::vector<int> cpus;            // CPU affinity of the child (empty: inherit)
  std::filesystem::path log_file;   // the child's stderr, and stdout after its first line (empty: discarded)
};

// How a child ended.
struct exit_info {
  bool exited = false;   // true: exit(code); false: killed by `signal`
  int code = 0;
  int signal = 0;
  bool killed_after_timeout = false;  // did not stop within the deadline after SIGTERM
  bool success() const noexcept { return exited && code == 0; }
  std::string text() const;  // "exit 0", "exit 3", "signal 9 (Killed)", "... after SIGTERM timeout"
};

// A /proc snapshot of a running child.
struct process_sample {
  double cpu_user_s = 0;          // user CPU since start (/proc/PID/stat: whole 10 ms ticks, rounded down)
  double cpu_system_s = 0;        // system CPU since start
  std::int64_t threads = 0;       // current thread count
  std::int64_t rss_bytes = 0;     // current resident set
  std::int64_t peak_rss_bytes = 0;  // VmHWM: peak resident set
  // With sample(true): each live thread's CPU time in ns (/proc/PID/task/TID/schedstat), sorted by
  // thread id. Exact, but a thread that ended takes its time with it (see cpu_delta).
  std::vector<std::pair<pid_t, std::uint64_t>> task_cpu_ns;
};

// The CPU a child spent between two samples, user and system. From the threads' exact times
// (sample(true) on both ends) when they account for all of it: no thread of `from` has ended by
// `to`, and their sum agrees with the tick counters within the ticks' own rounding. The user/system
// split is the ticks' (scaled to the exact total). Otherwise the tick counters' difference, which
// can be off by two ticks (20 ms): over a few seconds of a mostly idle target that is 10 % or more.
struct cpu_spent {
  double user_s = 0;
  double system_s = 0;
  bool exact = false;  // from the threads' times
};
cpu_spent cpu_delta(const process_sample& from, const process_sample& to);

// A /proc snapshot of any process (nullopt when /proc has no such process, or it is not
// readable): child_process::sample's reading, for a process the runner did not start (an external
// target's `pid_file`, docs/scenarios.md).
std::optional<process_sample> sample_process(pid_t pid, bool task_times = false);
// The same summed over the process and its descendants (found through /proc's parent links): a
// server that runs its work in child processes (nginx's workers, h2o's key-signing process under
// a supervisor). Peak RSS is the sum of each process's own peak.
std::optional<process_sample> sample_process_tree(pid_t root, bool task_times = false);

// The pid in a pid file (a decimal number, surrounding whitespace allowed) when that process is
// alive; nullopt otherwise (no file, not a number, no such process).
std::optional<pid_t> read_pid_file(const std::string& path);

class child_process {
 public:
  // Starts the program. Errors: cannot fork, or exec failed (message names the program and errno).
  static tl::expected<child_process, std::string> spawn(const spawn_options& opts);

  child_process(child_process&&) noexcept;
  child_process& operator=(child_process&&) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  // Kills (SIGKILL) and reaps a child still running: a child never outlives its owner.
  ~child_process();

  pid_t pid() const noexcept;

  // The child's first stdout line (without the newline), waiting up to `timeout`. Error: timeout,
  // EOF (the child closed stdout or died) with what it printed so far. After this the rest of its
  // stdout is copied to the log file in the background.
  tl::expected<std::string, std::string> read_first_line(std::chrono::nanoseconds timeout);

  // Has the child ended? Does not reap it, so sample() keeps working until stop()/wait().
  std::optional<exit_info> poll_exit();

  // Current CPU times, threads and RSS from /proc (nullopt once the child is gone).
  // task_times: also read every thread's exact CPU time (a directory scan: for the phase
  // boundaries, not for frequent polling).
  std::optional<process_sample> sample(bool task_times = false) const;

  // SIGTERM, wait up to `timeout`, then SIGKILL; reaps. Safe to call on an exited child.
  exit_info stop(std::chrono::nanoseconds timeout);
  // The child's resource usage after stop() (CPU, ru_maxrss): for RSS when /proc was missed.
  const struct rusage& usage() const noexcept;

 private:
  struct impl;
  explicit child_process(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// The runner's small HTTP exchanges (http_probe, the timed events' requests) start here: a
// non-blocking TCP socket connected to host:port with all of `request` sent, or what failed
// ("cannot resolve ...", "connect: ...", "send: ...", "... timed out" past deadline). The socket
// is closed when the returned owner goes. Blocking (poll), bounded by deadline.
class owned_fd {
 public:
  explicit owned_fd(int fd) noexcept : fd_(fd) {}
  owned_fd(owned_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  owned_fd& operator=(owned_fd&&) = delete;
  ~owned_fd();
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};
tl::expected<owned_fd, std::string> connect_and_send(const std::string& host, int port, std::string_view request,
                                               std::chrono::steady_clock::time_point deadline);
// Milliseconds left until deadline (0 once it has passed), for poll().
int ms_left(std::chrono::steady_clock::time_point deadline) noexcept;

// Sends `GET path` to 127.0.0.1-style host:port and returns the status of the final response once
// its head has arrived (parsed by http::response_parser, 1xx skipped), or an error (refused,
// timeout, closed early, not HTTP, malformed head). Blocking; start-up use only.
tl::expected<int, std::string> http_probe(const std::string& host, int port, const std::string& path,
                                          std::chrono::nanoseconds timeout);

// The CPUs this process may run on (sched_getaffinity), ascending.
std::vector<int> allowed_cpus();

}  // namespace perflab::loadgen
