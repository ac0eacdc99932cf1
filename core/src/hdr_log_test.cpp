#include "perflab/core/hdr_log.hpp"

#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

namespace {

using perflab::histogram;
namespace hdr = perflab::hdr;

constexpr std::int64_t log_highest_ns = 3'600'000'000'000;  // one hour
constexpr const char* worked_example = "HISTFAAAAB542pNpmSzMwMDAxAABzFCaEUoz2X+AMIKZAEARAtM=";

// Independent base64 decoder for inspecting our blobs byte by byte.
std::vector<std::uint8_t> unbase64(const std::string& s) {
  const std::string abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<std::uint8_t> out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    acc = (acc << 6) | static_cast<std::uint32_t>(abc.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
    }
  }
  return out;
}

std::uint32_t be32(const std::vector<std::uint8_t>& b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}

histogram random_histogram(std::int64_t lowest, std::int64_t highest, int digits, std::size_t n, std::uint32_t seed) {
  histogram h(lowest, highest, digits);
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> d(12.0, 2.0);
  for (std::size_t i = 0; i < n; ++i) h.record(static_cast<std::int64_t>(d(rng)));
  return h;
}

TEST(HdrDecode, WorkedExampleFromLab) {
  auto h = hdr::decode_compressed(worked_example);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->significant_digits(), 3);
  EXPECT_EQ(h->lowest_discernible(), 1);
  EXPECT_EQ(h->highest_trackable(), 2);
  EXPECT_EQ(h->total_count(), 1);
  EXPECT_EQ(h->count_at_index(h->index_of(42)), 1);
  EXPECT_EQ(h->min(), 42);
  EXPECT_EQ(h->max(), 42);
  EXPECT_EQ(h->value_at_percentile(50), 42);
}

TEST(HdrEncode, WorkedExampleRoundTripsWithTheSamePayload) {
  auto h = hdr::decode_compressed(worked_example);
  ASSERT_TRUE(h);
  const std::string ours = hdr::encode_compressed(*h);
  EXPECT_EQ(ours.rfind("HISTF", 0), 0u) << ours;
  auto back = hdr::decode_compressed(ours);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, *h);

  // Byte layout: compressed cookie, length, a zlib (RFC 1950) stream, and inside it the V2
  // payload header followed by the counts 53 02 (-42 zero slots, then 1).
  const auto blob = unbase64(ours);
  ASSERT_GE(blob.size(), 10u);
  EXPECT_EQ(be32(blob, 0), 0x1c849314u);
  EXPECT_EQ(be32(blob, 4), blob.size() - 8);
  EXPECT_EQ(blob[8], 0x78);
  std::vector<std::uint8_t> payload(256);
  uLongf len = payload.size();
  ASSERT_EQ(uncompress(payload.data(), &len, blob.data() + 8, be32(blob, 4)), Z_OK);
  ASSERT_EQ(len, 42u);
  EXPECT_EQ(be32(payload, 0), 0x1c849313u);
  EXPECT_EQ(be32(payload, 4), 2u);   // payload length
  EXPECT_EQ(be32(payload, 8), 0u);   // normalizing offset
  EXPECT_EQ(be32(payload, 12), 3u);  // digits
  EXPECT_EQ(payload[40], 0x53);
  EXPECT_EQ(payload[41], 0x02);
}

TEST(HdrEncode, RoundTripsRandomHistograms) {
  struct layout {
    std::int64_t lowest, highest;
    int digits;
  };
  const layout layouts[] = {{1, log_highest_ns, 3}, {1, log_highest_ns, 1}, {1, log_highest_ns, 5}, {1000, log_highest_ns, 2},
                            {1, 2, 3}};
  std::uint32_t seed = 1;
  for (const auto& l : layouts) {
    auto h = random_histogram(l.lowest, l.highest, l.digits, 50'000, seed++);
    h.record(0, 3);
    h.record(l.highest, std::int64_t{1} << 40);  // counts that need 6-byte varints
    const auto blob = hdr::encode_compressed(h);
    auto back = hdr::decode_compressed(blob);
    ASSERT_TRUE(back) << back.error().message;
    // too_large() is not part of the V2 format; compare everything else.
    h.add_too_large(-h.too_large());
    EXPECT_EQ(*back, h) << "digits " << l.digits;
    EXPECT_EQ(back->value_at_percentile(99.9), h.value_at_percentile(99.9));
    EXPECT_EQ(back->max(), h.max());
    EXPECT_EQ(back->min(), h.min());
  }
}

TEST(HdrEncode, EmptyHistogramRoundTrips) {
  histogram h(1, log_highest_ns, 3);
  auto back = hdr::decode_compressed(hdr::encode_compressed(h));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, h);
  EXPECT_TRUE(back->empty());
}

TEST(HdrDecode, RejectsCorruptInputWithAMessage) {
  const std::string good = hdr::encode_compressed(random_histogram(1, log_highest_ns, 3, 1000, 3));
  std::string flipped = good;
  flipped[40] = flipped[40] == 'A' ? 'B' : 'A';  // inside the zlib stream: Adler-32 or inflate fails
  const std::string cases[] = {
      "",
      "HISTF",                                  // not a multiple of 4
      "HISTFAAA",                               // too short
      "not base64 at all!!!",                   // bad characters
      "AAAAAAAAAAAA",                           // cookie 0
      "HISTFAAAAB542pNpmSzMwMDAxAABzFCaEUoz2X+AMIKZAEARAtM",  // padding missing
      "HISTFAAAAB542pNpmSzMwMDAxAABzFCaEUoz2X+AMIKZAEAR",     // truncated zlib stream
      "HISTFAAA/z542pNpmSzMwMDAxAABzFCaEUoz2X+AMIKZAEARAtM=",  // compressed length beyond the blob
      flipped,
  };
  for (const auto& c : cases) {
    auto r = hdr::decode_compressed(c);
    EXPECT_FALSE(r) << "accepted: " << c;
    if (!r) {
      EXPECT_FALSE(r.error().message.empty());
      EXPECT_EQ(r.error().line, 0u);
    }
  }
}

TEST(HdrDecode, EveryTruncationFailsCleanly) {
  const std::string good = hdr::encode_compressed(random_histogram(1, log_highest_ns, 3, 1000, 4));
  ASSERT_TRUE(hdr::decode_compressed(good));
  for (std::size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(hdr::decode_compressed(good.substr(0, n))) << n;
}

TEST(HdrDecode, RandomGarbageNeverCrashes) {
  std::mt19937 rng(11);
  const std::string abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string good = hdr::encode_compressed(random_histogram(1, log_highest_ns, 3, 200, 5));
  int accepted = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string s = good;
    // Mutate a few characters after the cookie: exercises inflate errors and payload checks.
    for (int k = 0; k < 3; ++k) s[8 + rng() % (s.size() - 10)] = abc[rng() % 64];
    accepted += hdr::decode_compressed(s) ? 1 : 0;
  }
  EXPECT_LT(accepted, 2000);
}

TEST(HdrLog, WriteReadRoundTripWithTags) {
  std::ostringstream out;
  hdr::log_writer w(out, 1700000000.25, 1e6, "Logged with perflab test");
  auto a = random_histogram(1, log_highest_ns, 3, 1000, 6);
  auto b = random_histogram(1, log_highest_ns, 3, 2000, 7);
  histogram empty(1, log_highest_ns, 3);
  w.write(std::nullopt, 0.0, 1.0, a);
  w.write("ttfb", 1.0, 1.0, b);
  w.write("ttlb", 2.0, 0.5, empty);
  w.write(hdr::interval{"send_lag", 2.5, 0.5, 0.0, a});
  const std::string text = out.str();

  EXPECT_NE(text.find("#[Histogram log format version 1.3]\n"), std::string::npos);
  EXPECT_NE(text.find("#[StartTime: 1700000000.250 (seconds since epoch), "), std::string::npos);
  EXPECT_NE(text.find("#[BaseTime: 1700000000.250 (seconds since epoch)]\n"), std::string::npos);
  EXPECT_NE(text.find("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"),
            std::string::npos);
  // Field 2 is the interval length, not the end time.
  EXPECT_NE(text.find("\nTag=ttlb,2.000,0.500,0.000,HISTF"), std::string::npos) << text;

  std::istringstream in(text);
  auto log = hdr::read_log(in);
  ASSERT_TRUE(log) << log.error().line << ": " << log.error().message;
  EXPECT_DOUBLE_EQ(*log->start_time_s, 1700000000.25);
  EXPECT_DOUBLE_EQ(*log->base_time_s, 1700000000.25);
  ASSERT_EQ(log->intervals.size(), 4u);
  const auto& iv = log->intervals;
  EXPECT_FALSE(iv[0].tag);
  EXPECT_EQ(iv[1].tag, "ttfb");
  EXPECT_EQ(iv[2].tag, "ttlb");
  EXPECT_EQ(iv[3].tag, "send_lag");
  EXPECT_DOUBLE_EQ(iv[1].start_s, 1.0);
  EXPECT_DOUBLE_EQ(iv[2].length_s, 0.5);
  EXPECT_EQ(iv[0].hist, a);
  EXPECT_EQ(iv[1].hist, b);
  EXPECT_EQ(iv[2].hist, empty);
  EXPECT_EQ(iv[3].hist, a);
  // Interval max is in milliseconds (ns / 1e6), 3 decimals.
  EXPECT_NEAR(iv[1].max, static_cast<double>(b.max()) / 1e6, 0.0005);
}

TEST(HdrLog, ReadsJavaStyleLogWithCrLf) {
  const std::string text =
      "#[Logged with jHiccup version 2.0.7-SNAPSHOT]\r\n"
      "#[Histogram log format version 1.2]\r\n"
      "#[StartTime: 1441812123.250 (seconds since epoch), Wed Sep 09 08:22:03 PDT 2015]\r\n"
      "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\r\n"
      "\r\n"
      "0.127,1.007,0.042," + std::string(worked_example) + "\r\n"
      "Tag=A,1.134,0.999,0.042," + std::string(worked_example) + "\r\n";
  std::istringstream in(text);
  auto log = hdr::read_log(in);
  ASSERT_TRUE(log) << log.error().line << ": " << log.error().message;
  EXPECT_DOUBLE_EQ(*log->start_time_s, 1441812123.25);
  EXPECT_FALSE(log->base_time_s);
  ASSERT_EQ(log->intervals.size(), 2u);
  EXPECT_DOUBLE_EQ(log->intervals[0].start_s, 0.127);
  EXPECT_DOUBLE_EQ(log->intervals[0].length_s, 1.007);
  EXPECT_DOUBLE_EQ(log->intervals[0].max, 0.042);
  EXPECT_EQ(log->intervals[1].tag, "A");
  EXPECT_EQ(log->intervals[1].hist.max(), 42);
}

TEST(HdrLog, MalformedLinesAreErrorsNamingTheLine) {
  const std::string blob = worked_example;
  struct row {
    std::string bad_line;
    std::string message_part;
  };
  const row rows[] = {
      {"0.1,1.0," + blob, "expected 4 comma-separated fields"},
      {"abc,1.0,0.0," + blob, "bad interval start"},
      {"0.1,x,0.0," + blob, "bad interval length"},
      {"0.1,1.0,,"+ blob, "bad interval max"},
      {"0.1,1.0,0.0,HISTFgarbage", "bad histogram"},
      {"Tag=only", "tag without interval fields"},
      {"#[StartTime: soon]", "malformed StartTime"},
      {"#[BaseTime: ]", "malformed BaseTime"},
  };
  for (const auto& r : rows) {
    std::istringstream in("#[Histogram log format version 1.3]\n\"StartTimestamp\",\"x\"\n0.0,1.0,0.0," + blob +
                          "\n" + r.bad_line + "\n0.0,1.0,0.0," + blob + "\n");
    auto log = hdr::read_log(in);
    ASSERT_FALSE(log) << r.bad_line;
    EXPECT_EQ(log.error().line, 4u) << r.bad_line;
    EXPECT_NE(log.error().message.find(r.message_part), std::string::npos) << log.error().message;
  }
}

TEST(HdrLog, TagSeparatorsAreReplaced) {
  std::ostringstream out;
  hdr::log_writer w(out, 0.0);
  w.write("a,b c", 0.0, 1.0, histogram(1, 1000, 3));
  std::istringstream in(out.str());
  auto log = hdr::read_log(in);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->intervals.size(), 1u);
  EXPECT_EQ(log->intervals[0].tag, "a_b_c");
}

}  // namespace
