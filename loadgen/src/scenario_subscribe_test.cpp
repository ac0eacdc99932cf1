// [load] model = "subscribe": push runs from a scenario (scenario_subscribe.cpp).
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "scenario_test_support.hpp"

namespace perflab::loadgen {
namespace {

using namespace std::chrono_literals;
using testing::parse;

const char* k_push = R"(name = "push"
[target]
model = "reactor"
[load]
model = "subscribe"
style = "long-poll"
subscribers = 200
topics = 20
publish_rate = "5/s"
poll_timeout = "10s"
connect_rate = "1000/s"
message_size = "256B"
duration = "3s"
drain_timeout = "1s"
[matrix]
"load.style" = ["sse", "long-poll", "short-poll", "ws"]
)";

TEST(ScenarioSubscribe, EachVariantCarriesItsSubscribersAndPublisher) {
  auto s = parse(k_push);
  ASSERT_TRUE(s) << s.error().where << ": " << s.error().message;
  ASSERT_EQ(s->variants.size(), 4u);
  const char* styles[] = {"sse", "long-poll", "short-poll", "ws"};
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& v = s->variants[i];
    EXPECT_EQ(v.load.kind, "subscribe");
    ASSERT_TRUE(v.subscribe.has_value());
    EXPECT_EQ(v.subscribe->style, styles[i]) << "the matrix sets load.style";
    EXPECT_EQ(v.subscribe->subscribers, 200);
    EXPECT_EQ(v.subscribe->topics, 20);
    EXPECT_DOUBLE_EQ(v.subscribe->publish_rate, 5);
    EXPECT_EQ(v.subscribe->poll_timeout, 10s);
    EXPECT_DOUBLE_EQ(v.subscribe->connect_rate, 1000);
    EXPECT_EQ(v.subscribe->message_bytes, 256u);
    EXPECT_EQ(v.subscribe->duration, 3s);
    EXPECT_EQ(v.subscribe->drain, 1s);
    EXPECT_EQ(v.subscribe->connect_timeout, 5s) << "not given: the subscribe default";
  }
}

TEST(ScenarioSubscribe, RequestResponseKeysAndSubscribeKeysStayApart) {
  struct bad {
    std::string text, where, says;
  };
  const std::string head = "name = \"p\"\n[target]\nmodel = \"reactor\"\n[load]\n";  // [load] is line 4
  const bad cases[] = {
      {head + "model = \"subscribe\"\nrate = \"1k/s\"\n", "s.toml:6:1", "load.rate does not apply to model = \"subscribe\""},
      {head + "model = \"subscribe\"\nstyle = \"websocket\"\n", "s.toml:6:9",
       "load.style: expected \"sse\", \"long-poll\", \"short-poll\" or \"ws\", found \"websocket\""},
      {head + "model = \"subscribe\"\nsubscribers = 0\n", "s.toml:6:15", "load.subscribers"},
      {head + "model = \"subscribe\"\npublish_rate = \"fast\"\n", "s.toml:6:16", "load.publish_rate"},
      {head + "model = \"subscribe\"\n[[request]]\npath = \"/x\"\n", "s.toml:6:1", "[request] does not apply"},
      {head + "model = \"closed\"\nstyle = \"sse\"\n", "s.toml:6:9", "load.style applies to model = \"subscribe\" only"},
      {head + "model = \"push\"\n", "s.toml:5:9", "expected \"open\", \"closed\" or \"subscribe\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto s = parse(c.text);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().where, c.where) << s.error().message;
    EXPECT_NE(s.error().message.find(c.says), std::string::npos) << s.error().message;
  }
}

// publish_rate = "0": no built-in publisher (an external one publishes during the run).
TEST(ScenarioSubscribe, AZeroPublishRateMeansAnExternalPublisher) {
  auto s = parse("name = \"p\"\n[target]\nmodel = \"reactor\"\n[load]\nmodel = \"subscribe\"\npublish_rate = \"0\"\n");
  ASSERT_TRUE(s) << s.error().to_string();
  ASSERT_TRUE(s->variants.at(0).subscribe);
  EXPECT_EQ(s->variants[0].subscribe->publish_rate, 0);
}

// The shipped push scenarios as a user runs them: push-reconnect drops every stream once, 5 s
// into each variant, through an admin endpoint the runner enables; push-fanout holds 1k and 10k
// subscribers on each of the six models.
TEST(PushScenarios, ReconnectDropsEveryStreamOnceAndFanoutCoversEveryModel) {
  const char* src = std::getenv("PERFLAB_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "PERFLAB_SOURCE_DIR is set by ctest";
  const std::filesystem::path dir = std::filesystem::path(src) / "scenarios";
  auto rc = load_scenario(dir / "push-reconnect.toml");
  ASSERT_TRUE(rc) << rc.error().to_string();
  ASSERT_EQ(rc->variants.size(), 3u);
  for (const auto& v : rc->variants) {
    SCOPED_TRACE(v.name);
    ASSERT_TRUE(v.subscribe);
    EXPECT_EQ(v.subscribe->style, "sse");
    EXPECT_TRUE(v.target.admin) << "an action on /admin/ gets its target --admin";
    ASSERT_EQ(v.schedule.size(), 1u);
    EXPECT_EQ(v.schedule[0].what, timed_event_spec::kind::action);
    EXPECT_EQ(v.schedule[0].method, "POST");
    EXPECT_EQ(v.schedule[0].path, "/admin/push/disconnect");
    EXPECT_EQ(v.schedule[0].at, 5s);
    EXPECT_LT(v.schedule[0].at, v.load.duration);
  }
  EXPECT_EQ(rc->variants[2].target.params.at("push"), "retry=1s,history=5");
  auto fo = load_scenario(dir / "push-fanout.toml");
  ASSERT_TRUE(fo) << fo.error().to_string();
  ASSERT_EQ(fo->variants.size(), 12u);
  std::set<std::string> models;
  for (const auto& v : fo->variants) {
    ASSERT_TRUE(v.subscribe);
    EXPECT_TRUE(v.subscribe->subscribers == 1000 || v.subscribe->subscribers == 10000) << v.name;
    EXPECT_FALSE(v.target.admin);
    models.insert(v.target.model);
  }
  EXPECT_EQ(models.size(), 6u);
}

}  // namespace
}  // namespace perflab::loadgen
