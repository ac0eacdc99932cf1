#pragma once
// --verify: checks a complete response's body after undoing its Content-Encoding (gzip, deflate
// through zlib, br through libbrotli, zstd through libzstd). Only runs when asked: the hot path
// of a load test decodes nothing.
#include <cstdint>
#include <string_view>

namespace perflab::loadgen {

// raw: the whole response as received (status line, fields, blank line, body framed by
// Content-Length or by the close; a chunked body is not supported and fails). True when the body
// decodes completely with the coding its Content-Encoding names (none or identity: as is) and,
// when expected_length >= 0, the decoded body has exactly that many bytes.
bool verify_response(std::string_view raw, std::int64_t expected_length) noexcept;

}  // namespace perflab::loadgen
