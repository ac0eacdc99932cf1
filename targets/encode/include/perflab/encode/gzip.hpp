#pragma once
// gzip (RFC 1952) through zlib's deflate. Each thread keeps one deflate stream and resets it per
// body, so encoding allocates nothing but the output once the thread has encoded at a level
// (zlib's state for one stream is about 256 KiB at the default memory level).
#include <cstddef>
#include <string>
#include <string_view>

namespace perflab::encode {

inline constexpr int min_gzip_level = 1;  // fastest
inline constexpr int max_gzip_level = 9;  // smallest

// Appends the gzip encoding of `in` at `level` (1..9) to `out`: a 10-byte header (no name, mtime
// 0, so equal inputs encode to equal bytes), the deflate data, CRC-32 and length. `in` must not
// point into `out` (see gzip_tail). Returns false, with `out` unchanged, if zlib fails (a level
// outside 1..9, no memory for its state); throws std::bad_alloc if `out` cannot grow.
bool append_gzip(std::string_view in, int level, std::string& out);

// Replaces buf[from, end) with its gzip encoding (the body of a response built in place).
// Same results as append_gzip.
bool gzip_tail(std::string& buf, std::size_t from, int level);

}  // namespace perflab::encode
