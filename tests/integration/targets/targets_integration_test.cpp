// lab-target end to end, once per concurrency model: each test starts the real program on
// 127.0.0.1 port 0, reads the "listening http://..." line, and talks HTTP/1.1 over sockets.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "target_harness.hpp"

namespace {

using namespace std::chrono_literals;
using namespace perflab::testing;

class TargetModel : public model_test {};

struct robustness_case {
  const char* name;
  std::string raw;
  int status;
  bool closes;
};

constexpr char binary_garbage[] = "\x16\x03\x01\x02\x00\x01\xfc\x03\x03 x\r\n\r\n";  // a TLS hello

TEST_P(TargetModel, RobustnessCasesAnswerThenKeepServing) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const std::vector<robustness_case> cases = {
      {"headers over 8 KiB", "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n", 431, true},
      {"request line over 8 KiB", "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414, true},
      {"body over limit", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\n\r\n", 413, true},
      {"content-length and transfer-encoding",
       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true},
      {"transfer coding without chunked", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400, true},
      {"unknown coding before chunked", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
       true},
      {"unknown method", "BREW /hello HTTP/1.1\r\nHost: t\r\n\r\n", 501, false},
      {"chunked body over limit (declared chunk size)",
       "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n500000\r\n", 413, true},
      {"bogus request line", "hello there\r\n\r\n", 400, true},
      {"header line without a colon", "GET /hello HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", 400, true},
      {"binary garbage", std::string(binary_garbage, sizeof binary_garbage - 1), 400, true},
      {"missing path", "GET /nothing-here HTTP/1.1\r\nHost: t\r\n\r\n", 404, false},
      {"wrong method", "DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n", 405, false},
      {"bad argument", "GET /json?items=lots HTTP/1.1\r\nHost: t\r\n\r\n", 400, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    client conn(t.port());
    ASSERT_TRUE(conn.connected());
    auto r = conn.request(c.raw);
    ASSERT_TRUE(r) << "no response";
    EXPECT_EQ(r->status, c.status) << r->head;
    EXPECT_EQ(r->close, c.closes) << r->head;
    if (c.closes) {
      EXPECT_TRUE(conn.closed_by_peer());
    } else {
      auto again = conn.request(get_hello);  // the same connection goes on
      ASSERT_TRUE(again);
      EXPECT_EQ(again->status, 200);
    }
    expect_still_serving(t.port());
  }
}

TEST_P(TargetModel, SlowlorisGets408AndOthersAreServed) {
  target_process t(model_args(GetParam(), {"--header-timeout", "300ms", "--idle-timeout", "5s"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client slow(t.port());
  ASSERT_TRUE(slow.send("GET /hello HTTP/1.1\r\nHost: t\r\n"));
  const auto start = std::chrono::steady_clock::now();
  // Trickle header bytes: activity must not extend the header deadline.
  std::thread trickle([&] {
    for (int i = 0; i < 8; ++i) {
      std::this_thread::sleep_for(50ms);
      if (!slow.send("X-A: b\r\n")) break;
    }
  });
  expect_still_serving(t.port());
  auto r = slow.read();
  trickle.join();
  ASSERT_TRUE(r) << "no 408";
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(r->close);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_TRUE(slow.closed_by_peer());
  expect_still_serving(t.port());
}

TEST_P(TargetModel, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  target_process t(model_args(GetParam(), {"--idle-timeout", "300ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  ASSERT_TRUE(c.request(get_hello));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_P(TargetModel, PipelinedRequestsAreAnsweredInOrder) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  ASSERT_TRUE(c.send("GET /bytes/5 HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /sleep?ms=20 HTTP/1.1\r\nHost: t\r\n\r\n"
                     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nping\r\n0\r\n\r\n"
                     "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::vector<std::pair<int, std::string>> expected = {
      {200, "abcde"}, {200, "slept 20 ms\n"}, {200, "ping"}, {404, "404 Not Found\n"}, {200, "Hello, World!"}};
  for (const auto& [status, body] : expected) {
    auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status);
    EXPECT_EQ(r->body, body);
  }
}

TEST_P(TargetModel, HeadHasHeadersWithoutBody) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  auto r = c.request("HEAD /bytes/1000 HTTP/1.1\r\nHost: t\r\n\r\n", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->head.find("Content-Length: 1000\r\n"), std::string::npos);
  // No body bytes came: the next response starts right away.
  auto next = c.request(get_hello);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "Hello, World!");
}

TEST_P(TargetModel, KeepAliveFollowsHttp10And11Rules) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  {  // 1.0 closes by default
    client c(t.port());
    auto r = c.request("GET /hello HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->close);
    EXPECT_TRUE(c.closed_by_peer());
  }
  {  // 1.0 with keep-alive stays open and says so
    client c(t.port());
    auto r = c.request("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_NE(r->head.find("Connection: keep-alive\r\n"), std::string::npos);
    auto r2 = c.request("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->status, 200);
  }
  {  // 1.1 stays open by default, closes on Connection: close
    client c(t.port());
    for (int i = 0; i < 3; ++i) {
      auto r = c.request(get_hello);
      ASSERT_TRUE(r);
      EXPECT_FALSE(r->close);
    }
    auto last = c.request("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(last);
    EXPECT_TRUE(last->close);
    EXPECT_TRUE(c.closed_by_peer());
  }
}

TEST_P(TargetModel, SigtermAndSigintFinishInFlightAndExitZero) {
  for (const int sig : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    target_process t(model_args(GetParam()));
    ASSERT_GT(t.port(), 0) << t.first_line();
    client idle(t.port());
    ASSERT_TRUE(idle.request(get_hello));
    client busy(t.port());
    // Long enough to see it in flight and signal before it ends, on a slow host too.
    ASSERT_TRUE(busy.send("GET /sleep?ms=2000 HTTP/1.1\r\nHost: t\r\n\r\n"));
    // The sleep is in flight (the scrape counts itself too).
    ASSERT_TRUE(wait_for_metric(t.port(), "perflab_target_in_flight_requests 2\n"));
    ::kill(t.pid(), sig);
    auto r = busy.read();
    ASSERT_TRUE(r) << "in-flight request was dropped";
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->close);
    EXPECT_TRUE(idle.closed_by_peer());
    EXPECT_EQ(t.wait_exit(10s), 0);
  }
}

TEST_P(TargetModel, ShutdownDeadlineEndsWhatIsStillInFlightAndExitsZero) {
  target_process t(model_args(GetParam(), {"--shutdown-timeout", "300ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client busy(t.port(), 20s);
  ASSERT_TRUE(busy.send("GET /sleep?ms=15000 HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(wait_for_metric(t.port(), "perflab_target_in_flight_requests 2\n"));
  const auto signalled = std::chrono::steady_clock::now();
  ::kill(t.pid(), SIGTERM);
  EXPECT_EQ(t.wait_exit(10s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 5s) << "the 15 s sleep was waited for";
  EXPECT_FALSE(busy.read()) << "a response the deadline cut short";
}

TEST_P(TargetModel, PipelinedRequestBehindALongSleepGetsItsOwnHeaderDeadline) {
  // The /sleep outlasts the header timeout; the request behind it, half sent with it and
  // finished right after its answer, is served (its deadline starts when the server reaches it).
  target_process t(model_args(GetParam(), {"--header-timeout", "1s"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  ASSERT_TRUE(c.send("GET /sleep?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\nGET /hel"));
  auto slept = c.read();
  ASSERT_TRUE(slept);
  EXPECT_EQ(slept->status, 200);
  auto hello = c.request("lo HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(hello) << "connection closed";
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->body, "Hello, World!");
}

TEST_P(TargetModel, CpuBurnsCpuAndHealthSaysOk) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  auto health = c.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");
  const double before = cpu_seconds(t.pid());
  auto burned = c.request("GET /cpu?us=300000 HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(burned);
  EXPECT_EQ(burned->status, 200);
  EXPECT_EQ(burned->body.rfind("burned 300000 us", 0), 0u) << burned->body;
  // The handler spins for 300 ms of wall time, so its CPU time is that less whatever other
  // processes took from it; a sleep would show none (clock ticks are 10 ms). A sixth of a CPU
  // is enough to pass.
  EXPECT_GE(cpu_seconds(t.pid()) - before, 0.05);
}

TEST_P(TargetModel, ConnectionCapRefusesWith503) {
  target_process t(model_args(GetParam(), {"--max-connections", "2"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  std::vector<client> held;
  for (int i = 0; i < 2; ++i) {
    held.emplace_back(t.port());
    ASSERT_TRUE(held.back().request(get_hello));
  }
  {
    client extra(t.port());
    ASSERT_TRUE(extra.connected());
    auto r = extra.read();  // refused at accept: the 503 comes unasked
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_TRUE(r->close);
  }
  // The held ones are still fine; after one closes, a new connection is served.
  EXPECT_EQ(held[0].request(get_hello)->status, 200);
  held.pop_back();
  // The server notices the close when it reads EOF; until then a newcomer is still refused.
  const bool served = poll_until([&] {
    client c(t.port());
    auto r = c.request(get_hello);
    return r && r->status == 200;
  }, 5s);
  EXPECT_TRUE(served) << "no new connection was served after a held one closed";
}

TEST_P(TargetModel, MetricsCountRequestsAndConnections) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.request(get_hello));
  ASSERT_TRUE(c.request("GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.request("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("perflab_target_requests_total{endpoint=\"hello\",status=\"200\"} 3\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("perflab_target_requests_total{endpoint=\"not_found\",status=\"404\"} 1\n"), std::string::npos);
  EXPECT_NE(r->body.find("perflab_target_open_connections 1\n"), std::string::npos);
  EXPECT_NE(r->body.find("perflab_target_in_flight_requests 1\n"), std::string::npos);  // the scrape itself
  EXPECT_NE(r->body.find("perflab_target_info{model=\"" + GetParam() + "\"} 1\n"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetModel, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

class TargetAsyncModel : public model_test {};

// Thousands of idle keep-alive connections cost the event-loop models little: all stay open
// and each is still answered.
TEST_P(TargetAsyncModel, HoldsThousandsOfIdleKeepAliveConnections) {
#if defined(__SANITIZE_THREAD__)
  // TSan keeps the state of a thread for every fiber (about 1 MB: 1,500 idle fibers took 1.4 GiB
  // and 50 s here), so under TSan the fiber model holds a tenth of them.
  const int n = GetParam() == "fiber" ? 300 : 3000;
#else
  constexpr int n = 3000;
#endif
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(n) + 100) GTEST_SKIP() << "RLIMIT_NOFILE hard limit too low: " << rl.rlim_max;
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  std::vector<client> conns;
  conns.reserve(n);
  for (int i = 0; i < n; ++i) {
    conns.emplace_back(t.port());
    ASSERT_TRUE(conns.back().connected()) << i;
  }
  // Everyone asks once (all requests first, then all answers: the server holds them all).
  for (auto& c : conns) ASSERT_TRUE(c.send(get_hello));
  int ok = 0;
  for (auto& c : conns) {
    auto r = c.read();
    if (r && r->status == 200) ++ok;
  }
  EXPECT_EQ(ok, n);
  client probe(t.port());
  auto m = probe.request("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("perflab_target_open_connections " + std::to_string(n + 1) + "\n"), std::string::npos);
  // Idle again, and still served on the same connections.
  for (int i = 0; i < n; i += 97) {
    auto r = conns[static_cast<std::size_t>(i)].request(get_hello);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

INSTANTIATE_TEST_SUITE_P(EventLoops, TargetAsyncModel, ::testing::Values("reactor", "coroutine", "fiber", "io-uring"),
                         [](const auto& p) { return model_test_name(p.param); });

TEST(TargetThreadPool, RefusesBeyondTheQueue) {
  target_process t({"--model", "thread-pool", "--threads", "1", "--queue", "1", "--listen", "127.0.0.1:0"});
  ASSERT_GT(t.port(), 0) << t.first_line();
  client a(t.port());
  ASSERT_TRUE(a.request(get_hello));  // a holds the only worker (keep-alive)
  client b(t.port());                 // waits in the queue
  std::this_thread::sleep_for(100ms);
  client c(t.port());                 // the queue is full
  auto refused = c.read();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  ASSERT_TRUE(b.send(get_hello));
  ASSERT_TRUE(a.request("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));  // frees the worker
  auto rb = b.read();
  ASSERT_TRUE(rb) << "queued connection was not served once a worker was free";
  EXPECT_EQ(rb->status, 200);
}

TEST(TargetThreadPool, QueueZeroServesFreeWorkersAndRefusesTheRest) {
  target_process t({"--model", "thread-pool", "--threads", "2", "--queue", "0", "--listen", "127.0.0.1:0"});
  ASSERT_GT(t.port(), 0) << t.first_line();
  // --queue 0: nothing waits, but a connection a free worker can take is never refused.
  client a(t.port()), b(t.port());
  auto ra = a.request(get_hello);  // a and b hold both workers (keep-alive)
  auto rb = b.request(get_hello);
  ASSERT_TRUE(ra && rb) << "a connection with a free worker got no answer";
  EXPECT_EQ(ra->status, 200);
  EXPECT_EQ(rb->status, 200);
  {
    client c(t.port());
    auto refused = c.read();
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503);
  }
  ASSERT_TRUE(b.request("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));  // frees a worker
  const auto refusals = metric_value(t.port(), "perflab_target_connections_refused_total");
  ASSERT_TRUE(refusals);
  EXPECT_GE(*refusals, 1);
}

TEST(TargetThreadPerRequest, ThreadCapRefusesWith503AndCounts) {
  target_process t({"--model", "thread-per-request", "--threads", "2", "--listen", "127.0.0.1:0"});
  ASSERT_GT(t.port(), 0) << t.first_line();
  client a(t.port()), b(t.port());
  ASSERT_TRUE(a.request(get_hello));  // a and b hold both threads (keep-alive)
  ASSERT_TRUE(b.request(get_hello));
  {
    client c(t.port());
    auto refused = c.read();
    ASSERT_TRUE(refused) << "the connection beyond the cap got no answer";
    EXPECT_EQ(refused->status, 503);
    EXPECT_TRUE(refused->close);
  }
  EXPECT_EQ(a.request(get_hello)->status, 200);  // the held ones go on
  ASSERT_TRUE(b.request("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  // b's thread ends; the scrape then gets it (a probe refused meanwhile counts too).
  const auto refusals = metric_value(t.port(), "perflab_target_connections_refused_total");
  ASSERT_TRUE(refusals);
  EXPECT_GE(*refusals, 1);
}

TEST(TargetCommandLine, CpuOptionPinsEveryThread) {
  // The first CPU this test may run on (a CI container need not have CPU 0).
  cpu_set_t mine;
  ASSERT_EQ(::sched_getaffinity(0, sizeof mine, &mine), 0);
  int cpu = 0;
  while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &mine)) ++cpu;
  ASSERT_LT(cpu, CPU_SETSIZE);
  target_process t({"--model", "reactor", "--threads", "2", "--cpu", std::to_string(cpu), "--listen", "127.0.0.1:0"});
  ASSERT_GT(t.port(), 0) << t.first_line();
  int tasks = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(t.pid()) + "/task")) {
    std::ifstream status(task.path() / "status");
    std::string line, allowed;
    while (std::getline(status, line))
      if (line.rfind("Cpus_allowed_list:", 0) == 0) allowed = line.substr(line.find_first_not_of(" \t", 18));
    EXPECT_EQ(allowed, std::to_string(cpu)) << task.path();
    ++tasks;
  }
  EXPECT_GE(tasks, 2);
  expect_still_serving(t.port());
}

TEST(TargetCommandLine, UnknownOptionExitsTwoNamingIt) {
  const std::string cmd = std::string(PERFLAB_LAB_TARGET) + " --model reactor --frobnicate 3 2>&1";
  const auto [status, out] = run_command(cmd);
  EXPECT_EQ(status, 2);
  EXPECT_NE(out.find("--frobnicate"), std::string::npos) << out;
}

TEST(TargetCommandLine, BadValuesExitTwoNamingTheOption) {
  for (const char* args : {"--model fibers", "--model reactor --cpu 9999", "--model reactor --idle-timeout 5",
                           "--model reactor --listen nowhere", "--model fiber --fiber-stack 4KiB",
                           "--model reactor --fiber-stack 64KiB"}) {
    const std::string cmd = std::string(PERFLAB_LAB_TARGET) + " " + args + " 2>&1";
    const auto [status, out] = run_command(cmd);
    EXPECT_EQ(status, 2) << args;
    const std::string opt = std::string(args).substr(std::string(args).rfind("--"));
    EXPECT_NE(out.find(opt.substr(0, opt.find(' '))), std::string::npos) << args << ": " << out;
  }
}

// Where io_uring_setup is refused (seccomp, kernel.io_uring_disabled, an old kernel), --model
// io-uring exits 2 naming the cause, before it listens. The refusal is simulated through the
// test hook, never by changing the machine's sysctl.
TEST(TargetCommandLine, IoUringUnavailableExitsTwoNamingTheReasonBeforeListening) {
  const std::string cmd = std::string("PERFLAB_TEST_IO_URING_ERRNO=EPERM ") + PERFLAB_LAB_TARGET +
                          " --model io-uring --listen 127.0.0.1:0 2>&1";
  const auto [status, out] = run_command(cmd);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("io_uring is unavailable"), std::string::npos) << out;
  EXPECT_NE(out.find("EPERM"), std::string::npos) << out;
  EXPECT_EQ(out.find("listening"), std::string::npos) << out;
}

}  // namespace
