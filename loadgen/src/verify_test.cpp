#include "verify.hpp"

#include <random>
#include <string>

#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

namespace {

using perflab::loadgen::verify_response;

std::string text(std::size_t n) {
  std::mt19937_64 rng(3);
  static const char* const words[] = {"queue", "latency", "the", "server", "of", "answer"};
  std::string s;
  while (s.size() < n) s.append(words[rng() % 6]).push_back(' ');
  s.resize(n);
  return s;
}

std::string gzip(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(out.size() - zs.avail_out);
  deflateEnd(&zs);
  return out;
}

std::string brotli(const std::string& in) {
  std::size_t n = BrotliEncoderMaxCompressedSize(in.size());
  std::string out(n, '\0');
  BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, in.size(), reinterpret_cast<const std::uint8_t*>(in.data()), &n,
                        reinterpret_cast<std::uint8_t*>(out.data()));
  out.resize(n);
  return out;
}

std::string zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}

std::string response(const std::string& coding, const std::string& body) {
  std::string r = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (!coding.empty()) r += "content-encoding:  " + coding + "\r\n";
  return r + "\r\n" + body;
}

TEST(LoadgenVerify, DecodesEachCodingAndChecksTheLength) {
  const auto body = text(100000);
  const std::pair<std::string, std::string> cases[] = {
      {"", body}, {"identity", body}, {"gzip", gzip(body)}, {"br", brotli(body)}, {"zstd", zstd(body)}, {"ZSTD", zstd(body)}};
  for (const auto& [coding, encoded] : cases) {
    SCOPED_TRACE(coding);
    const auto raw = response(coding, encoded);
    EXPECT_TRUE(verify_response(raw, -1));
    EXPECT_TRUE(verify_response(raw, 100000));
    EXPECT_FALSE(verify_response(raw, 99999));
    if (!coding.empty() && coding != "identity") {  // a cut-off encoded body does not decode to its end
      EXPECT_FALSE(verify_response(raw.substr(0, raw.size() - 3), -1));
    }
  }
}

TEST(LoadgenVerify, UnknownCodingsGarbageAndChunkedBodiesFail) {
  EXPECT_FALSE(verify_response(response("gzip", "not gzip at all"), -1));
  EXPECT_FALSE(verify_response(response("br", text(50)), -1));
  EXPECT_FALSE(verify_response(response("compress", "x"), -1));
  EXPECT_FALSE(verify_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", -1));
  EXPECT_FALSE(verify_response("HTTP/1.1 200 OK\r\nContent-Length: 3", -1));
  // A body that is not encoded but claims gzip: a mismatch, the case --verify is for.
  EXPECT_FALSE(verify_response(response("gzip", text(1000)), 1000));
}

}  // namespace
