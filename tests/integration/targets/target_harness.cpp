#include "target_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace perflab::testing {

target_process::target_process(const std::vector<std::string>& args, const launch_options& opts) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<std::string> words = opts.prefix;
  words.push_back(PERFLAB_LAB_TARGET);
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  const std::string& procs = opts.cgroup_procs;
  pid_ = ::fork();
  if (pid_ == 0) {
    // Die with the test: an orphan would keep ctest's output pipe open forever.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out[1], STDOUT_FILENO);
    if (!procs.empty()) {
      const int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      // "0" moves the writing process itself.
      if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(126);
      ::close(fd);
    }
    if (opts.affinity && ::sched_setaffinity(0, sizeof *opts.affinity, &*opts.affinity) != 0) ::_exit(125);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  stdout_fd_ = out[0];
  // Read the one machine-readable line.
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    const auto n = ::read(stdout_fd_, buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  const std::string prefix = "listening http://127.0.0.1:";
  if (line.rfind(prefix, 0) == 0) port_ = std::atoi(line.c_str() + prefix.size());
  first_line_ = line;
}

target_process::~target_process() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

bool target_process::exited() {
  if (exited_) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
  exited_ = true;
  if (WIFSIGNALED(status)) term_signal_ = WTERMSIG(status);
  return true;
}

int target_process::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      if (WIFSIGNALED(status)) term_signal_ = WTERMSIG(status);
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(10ms);
  }
  return -1;
}

client::client(int port, std::chrono::milliseconds timeout, int rcvbuf) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

client::~client() {
  if (fd_ >= 0) ::close(fd_);
}

client::client(client&& o) noexcept : fd_(std::exchange(o.fd_, -1)), connected_(o.connected_), buf_(std::move(o.buf_)) {}

bool client::send(std::string_view data) {
  while (!data.empty()) {
    const auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<response> client::read_head() {
  std::size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) return std::nullopt;
  response r;
  r.head = buf_.substr(0, end + 2);
  buf_.erase(0, end + 4);
  if (r.head.rfind("HTTP/1.1 ", 0) != 0) return std::nullopt;
  r.status = std::atoi(r.head.c_str() + 9);
  std::string lower = r.head;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  r.close = lower.find("\r\nconnection: close\r\n") != std::string::npos;
  if (auto p = lower.find("\r\ncontent-length: "); p != std::string::npos)
    r.content_length = std::stoull(lower.substr(p + 18));
  return r;
}

std::optional<response> client::read(bool head_request) {
  auto r = read_head();
  if (!r) return std::nullopt;
  const auto length = head_request ? 0 : static_cast<std::size_t>(r->content_length);
  while (buf_.size() < length)
    if (!fill()) return std::nullopt;
  r->body = buf_.substr(0, length);
  buf_.erase(0, length);
  return r;
}

std::optional<response> client::request(std::string_view raw, bool head_request) {
  if (!send(raw)) return std::nullopt;
  return read(head_request);
}

std::uint64_t client::drain(std::uint64_t n, std::size_t piece) {
  std::uint64_t got = std::min<std::uint64_t>(n, buf_.size());
  buf_.erase(0, static_cast<std::size_t>(got));
  std::vector<char> tmp(piece);
  while (got < n) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(piece, n - got));
    const auto r = ::recv(fd_, tmp.data(), want, 0);
    if (r <= 0) break;
    got += static_cast<std::uint64_t>(r);
  }
  return got;
}

bool client::closed_by_peer() {
  char c;
  const auto n = ::recv(fd_, &c, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

bool client::reset_by_peer() {
  char c;
  const auto n = ::recv(fd_, &c, 1, 0);
  return n < 0 && errno == ECONNRESET;
}

bool client::fill() {
  char tmp[16384];
  const auto n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf_.append(tmp, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::string> model_unavailable(const std::string& model) {
  static std::map<std::string, std::optional<std::string>> known;
  if (auto it = known.find(model); it != known.end()) return it->second;
  auto r = run_command(std::string("'") + PERFLAB_LAB_TARGET + "' --model '" + model + "' --check-model 2>&1");
  if (r.code == 0) return known[model] = std::nullopt;
  // Only lab-target's own verdict skips (exit 2 naming why the model cannot run here). Anything
  // else (a missing shared library, a crash, an option it no longer takes) is a failure, and the
  // tests then run and fail with the program's own error instead of all reading SKIPPED.
  if (r.code == 2 && r.out.find("is unavailable") != std::string::npos) return known[model] = r.out;
  ADD_FAILURE() << "lab-target --model " << model << " --check-model exited " << r.code
                << " without saying the model is unavailable: " << r.out;
  return known[model] = std::nullopt;
}

command_result run_command(const std::string& cmd) {
  command_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) r.out += buf;
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == ' ')) r.out.pop_back();
  return r;
}

std::vector<std::string> model_args(const std::string& model, std::vector<std::string> extra) {
  std::vector<std::string> a = {"--model", model, "--listen", "127.0.0.1:0"};
  if (model != "thread-per-request") {
    a.push_back("--threads");
    a.push_back(model == "thread-pool" ? "8" : "2");
  }
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::string model_test_name(const std::string& model) {
  std::string n = model;
  n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
  return n;
}

std::optional<std::string> scrape_metrics(int port) {
  client probe(port);
  auto m = probe.request("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
  if (!m || m->status != 200) return std::nullopt;
  return m->body;
}

bool wait_for_metric(int port, const std::string& line, std::chrono::milliseconds timeout) {
  return poll_until([&] {
    const auto body = scrape_metrics(port);
    return body && body->find(line) != std::string::npos;
  }, timeout);
}

std::optional<double> metric_value(int port, const std::string& name, std::chrono::milliseconds timeout) {
  std::optional<std::string> body;
  if (!poll_until([&] { return (body = scrape_metrics(port)).has_value(); }, timeout)) return std::nullopt;
  const auto at = body->find("\n" + name + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::strtod(body->c_str() + at + name.size() + 2, nullptr);
}

double metric(int port, const std::string& name) { return metric_value(port, name).value_or(-1); }
double counter(int port, const std::string& name) { return metric_value(port, name).value_or(0); }

std::string get(std::string_view target, std::string_view fields, std::string_view method) {
  return std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(fields) + "\r\n";
}

std::string get_cache(std::string_view key) { return get("/cache/" + std::string(key)); }

std::string post(std::string_view target, std::string_view body, std::string_view fields) {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(fields) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

std::string field(const response& r, std::string_view name) {
  const auto at = r.head.find("\r\n" + std::string(name) + ": ");
  if (at == std::string::npos) return {};
  const auto from = at + name.size() + 4;
  return r.head.substr(from, r.head.find("\r\n", from) - from);
}

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state; 14 utime, 15 stime
    if (i == 14) utime = std::stoull(f);
    if (i == 15) {
      stime = std::stoull(f);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

long proc_status(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
  return -1;
}

void expect_still_serving(int port) {
  client c(port);
  auto r = c.request(get_hello);
  ASSERT_TRUE(r) << "a fresh connection was not served";
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Hello, World!");
}

redis_service::redis_service() : name_("redis-test-" + std::to_string(::getpid())) {
  auto [code, out] = run_command(std::string(PERFLAB_SOURCE_DIR) + "/scripts/services.sh start redis --name " + name_ + " 2>&1");
  code_ = code;
  if (code == 0) url_ = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  else message_ = out;
}

redis_service::~redis_service() { stop(); }

std::string redis_service::unavailable() const {
  if (code_ == 0 && url_.starts_with("redis://")) return {};
  return "scripts/services.sh start redis exited " + std::to_string(code_) + ": " + message_;
}

pid_t redis_service::pid() const {
  std::ifstream f(std::string(PERFLAB_SOURCE_DIR) + "/build/services/" + name_ + "/pid");
  long p = -1;
  f >> p;
  return static_cast<pid_t>(p);
}

void redis_service::stop() {
  if (code_ == 0) run_command(std::string(PERFLAB_SOURCE_DIR) + "/scripts/services.sh stop " + name_ + " >/dev/null 2>&1");
  code_ = -1;
}

}  // namespace perflab::testing
