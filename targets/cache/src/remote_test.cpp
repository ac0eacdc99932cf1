#include <perflab/cache/remote.hpp>

#include <gtest/gtest.h>

namespace perflab::cache {
namespace {

TEST(RedisUrl, ParsesHostAndPort) {
  const struct {
    const char* url;
    bool ok;
    const char* host;
    unsigned port;
  } cases[] = {
      {"redis://127.0.0.1:6380", true, "127.0.0.1", 6380},
      {"redis://localhost", true, "localhost", 6379},
      {"redis://127.0.0.1:6380/", true, "127.0.0.1", 6380},
      {"redis://", false, "", 0},
      {"http://127.0.0.1:6379", false, "", 0},
      {"redis://127.0.0.1:0", false, "", 0},
      {"redis://127.0.0.1:65536", false, "", 0},
      {"redis://127.0.0.1:x", false, "", 0},
      {"redis://:6379", false, "", 0},
      {"redis://u:p@127.0.0.1:6379", false, "", 0},
      {"redis://127.0.0.1:6379/2", false, "", 0},
  };
  for (const auto& c : cases) {
    const auto cfg = parse_redis_url(c.url);
    EXPECT_EQ(cfg.has_value(), c.ok) << c.url;
    if (!cfg || !c.ok) continue;
    EXPECT_EQ(cfg->host, c.host) << c.url;
    EXPECT_EQ(cfg->port, c.port) << c.url;
  }
}

TEST(RemoteBackoff, DoublesFromFiftyMillisecondsToTwoSecondsAndResets) {
  backoff b;
  std::int64_t now = 1'000'000'000;
  EXPECT_EQ(b.failed(now) - now, 50'000'000);
  EXPECT_EQ(b.failed(now) - now, 100'000'000);
  for (int i = 0; i < 10; ++i) b.failed(now);
  EXPECT_EQ(b.failed(now) - now, 2'000'000'000);
  b.succeeded();
  EXPECT_EQ(b.failed(now) - now, 50'000'000);
}

}  // namespace
}  // namespace perflab::cache
