// Response compression over real sockets, once per concurrency model: gzip negotiated from
// Accept-Encoding, Vary, Content-Encoding and the encoded Content-Length, HEAD = GET, the
// minimum length, malformed Accept-Encoding answered (identity) on a connection that keeps
// serving; every gzipped body decoded with zlib, and with curl --compressed where curl is
// installed (a decoder we did not write). Bad compression options exit 2 naming the option.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>
#include <zlib.h>

#include "target_harness.hpp"

namespace {

using namespace std::chrono_literals;
using namespace perflab::testing;

class TargetEncode : public model_test {};
// The link shaper's tests, a suite of their own: they assert wall-clock bands (5 %, 50-150 ms), so
// they run alone (RUN_SERIAL) while TargetEncode's functional tests run beside others.
class TargetLink : public model_test {};

std::optional<std::string> gunzip(std::string_view gz) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return std::nullopt;
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  char chunk[65536];
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;
  }
  const bool whole = rc == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  if (!whole) return std::nullopt;
  return out;
}

bool has(const response& r, std::string_view field) {
  return r.head.find("\r\n" + std::string(field) + "\r\n") != std::string::npos;
}
bool names(const response& r, std::string_view name) {
  return r.head.find("\r\n" + std::string(name) + ": ") != std::string::npos;
}
// The head without its Date line (it may tick between two requests).
std::string without_date(std::string head) {
  if (const auto d = head.find("\r\nDate: "); d != std::string::npos) head.erase(d, head.find("\r\n", d + 2) - d);
  return head;
}

TEST_P(TargetEncode, GzipIsNegotiatedAndDecodes) {
  target_process t(model_args(GetParam(), {"--gzip-level", "6"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  // Several requests on one keep-alive connection: identity, gzip, malformed, gzip refused.
  const auto plain = c.request(get("/json?items=500"));
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200);
  EXPECT_FALSE(names(*plain, "Content-Encoding")) << plain->head;
  EXPECT_TRUE(has(*plain, "Vary: Accept-Encoding")) << plain->head;

  const auto gz = c.request(get("/json?items=500", "Accept-Encoding: br;q=0.9, gzip;q=0.8, *;q=0\r\n"));
  ASSERT_TRUE(gz);
  ASSERT_EQ(gz->status, 200);
  EXPECT_TRUE(has(*gz, "Content-Encoding: gzip")) << gz->head;
  EXPECT_TRUE(has(*gz, "Vary: Accept-Encoding")) << gz->head;
  EXPECT_EQ(gz->content_length, gz->body.size());
  EXPECT_LT(gz->body.size() * 3, plain->body.size());
  EXPECT_EQ(gunzip(gz->body), plain->body);

  const auto malformed = c.request(get("/json?items=500", "Accept-Encoding: gzip;q=7, x;y\r\n"));
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 200);
  EXPECT_FALSE(names(*malformed, "Content-Encoding")) << malformed->head;
  EXPECT_EQ(malformed->body, plain->body);

  const auto refused = c.request(get("/json?items=500", "Accept-Encoding: gzip;q=0\r\n"));
  ASSERT_TRUE(refused);
  EXPECT_FALSE(names(*refused, "Content-Encoding")) << refused->head;
  EXPECT_EQ(refused->body, plain->body);
  expect_still_serving(t.port());
  // /metrics counts what was encoded: one gzip body, its size before and after.
  EXPECT_EQ(metric_value(t.port(), "perflab_encode_responses_total{coding=\"gzip\"}"), 1);
  EXPECT_EQ(metric_value(t.port(), "perflab_encode_bytes_in_total{coding=\"gzip\"}"),
            static_cast<double>(plain->body.size()));
  EXPECT_EQ(metric_value(t.port(), "perflab_encode_bytes_out_total{coding=\"gzip\"}"),
            static_cast<double>(gz->body.size()));
}

TEST_P(TargetEncode, HeadHasTheFieldsOfGet) {
  target_process t(model_args(GetParam(), {"--gzip-level", "1"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  const std::string ae = "Accept-Encoding: gzip\r\n";
  const auto g = c.request(get("/json?items=300", ae));
  const auto h = c.request(get("/json?items=300", ae, "HEAD"), true);
  ASSERT_TRUE(g && h);
  EXPECT_TRUE(has(*h, "Content-Encoding: gzip")) << h->head;
  EXPECT_EQ(without_date(h->head), without_date(g->head));
  // No body came after the HEAD answer: the next response on the connection parses.
  const auto next = c.request(get("/hello"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "Hello, World!");
}

TEST_P(TargetEncode, BodiesUnderTheMinimumLengthAreNotEncoded) {
  target_process t(model_args(GetParam(), {"--gzip-level", "6", "--gzip-min-length", "200"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  const std::string ae = "Accept-Encoding: gzip\r\n";
  const auto hello = c.request(get("/hello", ae));
  ASSERT_TRUE(hello);
  EXPECT_FALSE(names(*hello, "Content-Encoding")) << hello->head;
  EXPECT_TRUE(has(*hello, "Vary: Accept-Encoding")) << hello->head;
  EXPECT_EQ(hello->body, "Hello, World!");
  const auto json = c.request(get("/json?items=3", ae));  // over 200 bytes
  ASSERT_TRUE(json);
  ASSERT_GE(gunzip(json->body).value_or("").size(), 200u);
  EXPECT_TRUE(has(*json, "Content-Encoding: gzip")) << json->head;
}

TEST_P(TargetEncode, OffByDefault) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  const auto r = c.request(get("/json?items=100", "Accept-Encoding: gzip\r\n"));
  ASSERT_TRUE(r);
  EXPECT_FALSE(names(*r, "Content-Encoding"));
  EXPECT_FALSE(names(*r, "Vary"));
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_P(TargetEncode, CurlCompressedDecodesWhatWeSend) {
  if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "curl is not installed (/usr/bin/curl)";
  target_process t(model_args(GetParam(), {"--gzip-level", "9", "--gzip-types", "*"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  const auto base = "/tmp/perflab-encode-" + std::to_string(::getpid()) + "-" + model_test_name(GetParam());
  for (const std::string target : {"/json?items=2000", "/bytes/100000", "/metrics"}) {
    SCOPED_TRACE(target);
    const std::string url = "http://127.0.0.1:" + std::to_string(t.port()) + target;
    const std::string cmd = "/usr/bin/curl -sS --max-time 10 --compressed -D " + base + ".head -o " + base +
                            ".body '" + url + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const auto head = slurp(base + ".head"), body = slurp(base + ".body");
    std::string lower = head;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_NE(lower.find("\r\ncontent-encoding: gzip\r\n"), std::string::npos) << head;
    if (target == "/metrics") {
      EXPECT_NE(body.find("# TYPE "), std::string::npos) << body.substr(0, 200);
      continue;
    }
    const auto plain = c.request(get(target));
    ASSERT_TRUE(plain);
    EXPECT_EQ(body, plain->body);
  }
  std::remove((base + ".head").c_str());
  std::remove((base + ".body").c_str());
}

TEST_P(TargetEncode, PayloadKindsCompressLikeTheirData) {
  target_process t(model_args(GetParam(), {"--gzip-level", "6", "--gzip-types", "*"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  const std::string ae = "Accept-Encoding: gzip\r\n";
  struct kind_case {
    const char* kind;
    double min_ratio, max_ratio;  // identity bytes / gzip bytes
  };
  for (const auto& k : {kind_case{"json", 3.0, 10.0}, kind_case{"text", 2.0, 6.0}, kind_case{"random", 0.0, 1.0}}) {
    SCOPED_TRACE(k.kind);
    const std::string target = std::string("/bytes/16384?kind=") + k.kind + "&seed=4";
    const auto plain = c.request(get(target));
    const auto gz = c.request(get(target, ae));
    ASSERT_TRUE(plain && gz);
    ASSERT_EQ(plain->body.size(), 16384u);
    EXPECT_TRUE(has(*gz, "Content-Encoding: gzip")) << gz->head;
    EXPECT_EQ(gunzip(gz->body), plain->body);
    const double ratio = static_cast<double>(plain->body.size()) / static_cast<double>(gz->body.size());
    EXPECT_GE(ratio, k.min_ratio);
    EXPECT_LE(ratio, k.max_ratio);
    // The same seed gives the same body on every request.
    const auto again = c.request(get(target));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->body, plain->body);
  }
}

TEST_P(TargetEncode, CurlCompressedGetsBrWhenBothAreOn) {
  if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "curl is not installed (/usr/bin/curl)";
  target_process t(model_args(GetParam(), {"--gzip-level", "6", "--br-level", "5"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const auto base = "/tmp/perflab-encode-br-" + std::to_string(::getpid()) + "-" + model_test_name(GetParam());
  const std::string url = "http://127.0.0.1:" + std::to_string(t.port()) + "/json?items=1000";
  // curl offers gzip and br (and more) at equal weight: the server's order picks br.
  const std::string cmd = "/usr/bin/curl -sS --max-time 10 --compressed -D " + base + ".head -o " + base + ".body '" + url + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::string head = slurp(base + ".head");
  for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_NE(head.find("\r\ncontent-encoding: br\r\n"), std::string::npos) << head;
  client c(t.port());
  const auto plain = c.request(get("/json?items=1000"));
  ASSERT_TRUE(plain);
  EXPECT_EQ(slurp(base + ".body"), plain->body);
  const auto gz = c.request(get("/json?items=1000", "Accept-Encoding: gzip\r\n"));
  ASSERT_TRUE(gz);
  EXPECT_TRUE(has(*gz, "Content-Encoding: gzip")) << gz->head;
  EXPECT_EQ(metric_value(t.port(), "perflab_encode_responses_total{coding=\"br\"}"), 1);
  std::remove((base + ".head").c_str());
  std::remove((base + ".body").c_str());
}

TEST_P(TargetEncode, GzipStaticEncodesOnceAndMetricsShowTheHits) {
  target_process t(model_args(GetParam(), {"--gzip-level", "9", "--gzip-static"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  const std::string target = "/bytes/300000?kind=json&seed=1";
  const auto plain = c.request(get(target));
  ASSERT_TRUE(plain);
  std::optional<response> first;
  for (int i = 0; i < 5; ++i) {
    const auto gz = c.request(get(target, "Accept-Encoding: gzip\r\n"));
    ASSERT_TRUE(gz);
    EXPECT_TRUE(has(*gz, "Content-Encoding: gzip")) << gz->head;
    if (!first) first = gz;
    EXPECT_EQ(gz->body, first->body);
  }
  EXPECT_EQ(gunzip(first->body), plain->body);
  EXPECT_EQ(metric_value(t.port(), "perflab_encode_static_hits_total"), 4);
  EXPECT_EQ(metric_value(t.port(), "perflab_encode_static_misses_total"), 1);
  EXPECT_EQ(metric_value(t.port(), "perflab_encode_static_bytes"), static_cast<double>(first->body.size()));
  EXPECT_EQ(metric_value(t.port(), "perflab_encode_responses_total{coding=\"gzip\"}"), 5);
  EXPECT_EQ(metric_value(t.port(), "perflab_encode_duration_seconds_count{coding=\"gzip\"}"), 1);
}

// --link-rate: the accuracy test. 1 MB at 1 MB/s is 1 s (headers add 0.02 %); the band
// is 5 %, and the shaper's schedule is absolute, so a late wake-up delays one chunk, not the rest.
TEST_P(TargetLink, LinkRateOneMegabyteAtOneMegabytePerSecondTakesOneSecond) {
  target_process t(model_args(GetParam(), {"--link-rate", "1MB/s"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port(), 10s);
  const auto start = std::chrono::steady_clock::now();
  const auto r = c.request(get("/bytes/1000000"));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->body.size(), 1000000u);
  const double wire = static_cast<double>(r->head.size() + 2 + r->body.size()) / 1e6;  // seconds at 1 MB/s
  EXPECT_GT(took, wire * 0.95);
  EXPECT_LT(took, wire * 1.05);
  // The same link carries the next response on the connection at the same rate: 100 KB, 0.1 s.
  const auto again = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.request(get("/bytes/100000")));
  const double took2 = std::chrono::duration<double>(std::chrono::steady_clock::now() - again).count();
  EXPECT_GT(took2, 0.095);
  EXPECT_LT(took2, 0.15);
}

TEST_P(TargetLink, LinkLatencyDelaysEveryResponse) {
  target_process t(model_args(GetParam(), {"--link-latency", "50ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto r = c.request(get("/hello"));
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "Hello, World!");
    EXPECT_GE(took, 0.050);
    EXPECT_LT(took, 0.150);
  }
}

TEST_P(TargetEncode, CurlCompressedDecodesZstd) {
  if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "curl is not installed (/usr/bin/curl)";
  target_process t(model_args(GetParam(), {"--zstd-level", "3"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const auto base = "/tmp/perflab-encode-zstd-" + std::to_string(::getpid()) + "-" + model_test_name(GetParam());
  const std::string url = "http://127.0.0.1:" + std::to_string(t.port()) + "/bytes/50000?kind=json&seed=2";
  // Debian 12's curl accepts zstd when built with it (curl -V lists "zstd"); it sends every coding it
  // decodes, and only zstd is on.
  const std::string cmd = "/usr/bin/curl -sS --max-time 10 --compressed -D " + base + ".head -o " + base + ".body '" + url + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::string head = slurp(base + ".head");
  for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::remove((base + ".head").c_str());
  if (head.find("\r\ncontent-encoding: zstd\r\n") == std::string::npos)
    GTEST_SKIP() << "this curl does not accept zstd: " << head;
  client c(t.port());
  const auto plain = c.request(get("/bytes/50000?kind=json&seed=2"));
  ASSERT_TRUE(plain);
  EXPECT_EQ(slurp(base + ".body"), plain->body);
  std::remove((base + ".body").c_str());
  EXPECT_EQ(metric_value(t.port(), "perflab_encode_responses_total{coding=\"zstd\"}"), 1);
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetEncode, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });
INSTANTIATE_TEST_SUITE_P(AllModels, TargetLink, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

TEST(TargetEncodeOptions, BadOptionsExit2NamingTheOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--gzip-level", "10"}, "--gzip-level:"},
      {{"--gzip-level", "fast"}, "--gzip-level:"},
      {{"--gzip-level", "-1"}, "--gzip-level:"},
      {{"--gzip-min-length", "big"}, "--gzip-min-length:"},
      {{"--br-level", "12"}, "--br-level:"},
      {{"--zstd-level", "20"}, "--zstd-level:"},
      {{"--link-rate", "fast"}, "--link-rate:"},
      {{"--link-rate", "1MB/m"}, "--link-rate:"},
      {{"--link-latency", "-5ms"}, "--link-latency:"},
      {{"--link-latency", "soon"}, "--link-latency:"},
      {{"--gzip-types", "json"}, "--gzip-types:"},
      {{"--gzip-types", "text/plain,,text/html"}, "--gzip-types:"},
  };
  for (const auto& [extra, name] : cases) {
    SCOPED_TRACE(name);
    launch_options to_stdout;
    to_stdout.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
    target_process t(model_args("reactor", extra), to_stdout);
    EXPECT_EQ(t.wait_exit(5s), 2);
    EXPECT_NE(t.first_line().find(name), std::string::npos) << t.first_line();
  }
}

}  // namespace
