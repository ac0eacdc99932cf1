// /stock, /orders and /jobs over real sockets, once per concurrency model: 64 concurrent buyers
// never oversell whatever the --stock-strategy (sold + remaining = initial, 200s = units sold);
// concurrent repeats of one Idempotency-Key create one order (the others replay it or get 409
// while it is in flight), a different body with that key gets 422; POST /jobs answers 202 and
// the workers do the jobs (503 once the bounded queue is full); bad input is a clear 4xx and bad
// options exit 2 naming the option. Counts only: nothing here depends on the machine's speed.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "target_harness.hpp"

namespace {

using namespace std::chrono_literals;
using namespace perflab::testing;

class TargetContention : public model_test {};

// A number field of a flat JSON body ("remaining":12), or -1. Plain string search: the buyers'
// threads call it at once, and std::regex construction races inside libstdc++'s locale (TSan).
long json_number(const std::string& body, const std::string& name) {
  const std::string key = "\"" + name + "\":";
  const auto at = body.find(key);
  if (at == std::string::npos) return -1;
  std::size_t end = at + key.size();
  if (end < body.size() && body[end] == '-') ++end;
  const std::size_t digits = end;
  while (end < body.size() && body[end] >= '0' && body[end] <= '9') ++end;
  if (end == digits) return -1;
  return std::stol(body.substr(at + key.size(), end - at - key.size()));
}

bool has_field(const response& r, std::string_view line) { return r.head.find(std::string(line) + "\r\n") != std::string::npos; }

// Enough threads on thread-pool that 64 keep-alive buyers are served at once.
std::vector<std::string> args(const std::string& model, std::vector<std::string> extra) {
  if (model != "thread-pool") return model_args(model, std::move(extra));
  std::vector<std::string> a = {"--model", model, "--listen", "127.0.0.1:0", "--threads", "64"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

TEST_P(TargetContention, SixtyFourBuyersKeepTheInvariantWithEveryStrategy) {
  constexpr int buyers = 64, buys_each = 10, initial = 500;
  for (const std::string strategy : {"mutex", "atomic", "sharded", "single-writer"}) {
    SCOPED_TRACE(strategy);
    target_process t(args(GetParam(), {"--stock-strategy", strategy, "--stock-initial", std::to_string(initial),
                                       "--stock-items", "2"}));
    ASSERT_GT(t.port(), 0) << t.first_line();
    std::atomic<int> bought{0}, sold_out{0}, other{0}, negative{0};
    std::vector<std::thread> ts;
    for (int b = 0; b < buyers; ++b)
      ts.emplace_back([&] {
        client c(t.port(), 10s);
        for (int i = 0; i < buys_each; ++i) {
          auto r = c.request(post("/stock/0/buy?qty=1"));
          if (!r) {
            ++other;
            return;
          }
          if (json_number(r->body, "remaining") < 0) ++negative;
          if (r->status == 200 && json_number(r->body, "bought") == 1) ++bought;
          else if (r->status == 409) ++sold_out;
          else ++other;
        }
      });
    for (auto& th : ts) th.join();
    EXPECT_EQ(other, 0);
    EXPECT_EQ(negative, 0);
    EXPECT_EQ(bought, initial) << "every unit sold exactly once";
    EXPECT_EQ(sold_out, buyers * buys_each - initial);
    client c(t.port());
    auto hot = c.request(get("/stock/0"));
    ASSERT_TRUE(hot);
    EXPECT_EQ(hot->status, 200);
    EXPECT_EQ(json_number(hot->body, "sold"), initial) << hot->body;
    EXPECT_EQ(json_number(hot->body, "remaining"), 0) << hot->body;
    EXPECT_NE(hot->body.find("\"ok\":true"), std::string::npos) << hot->body;
    auto cold = c.request(get("/stock/1"));
    ASSERT_TRUE(cold);
    EXPECT_EQ(json_number(cold->body, "remaining"), initial) << cold->body;
    auto all = c.request(get("/stock"));
    ASSERT_TRUE(all);
    EXPECT_EQ(json_number(all->body, "violations"), 0) << all->body;
    EXPECT_EQ(json_number(all->body, "sold"), initial) << all->body;
    EXPECT_EQ(metric(t.port(), "perflab_stock_buys_total{result=\"bought\"}"), initial);
    EXPECT_EQ(metric(t.port(), "perflab_stock_buys_total{result=\"sold_out\"}"), buyers * buys_each - initial);
    EXPECT_EQ(metric(t.port(), "perflab_target_requests_total{endpoint=\"stock_buy\",status=\"409\"}"),
              buyers * buys_each - initial);
    EXPECT_EQ(metric(t.port(), "perflab_stock_invariant_violations"), 0);
  }
}

TEST_P(TargetContention, ConcurrentRepeatsOfOneKeyCreateOneOrder) {
  // The order takes 200 ms, so the repeats arrive while it is in flight (409) or after (replay).
  target_process t(model_args(GetParam(), {"--order-work", "200ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const std::string key = "Idempotency-Key: order-7f3a\r\n", body = R"({"item":3,"qty":2})";
  constexpr int repeats = 12;
  std::atomic<int> created{0}, replayed{0}, in_flight{0}, other{0};
  std::atomic<long> order_id{-1};
  std::vector<std::thread> ts;
  for (int i = 0; i < repeats; ++i)
    ts.emplace_back([&] {
      client c(t.port(), 10s);
      auto r = c.request(post("/orders", body, key));
      if (!r) return void(++other);
      if (r->status == 201 && has_field(*r, "Idempotent-Replayed: true")) ++replayed;
      else if (r->status == 201) ++created, order_id = json_number(r->body, "order");
      else if (r->status == 409 && has_field(*r, "Retry-After: 1")) ++in_flight;
      else ++other;
    });
  for (auto& th : ts) th.join();
  EXPECT_EQ(other, 0);
  EXPECT_EQ(created, 1) << "the work is done once";
  EXPECT_EQ(created + replayed + in_flight, repeats);
  // After the first finished: a repeat replays the stored response, marked, without new work.
  client c(t.port());
  auto again = c.request(post("/orders", body, key));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 201);
  EXPECT_TRUE(again->head.starts_with("HTTP/1.1 201 Created\r\n")) << again->head;
  EXPECT_TRUE(has_field(*again, "Idempotent-Replayed: true")) << again->head;
  EXPECT_EQ(json_number(again->body, "order"), order_id.load());
  auto mismatch = c.request(post("/orders", R"({"item":3,"qty":5})", key));
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(mismatch->status, 422) << mismatch->body;
  EXPECT_TRUE(mismatch->head.starts_with("HTTP/1.1 422 Unprocessable Content\r\n")) << mismatch->head;
  EXPECT_EQ(metric(t.port(), "perflab_orders_created_total"), 1);
  EXPECT_EQ(metric(t.port(), "perflab_idempotency_requests_total{result=\"first\"}"), 1);
  EXPECT_EQ(metric(t.port(), "perflab_idempotency_requests_total{result=\"replay\"}"), replayed + 1);
  EXPECT_EQ(metric(t.port(), "perflab_idempotency_requests_total{result=\"in_flight\"}"), in_flight);
  EXPECT_EQ(metric(t.port(), "perflab_idempotency_requests_total{result=\"mismatch\"}"), 1);
  // Without a key, every POST is an order of its own.
  for (int i = 0; i < 2; ++i) {
    auto r = c.request(post("/orders", body));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201);
  }
  EXPECT_EQ(metric(t.port(), "perflab_orders_created_total"), 3);
}

TEST_P(TargetContention, JobsAreAcceptedWith202AndDoneByTheWorkers) {
  // Two workers busy 300 ms each and room for 4 waiting: 8 quick submissions fill it.
  target_process t(model_args(GetParam(), {"--job-workers", "2", "--job-queue", "4", "--job-work", "300ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  std::vector<long> ids;
  int refused = 0;
  for (int i = 0; i < 8; ++i) {
    auto r = c.request(post("/jobs"));
    ASSERT_TRUE(r);
    if (r->status == 202) {
      ids.push_back(json_number(r->body, "id"));
      EXPECT_TRUE(has_field(*r, "Location: /jobs/" + std::to_string(ids.back()))) << r->head;
    } else {
      EXPECT_EQ(r->status, 503) << r->body;
      ++refused;
    }
  }
  // The queue holds 4; the workers may or may not have taken their first two yet.
  EXPECT_GE(ids.size(), 4u);
  EXPECT_LE(ids.size(), 6u);
  EXPECT_EQ(refused, 8 - static_cast<int>(ids.size()));
  auto first = c.request(get("/jobs/" + std::to_string(ids.front())));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body.find("\"state\":\"done\""), std::string::npos) << "not done 300 ms early: " << first->body;
  EXPECT_TRUE(poll_until([&] { return metric(t.port(), "perflab_jobs_total{result=\"done\"}") == static_cast<double>(ids.size()); }, 10s));
  auto last = c.request(get("/jobs/" + std::to_string(ids.back())));
  ASSERT_TRUE(last);
  EXPECT_NE(last->body.find("\"state\":\"done\""), std::string::npos) << last->body;
  // It waited behind the others (two workers, FIFO), then worked 300 ms.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(last->body, m, std::regex("\"work_ms\":([0-9.]+),\"total_ms\":([0-9.]+)"))) << last->body;
  EXPECT_GE(std::stod(m[1]), 299.0);
  EXPECT_GE(std::stod(m[2]), 2 * 299.0);
  EXPECT_EQ(metric(t.port(), "perflab_jobs_total{result=\"refused\"}"), refused);
  EXPECT_EQ(metric(t.port(), "perflab_jobs_completion_seconds_count"), static_cast<double>(ids.size()));
  EXPECT_EQ(metric(t.port(), "perflab_jobs_completion_seconds_bucket{le=\"0.25\"}"), 0);
}

TEST_P(TargetContention, JobReplyDoneAnswersOnceTheWorkerHasDoneTheJob) {
  // The synchronous baseline: one worker, 100 ms each, three clients at once: the answers come
  // after one, two and three jobs' work, in the queue's order.
  target_process t(model_args(GetParam(), {"--job-workers", "1", "--job-work", "100ms", "--job-reply", "done"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  std::vector<client> cs;
  for (int i = 0; i < 3; ++i) cs.emplace_back(t.port());
  const auto sent = std::chrono::steady_clock::now();
  for (auto& c : cs) ASSERT_TRUE(c.send(post("/jobs")));
  std::vector<double> totals;
  for (auto& c : cs) {
    auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r->body, m, std::regex("\"total_ms\":([0-9.]+)"))) << r->body;
    totals.push_back(std::stod(m[1]));
  }
  const double all_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count();
  std::sort(totals.begin(), totals.end());
  EXPECT_GE(totals[0], 99.0);
  // The last answer came after three jobs' work, one after another. (Measured by the client: a
  // job's own total_ms starts when the server read it, which on a busy machine can be a few ms
  // after the first job started.)
  EXPECT_GE(all_ms, 3 * 99.0) << "the third waited for the two before it";
  EXPECT_GE(totals[2], 2 * 99.0) << "the last read waited for at least one job before its own";
  EXPECT_EQ(metric(t.port(), "perflab_jobs_total{result=\"done\"}"), 3);
}

TEST_P(TargetContention, BadInputIsAClear4xx) {
  target_process t(model_args(GetParam(), {"--stock-items", "3"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  struct probe {
    std::string raw;
    int status;
    std::string says;
  };
  const std::vector<probe> probes = {
      {post("/stock/0/buy?qty=two"), 400, "qty must be a whole number"},
      {post("/stock/0/buy?qty=0"), 400, "qty must be a whole number"},
      {post("/stock/0/buy?qty="), 400, "qty must be a whole number"},
      {post("/stock/3/buy"), 404, "no such item: items are 0 to 2"},
      {post("/stock/abc/buy"), 404, "no such item"},
      {get("/stock/-1"), 404, "no such item"},
      {get("/stock/0/buy"), 405, ""},
      {post("/orders", "{}", "Idempotency-Key: " + std::string(300, 'k') + "\r\n"), 400, "Idempotency-Key must be"},
      {post("/orders", "{}", "Idempotency-Key: a\r\nIdempotency-Key: b\r\n"), 400, "Idempotency-Key must be"},
      {get("/jobs/xyz"), 404, "no such job"},
      {get("/jobs/999"), 404, "no such job"},
  };
  for (const auto& p : probes) {
    SCOPED_TRACE(p.raw.substr(0, 40));
    auto r = c.request(p.raw);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, p.status);
    EXPECT_NE(r->body.find(p.says), std::string::npos) << r->body;
    EXPECT_FALSE(r->close) << "a bad argument keeps the connection";
  }
  auto ok = c.request(post("/stock/2/buy?qty=3"));  // and the good ones still work
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(json_number(ok->body, "remaining"), 997);
}

#ifdef PERFLAB_LOADGEN_BIN
TEST(TargetContentionLoadgen, UuidKeysMakeOneOrderPerRequestAndAFixedKeyOne) {
  // The loadgen's {uuid}: a fresh Idempotency-Key per request, so every POST is an order; the
  // same key on every request: one order, the rest replays. Three rounds, to catch a flaky one;
  // the last on the curl engine.
  target_process t(model_args("reactor"));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const std::string url = "http://127.0.0.1:" + std::to_string(t.port()) + "/orders";
  double expected = 0;
  for (int round = 0; round < 3; ++round) {
    const std::string cmd = std::string(PERFLAB_LOADGEN_BIN) + " attack " + url +
                            " -m POST -H 'Idempotency-Key: {uuid}' --body '{\"item\":1}' -c 8 -n 500 --seed " +
                            std::to_string(round + 1) + (round == 2 ? " --engine curl" : "") + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    expected += 500;
    EXPECT_EQ(metric(t.port(), "perflab_orders_created_total"), expected) << "round " << round;
  }
  const std::string fixed = std::string(PERFLAB_LOADGEN_BIN) + " attack " + url +
                            " -m POST -H 'Idempotency-Key: fixed-1' --body x -c 8 -n 200 >/dev/null 2>&1";
  ASSERT_EQ(std::system(fixed.c_str()), 0);
  EXPECT_EQ(metric(t.port(), "perflab_orders_created_total"), expected + 1);
  EXPECT_EQ(metric(t.port(), "perflab_idempotency_requests_total{result=\"replay\"}") +
                metric(t.port(), "perflab_idempotency_requests_total{result=\"in_flight\"}"),
            199);
}
#endif

INSTANTIATE_TEST_SUITE_P(AllModels, TargetContention, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

TEST(TargetContentionOptions, BadValuesExit2NamingTheOption) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"--stock-strategy", "optimistic"}, {"--stock-initial", "many"}, {"--stock-items", "0"},
      {"--stock-shards", "1"},           {"--idempotency-ttl", "0"}, {"--order-work", "soon"},
      {"--job-workers", "0"},            {"--job-queue", "1.5"},     {"--job-work", "20"},
      {"--job-reply", "later"},          {"--stock-redis", "http://x"},
      {"--stock-strategy", "redis"},     {"--stock-db", "http://x"}, {"--stock-strategy", "pg-row-lock"},
      {"--stock-db-connections", "0"}, {"--job-queue-backend", "kafka"}, {"--job-queue-backend", "redis"},
      {"--job-redis", "http://x"}};
  for (const auto& [option, value] : bad) {
    SCOPED_TRACE(option + " " + value);
    launch_options to_stdout;
    to_stdout.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
    target_process t(model_args("reactor", {option, value}), to_stdout);
    EXPECT_EQ(t.wait_exit(5s), 2);
    EXPECT_NE(t.first_line().find(option + ":"), std::string::npos) << t.first_line();
  }
}

}  // namespace
