// [load] follow: the Location a 202 names (paths, same-target URLs, what is refused), the poll
// rendered without allocating, the done test, the policy's checks, and [load] follow in a scenario
// with its errors (file:line:column).
#include "perflab/loadgen/follow.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "perflab/loadgen/scenario.hpp"
#include "scenario_test_support.hpp"

namespace perflab::loadgen {
namespace {

using namespace std::chrono_literals;

TEST(FollowLocation, APathOrTheSameTargetsUrlIsFollowedAnythingElseIsNot) {
  const std::string head = "HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n";
  EXPECT_EQ(follow_location(head + "Location: /jobs/17\r\n\r\n{...}"), "/jobs/17");
  EXPECT_EQ(follow_location(head + "location:/jobs/17?x=1  \r\n\r\n"), "/jobs/17?x=1") << "any case, spaces trimmed";
  EXPECT_EQ(follow_location(head + "Location: http://127.0.0.1:8080/jobs/9\r\n\r\n"), "/jobs/9");
  EXPECT_EQ(follow_location(head + "Location: http://127.0.0.1:8080\r\n\r\n"), "/");
  EXPECT_EQ(follow_location(head + "Location: https://lab.example:8443/jobs/9\r\n\r\n"), "/jobs/9") << "https (the curl engine)";
  EXPECT_EQ(follow_location(head + "\r\n{\"Location: /jobs/1\"}"), "") << "a body is not a head";
  EXPECT_EQ(follow_location(head + "Location: jobs/17\r\n\r\n"), "") << "relative references are not followed";
  EXPECT_EQ(follow_location(head + "Location: ftp://elsewhere/jobs/1\r\n\r\n"), "") << "http and https only";
  EXPECT_EQ(follow_location(head + "Location: /a b\r\n\r\n"), "") << "no spaces in a request target";
  EXPECT_EQ(follow_location(head + "Location: /" + std::string(follow_max_location, 'x') + "\r\n\r\n"), "");
  EXPECT_EQ(follow_location(head + "\r\n"), "");
}

TEST(FollowPoll, RenderedWithTheRequestsHostIntoTheReservedBuffer) {
  std::string out;
  out.reserve(follow_max_poll_bytes);
  const char* before = out.data();
  ASSERT_TRUE(render_follow_poll(out, "/jobs/17", "POST /jobs HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_EQ(out, "GET /jobs/17 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
  EXPECT_EQ(out.data(), before) << "no allocation within the reserved capacity";
  EXPECT_FALSE(render_follow_poll(out, "/jobs/1", "POST /jobs HTTP/1.0\r\n\r\n")) << "no Host to send";
}

TEST(FollowDone, TheUntilTextAnywhereInTheAnswer) {
  EXPECT_TRUE(follow_done("HTTP/1.1 200 OK\r\n\r\n{\"id\":3,\"state\":\"done\"}", "\"state\":\"done\""));
  EXPECT_FALSE(follow_done("HTTP/1.1 200 OK\r\n\r\n{\"id\":3,\"state\":\"running\"}", "\"state\":\"done\""));
}

TEST(FollowJudge, APollIsDoneFinalGivenUpOrPolledAgain) {
  using namespace std::chrono_literals;
  const follow_policy p{10ms, "\"state\":\"done\"", 1s};
  const std::string done = "HTTP/1.1 200 OK\r\n\r\n{\"state\":\"done\"}", running = "HTTP/1.1 200 OK\r\n\r\n{\"state\":\"running\"}";
  EXPECT_EQ(judge_poll(200, done, p, 50ms), follow_step::done);
  EXPECT_EQ(judge_poll(200, done, p, 5s), follow_step::done) << "done wins over late";
  EXPECT_EQ(judge_poll(200, running, p, 50ms), follow_step::poll);
  EXPECT_EQ(judge_poll(200, running, p, 1s), follow_step::timed_out) << "the timeout counts from the intended send time";
  EXPECT_EQ(judge_poll(404, done, p, 50ms), follow_step::none) << "a non-2xx poll is the request's final answer";
  EXPECT_EQ(judge_poll(503, running, p, 5s), follow_step::none);
}

TEST(FollowPolicy, ChecksNameTheFieldAndDescribeSaysWhatWasFollowed) {
  follow_policy p{10ms, "\"state\":\"done\"", 30s};
  EXPECT_TRUE(check_follow(p));
  EXPECT_EQ(p.describe(), "every 10ms until '\"state\":\"done\"', timeout 30s");
  EXPECT_EQ(follow_policy{}.describe(), "");
  EXPECT_FALSE(follow_policy{}.enabled());
  auto bad = p;
  bad.every = 0ms;
  EXPECT_EQ(check_follow(bad).error().rfind("every:", 0), 0u);
  bad = p;
  bad.until.clear();
  EXPECT_EQ(check_follow(bad).error().rfind("until:", 0), 0u);
  bad = p;
  bad.timeout = 5ms;
  EXPECT_EQ(check_follow(bad).error().rfind("timeout: expected more than every (10ms)", 0), 0u);
}

// ---- [load] follow in a scenario ----

const char* k_follow_head = "name = \"t\"\n[target]\nmodel = \"reactor\"\n[load]\nrate = 80\nduration = \"2s\"\n";  // 6 lines

TEST(ScenarioFollow, TableFillsThePolicyAndBadValuesNameTheirPlace) {
  auto sc = testing::parse(std::string(k_follow_head) +
                           "follow = { every = \"20ms\", until = '\"state\":\"done\"', timeout = \"5s\" }\n");
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  EXPECT_EQ(sc->variants[0].load.follow, (follow_policy{20ms, "\"state\":\"done\"", 5s}));
  auto off = testing::parse(k_follow_head);
  ASSERT_TRUE(off.has_value());
  EXPECT_FALSE(off->variants[0].load.follow.enabled());
  struct bad {
    std::string line, where, message;
  };
  const std::vector<bad> cases = {
      {"follow = \"10ms\"", "s.toml:7:10", "load.follow: expected a table"},
      {"follow = { every = \"10ms\" }", "s.toml:7:10", "load.follow: expected every and until"},
      {"follow = { every = \"soon\", until = \"done\" }", "s.toml:7:20", "load.follow.every: "},
      {"follow = { every = \"10ms\", until = \"\" }", "s.toml:7:36", "load.follow.until: expected the text"},
      {"follow = { every = \"10ms\", until = \"done\", timeout = \"5ms\" }", "s.toml:7:54",
       "load.follow.timeout: expected more than every (10ms)"},
      {"follow = { every = \"10ms\", until = \"done\", poll = 1 }", "s.toml:7:44", "unknown key 'load.follow.poll'"},
  };
  for (const auto& c : cases) {
    auto r = testing::parse(std::string(k_follow_head) + c.line + "\n");
    ASSERT_FALSE(r.has_value()) << c.line;
    EXPECT_EQ(r.error().where.substr(0, c.where.size()), c.where) << c.line << ": " << r.error().to_string();
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << c.line << ": " << r.error().to_string();
  }
}

}  // namespace
}  // namespace perflab::loadgen
