// /cache/{key} with a remote cache (Redis), once per concurrency model, against a throwaway
// redis-server started by scripts/services.sh (skipped, with the reason, when it cannot be):
// remote alone and two levels, seen through X-Cache, X-Cache-Tier and /metrics; and what a user
// relies on when Redis fails mid-run: requests still answered from the origin (counted as
// fallbacks), no hang beyond --cache-remote-timeout, and a reconnect once Redis is back.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target_harness.hpp"

namespace {

using namespace std::chrono_literals;
using namespace perflab::testing;

const std::string source_dir = PERFLAB_SOURCE_DIR;

// A redis-server of the test's own on a given port (a restart on the port the target knows).
class redis_child {
 public:
  explicit redis_child(int port) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      const std::string p = std::to_string(port);
      ::execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", p.c_str(), "--save", "",
               "--appendonly", "no", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  pid_t pid() const { return pid_; }
  ~redis_child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  pid_t pid_ = -1;
};

class TargetRedis : public model_test {
 protected:
  void SetUp() override {
    model_test::SetUp();
    if (IsSkipped()) return;
    if (run_command("command -v redis-server >/dev/null 2>&1").code != 0)
      GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh installs it)";
    redis_ = std::make_unique<redis_service>();
    if (auto why = redis_->unavailable(); !why.empty()) GTEST_SKIP() << why;
  }
  std::unique_ptr<redis_service> redis_;
};

std::string header(const response& r, std::string_view name) {
  const auto at = r.head.find("\r\n" + std::string(name) + ": ");
  if (at == std::string::npos) return {};
  const auto from = at + name.size() + 4;
  return r.head.substr(from, r.head.find("\r\n", from) - from);
}

// GET /cache/{key} on a fresh connection: "X-Cache/X-Cache-Tier", or "" when not answered 200.
std::string fetch(int port, std::string_view key, std::string* body = nullptr) {
  client c(port);
  auto r = c.request(get_cache(key));
  if (!r || r->status != 200) return {};
  if (body) *body = r->body;
  return header(*r, "X-Cache") + "/" + header(*r, "X-Cache-Tier");
}

// Two tests per model, each with its own redis-server (starting and stopping one is most of a
// test's time, so each covers several behaviours).
TEST_P(TargetRedis, RedisAloneAndTwoLevelsServeWhatTheOriginStoredThere) {
  target_process t(model_args(GetParam(), {"--cache", redis_->url(), "--origin-latency", "1ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  std::string first, second;
  EXPECT_EQ(fetch(t.port(), "k", &first), "MISS/origin");
  EXPECT_EQ(fetch(t.port(), "k", &second), "HIT/remote");
  EXPECT_EQ(second, first);
  EXPECT_EQ(first.rfind("key=k call=1", 0), 0u) << first;
  EXPECT_EQ(metric(t.port(), "perflab_cache_origin_calls_total"), 1);
  EXPECT_EQ(metric(t.port(), "perflab_cache_remote_round_trips_total{op=\"get\"}"), 2);
  EXPECT_EQ(metric(t.port(), "perflab_cache_remote_round_trips_total{op=\"set\"}"), 1);
  EXPECT_EQ(metric(t.port(), "perflab_cache_remote_lookups_total{result=\"hit\"}"), 1);
  EXPECT_EQ(metric(t.port(), "perflab_cache_remote_fallbacks_total"), 0);
  EXPECT_GE(metric(t.port(), "perflab_cache_remote_connections"), 1);
  // DELETE reaches Redis: 200 for a key it held, 404 after.
  client c(t.port());
  auto del = c.request("DELETE /cache/k HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  auto again = c.request("DELETE /cache/k HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 404);
  EXPECT_EQ(fetch(t.port(), "k"), "MISS/origin");

  // Two levels, shared by two processes through Redis.
  const std::vector<std::string> two_levels = {"--cache", "lru", "--cache-remote", redis_->url(), "--origin-latency",
                                               "1ms"};
  target_process a(model_args(GetParam(), two_levels));
  ASSERT_GT(a.port(), 0) << a.first_line();
  EXPECT_EQ(fetch(a.port(), "shared"), "MISS/origin");
  EXPECT_EQ(fetch(a.port(), "shared"), "HIT/local");
  // A second process (an empty local cache) finds it in Redis, then keeps it locally.
  target_process b(model_args(GetParam(), two_levels));
  ASSERT_GT(b.port(), 0) << b.first_line();
  EXPECT_EQ(fetch(b.port(), "shared"), "HIT/remote");
  EXPECT_EQ(fetch(b.port(), "shared"), "HIT/local");
  EXPECT_EQ(metric(b.port(), "perflab_cache_origin_calls_total"), 0);
  EXPECT_EQ(metric(b.port(), "perflab_cache_remote_round_trips_total{op=\"get\"}"), 1);
  // PURGE on b empties its local store and Redis: b goes to the origin again, a keeps its own local copy.
  client cb(b.port());
  auto purge = cb.request("PURGE /cache HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(purge);
  EXPECT_EQ(purge->status, 200);
  EXPECT_EQ(fetch(b.port(), "shared"), "MISS/origin");
  EXPECT_EQ(metric(b.port(), "perflab_cache_remote_round_trips_total{op=\"purge\"}"), 1);
  EXPECT_EQ(fetch(a.port(), "shared"), "HIT/local");
}

bool event_loop(const std::string& model) {
  return model == "reactor" || model == "coroutine" || model == "fiber" || model == "io-uring";
}

// On an event loop a request waiting for Redis holds no thread: with one loop and Redis silent,
// another connection is answered while the first still waits.
void expect_loop_not_blocked(const std::string& model, const std::string& url, pid_t redis_pid) {
  target_process t({"--model", model, "--threads", "1", "--listen", "127.0.0.1:0", "--cache", url,
                    "--cache-remote-timeout", "3s"});
  ASSERT_GT(t.port(), 0) << t.first_line();
  client waiting(t.port());
  client other(t.port());
  ASSERT_FALSE(fetch(t.port(), "warm").empty());  // connected to Redis
  ASSERT_EQ(::kill(redis_pid, SIGSTOP), 0);
  ASSERT_TRUE(waiting.send(get_cache("k")));
  std::this_thread::sleep_for(50ms);  // its get is on the wire
  auto hello = other.request(get_hello);
  pollfd p{waiting.fd(), POLLIN, 0};
  const int answered = ::poll(&p, 1, 0);
  ::kill(redis_pid, SIGCONT);
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(answered, 0) << "the cache request was answered before /hello: it did not wait for Redis";
  auto r = waiting.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_P(TargetRedis, FailuresFallBackToTheOriginWithoutHangingAndRecover) {
  const int port = redis_->port();
  target_process t(model_args(GetParam(), {"--cache", redis_->url(), "--origin-latency", "1ms",
                                           "--cache-remote-timeout", "300ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  EXPECT_EQ(fetch(t.port(), "k"), "MISS/origin");
  EXPECT_EQ(fetch(t.port(), "k"), "HIT/remote");

  // Redis silent (SIGSTOP: its socket stays open): one timeout, then the origin.
  const pid_t pid = redis_->pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  const auto start = std::chrono::steady_clock::now();
  const auto silent = fetch(t.port(), "k");
  const auto took = std::chrono::steady_clock::now() - start;
  ::kill(pid, SIGCONT);
  EXPECT_EQ(silent, "MISS/origin");
  EXPECT_LT(took, 5s);  // the get's and the set's timeouts (300 ms each), with room for a busy machine
  EXPECT_GE(metric(t.port(), "perflab_cache_remote_errors_total{reason=\"timeout\"}"), 1);
  ASSERT_TRUE(poll_until([&] { return fetch(t.port(), "k") == "HIT/remote"; }, 10s, 100ms)) << "no recovery";

  // Redis killed mid-run: every request is still answered, from the origin, and counted.
  const double fallbacks = metric(t.port(), "perflab_cache_remote_fallbacks_total");
  const double origin_calls = metric(t.port(), "perflab_cache_origin_calls_total");
  redis_->stop();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(fetch(t.port(), "k"), "MISS/origin") << i;
  EXPECT_GE(metric(t.port(), "perflab_cache_remote_fallbacks_total"), fallbacks + 5);
  EXPECT_EQ(metric(t.port(), "perflab_cache_origin_calls_total"), origin_calls + 5);
  EXPECT_EQ(metric(t.port(), "perflab_cache_remote_connections"), 0);
  const double connects = metric(t.port(), "perflab_cache_remote_connects_total");
  // Back on the same port (empty: no persistence): the target reconnects after its backoff.
  redis_child back(port);
  ASSERT_TRUE(poll_until([&] { return fetch(t.port(), "k") == "HIT/remote"; }, 10s, 100ms))
      << "no remote hit after Redis came back";
  EXPECT_GT(metric(t.port(), "perflab_cache_remote_connects_total"), connects);
  expect_still_serving(t.port());
  if (event_loop(GetParam())) expect_loop_not_blocked(GetParam(), redis_->url(), back.pid());
}

TEST_P(TargetRedis, StockStrategyRedisSellsExactlyTheStockToSixtyFourBuyers) {
  // --stock-strategy redis: a Lua script per buy in Redis. 64 concurrent buyers x 10 buys of 500
  // units: 500 200s, 140 409s, and Redis itself holds stock 0 and sold 500.
  std::vector<std::string> extra = {"--stock-strategy", "redis", "--stock-redis", redis_->url(), "--stock-initial", "500"};
  std::vector<std::string> a = GetParam() == "thread-pool"
                                   ? std::vector<std::string>{"--model", "thread-pool", "--listen", "127.0.0.1:0", "--threads", "64"}
                                   : model_args(GetParam());
  a.insert(a.end(), extra.begin(), extra.end());
  target_process t(a);
  ASSERT_GT(t.port(), 0) << t.first_line();
  std::atomic<int> bought{0}, sold_out{0}, other{0};
  std::vector<std::thread> ts;
  for (int b = 0; b < 64; ++b)
    ts.emplace_back([&] {
      client c(t.port(), 10s);
      for (int i = 0; i < 10; ++i) {
        auto r = c.request("POST /stock/0/buy HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
        if (!r) return void(++other);
        if (r->status == 200) ++bought;
        else if (r->status == 409) ++sold_out;
        else ++other;
      }
    });
  for (auto& th : ts) th.join();
  EXPECT_EQ(other, 0);
  EXPECT_EQ(bought, 500);
  EXPECT_EQ(sold_out, 140);
  const auto [code, out] = run_command("redis-cli -p " + std::to_string(redis_->port()) + " MGET perflab:stock:0 perflab:sold:0");
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out, "0\n500") << "Redis's own counters";
  EXPECT_EQ(metric_value(t.port(), "perflab_stock_invariant_violations").value_or(-1), 0);
}

TEST(TargetRedisStock, UnreachableRedisExits2NamingTheOption) {
  launch_options to_stdout;
  to_stdout.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
  // Port 1 on loopback: nothing listens there.
  target_process t(model_args("reactor", {"--stock-strategy", "redis", "--stock-redis", "redis://127.0.0.1:1"}), to_stdout);
  EXPECT_EQ(t.wait_exit(10s), 2);
  EXPECT_NE(t.first_line().find("--stock-redis:"), std::string::npos) << t.first_line();
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetRedis, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

TEST(TargetRedisOptions, BadRemoteOptionsExit2NamingTheOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--cache", "redis://127.0.0.1:notaport"}, "--cache:"},
      {{"--cache", "lru", "--cache-remote", "127.0.0.1:6379"}, "--cache-remote:"},
      {{"--cache", "redis://127.0.0.1:6379", "--cache-remote", "redis://127.0.0.1:6379"}, "--cache-remote:"},
      {{"--cache", "lru", "--cache-remote", "redis://127.0.0.1:6379", "--cache-remote-timeout", "0ms"},
       "--cache-remote-timeout:"},
      {{"--cache", "redis://127.0.0.1:6379", "--cache-prewarm", "5"}, "--cache-prewarm:"},
      // Resolved at start (the loops' connects never do DNS): an unknown name is an option error.
      {{"--cache", "lru", "--cache-remote", "redis://no-such-host.invalid:6379"},
       "--cache-remote: redis://no-such-host.invalid:6379: cannot resolve"},
  };
  for (const auto& [extra, name] : cases) {
    SCOPED_TRACE(name);
    launch_options to_stdout;
    to_stdout.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
    target_process t(model_args("reactor", extra), to_stdout);
    EXPECT_EQ(t.wait_exit(5s), 2);
    EXPECT_NE(t.first_line().find(name), std::string::npos) << t.first_line();
  }
}

}  // namespace
