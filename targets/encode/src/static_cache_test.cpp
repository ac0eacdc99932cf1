#include <perflab/encode/static_cache.hpp>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using perflab::encode::coding;
using perflab::encode::static_cache;

TEST(EncodeStaticCache, StoresPerCodingAndCountsHitsAndMisses) {
  static_cache c;
  std::string out = "head:";
  EXPECT_FALSE(c.append(coding::gzip, "json/10", out));
  EXPECT_EQ(out, "head:");
  ASSERT_TRUE(c.insert(coding::gzip, "json/10", "GZ", 500));
  EXPECT_FALSE(c.insert(coding::gzip, "json/10", "other", 500));  // the first stays
  EXPECT_FALSE(c.append(coding::br, "json/10", out));            // another coding, another entry
  EXPECT_EQ(c.append(coding::gzip, "json/10", out), 500u);
  EXPECT_EQ(out, "head:GZ");
  EXPECT_EQ(c.hits(), 1u);
  EXPECT_EQ(c.misses(), 2u);
  EXPECT_EQ(c.entries(), 1u);
  EXPECT_EQ(c.bytes(), 2u);
}

TEST(EncodeStaticCache, NeverGrowsPastItsBudget) {
  static_cache c(10);
  EXPECT_TRUE(c.insert(coding::gzip, "a", "123456", 100));
  EXPECT_FALSE(c.insert(coding::gzip, "b", "123456", 100));  // 12 > 10
  EXPECT_TRUE(c.insert(coding::zstd, "b", "1234", 100));     // exactly 10
  EXPECT_EQ(c.bytes(), 10u);
  EXPECT_EQ(c.entries(), 2u);
  std::string out;
  EXPECT_FALSE(c.append(coding::gzip, "b", out));
}

TEST(EncodeStaticCache, ConcurrentFirstRequestsStoreOneEntryAndKeepTheBudget) {
  static_cache c(1000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        std::string out;
        const auto key = "k" + std::to_string(i % 50);
        if (!c.append(coding::gzip, key, out)) c.insert(coding::gzip, key, std::string(30, 'x'), 90);
        else EXPECT_EQ(out, std::string(30, 'x'));
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_LE(c.bytes(), 1000u);
  EXPECT_EQ(c.bytes(), c.entries() * 30);
  EXPECT_EQ(c.entries(), 33u);  // 33 * 30 = 990: room for no more
  EXPECT_EQ(c.hits() + c.misses(), 800u);
}

TEST(EncodeStaticCache, WritesPrometheusText) {
  static_cache c;
  c.insert(coding::br, "hello", "xyz", 13);
  std::string out, body;
  c.append(coding::br, "hello", body);
  c.write_prometheus(out);
  EXPECT_NE(out.find("perflab_encode_static_hits_total 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("perflab_encode_static_entries 1\n"), std::string::npos);
  EXPECT_NE(out.find("perflab_encode_static_bytes 3\n"), std::string::npos);
  EXPECT_NE(out.find("# TYPE perflab_encode_static_misses_total counter\n"), std::string::npos);
}

}  // namespace
