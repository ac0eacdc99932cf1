// Client retries ([load] retry) end to end, against a dependency that answers every request 503
// after 20 ms: attempts = requests x (1 + retries), counted by the loadgen and by the server; a
// POST is never retried; a retried request's latency spans its attempts (and the backoffs). Open
// loop (a retry takes a free connection) and closed loop (the connection retries first). Counts,
// not speed: bounded by request count (about 1.5 s in all).
#include <gtest/gtest.h>

#include "support.hpp"
#include "test_server.hpp"

namespace perflab::loadgen {
namespace {

using namespace std::chrono_literals;
using testing::server_options;
using testing::test_server;

constexpr double attempt_us = 20'000;  // the server's delay before every answer

retry_policy two_retries_on_503(bool exponential) {
  retry_policy p;
  p.max = 2;
  p.on = {503};
  p.exponential = exponential;
  p.backoff = {10ms, 1s, resilience::jitter::none};  // waits of exactly 10 ms, then 20 ms
  return p;
}

// On both engines: the curl engine's transfer waits out the backoff on its own timer and goes again.
class ClientRetries : public ::testing::TestWithParam<const char*> {};

TEST_P(ClientRetries, AttemptsTripleNeverForPostAndLatencySpansTheAttempts) {
  server_options o;
  o.status = 503;
  o.delay = std::chrono::microseconds(static_cast<std::int64_t>(attempt_us));
  test_server srv(o);

  // Open loop, 2 retries at once (no backoff): 30 requests, 90 attempts.
  auto open = open_loop(srv.url("/"), 100, 0s);
  open.max_requests = 30;
  open.max_error_rate = 1;
  open.retry = two_retries_on_503(false);
  open.engine = GetParam();
  const auto v = run_ok(open);
  EXPECT_EQ(v.sent, 30);
  EXPECT_EQ(v.attempts, 90);
  EXPECT_EQ(v.client_retries, 60);
  EXPECT_EQ(v.completed, 30);
  EXPECT_EQ(v.statuses.at("503"), 30) << "each request's final answer, once";
  EXPECT_EQ(v.errors.status_5xx, 30);
  EXPECT_EQ(v.retries_exhausted, 30);
  EXPECT_EQ(v.retried_succeeded, 0);
  EXPECT_EQ(v.abandoned, 0);
  EXPECT_GE(v.ttlb.min_us, reads_at_least(3 * 20'000)) << "corrected latency from the first attempt";
  EXPECT_GE(v.ttlb_uncorrected.min_us, reads_at_least(3 * 20'000)) << "uncorrected too";
  std::int64_t per_second = 0;
  for (const auto& p : v.series) per_second += p.attempts;
  EXPECT_EQ(per_second, 90) << "the series' attempts add up";
  EXPECT_EQ(srv.requests(), 90) << "the attempts the dependency saw";

  // Closed loop with exponential backoff (no jitter): 10 ms, then 20 ms between the attempts.
  auto closed = closed_loop(srv.url("/"), 2, 0s);
  closed.max_requests = 10;
  closed.max_error_rate = 1;
  closed.retry = two_retries_on_503(true);
  closed.engine = GetParam();
  const auto c = run_ok(closed);
  EXPECT_EQ(c.sent, 10);
  EXPECT_EQ(c.attempts, 30);
  EXPECT_EQ(c.statuses.at("503"), 10);
  EXPECT_GE(c.ttlb.min_us, reads_at_least(3 * 20'000 + 30'000)) << "attempts and backoffs";
  EXPECT_EQ(srv.requests(), 120);

  // POST without an Idempotency-Key: sent once whatever the answer.
  auto post = closed_loop(srv.url("/"), 2, 0s);
  post.max_requests = 10;
  post.max_error_rate = 1;
  post.retry = two_retries_on_503(false);
  post.requests.push_back(request_spec{"POST", "/", {}, "x", 1.0, "", {}});
  post.engine = GetParam();
  const auto p = run_ok(post);
  EXPECT_EQ(p.sent, 10);
  EXPECT_EQ(p.attempts, 10);
  EXPECT_EQ(p.client_retries, 0);
  EXPECT_EQ(srv.requests(), 130);
}

TEST_P(ClientRetries, TheConnectionCapHoldsWithRetriesInFlight) {
  // Two connections for 40 arrivals at 100/s of 3 attempts each (20 ms per attempt, so at most
  // 100 attempts/s on two connections, a third of the offered 300): arrivals queue,
  // retries wait out their backoff holding no connection and then queue ahead of arrivals. No
  // attempt may open a third connection, and every attempt is answered on the two.
  server_options o;
  o.status = 503;
  o.delay = std::chrono::microseconds(static_cast<std::int64_t>(attempt_us));
  test_server srv(o);
  auto cfg = open_loop(srv.url("/"), 100, 0s);
  cfg.connections = 2;
  cfg.max_requests = 40;
  cfg.max_error_rate = 1;
  cfg.retry = two_retries_on_503(false);
  cfg.retry.backoff = {5ms, 1s, resilience::jitter::none};
  cfg.engine = GetParam();
  const auto v = run_ok(cfg);
  // Arrivals still queued when the phase ends are never sent (counted unsent); every request sent
  // makes its three attempts, the drain waiting for those between attempts.
  EXPECT_EQ(v.sent + v.unsent, 40);
  EXPECT_GT(v.sent, 10);
  EXPECT_EQ(v.attempts, 3 * v.sent);
  EXPECT_EQ(v.completed, v.sent);
  EXPECT_EQ(v.abandoned, 0);
  EXPECT_EQ(srv.requests(), v.attempts);
  EXPECT_LE(srv.connections(), 2) << "a retry opened a connection past the cap";
  EXPECT_TRUE(v.loadgen.saturated) << "arrivals waited for a connection";
  EXPECT_GT(v.send_lag.p99_us, 100'000);
}

INSTANTIATE_TEST_SUITE_P(Engines, ClientRetries, ::testing::Values("asio", "curl"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace perflab::loadgen
