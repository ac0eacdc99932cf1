#include "perflab/core/result_io.hpp"
#include "perflab/core/result_json.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include <gtest/gtest.h>

namespace fs = std::filesystem;
using namespace perflab;

namespace {

// A fresh directory under the system temp dir, removed at scope end.
struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() /
           ("perflab_result_io_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

result::run sample_run() {
  result::run r;
  r.tool = result::this_tool();
  r.host = result::detect_host();
  r.started_at = "2026-11-22T03:15:00.000Z";
  r.scenario_name = "pool-sweep";
  r.scenario_text = "name = \"pool-sweep\"\n";
  r.overrides = {"load.rate=500"};
  result::variant v;
  v.name = "model=reactor,pool=5";
  v.params = {{"model", "reactor"}, {"pool", "5"}};
  v.repeat = 2;
  v.load.kind = "open";
  v.load.rate = 500;
  v.load.stages = {{10, 100}, {20, 500}};
  v.load.cpus = {0, 1};
  v.measured_s = 10.01;
  v.completed = 5000;
  v.tps_mean = 499.5;
  v.errors.status_5xx = 3;
  v.ttlb.p99_us = 1234.5;
  result::second_point pt;
  pt.sent = 500;
  pt.completed = 499;
  pt.succeeded = 496;
  pt.ttlb_p50_us = 100.5;
  pt.ttlb_p99_us = 900.25;
  pt.target_rate = 500;
  pt.in_flight = 2;
  v.series.push_back(pt);
  pt.phase = "drain";
  pt.t_s = 10.01;
  pt.length_s = 0.25;
  v.series.push_back(pt);
  v.succeeded = 4997;
  v.stalled = 3;
  v.carried_in = 7;
  v.load.success = "2xx,3xx,404";
  v.load.max_error_rate = 0.05;
  v.target.params = {{"pool", "5"}};
  v.thresholds.push_back({"ttlb.p99 < 50ms", 1234.5, 50000, true});
  v.interval_log = "model=reactor,pool=5.hlog";
  r.variants.push_back(v);
  return r;
}

}  // namespace

TEST(ResultIo, WriteThenReadRoundTripsEveryField) {
  temp_dir d;
  auto r = sample_run();
  auto w = result::write_run_json(d.path / "run.json", r);
  ASSERT_TRUE(w) << w.error();
  auto back = result::read_run_json(d.path / "run.json");
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(nlohmann::json(*back), nlohmann::json(r));
  EXPECT_EQ(back->variants.at(0).load.stages.at(1).target_rate, 500);
  EXPECT_EQ(back->variants.at(0).series.at(0).ttlb_p99_us, 900.25);
}

TEST(ResultIo, ReadAcceptsARunDirectory) {
  temp_dir d;
  ASSERT_TRUE(result::write_run_json(d.path / "run.json", sample_run()));
  auto back = result::read_run_json(d.path);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->scenario_name, "pool-sweep");
}

TEST(ResultIo, WriteReplacesAnExistingFileAndLeavesNoTemporary) {
  temp_dir d;
  auto file = d.path / "run.json";
  { std::ofstream(file) << "old and broken {"; }
  ASSERT_TRUE(result::write_run_json(file, sample_run()));
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(d.path)) ++entries;
  EXPECT_EQ(entries, 1);
  EXPECT_TRUE(result::read_run_json(file));
}

TEST(ResultIo, WriteIntoMissingDirectoryFailsWithTheFileName) {
  temp_dir d;
  auto file = d.path / "no-such-dir" / "run.json";
  auto w = result::write_run_json(file, sample_run());
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().find("no-such-dir"), std::string::npos) << w.error();
}

TEST(ResultIo, MissingFieldsKeepTheirDefaults) {
  temp_dir d;
  auto file = d.path / "run.json";
  { std::ofstream(file) << R"({"schema": 1, "variants": [{"name": "a", "tps_mean": 12.5}]})"; }
  auto back = result::read_run_json(file);
  ASSERT_TRUE(back) << back.error();
  ASSERT_EQ(back->variants.size(), 1u);
  EXPECT_EQ(back->variants[0].tps_mean, 12.5);
  EXPECT_TRUE(back->variants[0].complete);
  EXPECT_EQ(back->variants[0].loadgen.send_lag_bound_us, 1000);
}

// Before schema 8 there was one engine: an older run reads as the Asio engine over HTTP/1.1, and
// a schema 8 run keeps the engine, the TLS errors and libcurl's handshake times it wrote.
TEST(ResultIo, RunsBeforeSchemaEightWereTheAsioEngineAndSchemaEightKeepsTheEngine) {
  temp_dir d;
  auto file = d.path / "run.json";
  { std::ofstream(file) << R"({"schema": 7, "variants": [{"name": "a", "load": {"kind": "open"}}]})"; }
  auto old = result::read_run_json(file);
  ASSERT_TRUE(old) << old.error();
  EXPECT_EQ(old->variants.at(0).load.engine, "asio");
  EXPECT_EQ(old->variants.at(0).load.http, "1.1");
  result::run r;
  result::variant v;
  v.load.engine = "curl";
  v.load.http = "2";
  v.errors.tls = 3;
  v.tls_handshake.count = 2;
  v.tls_handshake.p50_us = 812.5;
  r.variants.push_back(v);
  ASSERT_TRUE(result::write_run_json(file, r));
  auto back = result::read_run_json(file);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->schema, 8);
  const auto& b = back->variants.at(0);
  EXPECT_EQ(b.load.engine, "curl");
  EXPECT_EQ(b.load.http, "2");
  EXPECT_EQ(b.errors.tls, 3);
  EXPECT_EQ(b.errors.transport(), 3);  // a TLS failure is a transport error
  EXPECT_EQ(b.tls_handshake.count, 2);
  EXPECT_EQ(b.tls_handshake.p50_us, 812.5);
}

// A schema 1 file had one throughput figure, all responses per second: it is read as that
// figure for both goodput and all responses, so old runs still compare.
TEST(ResultIo, SchemaOneThroughputIsReadAsAllResponses) {
  temp_dir d;
  auto file = d.path / "run.json";
  {
    std::ofstream(file) << R"({"schema": 1, "variants": [{"name": "a", "tps_mean": 12.5, "completed": 100,
                                "errors": {"status_5xx": 4}}]})";
  }
  auto back = result::read_run_json(file);
  ASSERT_TRUE(back) << back.error();
  const auto& v = back->variants.at(0);
  EXPECT_EQ(v.tps_mean, 12.5);
  EXPECT_EQ(v.rps_mean, 12.5);
  EXPECT_EQ(v.succeeded, 96);
  EXPECT_EQ(v.load.max_error_rate, 0.01);
  EXPECT_EQ(v.load.success, "2xx,3xx");
}

// Each bad input must be rejected with a message containing `expect`.
TEST(ResultIo, ReadRejectsBadFilesWithAReason) {
  struct row {
    const char* content;  // nullptr: the file does not exist
    const char* expect;
  };
  const row rows[] = {
      {nullptr, "cannot open"},
      {"{\"schema\": 1, \"variants\": [", "not valid JSON"},
      {"[1, 2]", "not a perflab run"},
      {"{\"tool\": {}}", "not a perflab run"},
      {"{\"schema\": 99, \"variants\": []}", "schema version 99"},
      {"{\"schema\": \"1\", \"variants\": []}", "must be an integer"},
      {"{\"schema\": 1, \"variants\": [{\"tps_mean\": \"fast\"}]}", "unexpected content"},
  };
  for (const auto& rw : rows) {
    temp_dir d;
    auto file = d.path / "run.json";
    if (rw.content) std::ofstream(file) << rw.content;
    auto back = result::read_run_json(file);
    ASSERT_FALSE(back) << (rw.content ? rw.content : "(missing)");
    EXPECT_NE(back.error().find(rw.expect), std::string::npos) << back.error();
    EXPECT_NE(back.error().find("run.json"), std::string::npos) << back.error();
  }
}

TEST(ResultSummarize, ConvertsNanosecondsToMicrosecondPercentiles) {
  histogram h(1, 3'600'000'000'000LL, 3);
  for (int i = 1; i <= 1000; ++i) h.record(static_cast<std::int64_t>(i) * 1000);  // 1..1000 us
  h.record(7'200'000'000'000LL);  // 2 h: too large
  auto s = result::summarize(h);
  EXPECT_EQ(s.count, 1000);
  EXPECT_EQ(s.too_large, 1);
  EXPECT_NEAR(s.min_us, 1.0, 0.01);
  EXPECT_NEAR(s.p50_us, 500.0, 0.5);
  EXPECT_NEAR(s.p90_us, 900.0, 0.9);
  EXPECT_NEAR(s.p99_us, 990.0, 1.0);
  EXPECT_NEAR(s.p999_us, 999.0, 1.0);
  EXPECT_NEAR(s.max_us, 1000.0, 1.0);
  EXPECT_NEAR(s.mean_us, 500.5, 0.5);
  EXPECT_NEAR(s.stddev_us, 288.7, 1.0);
}

TEST(ResultSummarize, EmptyHistogramGivesZeros) {
  histogram h(1, 1'000'000'000, 3);
  auto s = result::summarize(h);
  EXPECT_EQ(s.count, 0);
  EXPECT_EQ(s.p99_us, 0);
  EXPECT_EQ(s.max_us, 0);
}

TEST(ResultHelpers, TimestampsHaveTheDocumentedShape) {
  EXPECT_TRUE(std::regex_match(result::utc_timestamp(),
                               std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)")))
      << result::utc_timestamp();
  EXPECT_TRUE(std::regex_match(result::utc_folder_stamp(), std::regex(R"(\d{8}T\d{6}Z)")))
      << result::utc_folder_stamp();
}

TEST(ResultHelpers, HostAndToolAreFilledIn) {
  auto h = result::detect_host();
  EXPECT_GT(h.cpus, 0);
  EXPECT_FALSE(h.kernel.empty());
  auto t = result::this_tool();
  EXPECT_EQ(t.name, "perflab");
  EXPECT_FALSE(t.version.empty());
  EXPECT_FALSE(t.commit.empty());
  EXPECT_FALSE(t.build_type.empty());
}
