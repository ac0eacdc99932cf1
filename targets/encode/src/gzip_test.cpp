#include <perflab/encode/gzip.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <zlib.h>

#include "test_inputs.hpp"

namespace {

using perflab::encode::testing::random_bytes;

using perflab::encode::append_gzip;
using perflab::encode::gzip_tail;

// Decodes a whole gzip member with zlib's own inflate (header, CRC-32 and length checked by
// zlib); nullopt unless the stream ends exactly at the end of the input.
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
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated input
  }
  const bool whole = rc == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  if (!whole) return std::nullopt;
  return out;
}

// JSON records with varied numbers and names, like an API response.
std::string json_records(std::size_t n) {
  std::mt19937_64 rng(42);
  std::string s = "[";
  for (std::size_t i = 0; i < n; ++i) {
    if (i) s += ',';
    s += "{\"id\":" + std::to_string(rng() % 1000000) + ",\"name\":\"user" + std::to_string(rng() % 5000) +
         "\",\"score\":" + std::to_string(rng() % 10000) + ".5,\"active\":" + (rng() % 2 ? "true" : "false") + "}";
  }
  return s + "]";
}

std::string gzip_of(std::string_view in, int level) {
  std::string out;
  EXPECT_TRUE(append_gzip(in, level, out));
  return out;
}

TEST(EncodeGzip, RoundTripsThroughInflateAtEveryLevel) {
  const std::string inputs[] = {"", "a", "Hello, World!", json_records(300), random_bytes(100000, 7),
                                std::string(1 << 20, 'x')};
  for (int level = 1; level <= 9; ++level) {
    for (const auto& in : inputs) {
      SCOPED_TRACE("level " + std::to_string(level) + ", " + std::to_string(in.size()) + " bytes");
      const auto gz = gzip_of(in, level);
      ASSERT_GE(gz.size(), 18u);
      EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // RFC 1952 magic
      EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
      EXPECT_EQ(gz[2], 8);  // CM = deflate
      const auto back = gunzip(gz);
      ASSERT_TRUE(back);
      EXPECT_EQ(*back, in);
    }
  }
}

TEST(EncodeGzip, JsonShrinksAndHigherLevelsAreNoLarger) {
  const auto json = json_records(300);  // about 16 KB, LAB.md's mid-size case
  ASSERT_GT(json.size(), 12000u);
  const auto l1 = gzip_of(json, 1), l6 = gzip_of(json, 6), l9 = gzip_of(json, 9);
  EXPECT_LT(l1.size() * 2, json.size()) << "level 1 should at least halve varied JSON";
  EXPECT_LE(l6.size(), l1.size());
  EXPECT_LE(l9.size(), l6.size());
}

TEST(EncodeGzip, RandomBytesDoNotShrinkAndTinyBodiesGrow) {
  const auto random = random_bytes(16384, 3);
  EXPECT_GE(gzip_of(random, 6).size(), random.size());
  // LAB.md: a 27-byte JSON grows to about 47 bytes (why --gzip-min-length exists).
  const std::string tiny = R"({"id":1,"name":"a","x":[]})";
  EXPECT_GT(gzip_of(tiny, 6).size(), tiny.size());
}

TEST(EncodeGzip, EqualInputsGiveEqualBytesAcrossCallsAndLevelChanges) {
  const auto json = json_records(100);
  const auto first = gzip_of(json, 6);
  (void)gzip_of(json, 1);  // the thread's stream switches level and back
  EXPECT_EQ(gzip_of(json, 6), first);
  std::string other;
  std::thread([&] { other = gzip_of(json, 6); }).join();  // a fresh stream on another thread
  EXPECT_EQ(other, first);
}

TEST(EncodeGzip, AppendKeepsWhatWasThere) {
  std::string out = "HEAD";
  ASSERT_TRUE(append_gzip("body", 6, out));
  EXPECT_EQ(out.substr(0, 4), "HEAD");
  EXPECT_EQ(gunzip(std::string_view(out).substr(4)), "body");
}

TEST(EncodeGzip, TailReplacesTheBodyInPlace) {
  const auto json = json_records(200);
  std::string buf = "HTTP head\r\n\r\n";
  const auto mark = buf.size();
  buf += json;
  ASSERT_TRUE(gzip_tail(buf, mark, 6));
  EXPECT_EQ(buf.substr(0, mark), "HTTP head\r\n\r\n");
  EXPECT_EQ(std::string_view(buf).substr(mark), gzip_of(json, 6));
  EXPECT_EQ(gunzip(std::string_view(buf).substr(mark)), json);
}

TEST(EncodeGzip, RejectsLevelsOutsideOneToNineLeavingTheOutputAlone) {
  std::string out = "kept";
  EXPECT_FALSE(append_gzip("x", 0, out));
  EXPECT_FALSE(append_gzip("x", 10, out));
  EXPECT_FALSE(append_gzip("x", -1, out));
  EXPECT_EQ(out, "kept");
  EXPECT_FALSE(gzip_tail(out, 0, 0));
  EXPECT_FALSE(gzip_tail(out, 5, 6));  // from past the end
  EXPECT_EQ(out, "kept");
}

TEST(EncodeGzip, TruncatedOutputDoesNotDecode) {
  // The decoder used above must be able to fail, or the round trips prove nothing.
  const auto gz = gzip_of(json_records(50), 6);
  EXPECT_FALSE(gunzip(std::string_view(gz).substr(0, gz.size() - 1)));
  auto corrupt = gz;
  corrupt[gz.size() - 6] ^= 1;  // a CRC-32 byte
  EXPECT_FALSE(gunzip(corrupt));
}

}  // namespace
