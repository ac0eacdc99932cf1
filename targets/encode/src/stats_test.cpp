#include <perflab/encode/stats.hpp>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using perflab::encode::coding;
using perflab::encode::skip_reason;
using perflab::encode::stats;

TEST(EncodeStats, SumsAcrossThreads) {
  stats s;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        s.encoded(coding::gzip, 100, 20, 30us);
        s.skipped(skip_reason::too_short);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(s.responses(coding::gzip), 4000u);
  EXPECT_EQ(s.bytes_in(coding::gzip), 400000u);
  EXPECT_EQ(s.bytes_out(coding::gzip), 80000u);
  EXPECT_EQ(s.skips(skip_reason::too_short), 4000u);
  EXPECT_EQ(s.skips(skip_reason::identity), 0u);
  EXPECT_EQ(s.responses(coding::br), 0u);
}

TEST(EncodeStats, WritesPrometheusCountersAndACumulativeHistogram) {
  stats s;
  s.encoded(coding::gzip, 16384, 3000, 20us);   // bucket le=0.000025
  s.encoded(coding::gzip, 16384, 3100, 80us);   // bucket le=0.0001
  s.encoded(coding::gzip, 16384, 3200, 2s);     // beyond the last bound: +Inf only
  s.skipped(skip_reason::identity);
  std::string out;
  s.write_prometheus(out);
  const auto has = [&](const std::string& line) { return out.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("perflab_encode_responses_total{coding=\"gzip\"} 3")) << out;
  EXPECT_TRUE(has("perflab_encode_bytes_in_total{coding=\"gzip\"} 49152"));
  EXPECT_TRUE(has("perflab_encode_bytes_out_total{coding=\"gzip\"} 9300"));
  EXPECT_TRUE(has("perflab_encode_duration_seconds_bucket{coding=\"gzip\",le=\"1e-05\"} 0"));
  EXPECT_TRUE(has("perflab_encode_duration_seconds_bucket{coding=\"gzip\",le=\"2.5e-05\"} 1"));
  EXPECT_TRUE(has("perflab_encode_duration_seconds_bucket{coding=\"gzip\",le=\"0.0001\"} 2"));
  EXPECT_TRUE(has("perflab_encode_duration_seconds_bucket{coding=\"gzip\",le=\"0.25\"} 2"));
  EXPECT_TRUE(has("perflab_encode_duration_seconds_bucket{coding=\"gzip\",le=\"+Inf\"} 3"));
  EXPECT_TRUE(has("perflab_encode_duration_seconds_count{coding=\"gzip\"} 3"));
  EXPECT_TRUE(has("perflab_encode_duration_seconds_sum{coding=\"gzip\"} 2.000100000"));
  EXPECT_TRUE(has("perflab_encode_skipped_total{reason=\"identity\"} 1"));
  EXPECT_TRUE(has("perflab_encode_skipped_total{reason=\"too_short\"} 0"));
  EXPECT_EQ(out.find("coding=\"br\""), std::string::npos);  // nothing encoded with br: not listed
}

}  // namespace
