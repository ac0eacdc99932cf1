#include "perflab/loadgen/spawn.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

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

}  // namespace
}  // namespace perflab::loadgen
