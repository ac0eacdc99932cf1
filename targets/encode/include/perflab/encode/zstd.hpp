#pragma once
// zstd (RFC 8878, Content-Encoding "zstd") through libzstd. Each thread keeps one compression
// context and reuses it for every body (ZSTD_compressCCtx resets it), so encoding allocates
// nothing but the output once the thread has encoded at a level.
#include <cstddef>
#include <string>
#include <string_view>

namespace perflab::encode {

inline constexpr int min_zstd_level = 1;   // fastest of the regular levels
inline constexpr int max_zstd_level = 19;  // the slowest regular level (20..22 need --ultra windows)

// Appends a zstd frame holding `in`, compressed at `level` (1..19), with the content size in the
// frame header (so a decoder can size its output). `in` must not point into `out`. Returns false,
// with `out` unchanged, when the level is outside 1..19 or libzstd fails; throws std::bad_alloc
// if `out` cannot grow.
bool append_zstd(std::string_view in, int level, std::string& out);

// Replaces buf[from, end) with its zstd encoding. Same results as append_zstd.
bool zstd_tail(std::string& buf, std::size_t from, int level);

}  // namespace perflab::encode
