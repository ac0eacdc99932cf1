#include <perflab/targets/config.hpp>

#include <gtest/gtest.h>

#include <algorithm>

#include <perflab/core/cpus.hpp>

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

TEST(ConfigThreads, DefaultsFollowTheModelAndTheUsableCpus) {
  server_config c;
  c.which = model::reactor;
  EXPECT_EQ(effective_threads(c), static_cast<unsigned>(cpus::available()));
  c.cpus = {1};
  EXPECT_EQ(usable_cpus(c), 1u);
  EXPECT_EQ(effective_threads(c), 1u);
  c.which = model::coroutine;
  EXPECT_EQ(effective_threads(c), 1u);
  c.which = model::thread_pool;
  EXPECT_EQ(effective_threads(c), pool_workers_per_cpu);
  c.cpus = {};
  EXPECT_EQ(effective_threads(c), pool_workers_per_cpu * static_cast<unsigned>(cpus::available()));
  c.which = model::thread_per_request;
  EXPECT_EQ(effective_threads(c), 0u);  // no cap
  c.threads = 3;
  for (auto m : {model::thread_per_request, model::thread_pool, model::reactor, model::coroutine}) {
    c.which = m;
    EXPECT_EQ(effective_threads(c), 3u);  // an explicit --threads wins
  }
}

TEST(ConfigThreads, ACpuListIsCappedByTheQuota) {
  server_config c;
  c.which = model::reactor;
  c.cpus = {0, 1, 2, 3, 4, 5, 6, 7};
  const auto quota = cpus::quota_limit();
  EXPECT_EQ(usable_cpus(c), quota ? std::min(8u, static_cast<unsigned>(*quota)) : 8u);
}

}  // namespace
}  // namespace perflab::targets
