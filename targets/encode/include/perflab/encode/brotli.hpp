#pragma once
// brotli (RFC 7932) through libbrotlienc's one-shot encoder (which sets up its state per body:
// brotli has no reset of a kept encoder).
#include <cstddef>
#include <string>
#include <string_view>

namespace perflab::encode {

inline constexpr int min_br_level = 1;   // fastest we offer (quality 0 exists but is rarely useful)
inline constexpr int max_br_level = 11;  // smallest, and far slower

// Appends the brotli encoding of `in` at quality `level` (1..11; the window is the smallest of
// 10..22 bits that holds `in`, 22 being brotli's default) to `out`. `in` must not point into `out`. Returns false, with `out` unchanged, when
// the level is outside 1..11 or the encoder fails; throws std::bad_alloc if `out` cannot grow.
bool append_brotli(std::string_view in, int level, std::string& out);

// Replaces buf[from, end) with its brotli encoding. Same results as append_brotli.
bool brotli_tail(std::string& buf, std::size_t from, int level);

}  // namespace perflab::encode
