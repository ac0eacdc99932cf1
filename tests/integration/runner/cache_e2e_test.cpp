// Cache hit ratios end to end: the real loadgen draws {key} from Zipf (or uniform) over 10,000
// keys against a real lab-target with a local cache, and counts X-Cache per response. Asserts the
// physics (LAB.md section 5), never a speed: each policy's hit ratio near the reference, their
// order (LFU > LRU > FIFO on Zipf), uniform access near capacity / keys, and the per-second
// series adding up to the totals.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "perflab/core/exit_codes.hpp"
#include "perflab/core/result_io.hpp"
#include "runner_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using perflab::testing::Runner;

// 1,000 entries = 10 % of the key space. 2 s of warm-up at 6k/s (12,000 requests) fills the
// cache and brings LFU's counts near their steady state; 2 s measured (12,000 responses) puts the
// sampling error near 0.005.
std::string scenario(const std::string& distribution, const std::string& policies) {
  return R"(name = "cache-e2e"
[target]
model = "reactor"
threads = 1
cache = "lru"
cache-capacity = 1000
origin-latency = "1ms"
[load]
model = "open"
rate = "6k/s"
warmup = "2s"
duration = "2s"
send_lag_bound = "250ms"
[keys]
count = "10k"
distribution = ")" + distribution + "\"\n" + (distribution == "zipf" ? "zipf_s = 0.99\n" : "") + R"([[request]]
path = "/cache/{key}"
[matrix]
"target.cache" = )" + policies + "\n";
}

// LAB.md section 5, Zipf s=0.99 over 10,000 keys, capacity 10 %.
double reference(const std::string& policy) {
  if (policy == "lru") return 0.664;
  if (policy == "lfu") return 0.726;
  return 0.619;  // fifo
}

TEST_F(Runner, CacheHitRatiosFollowThePolicyOnZipf) {
  auto r = loadgen_run(write("cache.toml", scenario("zipf", R"(["lru", "lfu", "fifo"])")));
  // 0 (or 5 when the shared machine delayed the schedule): the hit ratio does not depend on it.
  ASSERT_TRUE(r.code == perflab::exit_code::ok || r.code == perflab::exit_code::saturated) << r.out << r.err;
  const fs::path dir = run_dir();
  auto run = perflab::result::read_run_json(dir / "run.json");
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 3u);
  std::map<std::string, double> ratio;
  for (const auto& v : run->variants) {
    SCOPED_TRACE(v.name);
    const std::string policy = v.params.at("target.cache");
    EXPECT_EQ(v.errors.total(), 0);
    // Every response carried X-Cache, and each is HIT or MISS (no TTL: nothing goes stale).
    EXPECT_EQ(v.cache.total(), v.completed);
    EXPECT_EQ(v.cache.stale + v.cache.other, 0);
    EXPECT_GT(v.cache.total(), 8000);
    EXPECT_DOUBLE_EQ(v.cache_hit_ratio, static_cast<double>(v.cache.hit) / static_cast<double>(v.cache.total()));
    EXPECT_NEAR(v.cache_hit_ratio, reference(policy), 0.03);
    ratio[policy] = v.cache_hit_ratio;
    // The per-second series (the drain row included) adds up to the totals.
    std::int64_t hits = 0, all = 0;
    for (const auto& p : v.series) {
      hits += p.cache_hit;
      all += p.cache_hit + p.cache_miss + p.cache_stale + p.cache_other;
    }
    EXPECT_EQ(hits, v.cache.hit);
    EXPECT_EQ(all, v.cache.total());
  }
  EXPECT_GT(ratio["lfu"], ratio["lru"]);
  EXPECT_GT(ratio["lru"], ratio["fifo"]);

  // The CSV carries the hit ratio per second; the summary and the report show the column.
  std::ifstream csv(dir / run->variants[0].series_csv);
  std::string header;
  std::getline(csv, header);
  EXPECT_NE(header.find(",cache_hit,cache_miss,cache_stale,cache_other,cache_hit_ratio"), std::string::npos) << header;
  EXPECT_NE(r.out.find("hit ratio"), std::string::npos) << r.out;
  EXPECT_NE(perflab::testing::slurp(dir / "report.md").find("hit ratio"), std::string::npos);
  EXPECT_EQ(validate_schema(dir).code, 0) << "run.json against docs/result.schema.json";
}

TEST_F(Runner, CacheHitRatioOfUniformKeysIsCapacityOverKeys) {
  auto r = loadgen_run(write("cache.toml", scenario("uniform", R"(["lru", "lfu"])")));
  ASSERT_TRUE(r.code == perflab::exit_code::ok || r.code == perflab::exit_code::saturated) << r.out << r.err;
  auto run = perflab::result::read_run_json(run_dir() / "run.json");
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 2u);
  for (const auto& v : run->variants) {
    SCOPED_TRACE(v.name);
    EXPECT_NEAR(v.cache_hit_ratio, 0.10, 0.02);  // 1,000 of 10,000 equally likely keys
  }
}

}  // namespace
