#include <perflab/encode/zstd.hpp>

#include <optional>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <zstd.h>

#include "test_inputs.hpp"

namespace {

using perflab::encode::testing::random_bytes;
using perflab::encode::testing::text;

using perflab::encode::append_zstd;
using perflab::encode::zstd_tail;

// Decodes with libzstd's streaming decoder (which does not trust the frame's content size);
// nullopt unless exactly one complete frame fills the input.
std::optional<std::string> unzstd(std::string_view in) {
  ZSTD_DCtx* d = ZSTD_createDCtx();
  if (!d) return std::nullopt;
  std::string out;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::size_t r = 1;
  while (input.pos < input.size) {
    char chunk[65536];
    ZSTD_outBuffer output{chunk, sizeof chunk, 0};
    r = ZSTD_decompressStream(d, &output, &input);
    if (ZSTD_isError(r)) break;
    out.append(chunk, output.pos);
    if (r == 0) break;  // the frame is complete
  }
  ZSTD_freeDCtx(d);
  if (ZSTD_isError(r) || r != 0 || input.pos != input.size) return std::nullopt;
  return out;
}

TEST(EncodeZstd, RoundTripsThroughTheZstdDecoderAtEveryLevel) {
  const std::string inputs[] = {"", "a", "Hello, World!", text(16384), random_bytes(20000)};
  for (int level = 1; level <= 19; ++level) {
    for (const auto& in : inputs) {
      SCOPED_TRACE("level " + std::to_string(level) + ", " + std::to_string(in.size()) + " bytes");
      std::string out;
      ASSERT_TRUE(append_zstd(in, level, out));
      EXPECT_EQ(unzstd(out), in);
      // The frame says how long the content is, so a decoder (or --verify) can check it.
      EXPECT_EQ(ZSTD_getFrameContentSize(out.data(), out.size()), in.size());
    }
  }
}

TEST(EncodeZstd, TextShrinksAndTheTailIsEncodedInPlace) {
  const auto in = text(16384);
  std::string buf = "head:";
  buf += in;
  ASSERT_TRUE(zstd_tail(buf, 5, 3));
  EXPECT_EQ(buf.substr(0, 5), "head:");
  EXPECT_LT((buf.size() - 5) * 3, in.size());
  EXPECT_EQ(unzstd(std::string_view(buf).substr(5)), in);
}

TEST(EncodeZstd, RejectsLevelsOutsideOneToNineteenAndTheDecoderCanFail) {
  std::string out = "kept";
  EXPECT_FALSE(append_zstd("x", 0, out));
  EXPECT_FALSE(append_zstd("x", 20, out));
  EXPECT_FALSE(zstd_tail(out, 9, 3));
  EXPECT_EQ(out, "kept");
  std::string z;
  ASSERT_TRUE(append_zstd(text(5000), 3, z));
  EXPECT_FALSE(unzstd(std::string_view(z).substr(0, z.size() - 1)));
}

}  // namespace
