// POST /orders with the transactional outbox (--outbox-db, --outbox-redis) against a throwaway
// PostgreSQL and Redis (scripts/services.sh; skipped, with the reason, when either cannot be
// installed here), on every model: every order answered 201 with its event id; the relay killed
// midway through a round (POST /admin/outbox/relay/crash) while orders keep coming and started
// again: the consumer ends with every committed event exactly once, the dead round's entries
// counted as duplicates and dropped, none lost; /metrics agrees. Bad outbox options exit 2.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "target_harness.hpp"

namespace {

using namespace std::chrono_literals;
using namespace perflab::testing;

// A service from scripts/services.sh under a name of this process, stopped at the end.
class outbox_service {
 public:
  explicit outbox_service(const std::string& kind) : name_("outbox-it-" + kind + "-" + std::to_string(::getpid())) {
    auto [rc, out] = run_command(std::string("'") + PERFLAB_SOURCE_DIR + "/scripts/services.sh' start " + kind +
                                 " --name " + name_);
    code_ = rc;
    url_ = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  }
  ~outbox_service() {
    if (code_ == 0)
      run_command(std::string("'") + PERFLAB_SOURCE_DIR + "/scripts/services.sh' stop " + name_ + " >/dev/null 2>&1");
  }
  int code() const { return code_; }
  const std::string& url() const { return url_; }

 private:
  std::string name_, url_;
  int code_ = -1;
};

// A number field of GET /admin/outbox's JSON.
std::uint64_t json_count(const std::string& body, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(body, m, std::regex("\"" + name + "\":([0-9]+)"))) return ~0ull;
  return std::stoull(m[1]);
}

class TargetOutbox : public model_test {};

TEST_P(TargetOutbox, RelayKilledMidwayAndRestartedLosesNothingAndTheConsumerDropsTheDuplicates) {
  outbox_service pg("postgres"), redis("redis");
  for (auto* s : {&pg, &redis}) {
    if (s->code() == 3) GTEST_SKIP() << "PostgreSQL or Redis cannot be installed here (scripts/services.sh exit 3)";
    ASSERT_EQ(s->code(), 0) << "scripts/services.sh start failed: " << s->url();
  }
  target_process t(model_args(GetParam(), {"--admin", "--outbox-db", pg.url(), "--outbox-redis", redis.url(),
                                           "--outbox-batch", "5", "--outbox-poll", "5ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  auto order = [&](int expect_event) {
    auto r = c.request(post("/orders"));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    EXPECT_EQ(r->body, "{\"order\":" + std::to_string(expect_event) + ",\"event\":" + std::to_string(expect_event) + "}\n");
  };
  for (int i = 1; i <= 10; ++i) order(i);
  auto crash = c.request(post("/admin/outbox/relay/crash?after=midway"));
  ASSERT_TRUE(crash);
  ASSERT_EQ(crash->status, 202) << crash->body;
  for (int i = 11; i <= 30; ++i) order(i);
  std::string status;
  ASSERT_TRUE(poll_until([&] {
    auto r = c.request(get("/admin/outbox"));
    status = r ? r->body : "";
    return json_count(status, "relays_up") == 0;
  }, 10s)) << "the relay never reached its next round's midpoint: " << status;
  auto start = c.request(post("/admin/outbox/relay/start"));
  ASSERT_TRUE(start);
  EXPECT_EQ(start->status, 200) << start->body;
  ASSERT_TRUE(poll_until([&] {
    auto r = c.request(get("/admin/outbox"));
    status = r ? r->body : "";
    return json_count(status, "committed") == 30 && json_count(status, "consumed") == 30 &&
           json_count(status, "backlog") == 0 && status.find("\"recovering\":false") != std::string::npos;
  }, 10s)) << status;
  const auto dups = json_count(status, "duplicates");
  EXPECT_GE(dups, 1u) << "the dead round was published again: " << status;
  EXPECT_LE(dups, 5u) << "at most one batch: " << status;
  EXPECT_EQ(json_count(status, "entries"), 30 + dups);
  EXPECT_EQ(json_count(status, "lost"), 0u);
  EXPECT_EQ(json_count(status, "crashes"), 1u);
  EXPECT_EQ(json_count(status, "restarts"), 1u);
  EXPECT_EQ(metric(t.port(), "perflab_outbox_duplicates_total"), static_cast<double>(dups));
  EXPECT_EQ(metric(t.port(), "perflab_outbox_consumed_total"), 30.0);
  EXPECT_EQ(metric(t.port(), "perflab_orders_created_total"), 30.0);
}

INSTANTIATE_TEST_SUITE_P(Models, TargetOutbox, ::testing::Values("reactor", "thread-pool"),
                         [](const auto& p) { return model_test_name(p.param); });

TEST(TargetOutboxOptions, BadOutboxOptionsExit2NamingTheOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--outbox-db", "mysql://x", "--outbox-redis", "redis://127.0.0.1:1"}, "--outbox-db"},
      {{"--outbox-db", "postgres://perflab@127.0.0.1:1/perflab"}, "--outbox-redis"},
      {{"--outbox-db", "postgres://p@127.0.0.1:1/p", "--outbox-redis", "redis://127.0.0.1:1", "--outbox-mode", "once"},
       "--outbox-mode"},
      {{"--outbox-db", "postgres://p@127.0.0.1:1/p", "--outbox-redis", "redis://127.0.0.1:1", "--outbox-batch", "0"},
       "--outbox-batch"},
      {{"--outbox-db", "postgres://p@127.0.0.1:1/p", "--outbox-redis", "redis://127.0.0.1:1"}, "--outbox-db"},
  };
  for (const auto& [args, option] : cases) {
    std::string cmd = std::string("'") + PERFLAB_LAB_TARGET + "' --model reactor --listen 127.0.0.1:0";
    for (const auto& a : args) cmd += " '" + a + "'";
    const auto r = run_command(cmd + " 2>&1");
    EXPECT_EQ(r.code, 2) << cmd << "\n" << r.out;
    EXPECT_NE(r.out.find(option), std::string::npos) << cmd << "\n" << r.out;
  }
}

}  // namespace
