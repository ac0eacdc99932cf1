#include <perflab/targets/payloads.hpp>

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <perflab/encode/gzip.hpp>
#include <perflab/targets/handlers.hpp>

namespace perflab::targets {
namespace {

std::string payload(payload_kind k, std::uint64_t n, std::uint64_t seed = 0) {
  std::string s = "prefix";
  append_payload(k, n, seed, s);
  EXPECT_EQ(s.substr(0, 6), "prefix");  // appended, nothing before it touched
  return s.substr(6);
}

constexpr payload_kind all_kinds[] = {payload_kind::pattern, payload_kind::text, payload_kind::json,
                                      payload_kind::random};

double gzip_ratio(const std::string& body, int level = 6) {
  std::string gz;
  EXPECT_TRUE(encode::append_gzip(body, level, gz));
  return static_cast<double>(body.size()) / static_cast<double>(gz.size());
}

TEST(Payloads, EveryKindGivesExactlyNBytes) {
  for (const auto k : all_kinds) {
    for (const std::uint64_t n : {0ull, 1ull, 2ull, 7ull, 100ull, 1000ull, 65537ull, 300000ull}) {
      if (n < min_payload_bytes(k)) continue;
      SCOPED_TRACE(std::string(to_string(k)) + " " + std::to_string(n));
      EXPECT_EQ(payload(k, n).size(), n);
    }
  }
}

TEST(Payloads, TheSameSeedGivesTheSameBytesAndAnotherSeedOthers) {
  for (const auto k : {payload_kind::text, payload_kind::json, payload_kind::random}) {
    SCOPED_TRACE(std::string(to_string(k)));
    EXPECT_EQ(payload(k, 5000, 7), payload(k, 5000, 7));
    EXPECT_NE(payload(k, 5000, 7), payload(k, 5000, 8));
    // A shorter body is not simply a prefix of a longer one for json (it closes its array), but
    // text and random are streams: a prefix.
    if (k != payload_kind::json) {
      EXPECT_EQ(payload(k, 5000, 7).substr(0, 1000), payload(k, 1000, 7));
    }
  }
  EXPECT_NE(payload(payload_kind::text, 1000, 1), payload(payload_kind::random, 1000, 1));
}

TEST(Payloads, PatternIsTheHistoricalBytesBody) {
  EXPECT_EQ(payload(payload_kind::pattern, 30), "abcdefghijklmnopqrstuvwxyzabcd");
  EXPECT_EQ(payload(payload_kind::pattern, 1000), std::string(filler(0, 1000)));
}

TEST(Payloads, JsonIsValidJsonOfRecordsAtEverySize) {
  for (const std::uint64_t n : {2ull, 3ull, 50ull, 200ull, 1000ull, 16384ull, 327680ull}) {
    SCOPED_TRACE(n);
    const auto body = payload(payload_kind::json, n, 3);
    const auto doc = nlohmann::json::parse(body, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << body.substr(0, 300);
    ASSERT_TRUE(doc.is_array());
    if (n >= 1000) {
      ASSERT_GT(doc.size(), 2u);
      // Records fill the body: the padding is less than one record.
      const auto last = body.find_last_not_of(' ', body.size() - 2);
      EXPECT_LT(body.size() - 2 - last, 400u);
    }
    for (const auto& r : doc) {
      EXPECT_TRUE(r.at("id").is_number_integer());
      EXPECT_TRUE(r.at("email").get<std::string>().find('@') != std::string::npos);
      EXPECT_TRUE(r.at("balance").is_number());
    }
  }
  EXPECT_EQ(payload(payload_kind::json, 2), "[]");
}

TEST(Payloads, TextIsPrintableProse) {
  const auto text = payload(payload_kind::text, 20000, 5);
  std::size_t spaces = 0, stops = 0;
  for (const char c : text) {
    ASSERT_TRUE((c >= 0x20 && c < 0x7f) || c == '\n') << static_cast<int>(c);
    spaces += c == ' ';
    stops += c == '.' || c == '?';
  }
  EXPECT_GT(spaces, text.size() / 10);  // words of a few letters
  EXPECT_GT(stops, text.size() / 200);  // sentences
  EXPECT_NE(text.find("\n\n"), std::string::npos);  // paragraphs
  EXPECT_EQ(text.find("  "), std::string::npos);  // no empty words
}

// What the kinds are for: gzip shrinks text and JSON by the ratios of real data (LAB.md: a 16 KB
// JSON at level 6 is about 5.0-7.6 times smaller), random bytes not at all, the pattern hugely.
TEST(Payloads, CompressLikeRealData) {
  const double json = gzip_ratio(payload(payload_kind::json, 16384, 1));
  const double text = gzip_ratio(payload(payload_kind::text, 16384, 1));
  const double random = gzip_ratio(payload(payload_kind::random, 16384, 1));
  const double pattern = gzip_ratio(payload(payload_kind::pattern, 16384, 1));
  RecordProperty("gzip6_ratio_json_16k", std::to_string(json));
  RecordProperty("gzip6_ratio_text_16k", std::to_string(text));
  EXPECT_GT(json, 3.0);
  EXPECT_LT(json, 10.0);
  EXPECT_GT(text, 2.0);
  EXPECT_LT(text, 6.0);
  EXPECT_LE(random, 1.0);
  EXPECT_GT(pattern, 50.0);
}

TEST(HandlersBytesKinds, RoutesKindAndSeed) {
  auto d = resolve("GET", "/bytes/100", "kind=json&seed=42");
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.kind, payload_kind::json);
  EXPECT_EQ(d.seed, 42u);
  EXPECT_EQ(resolve("GET", "/bytes/100", "").kind, payload_kind::pattern);
  EXPECT_EQ(resolve("GET", "/bytes/100", "kind=random").kind, payload_kind::random);
  EXPECT_EQ(resolve("GET", "/bytes/100", "kind=text").kind, payload_kind::text);
  EXPECT_EQ(resolve("GET", "/bytes/100", "kind=zip").status, 400);
  EXPECT_EQ(resolve("GET", "/bytes/100", "seed=-1").status, 400);
  EXPECT_EQ(resolve("GET", "/bytes/1", "kind=json").status, 400);  // under "[]"
  EXPECT_EQ(resolve("GET", "/bytes/1", "kind=text").status, 200);
}

TEST(HandlersBytesKinds, ServesTheKindWithItsContentType) {
  const auto d = resolve("GET", "/bytes/5000", "kind=json&seed=9");
  request_view req{"GET", "/bytes/5000", "kind=json&seed=9", {}, 1, true};
  std::string out;
  const auto info = write_response(d, req, true, {}, out);
  EXPECT_EQ(info.status, 200);
  EXPECT_EQ(info.stream, 0u);
  EXPECT_NE(out.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nContent-Length: 5000\r\n"), std::string::npos);
  EXPECT_EQ(out.substr(out.find("\r\n\r\n") + 4), payload(payload_kind::json, 5000, 9));
}

}  // namespace
}  // namespace perflab::targets
