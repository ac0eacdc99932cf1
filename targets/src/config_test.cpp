#include <perflab/targets/config.hpp>

#include <gtest/gtest.h>

#include <algorithm>

#include <perflab/core/cpus.hpp>

namespace perflab::targets {
namespace {

TEST(ConfigModel, ParsesTheKnownModelsOnly) {
  for (auto m : {model::thread_per_request, model::thread_pool, model::reactor, model::coroutine, model::fiber})
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
  c.which = model::fiber;  // carrier threads, like the event loops
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

TEST(ConfigFiberStack, AcceptsSizesFrom32KiBTo64MiB) {
  EXPECT_EQ(parse_fiber_stack("64KiB"), 64u * 1024);
  EXPECT_EQ(parse_fiber_stack("32KiB"), 32u * 1024);
  EXPECT_EQ(parse_fiber_stack("64MiB"), 64u << 20);
  EXPECT_EQ(parse_fiber_stack("40000"), 40000u);  // rounded up to pages by the stack allocator
  for (const char* bad : {"", "0", "16KiB", "65MiB", "-64KiB", "64 parsecs", "1.5B"}) {
    auto r = parse_fiber_stack(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().find("--fiber-stack"), std::string::npos) << r.error();
  }
}

}  // namespace
}  // namespace perflab::targets

namespace perflab::targets {
namespace {

TEST(ConfigCache, RemoteCacheOptions) {
  const struct {
    const char* policy;
    const char* remote;
    const char* timeout;
    const char* prewarm;
    const char* error;  // "" when accepted; else the option the error must name
  } cases[] = {
      {"redis://127.0.0.1:6380", "none", "100ms", "0", ""},
      {"lru", "redis://127.0.0.1:6380", "100ms", "0", ""},
      {"none", "redis://127.0.0.1:6380", "20ms", "0", ""},
      {"lfu", "redis://127.0.0.1:6380", "100ms", "10", ""},
      {"redis://127.0.0.1:6380", "redis://127.0.0.1:6381", "100ms", "0", "--cache-remote:"},
      {"redis://127.0.0.1:x", "none", "100ms", "0", "--cache:"},
      {"lru", "127.0.0.1:6379", "100ms", "0", "--cache-remote:"},
      {"lru", "redis://127.0.0.1:6379", "0ms", "0", "--cache-remote-timeout:"},
      {"lru", "redis://127.0.0.1:6379", "soon", "0", "--cache-remote-timeout:"},
      {"redis://127.0.0.1:6380", "none", "100ms", "10", "--cache-prewarm:"},
      {"lru", "none", "100ms", "0", "none"},
  };
  for (const auto& c : cases) {
    cache_options o;
    o.policy = c.policy;
    o.remote = c.remote;
    o.remote_timeout = c.timeout;
    o.prewarm = c.prewarm;
    server_config cfg;
    const auto r = apply_cache_options(o, cfg);
    const std::string want = c.error;
    if (want == "none") {  // --cache-remote none: no Redis
      ASSERT_TRUE(r);
      EXPECT_FALSE(cfg.cache_remote);
    } else if (want.empty()) {
      ASSERT_TRUE(r) << c.policy << " " << c.remote << ": " << r.error();
      ASSERT_TRUE(cfg.cache_remote);
      EXPECT_EQ(cfg.cache_remote->port, 6380);
      EXPECT_EQ(cfg.cache.cache.has_value(), std::string(c.policy) == "lru" || std::string(c.policy) == "lfu");
    } else {
      ASSERT_FALSE(r) << c.policy << " " << c.remote;
      EXPECT_EQ(r.error().rfind(want, 0), 0u) << r.error();
    }
  }
  cache_options o;
  o.policy = "lru";
  o.remote = "redis://127.0.0.1:6380";
  o.ttl = "2s";
  server_config cfg;
  ASSERT_TRUE(apply_cache_options(o, cfg));
  EXPECT_EQ(cfg.cache_remote->ttl, std::chrono::milliseconds(2000));
  EXPECT_EQ(cfg.cache_remote->timeout, std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace perflab::targets
