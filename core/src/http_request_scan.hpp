#pragma once
// Internal to the request parser: byte-level scanning (SWAR and SSE2 searches for line ends,
// control bytes and field-name ends), character classes and small list helpers, shared by the
// head (http_request.cpp) and the chunked body decoder (http_request_chunked.cpp).
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace perflab::http::detail {


// A chunk-size line (size plus extensions) longer than this is refused: a server must not buffer
// unbounded extensions, and real clients send a few bytes.
inline constexpr std::size_t max_chunk_line = 4096;

constexpr std::array<bool, 256> make_tchar_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view{"!#$%&'*+-.^_`|~"}) t[static_cast<unsigned char>(c)] = true;
  return t;
}
inline constexpr auto tchar_table = make_tchar_table();

inline bool is_tchar(char c) noexcept { return tchar_table[static_cast<unsigned char>(c)]; }
// field-vchar / obs-text / SP / HTAB: everything but the other control characters and DEL.
inline bool is_value_char(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}
inline bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }
inline char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

// SWAR scans, 8 bytes per step: header lines are short, so an inline loop beats a memchr call per
// line. The lowest flagged byte is exact (false positives only appear above a true hit), which is
// what the first-match searches below rely on; that needs little-endian loads.
static_assert(std::endian::native == std::endian::little, "SWAR scans assume little-endian loads");
inline constexpr std::uint64_t ones = 0x0101010101010101ull;
inline constexpr std::uint64_t highs = 0x8080808080808080ull;
inline std::uint64_t load8(const char* p) noexcept {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}
inline std::uint64_t zero_bytes(std::uint64_t x) noexcept { return (x - ones) & ~x & highs; }
inline std::uint64_t bytes_below(std::uint64_t x, std::uint8_t n) noexcept { return (x - ones * n) & ~x & highs; }

inline constexpr std::size_t npos = static_cast<std::size_t>(-1);

// Index of the first control byte (< 0x20) or DEL in p[from, n), or n. 16 bytes per step with
// SSE2 (every x86-64 has it), then 8 with SWAR, then byte by byte.
inline std::size_t find_control(const char* p, std::size_t from, std::size_t n) noexcept {
  std::size_t i = from;
#ifdef __SSE2__
  const __m128i below = _mm_set1_epi8(0x1f);
  const __m128i del = _mm_set1_epi8(0x7f);
  for (; i + 16 <= n; i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    // min(x, 0x1f) == x exactly when x <= 0x1f (unsigned).
    const __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, below), x), _mm_cmpeq_epi8(x, del));
    if (const int m = _mm_movemask_epi8(hit); m != 0) return i + static_cast<std::size_t>(std::countr_zero(static_cast<unsigned>(m)));
  }
#endif
  for (; i + 8 <= n; i += 8) {
    const auto x = load8(p + i);
    if (const auto m = bytes_below(x, 0x20) | zero_bytes(x ^ (ones * 0x7f)); m != 0)
      return i + static_cast<std::size_t>(std::countr_zero(m) / 8);
  }
  for (; i < n; ++i) {
    const auto u = static_cast<unsigned char>(p[i]);
    if (u < 0x20 || u == 0x7f) return i;
  }
  return n;
}

// Finds the LF ending the current line in one pass that also validates the bytes on the way:
// `bad` is set for any control byte other than HTAB and a CR right before the LF (so a header
// value needs no second pass). Returns the LF's index, or npos with resume set to where the next
// call continues (a CR at the very end is looked at again once its successor has arrived).
inline std::size_t scan_line(const char* p, std::size_t from, std::size_t n, bool& bad, std::size_t& resume) noexcept {
  for (std::size_t i = from;; ++i) {
    i = find_control(p, i, n);
    if (i == n) break;
    const char c = p[i];
    if (c == '\n') return i;
    if (c == '\r') {
      if (i + 1 == n) {
        resume = i;
        return npos;
      }
      if (p[i + 1] == '\n') return i + 1;
      bad = true;
    } else if (c != '\t') {
      bad = true;
    }
  }
  resume = n;
  return npos;
}

// First byte in [c, end) that is SP, a control or DEL (the end of a request-target), or end.
inline const char* target_end(const char* c, const char* end) noexcept {
  for (; end - c >= 8; c += 8) {
    const auto x = load8(c);
    if (const auto m = bytes_below(x, 0x21) | zero_bytes(x ^ (ones * 0x7f)); m != 0) return c + std::countr_zero(m) / 8;
  }
  for (; c < end; ++c) {
    const auto u = static_cast<unsigned char>(*c);
    if (u <= 0x20 || u == 0x7f) return c;
  }
  return end;
}

// 0x80 in each byte of t (all bytes < 0x80) that lies in [lo, hi]. Exact per byte: the sums stay
// below 0x100, so no carry crosses into the next byte.
inline std::uint64_t bytes_in(std::uint64_t t, std::uint8_t lo, std::uint8_t hi) noexcept {
  return (t + ones * static_cast<std::uint8_t>(0x80 - lo)) & ~(t + ones * static_cast<std::uint8_t>(0x7f - hi)) & highs;
}

// 0x80 in each byte of x that is a letter, a digit or '-': what nearly every field name is made of.
inline std::uint64_t common_name_bytes(std::uint64_t x) noexcept {
  const auto t = x & ~highs;
  const auto digit = bytes_in(t, '0', '9');
  const auto alpha = bytes_in(t | (ones * 0x20), 'a', 'z');
  const auto dash = bytes_in(t, '-', '-');
  return (digit | alpha | dash) & ~x;
}

// The ':' ending the field name that starts at c, or nullptr if a non-token byte comes first or
// there is no colon before end. Eight bytes per step while the name is letters, digits and '-'.
inline const char* name_end(const char* c, const char* end) noexcept {
  while (end - c >= 8) {
    const auto odd = ~common_name_bytes(load8(c)) & highs;
    if (odd == 0) {
      c += 8;
      continue;
    }
    c += std::countr_zero(odd) / 8;
    if (*c == ':') return c;
    if (!is_tchar(*c)) return nullptr;
    ++c;
  }
  for (; c < end; ++c) {
    if (*c == ':') return c;
    if (!is_tchar(*c)) return nullptr;
  }
  return nullptr;
}

// name (a token) equals lower_literal (lower-case letters and '-') ignoring case. OR-ing 0x20 maps
// only 'A'-'Z' onto 'a'-'z' among token characters, so the comparison is exact.
inline bool name_is(std::string_view name, std::string_view lower_literal) noexcept {
  if (name.size() != lower_literal.size() || (name[0] | 0x20) != lower_literal[0]) return false;
  unsigned diff = 0;
  for (std::size_t i = 0; i < name.size(); ++i)
    diff |= static_cast<unsigned char>(name[i] | 0x20) ^ static_cast<unsigned char>(lower_literal[i]);
  return diff == 0;
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each non-empty, trimmed element of a comma-separated list (RFC 9110 5.6.1).
template <typename F>
inline void for_each_element(std::string_view list, F&& f) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto element = trim_ows(list.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

inline bool parse_decimal(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline bool valid_field_line(std::string_view line) noexcept {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (std::size_t i = 0; i < colon; ++i)
    if (!is_tchar(line[i])) return false;
  for (std::size_t i = colon + 1; i < line.size(); ++i)
    if (!is_value_char(line[i])) return false;
  return true;
}


}  // namespace perflab::http::detail
