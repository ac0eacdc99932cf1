// Idempotency keys against lost answers, end to end (`loadgen run`, scenarios/idempotency.toml's
// physics in 2 s): lab-target makes each order, then drops 10 % of the answers with a reset
// (--fault-profile reset-after); the loadgen retries a lost answer, POSTs included (retry.unsafe).
// Checked through run.json's [report] counters, read before the load and after its drain: without
// a key every lost answer is one duplicate order (orders created - successful POSTs = resets
// after the work); with a fresh key per logical request, kept by its retries, orders created =
// successful POSTs exactly, and each lost answer comes back as a replay. On both engines (the
// curl engine's retry reuses its handle's stamped copy).
// Counts, not speed: 4 x 200 POSTs.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "perflab/core/result_io.hpp"
#include "runner_fixture.hpp"

namespace {

using perflab::testing::Runner;

using IdempotencyE2E = Runner;

double counter(const perflab::result::variant& v, const std::string& metric) {
  for (const auto& c : v.target_counters)
    if (c.metric == metric) {
      EXPECT_TRUE(c.found) << metric;
      return c.delta;
    }
  ADD_FAILURE() << "no counter " << metric;
  return -1;
}

TEST_F(IdempotencyE2E, KeysTurnLostAnswersIntoReplaysInsteadOfDuplicateOrders) {
  const auto scenario = write("idem.toml", R"(name = "idem"

[target]
model = "reactor"
threads = 1
fault-profile = "reset-after=0.1"

[load]
model = "open"
rate = "400/s"
warmup = "0s"
duration = "2s"
max_requests = 200
send_lag_bound = "500ms"   # a busy machine: counts are the point
retry = { max = 5, on = ["reset"], unsafe = true, base = "2ms", cap = "20ms" }

[[request]]
method = "POST"
path = "/orders"
body = "{}"

[report]
metrics = ["perflab_orders_created_total", "perflab_idempotency_requests_total{result=\"replay\"}",
           "perflab_fault_resets_after_total"]

[matrix]
"load.engine" = ["asio", "curl"]
"request.0.headers" = [{ "X-Request-Id" = "{uuid}" }, { "Idempotency-Key" = "{uuid}" }]
)");
  const auto r = loadgen_run(scenario);
  ASSERT_TRUE(r.code == 0 || r.code == 5) << r.code << r.out << r.err;
  const auto dir = run_dir();
  const auto schema = validate_schema(dir);
  EXPECT_EQ(schema.code, 0) << schema.out << schema.err;
  auto run = perflab::result::read_run_json(dir / "run.json");
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 4u);  // asio without and with keys, then curl

  for (const auto& v : run->variants) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(v.sent, 200);
    EXPECT_EQ(v.succeeded, 200) << "every lost answer was retried until it came";
    EXPECT_EQ(v.errors.total(), 0);
  }
  for (std::size_t engine = 0; engine < 4; engine += 2) {
    const auto& naive = run->variants[engine];
    const auto& keyed = run->variants[engine + 1];
    SCOPED_TRACE(naive.name);
    const double naive_orders = counter(naive, "perflab_orders_created_total");
    const double naive_lost = counter(naive, "perflab_fault_resets_after_total");
    EXPECT_GT(naive_lost, 0);
    EXPECT_GT(naive_orders, static_cast<double>(naive.succeeded)) << "duplicates without a key";
    EXPECT_EQ(naive_orders - static_cast<double>(naive.succeeded), naive_lost) << "one duplicate per lost answer";
    EXPECT_EQ(counter(naive, "perflab_idempotency_requests_total{result=\"replay\"}"), 0);

    const double keyed_lost = counter(keyed, "perflab_fault_resets_after_total");
    EXPECT_GT(keyed_lost, 0);
    EXPECT_EQ(counter(keyed, "perflab_orders_created_total"), static_cast<double>(keyed.succeeded))
        << "one order per logical request: the retries carried its key";
    EXPECT_EQ(counter(keyed, "perflab_idempotency_requests_total{result=\"replay\"}"), keyed_lost)
        << "each lost answer came back as a replay";
  }
  // Both engines: every lost answer is the policy's retry (the curl engine does not let libcurl
  // resend a POST by itself).
  for (std::size_t i : {1, 3})
    EXPECT_EQ(run->variants[i].client_retries,
              static_cast<std::int64_t>(counter(run->variants[i], "perflab_fault_resets_after_total")))
        << run->variants[i].name;
}

}  // namespace
