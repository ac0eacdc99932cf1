// libFuzzer entry point: arbitrary bytes through the interval-log reader and the blob decoder.
// Neither may crash, hang or trip a sanitizer; errors are values.
//
// A random blob almost never survives zlib's Adler-32 check, so the bytes are also wrapped as
// an already-inflated V2 payload (compressed and base64-encoded here): that drives the header
// and counts parser directly.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <zlib.h>

#include "perflab/core/hdr_log.hpp"

namespace {

std::string to_base64(const std::vector<std::uint8_t>& in) {
  static constexpr char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t n = std::uint32_t{in[i]} << 16;
    if (i + 1 < in.size()) n |= std::uint32_t{in[i + 1]} << 8;
    if (i + 2 < in.size()) n |= in[i + 2];
    out += abc[(n >> 18) & 63];
    out += abc[(n >> 12) & 63];
    out += i + 1 < in.size() ? abc[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? abc[n & 63] : '=';
  }
  return out;
}

// Cookie + length + zlib(payload), as the V2 compressed format frames it.
std::string wrap_payload(const std::uint8_t* data, std::size_t size) {
  uLongf zlen = compressBound(static_cast<uLong>(size));
  std::vector<std::uint8_t> blob(8 + zlen);
  if (compress2(blob.data() + 8, &zlen, data, static_cast<uLong>(size), 1) != Z_OK) return {};
  blob.resize(8 + zlen);
  const std::uint32_t cookie = 0x1c849314;
  for (int k = 0; k < 4; ++k) {
    blob[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(cookie >> (24 - 8 * k));
    blob[static_cast<std::size_t>(4 + k)] = static_cast<std::uint8_t>(zlen >> (24 - 8 * k));
  }
  return to_base64(blob);
}

void exercise(const perflab::histogram& h) {
  (void)h.value_at_percentile(99.9);
  (void)h.mean();
  (void)h.stddev();
  (void)h.percentile_spectrum();
  // Whatever decodes must re-encode to the same histogram.
  auto again = perflab::hdr::decode_compressed(perflab::hdr::encode_compressed(h));
  if (!again || !(*again == h)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  std::istringstream in{std::string(text)};
  if (auto log = perflab::hdr::read_log(in))
    for (const auto& iv : log->intervals) exercise(iv.hist);
  if (auto h = perflab::hdr::decode_compressed(text)) exercise(*h);
  if (auto h = perflab::hdr::decode_compressed(wrap_payload(data, size))) exercise(*h);
  return 0;
}
