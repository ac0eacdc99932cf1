#include <perflab/encode/brotli.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include <brotli/decode.h>
#include <gtest/gtest.h>

#include "test_inputs.hpp"

namespace {

using perflab::encode::testing::random_bytes;
using perflab::encode::testing::text;

using perflab::encode::append_brotli;
using perflab::encode::brotli_tail;

// Decodes with libbrotlidec's streaming decoder; nullopt unless the stream ends exactly at the
// end of the input.
std::optional<std::string> unbrotli(std::string_view in) {
  BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  if (!s) return std::nullopt;
  std::string out;
  const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
  std::size_t avail_in = in.size();
  BrotliDecoderResult r = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
  while (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
    std::uint8_t chunk[65536];
    std::uint8_t* next_out = chunk;
    std::size_t avail_out = sizeof chunk;
    r = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    out.append(reinterpret_cast<const char*>(chunk), sizeof chunk - avail_out);
  }
  BrotliDecoderDestroyInstance(s);
  if (r != BROTLI_DECODER_RESULT_SUCCESS || avail_in != 0) return std::nullopt;
  return out;
}

TEST(EncodeBrotli, RoundTripsThroughTheBrotliDecoderAtEveryLevel) {
  const std::string inputs[] = {"", "a", "Hello, World!", text(16384), random_bytes(20000)};
  for (int level = 1; level <= 11; ++level) {
    for (const auto& in : inputs) {
      SCOPED_TRACE("level " + std::to_string(level) + ", " + std::to_string(in.size()) + " bytes");
      std::string out;
      ASSERT_TRUE(append_brotli(in, level, out));
      EXPECT_EQ(unbrotli(out), in);
    }
  }
}

TEST(EncodeBrotli, BodiesLargerThanTheSmallWindowsRoundTrip) {
  // The window grows with the body (10 bits for tiny ones, 22 from 4 MiB on).
  for (const std::size_t n : {1000u, 1009u, 1024u, 65536u, 300000u, 5000000u}) {
    SCOPED_TRACE(n);
    const auto in = text(n);
    std::string out;
    ASSERT_TRUE(append_brotli(in, 5, out));
    EXPECT_EQ(unbrotli(out), in);
  }
}

TEST(EncodeBrotli, TextShrinksAndTheTailIsEncodedInPlace) {
  const auto in = text(16384);
  std::string buf = "head:";
  buf += in;
  ASSERT_TRUE(brotli_tail(buf, 5, 5));
  EXPECT_EQ(buf.substr(0, 5), "head:");
  EXPECT_LT((buf.size() - 5) * 3, in.size());
  EXPECT_EQ(unbrotli(std::string_view(buf).substr(5)), in);
}

TEST(EncodeBrotli, RejectsLevelsOutsideOneToElevenAndTheDecoderCanFail) {
  std::string out = "kept";
  EXPECT_FALSE(append_brotli("x", 0, out));
  EXPECT_FALSE(append_brotli("x", 12, out));
  EXPECT_FALSE(brotli_tail(out, 9, 5));
  EXPECT_EQ(out, "kept");
  std::string br;
  ASSERT_TRUE(append_brotli(text(5000), 5, br));
  EXPECT_FALSE(unbrotli(std::string_view(br).substr(0, br.size() - 1)));
}

}  // namespace
