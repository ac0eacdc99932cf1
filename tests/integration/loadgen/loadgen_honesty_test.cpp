// End-to-end tests of what a summary must not hide (issues "the lab tells the truth at a
// glance" and "defects found by an independent review"): requests starved through the whole
// measured phase, error responses counted as throughput, the drain counted as throughput, the
// phase ending early, samples in the wrong second, bytes nobody asked for, close-delimited and
// interim responses, connect timeouts in closed loop, and the loadgen's own resource limits.
// Each test reproduces a case the old engine got wrong (the old value is in a comment).
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "perflab/core/exit_codes.hpp"
#include "perflab/core/hdr_log.hpp"
#include "perflab/core/verdict.hpp"
#include "support.hpp"
#include "test_server.hpp"

namespace perflab::loadgen {
namespace {

using namespace std::chrono_literals;
using testing::framing;
using testing::server_options;
using testing::test_server;

std::vector<const result::second_point*> measured_rows(const result::variant& v) {
  std::vector<const result::second_point*> rows;
  for (const auto& p : v.series)
    if (p.phase == "measured") rows.push_back(&p);
  return rows;
}

// ---- stalled requests (issue 10, case 1) ----

TEST(Stalled, WarmUpRequestsNeverAnsweredAreCountedAndTheRowIsNotOk) {
  // A server that answers only its first 2 connections, as a thread pool whose workers keep
  // their keep-alive connections: 4 of 6 closed-loop clients send during the warm-up and wait
  // for the whole run. The old engine counted them nowhere: status ok, 0 errors.
  server_options o;
  o.served_connections = 2;
  o.delay = 5ms;
  test_server srv(o);
  auto cfg = closed_loop(srv.url(), 6, 1s);
  cfg.warmup = 300ms;
  cfg.drain_timeout = 200ms;
  const auto v = run_ok(cfg);
  // The starved clients' requests, and a served client's request in flight at the boundary.
  EXPECT_GE(v.carried_in, 4);
  EXPECT_LE(v.carried_in, 6);
  EXPECT_EQ(v.stalled, 4);
  EXPECT_EQ(v.abandoned, 4);
  EXPECT_GT(v.completed, 100);  // the two served clients kept going
  // The unanswered count as errors, and their latency is at least the whole run.
  EXPECT_NEAR(v.error_rate, 4.0 / static_cast<double>(v.completed + 4), 1e-9);
  EXPECT_GE(v.ttlb.max_us, reads_at_least(1'300'000));
  EXPECT_EQ(v.ttlb.count, v.completed + 4);
  // Every second of the measured phase shows them outstanding through it.
  for (const auto* p : measured_rows(v)) EXPECT_EQ(p->stalled, 4) << p->t_s;
  const auto flags = result::status_flags(v);
  EXPECT_NE(std::find(flags.begin(), flags.end(), "STALLED"), flags.end());
  EXPECT_EQ(result::exit_code_of(v), exit_code::target_failing);
}

TEST(Stalled, WarmUpRequestsAnsweredInTheMeasuredPhaseCountWithTheirWholeLatency) {
  // Every response takes 400 ms; the warm-up is 200 ms: each of the 3 clients' first request
  // is carried into the measured phase and answered in it, with its latency from its start.
  server_options o;
  o.delay = 400ms;
  test_server srv(o);
  auto cfg = closed_loop(srv.url(), 3, 1s);
  cfg.warmup = 200ms;
  const auto v = run_ok(cfg);
  EXPECT_EQ(v.carried_in, 3);
  // The three connections were opened in the warm-up and kept: the report can say so.
  EXPECT_EQ(v.connections_warmup, 3);
  EXPECT_EQ(v.connections_opened, 0);
  EXPECT_EQ(v.stalled, 0);
  EXPECT_EQ(v.abandoned, 0);
  EXPECT_EQ(v.errors.total(), 0);
  EXPECT_GE(v.ttlb.min_us, reads_at_least(400'000));
  EXPECT_EQ(result::status_word(v), "ok");
}

// ---- goodput (issue 10, case 2) ----

TEST(Goodput, ErrorResponsesAreNotThroughputAndMakeTheRowFail) {
  // 100 % 503 at 200/s: the old summary read "200 TPS", status ok.
  server_options o;
  o.status = 503;
  test_server srv(o);
  auto cfg = open_loop(srv.url(), 200, 1s);
  cfg.send_lag_bound_us = 1e6;  // about the target, not the schedule: a busy host must not flag it
  const auto v = run_ok(cfg);
  EXPECT_EQ(v.tps_mean, 0);
  EXPECT_NEAR(v.rps_mean, 200, 10);
  EXPECT_EQ(v.succeeded, 0);
  EXPECT_EQ(v.errors.status_5xx, v.completed);
  EXPECT_NEAR(v.error_rate, 1.0, 1e-9);
  EXPECT_EQ(result::status_word(v), "ERRORS");
  EXPECT_EQ(result::exit_code_of(v), exit_code::target_failing);
}

TEST(Goodput, ScenarioDeclaredSuccessStatusesCount) {
  server_options o;
  o.status = 404;
  test_server srv(o);
  auto cfg = open_loop(srv.url(), 200, 1s);
  cfg.success = "2xx,404";
  cfg.max_error_rate = 1.0;  // a 404 is still a 4xx in the error classes
  const auto v = run_ok(cfg);
  EXPECT_NEAR(v.tps_mean, 200, 10);
  EXPECT_EQ(v.succeeded, v.completed);
  EXPECT_EQ(v.load.success, "2xx,404");
}

TEST(Goodput, AttackAgainstARefusingPortExitsSeven) {
  // The old attack reported 5,000 refused connections, "schedule: kept", and exited 0.
  const auto port = test_server::refused_port();
  const auto res = run_program({"attack", "http://127.0.0.1:" + std::to_string(port) + "/", "--rate", "1k/s",
                                "--duration", "500ms"});
  EXPECT_EQ(res.exit_code, exit_code::target_failing) << res.output;
  EXPECT_NE(res.output.find("ERRORS"), std::string::npos) << res.output;
  EXPECT_NE(res.output.find("goodput 0.0/s"), std::string::npos) << res.output;
}

TEST(Goodput, ErrorRateBoundIsAnOption) {
  server_options o;
  o.status = 503;
  test_server srv(o);
  const auto res = run_program({"attack", srv.url(), "--rate", "100/s", "--duration", "300ms", "--max-error-rate",
                                "100%"});
  EXPECT_TRUE(res.exit_code == 0 || res.exit_code == exit_code::saturated) << res.output;
  const auto bad = run_program({"attack", srv.url(), "--rate", "100/s", "--max-error-rate", "120%"});
  EXPECT_EQ(bad.exit_code, exit_code::usage) << bad.output;
  EXPECT_NE(bad.output.find("--max-error-rate"), std::string::npos) << bad.output;
}

// ---- the measured phase and its seconds (issue 11, items 2-4) ----

TEST(MeasuredPhase, ResponsesInTheDrainAreNotThroughput) {
  // A server that does 125/s under 250/s of arrivals: the old summary said 194 TPS (it counted
  // the drain's responses over the measured phase's length), errors none, exit 0.
  server_options o;
  o.serial = true;
  o.delay = 8ms;
  test_server srv(o);
  auto cfg = open_loop(srv.url(), 250, 2s);
  cfg.connections = 1000;
  cfg.drain_timeout = 500ms;
  cfg.send_lag_bound_us = 1e6;  // about the target, not the schedule: a busy host must not flag it
  const auto v = run_ok(cfg);
  EXPECT_NEAR(v.tps_mean, 125, 12);
  EXPECT_NEAR(v.rps_mean, v.tps_mean, 1e-9);
  EXPECT_GT(v.abandoned, 150);  // ~250 queued at the end, ~60 answered in the drain
  EXPECT_GT(v.error_rate, 0.2);
  EXPECT_EQ(result::exit_code_of(v), exit_code::target_failing);
  for (const auto* p : measured_rows(v)) EXPECT_NEAR(static_cast<double>(p->completed), 125, 15) << p->t_s;
  ASSERT_FALSE(v.series.empty());
  const auto& drain = v.series.back();
  EXPECT_EQ(drain.phase, "drain");
  EXPECT_NEAR(drain.length_s, 0.5, 0.1);  // not claimed as one second
  EXPECT_NEAR(static_cast<double>(drain.completed), 60, 15);
}

TEST(MeasuredPhase, OpenLoopPhaseLastsAsPlannedAfterTheLastArrival) {
  // --rate 1 --duration 3s: arrivals at 0, 1 and 2 s. The old engine ended the phase at the
  // last arrival: "3 completed in 2.00s, 1.5 TPS" and 2 intervals.
  test_server srv;
  const auto v = run_ok(open_loop(srv.url(), 1, 3s));
  EXPECT_NEAR(v.measured_s, 3.0, 0.005);
  EXPECT_NEAR(v.tps_mean, 1.0, 0.01);
  EXPECT_EQ(measured_rows(v).size(), 3u);
}

TEST(MeasuredPhase, SamplesLandInTheSecondTheyHappenedIn) {
  // Arrivals fall exactly on the second boundaries; the old engine cut intervals at its 5 ms
  // housekeeping tick, so second 0 showed 2 sent and a later one none.
  test_server srv;
  const auto v = run_ok(open_loop(srv.url(), 1, 4s));
  const auto rows = measured_rows(v);
  ASSERT_EQ(rows.size(), 4u);
  for (const auto* p : rows) {
    EXPECT_EQ(p->sent, 1) << p->t_s;
    EXPECT_EQ(p->completed, 1) << p->t_s;
  }
}

// ---- bytes on the wire (issue 11, items 5-7) ----

TEST(Wire, BytesPastTheEndOfAResponseAreCounted) {
  // Content-Length says 13 bytes; 5 more follow. The old engine dropped them silently.
  server_options o;
  o.trailing_bytes = "extra";
  test_server srv(o);
  auto cfg = open_loop(srv.url(), 50, 500ms);
  const auto v = run_ok(cfg);
  EXPECT_GT(v.completed, 20);
  EXPECT_EQ(v.errors.unsolicited, v.completed);
  // The connection cannot be trusted after an overrun: each request opened its own.
  EXPECT_GE(v.connections_opened, v.completed);
}

TEST(Wire, BytesOnAnIdleConnectionAreNotTheNextResponse) {
  // The server sends "408 Request Timeout" on connections idle for 40 ms, then closes. The old
  // engine took it as the next request's response: 4xx responses of ~50 us for requests the
  // server never saw.
  server_options o;
  o.unsolicited_after = 40ms;
  test_server srv(o);
  auto cfg = open_loop(srv.url(), 10, 1s);
  cfg.connections = 1;
  const auto v = run_ok(cfg);
  EXPECT_EQ(v.errors.status_4xx, 0);
  EXPECT_GE(v.errors.unsolicited, 7);
  EXPECT_EQ(v.completed, v.sent);
  EXPECT_EQ(v.succeeded, v.completed);
}

TEST(Wire, CloseDelimitedBodyEndsWithItsLastByteNotTheClose) {
  // Body at once, close 200 ms later: the old engine read TTLB 200.8 ms.
  server_options o;
  o.frame = framing::close_delimited;
  o.close_delay = 200ms;
  test_server srv(o);
  auto cfg = closed_loop(srv.url(), 1, 0s);
  cfg.max_requests = 3;
  const auto v = run_ok(cfg);
  EXPECT_EQ(v.completed, 3);
  EXPECT_EQ(v.errors.total(), 0);
  EXPECT_LT(v.ttlb_uncorrected.max_us, testing::slack_us(50'000));
}

TEST(Wire, TtfbIsTheFinalResponsesFirstByteNotAnInterimOnes) {
  // 103 Early Hints at once, the final response 100 ms later: the old engine read TTFB ~0.
  server_options o;
  o.interim = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
  o.delay = 100ms;
  test_server srv(o);
  auto cfg = closed_loop(srv.url(), 1, 0s);
  cfg.max_requests = 3;
  const auto v = run_ok(cfg);
  EXPECT_EQ(v.completed, 3);
  EXPECT_GE(v.ttfb_uncorrected.min_us, reads_at_least(100'000));
}

// ---- connect timeouts in closed loop (issue 11, item 1) ----

TEST(ClosedLoop, ConnectTimeoutsRecordTheWaitNotTheHostsUptime) {
  // A listener with backlog 0 that never accepts: one handshake completes, the rest time out.
  // The old engine recorded now - 0 (the uptime) for each timed-out connect.
  never_accepting_listener listener;
  auto cfg = closed_loop(listener.url(), 6, 2s);
  cfg.connect_timeout = 300ms;
  cfg.request_timeout = 1s;
  cfg.drain_timeout = 100ms;
  const auto v = run_ok(cfg);
  EXPECT_GT(v.errors.connect_timeout, 3);
  EXPECT_EQ(v.ttlb.too_large, 0);
  EXPECT_LT(v.ttlb.max_us, 1'500'000);  // at most a request timeout plus the housekeeping tick
  EXPECT_LT(v.ttfb.max_us, 1'500'000);
  for (const auto* p : measured_rows(v)) EXPECT_LT(p->ttlb_p99_us, 1'500'000) << p->t_s;
}

// ---- the loadgen's own limits (issue 11, item 10) ----

TEST(ClientResources, RunningOutOfDescriptorsIsTheLoadgensProblemNotTheTargets) {
  // `loadgen attack` started with its descriptors used up by something else (python3 holds all
  // but a few of them across exec), so its sockets fail with EMFILE. The old engine counted those
  // as the target's "connect other" errors and did not mark the run saturated. Slow responses
  // keep ~20 connections open at once. (A child process, not fork(): sanitizers forbid forking
  // a threaded test.)
#if defined(__SANITIZE_ADDRESS__)
  // UBSan's vptr check proves an object's type by probing memory through a pipe; with no
  // descriptor left it cannot, and reports Boost's error_category as invalid (a suppression file
  // is read lazily, through a descriptor too). The sanitizer's own limit, not the loadgen's: this
  // case runs in the release and TSan builds.
  GTEST_SKIP() << "the ASan/UBSan runtime needs free descriptors of its own";
#endif
  server_options o;
  o.delay = 100ms;
  test_server srv(o);
  const std::string script =
      "import os, resource, sys\n"
      "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))\n"
      "held = []\n"
      "try:\n"
      "    while True:\n"
      "        fd = os.open('/dev/null', os.O_RDONLY)\n"
      "        os.set_inheritable(fd, True)\n"
      "        held.append(fd)\n"
      "except OSError:\n"
      "    pass\n"
      "for fd in held[-12:]:\n"
      "    os.close(fd)\n"
      "os.execv(sys.argv[1], sys.argv[1:])\n";
  const std::string cmd = "/usr/bin/python3 -c \"" + script + "\" " PERFLAB_LOADGEN_BIN " attack '" +
                          srv.url() + "' --rate 200/s --duration 500ms --connections 64 --no-keepalive --threads 1 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), exit_code::saturated) << out;
  EXPECT_NE(out.find("loadgen resources"), std::string::npos) << out;
  EXPECT_EQ(out.find("connect other"), std::string::npos) << out;
}

}  // namespace
}  // namespace perflab::loadgen
