// The outbox against a real PostgreSQL and Redis (started by scripts/services.sh under names of
// this process's own, stopped at the end; skipped, with the reason, when either cannot be
// installed here). A relay that dies between publishing a round and marking it sent publishes
// the round again when restarted: the consumer receives every order's event exactly once and
// drops the duplicates, nothing is lost. The same death in at-most-once mode (marked sent before
// publishing) loses the round instead: the audit counts it.
#include "perflab/contention/outbox.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "test_services.hpp"

namespace {

using namespace std::chrono_literals;
using perflab::contention::make_outbox;
using perflab::contention::outbox;
using perflab::contention::outbox_config;
using perflab::contention::outbox_mode;
using perflab::contention::outbox_stats;
using perflab::contention::relay_step;
using perflab::contention::testing::service_instance;

// Until pred holds for the outbox's counts (audited first), at most 10 s; the last counts.
outbox_stats audited_until(outbox& o, const std::function<bool(const outbox_stats&)>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    o.audit_now();
    auto s = o.stats();
    if (pred(s) || std::chrono::steady_clock::now() > deadline) return s;
    std::this_thread::sleep_for(20ms);
  }
}

class Outbox : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pg_ = std::make_unique<service_instance>("postgres");
    redis_ = std::make_unique<service_instance>("redis");
  }
  static void TearDownTestSuite() {
    pg_.reset();
    redis_.reset();
  }
  void SetUp() override {
    for (auto* s : {pg_.get(), redis_.get()}) {
      if (s->code() == 3) GTEST_SKIP() << "PostgreSQL or Redis cannot be installed on this machine (scripts/services.sh exit 3)";
      ASSERT_EQ(s->code(), 0) << "scripts/services.sh start postgres/redis failed";
    }
  }
  outbox_config config(outbox_mode mode) const {
    outbox_config c;
    c.db_url = pg_->url();
    c.redis_url = redis_->url();
    c.writers = 4;
    c.batch = 10;
    c.poll = 5ms;
    c.mode = mode;
    c.grace = 200ms;
    c.audit = 50ms;
    return c;
  }
  // Asks the relay to die after `step`, writes 25 orders, waits for the death: the events the
  // dead round claimed (what it published, or marked).
  static std::uint64_t orders_then_crash(outbox& o, relay_step step) {
    EXPECT_EQ(o.crash_relay(step), 1u) << "one relay was running";
    for (int i = 0; i < 25; ++i) {
      const auto r = o.create_order();
      EXPECT_FALSE(r.error);
      EXPECT_GT(r.event, 0u);
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (o.stats().relays_up > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    const auto s = o.stats();
    EXPECT_EQ(s.relays_up, 0u) << "the relay died at its first round";
    EXPECT_EQ(s.crashes, 1u);
    EXPECT_EQ(s.orders, 25u);
    return o.config().mode == outbox_mode::at_least_once ? s.published : s.marked;
  }
  static inline std::unique_ptr<service_instance> pg_, redis_;
};

TEST_F(Outbox, ARelayCrashBetweenPublishAndMarkSentDuplicatesTheRoundAndTheConsumerDropsItNeverALoss) {
  auto made = make_outbox(config(outbox_mode::at_least_once));
  ASSERT_TRUE(made) << made.error();
  auto& o = **made;
  const auto dead_round = orders_then_crash(o, relay_step::publish);
  ASSERT_GE(dead_round, 1u) << "the dead round published its events before dying";
  ASSERT_LE(dead_round, 10u) << "at most a batch";
  auto s = audited_until(o, [&](const outbox_stats& x) { return x.consumed == dead_round; });
  EXPECT_EQ(s.consumed, dead_round) << "the dead round's events reached the consumer";
  EXPECT_EQ(s.marked, 0u) << "but were never marked sent";
  EXPECT_EQ(s.backlog, 25u) << "so all 25 events are still unsent";

  ASSERT_EQ(o.start_relay(), 1u);
  s = audited_until(o, [](const outbox_stats& x) { return x.backlog == 0 && x.consumed == 25 && !x.recovering; });
  EXPECT_EQ(s.committed, 25u);
  EXPECT_EQ(s.backlog, 0u);
  EXPECT_EQ(s.consumed, 25u) << "every order's event applied once";
  EXPECT_EQ(s.duplicates, dead_round) << "the dead round, published again, and dropped by the consumer";
  EXPECT_EQ(s.entries, 25u + dead_round);
  EXPECT_EQ(s.published, 25u + dead_round);
  EXPECT_EQ(s.marked, 25u);
  EXPECT_EQ(s.restarts, 1u);
  EXPECT_EQ(s.backlog_at_restart, 25u);
  EXPECT_FALSE(s.recovering);
  EXPECT_GE(s.recovery_s, 0.0) << "the restart's backlog was received";
  std::this_thread::sleep_for(config(outbox_mode::at_least_once).grace);  // every mark is past the grace
  s = audited_until(o, [](const outbox_stats&) { return true; });
  EXPECT_EQ(s.lost, 0u);
}

TEST_F(Outbox, AtMostOnceLosesTheRoundOfARelayCrashBetweenCommitAndPublishAndTheAuditCountsIt) {
  auto made = make_outbox(config(outbox_mode::at_most_once));
  ASSERT_TRUE(made) << made.error();
  auto& o = **made;
  const auto dead_round = orders_then_crash(o, relay_step::midway);  // after the commit, here
  ASSERT_GE(dead_round, 1u) << "the dead round marked its events sent before dying";
  ASSERT_EQ(o.start_relay(), 1u);
  std::this_thread::sleep_for(config(outbox_mode::at_most_once).grace);
  const auto s = audited_until(o, [&](const outbox_stats& x) { return x.backlog == 0 && x.consumed + x.lost == 25; });
  EXPECT_EQ(s.committed, 25u);
  EXPECT_EQ(s.lost, dead_round) << "marked sent, never published";
  EXPECT_EQ(s.consumed, 25u - dead_round);
  EXPECT_EQ(s.duplicates, 0u);
}

TEST(OutboxSetup, BadOrUnreachableServersAreErrorsNamingThem) {
  outbox_config c;
  c.db_url = "postgres://perflab@127.0.0.1:1/perflab";
  c.redis_url = "redis://127.0.0.1:1";
  auto r = make_outbox(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cannot connect to postgres://perflab@127.0.0.1:1/perflab"), std::string::npos) << r.error();
  c.redis_url = "http://x";
  r = make_outbox(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("expected redis://HOST[:PORT]"), std::string::npos) << r.error();
  EXPECT_EQ(perflab::contention::parse_relay_step("publish"), relay_step::publish);
  EXPECT_FALSE(perflab::contention::parse_relay_step("later"));
  EXPECT_EQ(perflab::contention::parse_outbox_mode("at-most-once"), outbox_mode::at_most_once);
  EXPECT_FALSE(perflab::contention::parse_outbox_mode("exactly-once"));
}

}  // namespace
