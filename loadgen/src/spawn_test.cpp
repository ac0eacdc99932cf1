#include "perflab/loadgen/spawn.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace perflab::loadgen {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

spawn_options shell(const std::string& script) { return spawn_options{"/bin/sh", {"-c", script}, {}, {}}; }

TEST(ChildProcess, ReadsTheFirstLineAndStopsWithSigterm) {
  auto child = child_process::spawn(shell("echo 'listening http://127.0.0.1:1234'; exec sleep 30"));
  ASSERT_TRUE(child.has_value()) << child.error();
  auto line = child->read_first_line(5s);
  ASSERT_TRUE(line.has_value()) << line.error();
  EXPECT_EQ(*line, "listening http://127.0.0.1:1234");
  EXPECT_FALSE(child->poll_exit().has_value());
  auto s = child->sample();
  ASSERT_TRUE(s.has_value());
  EXPECT_GE(s->threads, 1);
  EXPECT_GT(s->peak_rss_bytes, 0);
  auto e = child->stop(5s);
  EXPECT_FALSE(e.exited);
  EXPECT_EQ(e.signal, SIGTERM);
  EXPECT_FALSE(e.killed_after_timeout);
  EXPECT_FALSE(child->sample().has_value()) << "reaped: no more /proc entry";
}

TEST(ChildProcess, ExecFailureIsAnErrorNamingTheProgram) {
  auto child = child_process::spawn(spawn_options{"/nonexistent/lab-target", {}, {}, {}});
  ASSERT_FALSE(child.has_value());
  EXPECT_NE(child.error().find("/nonexistent/lab-target"), std::string::npos) << child.error();
  EXPECT_NE(child.error().find("No such file"), std::string::npos) << child.error();
}

TEST(ChildProcess, FirstLineTimesOutAndEofIsReported) {
  auto slow = child_process::spawn(shell("exec sleep 30"));
  ASSERT_TRUE(slow.has_value());
  auto line = slow->read_first_line(200ms);
  ASSERT_FALSE(line.has_value());
  EXPECT_NE(line.error().find("no line on stdout within 200 ms"), std::string::npos) << line.error();

  auto quitter = child_process::spawn(shell("printf 'half'; exit 3"));
  ASSERT_TRUE(quitter.has_value());
  auto l2 = quitter->read_first_line(5s);
  ASSERT_FALSE(l2.has_value());
  EXPECT_NE(l2.error().find("half"), std::string::npos) << l2.error();
  auto e = quitter->stop(1s);
  EXPECT_TRUE(e.exited);
  EXPECT_EQ(e.code, 3);
  EXPECT_EQ(e.text(), "exit 3");
}

TEST(ChildProcess, DetectsDeathWithoutReaping) {
  auto child = child_process::spawn(shell("echo up; kill -9 $$"));
  ASSERT_TRUE(child.has_value());
  ASSERT_TRUE(child->read_first_line(5s).has_value());
  std::optional<exit_info> e;
  for (int i = 0; i < 500 && !e; ++i) {
    e = child->poll_exit();
    if (!e) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->signal, SIGKILL);
  auto stopped = child->stop(1s);
  EXPECT_EQ(stopped.signal, SIGKILL);
  EXPECT_NE(stopped.text().find("signal 9"), std::string::npos);
}

TEST(ChildProcess, KillsAfterTheStopDeadline) {
  auto child = child_process::spawn(shell("trap '' TERM; echo ready; exec sleep 30"));
  ASSERT_TRUE(child.has_value());
  ASSERT_TRUE(child->read_first_line(5s).has_value());
  auto e = child->stop(200ms);
  EXPECT_EQ(e.signal, SIGKILL);
  EXPECT_TRUE(e.killed_after_timeout);
}

TEST(ChildProcess, PinsToTheRequestedCpuAndLogsTheRest) {
  auto cpus = allowed_cpus();
  ASSERT_FALSE(cpus.empty());
  fs::path log = fs::temp_directory_path() / ("perflab_spawn_test_" + std::to_string(::getpid()) + ".log");
  fs::remove(log);
  spawn_options o = shell("echo first; grep Cpus_allowed_list /proc/self/status; echo oops >&2");
  o.cpus = {cpus.back()};
  o.log_file = log;
  auto child = child_process::spawn(o);
  ASSERT_TRUE(child.has_value()) << child.error();
  EXPECT_EQ(child->read_first_line(5s).value_or(""), "first");
  for (int i = 0; i < 500 && !child->poll_exit(); ++i) std::this_thread::sleep_for(10ms);
  auto e = child->stop(5s);
  EXPECT_TRUE(e.success()) << e.text();
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  EXPECT_NE(ss.str().find("Cpus_allowed_list:\t" + std::to_string(cpus.back()) + "\n"), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("oops"), std::string::npos) << ss.str();
}

TEST(HttpProbe, ReadsTheStatusAndReportsRefusal) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  std::thread server([fd] {
    int c = ::accept(fd, nullptr, nullptr);
    char buf[512];
    (void)!::recv(c, buf, sizeof buf, 0);
    const char resp[] = "HTTP/1.1 204 No Content\r\n\r\n";
    (void)!::send(c, resp, sizeof resp - 1, 0);
    ::close(c);
  });
  auto status = http_probe("127.0.0.1", port, "/health", 5s);
  server.join();
  ::close(fd);
  ASSERT_TRUE(status.has_value()) << status.error();
  EXPECT_EQ(*status, 204);
  auto refused = http_probe("127.0.0.1", port, "/health", 1s);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().find("connect"), std::string::npos) << refused.error();
}

// A one-connection server on 127.0.0.1 that reads the request, sends `pieces` one by one and then
// closes (close_after) or waits for the client to close.
struct scripted_server {
  int fd = -1;
  int port = 0;
  std::thread thread;

  scripted_server(std::vector<std::string> pieces, bool close_after) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd, 4), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    thread = std::thread([this, pieces = std::move(pieces), close_after] {
      int c = ::accept(fd, nullptr, nullptr);
      char buf[512];
      (void)!::recv(c, buf, sizeof buf, 0);
      for (const auto& p : pieces) {
        (void)!::send(c, p.data(), p.size(), MSG_NOSIGNAL);
        std::this_thread::sleep_for(5ms);  // separate reads on the client side
      }
      if (!close_after)
        while (::recv(c, buf, sizeof buf, 0) > 0) {
        }
      ::close(c);
    });
  }
  ~scripted_server() {
    thread.join();
    ::close(fd);
  }
};

TEST(HttpProbe, ParsesTheHeadWithTheResponseParserAndNamesWhatWentWrong) {
  struct row {
    const char* label;
    std::vector<std::string> pieces;
    bool close_after;
    int status;              // expected status, or 0 for an error...
    const char* error_part;  // ...containing this
  };
  const std::vector<row> rows = {
      {"one piece", {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}, true, 200, ""},
      {"split status line", {"HTTP/1.1 2", "03 Non-Authoritative\r\nContent-Le", "ngth: 0\r\n\r\n"}, true, 203, ""},
      {"head without body yet", {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"}, false, 200, ""},
      {"bare LF", {"HTTP/1.0 200 OK\n\n"}, true, 200, ""},
      {"interim then final", {"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"},
       true, 503, ""},
      {"not HTTP", {"SSH-2.0-OpenSSH_9.2\r\n"}, true, 0, "not an HTTP response: \"SSH-2.0-OpenSSH_9.2\""},
      {"HTTP/2 preface", {"HTTP/2 200\r\n\r\n"}, true, 0, "not an HTTP response: \"HTTP/2 200\""},
      {"malformed header", {"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n"}, true, 0,
       "bad HTTP response (malformed header field): \"HTTP/1.1 200 OK\""},
      {"closed in the head", {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"}, true, 0,
       "connection closed before the end of the response head: \"HTTP/1.1 200 OK\""},
      {"closed silently", {}, true, 0, "connection closed without a response"},
      {"silent", {}, false, 0, "no response: timed out"},
  };
  for (const auto& r : rows) {
    scripted_server server(r.pieces, r.close_after);
    auto status = http_probe("127.0.0.1", server.port, "/health", r.close_after ? 5s : 300ms);
    if (r.status != 0) {
      ASSERT_TRUE(status.has_value()) << r.label << ": " << status.error();
      EXPECT_EQ(*status, r.status) << r.label;
    } else {
      ASSERT_FALSE(status.has_value()) << r.label << ": got " << *status;
      EXPECT_NE(status.error().find(r.error_part), std::string::npos) << r.label << ": " << status.error();
    }
  }
}


TEST(CpuDelta, ThreadTimesGiveTheExactTotalWithTheTicksSplit) {
  process_sample a, b;
  a.cpu_user_s = 1.00, a.cpu_system_s = 0.10;  // whole ticks, rounded down
  b.cpu_user_s = 1.20, b.cpu_system_s = 0.20;  // 0.30 s by the ticks
  a.task_cpu_ns = {{10, 1'000'000'000}, {11, 104'000'000}};
  b.task_cpu_ns = {{10, 1'150'000'000}, {11, 190'000'000}, {12, 77'000'000}};  // thread 12 is new
  const auto d = cpu_delta(a, b);
  EXPECT_TRUE(d.exact);
  EXPECT_NEAR(d.user_s + d.system_s, 0.313, 1e-9) << "0.15 + 0.086 + 0.077 s";
  EXPECT_NEAR(d.user_s / (d.user_s + d.system_s), 0.2 / 0.3, 1e-9) << "the ticks' split";
}

TEST(CpuDelta, AThreadThatEndedOrTimesThatDisagreeFallBackToTheTicks) {
  process_sample a, b;
  a.cpu_user_s = 1.0, b.cpu_user_s = 1.3;
  a.task_cpu_ns = {{10, 1'000'000'000}, {11, 5'000'000}};
  b.task_cpu_ns = {{10, 1'290'000'000}};  // thread 11 ended: its time is gone from the list
  auto d = cpu_delta(a, b);
  EXPECT_FALSE(d.exact);
  EXPECT_NEAR(d.user_s, 0.3, 1e-9);

  b.task_cpu_ns = {{10, 1'100'000'000}, {11, 5'000'000}};  // 0.1 s against 0.3 s of ticks: a thread
  d = cpu_delta(a, b);                                        // born and ended in between
  EXPECT_FALSE(d.exact);
  EXPECT_NEAR(d.user_s, 0.3, 1e-9);

  b.task_cpu_ns.clear();  // not sampled with task times
  EXPECT_FALSE(cpu_delta(a, b).exact);
}

TEST(CpuDelta, ARealChildsThreadTimesCoverItsBusyWork) {
  auto child = child_process::spawn(shell("echo ready; i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exec sleep 30"));
  ASSERT_TRUE(child.has_value()) << child.error();
  ASSERT_TRUE(child->read_first_line(5s).has_value());
  auto a = child->sample(true);
  ASSERT_TRUE(a.has_value());
  ASSERT_FALSE(a->task_cpu_ns.empty());
  EXPECT_EQ(a->task_cpu_ns.front().first, child->pid());
  // The shell counts for a while: sample once it has spent some CPU.
  std::optional<process_sample> b;
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(50ms);
    b = child->sample(true);
    if (b && b->cpu_user_s + b->cpu_system_s > 0.05) break;
  }
  ASSERT_TRUE(b.has_value());
  const auto d = cpu_delta(*a, *b);
  EXPECT_TRUE(d.exact);
  EXPECT_GT(d.user_s + d.system_s, 0.0);
  child->stop(5s);
}

TEST(ProcessTree, SumsTheProcessAndItsDescendantsAndReadsPidFiles) {
  // A supervisor with two children and a grandchild, as a pid file would name it: the tree's
  // sample counts all four processes' threads, the process's own sample one.
  auto child = child_process::spawn(shell("sleep 3 & sh -c 'sleep 3 & wait' & sleep 0.05; echo ready; wait"));
  ASSERT_TRUE(child.has_value()) << child.error();
  ASSERT_TRUE(child->read_first_line(5s).has_value());
  std::optional<process_sample> tree;
  for (int i = 0; i < 100; ++i) {  // until the grandchild has started
    tree = sample_process_tree(child->pid(), true);
    if (tree && tree->threads == 4) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(tree.has_value());
  EXPECT_EQ(tree->threads, 4);
  EXPECT_EQ(tree->task_cpu_ns.size(), 4u);
  EXPECT_EQ(sample_process(child->pid())->threads, 1);
  EXPECT_GT(tree->peak_rss_bytes, sample_process(child->pid())->peak_rss_bytes);

  const auto dir = std::filesystem::temp_directory_path() / ("perflab-pidfile-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "pid") << text;
    return read_pid_file((dir / "pid").string());
  };
  EXPECT_EQ(write(std::to_string(child->pid()) + "\n"), child->pid());
  EXPECT_FALSE(write("12x").has_value());
  EXPECT_FALSE(write("").has_value());
  EXPECT_FALSE(read_pid_file((dir / "none").string()).has_value());
  child->stop(5s);
  EXPECT_FALSE(write(std::to_string(child->pid())).has_value()) << "no such process any more";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace perflab::loadgen
