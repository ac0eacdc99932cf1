#include "verify.hpp"

#include <cstdint>
#include <optional>

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

namespace perflab::loadgen {

namespace {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The value of a header field in head (the first line with that name), or nullopt.
std::optional<std::string_view> field(std::string_view head, std::string_view name) noexcept {
  std::size_t at = head.find('\n');  // skip the status line
  while (at != std::string_view::npos && at + 1 < head.size()) {
    const std::size_t start = at + 1;
    at = head.find('\n', start);
    const auto line = head.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), name)) return trim(line.substr(colon + 1));
  }
  return std::nullopt;
}

// Decoded sizes: the output is counted, not kept (64 KiB at a time).
std::optional<std::uint64_t> inflated_size(std::string_view in, int window_bits) noexcept {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return std::nullopt;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::uint64_t total = 0;
  int rc = Z_OK;
  static thread_local char chunk[65536];
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    total += sizeof chunk - zs.avail_out;
    if (rc == Z_BUF_ERROR && zs.avail_out != 0) break;  // input ended before the stream did
    if (rc == Z_BUF_ERROR) rc = Z_OK;                   // no room was the only problem: go on
  }
  const bool whole = rc == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  if (!whole) return std::nullopt;
  return total;
}

std::optional<std::uint64_t> unbrotli_size(std::string_view in) noexcept {
  BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  if (!s) return std::nullopt;
  const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
  std::size_t avail_in = in.size();
  std::uint64_t total = 0;
  static thread_local std::uint8_t chunk[65536];
  BrotliDecoderResult r = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
  while (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
    std::uint8_t* next_out = chunk;
    std::size_t avail_out = sizeof chunk;
    r = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    total += sizeof chunk - avail_out;
  }
  BrotliDecoderDestroyInstance(s);
  if (r != BROTLI_DECODER_RESULT_SUCCESS || avail_in != 0) return std::nullopt;
  return total;
}

std::optional<std::uint64_t> unzstd_size(std::string_view in) noexcept {
  ZSTD_DCtx* d = ZSTD_createDCtx();
  if (!d) return std::nullopt;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::uint64_t total = 0;
  std::size_t r = 1;
  static thread_local char chunk[65536];
  while (r != 0) {
    ZSTD_outBuffer output{chunk, sizeof chunk, 0};
    r = ZSTD_decompressStream(d, &output, &input);
    if (ZSTD_isError(r)) break;
    total += output.pos;
    if (r != 0 && input.pos == input.size && output.pos < output.size) break;  // truncated
  }
  ZSTD_freeDCtx(d);
  if (ZSTD_isError(r) || r != 0 || input.pos != input.size) return std::nullopt;
  return total;
}

}  // namespace

bool verify_response(std::string_view raw, std::int64_t expected_length) noexcept {
  const auto end = raw.find("\r\n\r\n");
  if (end == std::string_view::npos) return false;
  const auto head = raw.substr(0, end + 2);
  const auto body = raw.substr(end + 4);
  if (const auto te = field(head, "transfer-encoding"); te && !iequals(*te, "identity")) return false;
  std::optional<std::uint64_t> size;
  const auto coding = field(head, "content-encoding");
  if (!coding || coding->empty() || iequals(*coding, "identity")) size = body.size();
  else if (iequals(*coding, "gzip") || iequals(*coding, "x-gzip")) size = inflated_size(body, 15 + 16);
  else if (iequals(*coding, "deflate")) size = inflated_size(body, 15);
  else if (iequals(*coding, "br")) size = unbrotli_size(body);
  else if (iequals(*coding, "zstd")) size = unzstd_size(body);
  if (!size) return false;  // an unknown coding, or a body that does not decode to its end
  return expected_length < 0 || *size == static_cast<std::uint64_t>(expected_length);
}

}  // namespace perflab::loadgen
