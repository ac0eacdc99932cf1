// Child process control with fork/exec: posix_spawn cannot set CPU affinity or a parent-death
// signal, both of which a lab target needs (pinned to its core; never orphaned if loadgen dies).
#include "perflab/loadgen/spawn.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "perflab/core/http.hpp"

namespace perflab::loadgen {
namespace {

using clock_type = std::chrono::steady_clock;

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

exit_info from_status(int status) {
  exit_info e;
  if (WIFEXITED(status)) {
    e.exited = true;
    e.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    e.signal = WTERMSIG(status);
  }
  return e;
}

}  // namespace

std::string exit_info::text() const {
  std::string s = exited ? fmt::format("exit {}", code) : fmt::format("signal {} ({})", signal, ::strsignal(signal));
  if (killed_after_timeout) s += " after SIGTERM timeout";
  return s;
}

struct child_process::impl {
  pid_t pid = -1;
  int out_fd = -1;   // read end of the child's stdout
  int log_fd = -1;   // our copy of the log file, for the stdout drain
  bool reaped = false;
  std::optional<exit_info> exit;
  struct rusage usage {};
  std::string pending;  // stdout bytes read past the first line
  std::thread drain;

  ~impl() {
    if (pid > 0 && !reaped) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::wait4(pid, &status, 0, &usage);
      reaped = true;
    }
    // The drain ends at EOF, which the child's death guarantees.
    if (drain.joinable()) drain.join();
    close_fd(out_fd);
    close_fd(log_fd);
  }

  void start_drain() {
    if (out_fd < 0) return;
    if (log_fd >= 0 && !pending.empty()) (void)!::write(log_fd, pending.data(), pending.size());
    pending.clear();
    // Copies the rest of stdout to the log so a chatty child never blocks on a full pipe.
    drain = std::thread([fd = out_fd, log = log_fd] {
      char buf[4096];
      while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (log >= 0) (void)!::write(log, buf, static_cast<std::size_t>(n));
      }
    });
  }
};

child_process::child_process(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
child_process::child_process(child_process&&) noexcept = default;
child_process& child_process::operator=(child_process&&) noexcept = default;
child_process::~child_process() = default;

pid_t child_process::pid() const noexcept { return impl_->pid; }
const struct rusage& child_process::usage() const noexcept { return impl_->usage; }

tl::expected<child_process, std::string> child_process::spawn(const spawn_options& opts) {
  auto p = std::make_unique<impl>();
  // Everything the child needs is prepared before fork: after fork in a threaded program only
  // async-signal-safe calls are allowed.
  std::string prog = opts.program.string();
  std::vector<std::string> args;
  args.push_back(prog);
  args.insert(args.end(), opts.args.begin(), opts.args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : opts.cpus) CPU_SET(c, &set);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return tl::unexpected(fmt::format("pipe: {}", std::strerror(errno)));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return tl::unexpected(fmt::format("pipe: {}", std::strerror(errno)));
  }
  std::string log_path = opts.log_file.empty() ? std::string("/dev/null") : opts.log_file.string();
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], log_fd, null_fd})
      if (fd >= 0) ::close(fd);
    return tl::unexpected(fmt::format("fork: {}", std::strerror(e)));
  }
  if (pid == 0) {
    // Child. Own process group: a terminal's Ctrl-C reaches loadgen, which stops the target itself.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);  // ignored dispositions survive exec; the target expects defaults
    if (!opts.cpus.empty() && ::sched_setaffinity(0, sizeof set, &set) != 0) {
      int e = errno;
      (void)!::write(err_pipe[1], &e, sizeof e);
      ::_exit(127);
    }
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(out_pipe[1], 1);
    if (log_fd >= 0) ::dup2(log_fd, 2);
    ::execv(argv[0], argv.data());
    int e = errno;
    (void)!::write(err_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (null_fd >= 0) ::close(null_fd);
  p->pid = pid;
  p->out_fd = out_pipe[0];
  p->log_fd = log_fd;
  // The error pipe closes on a successful exec (O_CLOEXEC); an errno arrives if it failed.
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(err_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int status = 0;
    ::wait4(pid, &status, 0, &p->usage);
    p->reaped = true;
    return tl::unexpected(fmt::format("cannot start {}: {}{}", prog, std::strerror(child_errno),
                                      opts.cpus.empty() ? "" : " (or cannot pin it to the requested CPUs)"));
  }
  return child_process(std::move(p));
}

tl::expected<std::string, std::string> child_process::read_first_line(std::chrono::nanoseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  std::string got;
  char buf[512];
  while (true) {
    auto nl = got.find('\n');
    if (nl != std::string::npos) {
      std::string line = got.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      impl_->pending = got.substr(nl + 1);
      impl_->start_drain();
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
    if (left <= 0)
      return tl::unexpected(fmt::format("no line on stdout within {} ms{}",
                                        std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count(),
                                        got.empty() ? "" : " (printed \"" + got + "\")"));
    pollfd pfd{impl_->out_fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 100)));
    if (r < 0 && errno != EINTR) return tl::unexpected(fmt::format("poll: {}", std::strerror(errno)));
    if (r <= 0) continue;
    ssize_t n = ::read(impl_->out_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return tl::unexpected(got.empty() ? std::string("closed stdout before printing its address")
                                        : "closed stdout after printing \"" + got + "\"");
    got.append(buf, static_cast<std::size_t>(n));
    if (got.size() > 64 * 1024) return tl::unexpected(std::string("printed 64 KiB without a newline"));
  }
}

std::optional<exit_info> child_process::poll_exit() {
  if (impl_->exit) return impl_->exit;
  siginfo_t info{};
  // WNOWAIT leaves the child a zombie, so its /proc entry (CPU time) stays for the last sample.
  if (::waitid(P_PID, static_cast<id_t>(impl_->pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return std::nullopt;
  if (info.si_pid == 0) return std::nullopt;
  exit_info e;
  if (info.si_code == CLD_EXITED) {
    e.exited = true;
    e.code = info.si_status;
  } else {
    e.signal = info.si_status;
  }
  return e;
}

cpu_spent cpu_delta(const process_sample& from, const process_sample& to) {
  cpu_spent d;
  d.user_s = std::max(0.0, to.cpu_user_s - from.cpu_user_s);
  d.system_s = std::max(0.0, to.cpu_system_s - from.cpu_system_s);
  if (from.task_cpu_ns.empty() || to.task_cpu_ns.empty()) return d;
  // Both lists are sorted by thread id: every thread of `from` must still be there.
  std::uint64_t ns = 0;
  auto it = from.task_cpu_ns.begin();
  for (const auto& [tid, t] : to.task_cpu_ns) {
    if (it != from.task_cpu_ns.end() && it->first < tid) return d;  // a thread of `from` ended
    if (it != from.task_cpu_ns.end() && it->first == tid) {
      ns += t >= it->second ? t - it->second : 0;
      ++it;
    } else {
      ns += t;  // born after `from`: all of its time is in the interval
    }
  }
  if (it != from.task_cpu_ns.end()) return d;
  // Each tick counter is rounded down at both ends: the exact sum lies within two ticks of theirs
  // unless a thread born and ended between the samples took its time away.
  const double exact = static_cast<double>(ns) / 1e9;
  const double ticks = d.user_s + d.system_s;
  const double tick = 1.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  if (std::fabs(exact - ticks) > 2 * tick + 1e-3) return d;
  if (ticks > 0) {
    d.user_s *= exact / ticks;
    d.system_s *= exact / ticks;
  } else {
    d.user_s = exact;  // under one tick: no split to go by
  }
  d.exact = true;
  return d;
}

std::optional<process_sample> child_process::sample(bool task_times) const {
  if (impl_->reaped) return std::nullopt;
  return sample_process(impl_->pid, task_times);
}

std::optional<pid_t> read_pid_file(const std::string& path) {
  std::ifstream in(path);
  long long pid = 0;
  if (!(in >> pid) || pid <= 0 || pid > std::numeric_limits<pid_t>::max()) return std::nullopt;
  in >> std::ws;
  if (!in.eof()) return std::nullopt;  // "123abc" is not a pid
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return std::nullopt;
  return static_cast<pid_t>(pid);
}

std::optional<process_sample> sample_process(pid_t pid, bool task_times) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  auto rp = line.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(rp + 2));
  std::vector<std::string> f;
  for (std::string x; fields >> x;) f.push_back(x);
  // f[0] is field 3 (state); utime = field 14, stime = 15, num_threads = 20.
  if (f.size() < 18) return std::nullopt;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  process_sample s;
  s.cpu_user_s = std::stod(f[11]) / tick;
  s.cpu_system_s = std::stod(f[12]) / tick;
  s.threads = std::stoll(f[17]);
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  for (std::string l; std::getline(status, l);) {
    auto kb = [&](std::string_view key) -> std::int64_t {
      return l.rfind(key, 0) == 0 ? std::stoll(l.substr(key.size())) * 1024 : -1;
    };
    if (auto v = kb("VmHWM:"); v >= 0) s.peak_rss_bytes = v;
    if (auto v = kb("VmRSS:"); v >= 0) s.rss_bytes = v;
  }
  if (task_times) {
    // schedstat's first field: the thread's time on a CPU in ns (the scheduler's own account).
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
      std::ifstream in(e.path() / "schedstat");
      std::uint64_t ns = 0;
      if (in >> ns) s.task_cpu_ns.emplace_back(static_cast<pid_t>(std::stol(e.path().filename().string())), ns);
    }
    std::sort(s.task_cpu_ns.begin(), s.task_cpu_ns.end());
  }
  return s;
}

std::optional<process_sample> sample_process_tree(pid_t root, bool task_times) {
  // Parent links from every /proc/PID/stat (field 4, after the command's last ')').
  std::vector<std::pair<pid_t, pid_t>> parent_child;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    auto rp = line.rfind(')');
    if (rp == std::string::npos || rp + 2 >= line.size()) continue;
    std::istringstream fields(line.substr(rp + 2));
    std::string state;
    long ppid = 0;
    if (fields >> state >> ppid) parent_child.emplace_back(static_cast<pid_t>(ppid), static_cast<pid_t>(std::stol(name)));
  }
  std::optional<process_sample> sum = sample_process(root, task_times);
  if (!sum) return std::nullopt;
  std::vector<pid_t> to_visit{root};  // depth first over the descendants
  while (!to_visit.empty()) {
    const pid_t p = to_visit.back();
    to_visit.pop_back();
    for (const auto& [parent, child] : parent_child) {
      if (parent != p) continue;
      to_visit.push_back(child);
      auto c = sample_process(child, task_times);
      if (!c) continue;  // ended in between
      sum->cpu_user_s += c->cpu_user_s;
      sum->cpu_system_s += c->cpu_system_s;
      sum->threads += c->threads;
      sum->rss_bytes += c->rss_bytes;
      sum->peak_rss_bytes += c->peak_rss_bytes;
      sum->task_cpu_ns.insert(sum->task_cpu_ns.end(), c->task_cpu_ns.begin(), c->task_cpu_ns.end());
    }
  }
  std::sort(sum->task_cpu_ns.begin(), sum->task_cpu_ns.end());
  return sum;
}

exit_info child_process::stop(std::chrono::nanoseconds timeout) {
  if (impl_->reaped) return impl_->exit.value_or(exit_info{});
  int status = 0;
  exit_info e;
  if (auto already = poll_exit()) {
    ::wait4(impl_->pid, &status, 0, &impl_->usage);
    e = from_status(status);
  } else {
    ::kill(impl_->pid, SIGTERM);
    auto deadline = clock_type::now() + timeout;
    bool done = false;
    while (clock_type::now() < deadline) {
      pid_t r = ::wait4(impl_->pid, &status, WNOHANG, &impl_->usage);
      if (r == impl_->pid) {
        done = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!done) {
      ::kill(impl_->pid, SIGKILL);
      ::wait4(impl_->pid, &status, 0, &impl_->usage);
    }
    e = from_status(status);
    e.killed_after_timeout = !done;
  }
  impl_->reaped = true;
  impl_->exit = e;
  if (impl_->drain.joinable()) impl_->drain.join();
  return e;
}

int ms_left(clock_type::time_point deadline) noexcept {
  return static_cast<int>(std::max<long long>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count()));
}

owned_fd::~owned_fd() {
  if (fd_ >= 0) ::close(fd_);
}

tl::expected<owned_fd, std::string> connect_and_send(const std::string& host, int port, std::string_view request,
                                               clock_type::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0)
    return tl::unexpected(fmt::format("cannot resolve {}: {}", host, ::gai_strerror(rc)));
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(res);
    return tl::unexpected(fmt::format("socket: {}", std::strerror(errno)));
  }
  auto failed = [fd](std::string why) {
    ::close(fd);
    return tl::unexpected(std::move(why));
  };
  const int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) return failed(fmt::format("connect: {}", std::strerror(errno)));
  pollfd pfd{fd, POLLOUT, 0};
  if (::poll(&pfd, 1, ms_left(deadline)) <= 0) return failed("connect: timed out");
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return failed(fmt::format("connect: {}", std::strerror(err)));
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return failed(fmt::format("send: {}", std::strerror(errno)));
    pollfd w{fd, POLLOUT, 0};
    if (::poll(&w, 1, ms_left(deadline)) <= 0) return failed("send: timed out");
  }
  return owned_fd(fd);
}

tl::expected<int, std::string> http_probe(const std::string& host, int port, const std::string& path,
                                          std::chrono::nanoseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  const auto sent = connect_and_send(
      host, port, fmt::format("GET {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\r\n", path, host, port), deadline);
  if (!sent) return tl::unexpected(sent.error());
  const int fd = sent->get();  // closed when `sent` goes
  auto left_ms = [&] { return ms_left(deadline); };
  // The same response parser as the engine's, so a target the probe accepts is one the load can
  // parse. The status counts once the head is in (1xx interim responses are skipped); the body is
  // not awaited.
  http::response_parser parser;
  std::string start;  // the first bytes received, to quote in an error
  constexpr std::size_t quoted_max = 200;
  auto first_line = [&] { return start.substr(0, start.find_first_of("\r\n")); };
  char buf[1024];
  while (!parser.head_complete()) {
    pollfd r{fd, POLLIN, 0};
    if (::poll(&r, 1, left_ms()) <= 0) return tl::unexpected(std::string("no response: timed out"));
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      if (start.empty()) return tl::unexpected(std::string("connection closed without a response"));
      return tl::unexpected("connection closed before the end of the response head: \"" + first_line() + "\"");
    }
    const std::string_view data(buf, static_cast<std::size_t>(n));
    if (start.size() < quoted_max) start.append(data.substr(0, quoted_max - start.size()));
    const auto pr = parser.feed(data);
    if (pr.error == http::errc::bad_status_line) return tl::unexpected("not an HTTP response: \"" + first_line() + "\"");
    if (pr.error != http::errc::ok)
      return tl::unexpected(fmt::format("bad HTTP response ({}): \"{}\"", http::make_error_code(pr.error).message(),
                                        first_line()));
  }
  return parser.status();
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

}  // namespace perflab::loadgen
