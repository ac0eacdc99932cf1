#include <perflab/targets/config.hpp>

#include <gtest/gtest.h>

namespace perflab::targets {
namespace {

TEST(ConfigModel, ParsesTheFourModelsOnly) {
  for (auto m : {model::thread_per_request, model::thread_pool, model::reactor, model::coroutine})
    EXPECT_EQ(parse_model(to_string(m)), m);
  EXPECT_FALSE(parse_model("threads"));
  EXPECT_FALSE(parse_model(""));
}

TEST(ConfigListen, ParsesHostAndPort) {
  auto a = parse_listen("127.0.0.1:0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 0);
  EXPECT_EQ(parse_listen(":8080")->port, 8080);
  EXPECT_FALSE(parse_listen("localhost:80"));
  EXPECT_FALSE(parse_listen("127.0.0.1"));
  EXPECT_FALSE(parse_listen("127.0.0.1:65536"));
}

TEST(ConfigThreads, DefaultsFollowTheModel) {
  server_config c;
  c.which = model::reactor;
  c.cpus = {1};
  EXPECT_EQ(effective_threads(c), 1u);
  c.which = model::thread_per_request;
  EXPECT_EQ(effective_threads(c), 0u);  // no cap
  c.which = model::thread_pool;
  EXPECT_GT(effective_threads(c), 1u);
  c.threads = 3;
  EXPECT_EQ(effective_threads(c), 3u);
}

}  // namespace
}  // namespace perflab::targets
