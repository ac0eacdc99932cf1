// HTTP/1.1 request parser (RFC 9112) for the lab targets. Line-oriented: each LF is searched from
// where the previous call stopped, so bytes are scanned once however the request is split.
#include "perflab/core/http.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace perflab::http {
namespace {

// A chunk-size line (size plus extensions) longer than this is refused: a server must not buffer
// unbounded extensions, and real clients send a few bytes.
constexpr std::size_t max_chunk_line = 4096;

constexpr std::array<bool, 256> make_tchar_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view{"!#$%&'*+-.^_`|~"}) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr auto tchar_table = make_tchar_table();

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
constexpr std::uint64_t ones = 0x0101010101010101ull;
constexpr std::uint64_t highs = 0x8080808080808080ull;
inline std::uint64_t load8(const char* p) noexcept {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}
inline std::uint64_t zero_bytes(std::uint64_t x) noexcept { return (x - ones) & ~x & highs; }
inline std::uint64_t bytes_below(std::uint64_t x, std::uint8_t n) noexcept { return (x - ones * n) & ~x & highs; }

constexpr std::size_t npos = static_cast<std::size_t>(-1);

// Index of the first control byte (< 0x20) or DEL in p[from, n), or n. 16 bytes per step with
// SSE2 (every x86-64 has it), then 8 with SWAR, then byte by byte.
std::size_t find_control(const char* p, std::size_t from, std::size_t n) noexcept {
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
std::size_t scan_line(const char* p, std::size_t from, std::size_t n, bool& bad, std::size_t& resume) noexcept {
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
const char* target_end(const char* c, const char* end) noexcept {
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
const char* name_end(const char* c, const char* end) noexcept {
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
bool name_is(std::string_view name, std::string_view lower_literal) noexcept {
  if (name.size() != lower_literal.size() || (name[0] | 0x20) != lower_literal[0]) return false;
  unsigned diff = 0;
  for (std::size_t i = 0; i < name.size(); ++i)
    diff |= static_cast<unsigned char>(name[i] | 0x20) ^ static_cast<unsigned char>(lower_literal[i]);
  return diff == 0;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each non-empty, trimmed element of a comma-separated list (RFC 9110 5.6.1).
template <typename F>
void for_each_element(std::string_view list, F&& f) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto element = trim_ows(list.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

bool parse_decimal(std::string_view s, std::uint64_t& out) noexcept {
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

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool valid_field_line(std::string_view line) noexcept {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (std::size_t i = 0; i < colon; ++i)
    if (!is_tchar(line[i])) return false;
  for (std::size_t i = colon + 1; i < line.size(); ++i)
    if (!is_value_char(line[i])) return false;
  return true;
}

}  // namespace

request_parser::request_parser(request_limits limits) : limits_(limits) {
  // The only allocation: header slots for the largest request we accept.
  headers_.resize(limits_.max_headers);
}

void request_parser::reset() noexcept {
  header_count_ = 0;
  method_ = target_ = body_ = {};
  base_ = nullptr;
  version_major_ = 1;
  version_minor_ = 1;
  keep_alive_ = true;
  chunked_ = false;
  expect_continue_ = false;
  has_content_length_ = false;
  has_transfer_encoding_ = false;
  connection_close_ = false;
  connection_keep_alive_ = false;
  error_ = errc::ok;
  stage_ = stage::request_line;
  consumed_ = 0;
  scan_pos_ = line_start_ = section_start_ = head_end_ = 0;
  line_bad_ = false;
  content_length_ = 0;
  body_read_pos_ = body_write_pos_ = 0;
  chunk_left_ = 0;
}

std::string_view request_parser::path() const noexcept { return target_.substr(0, target_.find('?')); }

std::string_view request_parser::query() const noexcept {
  const auto q = target_.find('?');
  return q == std::string_view::npos ? std::string_view{} : target_.substr(q + 1);
}

std::optional<std::string_view> request_parser::header_value(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < header_count_; ++i)
    if (iequals(headers_[i].name, name)) return headers_[i].value;
  return std::nullopt;
}

std::optional<std::uint64_t> request_parser::content_length() const noexcept {
  if (!has_content_length_) return std::nullopt;
  return content_length_;
}

parse_status request_parser::fail(errc e) noexcept {
  error_ = e;
  stage_ = stage::failed;
  return parse_status::error;
}

void request_parser::rebase(const char* base) noexcept {
  if (base_ == base) return;
  if (base_ != nullptr) {
    // The caller moved its buffer (same bytes, new address): shift every view by the same offset.
    const auto old_base = reinterpret_cast<std::uintptr_t>(base_);
    auto move = [&](std::string_view& v) {
      if (v.data() == nullptr) return;
      v = {base + (reinterpret_cast<std::uintptr_t>(v.data()) - old_base), v.size()};
    };
    move(method_);
    move(target_);
    move(body_);
    for (std::size_t i = 0; i < header_count_; ++i) {
      move(headers_[i].name);
      move(headers_[i].value);
    }
  }
  base_ = base;
}

parse_status request_parser::parse(std::span<char> buf) {
  if (stage_ == stage::done) return parse_status::complete;
  if (stage_ == stage::failed) return parse_status::error;
  char* p = buf.data();
  const std::size_t n = buf.size();
  // A buffer shorter than what was already scanned is a caller bug; refuse to read stale offsets.
  if (n < scan_pos_ || n < body_read_pos_) return parse_status::need_more;
  rebase(p);

  if (stage_ == stage::request_line || stage_ == stage::headers) {
    const auto s = parse_head(p, n);
    if (s != parse_status::complete) return s;
  }
  if (stage_ == stage::body_length) {
    if (n - head_end_ < content_length_) return parse_status::need_more;
    body_ = {p + head_end_, static_cast<std::size_t>(content_length_)};
    consumed_ = head_end_ + static_cast<std::size_t>(content_length_);
    stage_ = stage::done;
    return parse_status::complete;
  }
  return parse_chunked(p, n);
}

// Reads the request line and header fields. Returns complete once the blank line is read.
parse_status request_parser::parse_head(char* p, std::size_t n) {
  for (;;) {
    const bool in_line = stage_ == stage::request_line;
    // Leading empty lines count towards the request-line limit, so they cannot be unbounded either.
    const std::size_t origin = in_line ? 0 : section_start_;
    const std::size_t limit = in_line ? limits_.max_request_line : limits_.max_header_bytes;
    const errc too_long = in_line ? errc::request_line_too_long : errc::headers_too_large;

    const std::size_t lf = scan_line(p, scan_pos_, n, line_bad_, scan_pos_);
    if (lf == npos) {
      // n - origin bytes without the end: the section will be at least one byte longer.
      if (n - origin >= limit) return fail(too_long);
      return parse_status::need_more;
    }
    if (lf + 1 - origin > limit) return fail(too_long);
    scan_pos_ = lf + 1;
    std::size_t len = lf - line_start_;
    if (len > 0 && p[lf - 1] == '\r') --len;
    const char* line = p + line_start_;
    line_start_ = lf + 1;
    const bool line_bad = line_bad_;
    line_bad_ = false;

    if (in_line) {
      if (len == 0) continue;  // RFC 9112 2.2: ignore empty lines before the request line
      if (const auto e = on_request_line(line, len); e != errc::ok) return fail(e);
      stage_ = stage::headers;
      section_start_ = lf + 1;
      continue;
    }
    if (len == 0) {
      head_end_ = lf + 1;
      if (const auto e = finish_head(); e != errc::ok) return fail(e);
      return parse_status::complete;
    }
    if (header_count_ == limits_.max_headers) return fail(errc::too_many_headers);

    // field-name ":" OWS field-value OWS; no whitespace before the colon, no obs-fold.
    const char* end = line + len;
    const char* colon = name_end(line, end);
    if (line_bad || colon == nullptr || colon == line) return fail(errc::bad_header);
    const char* v = colon + 1;
    while (v < end && is_ows(*v)) ++v;
    while (end > v && is_ows(end[-1])) --end;
    const std::string_view name{line, static_cast<std::size_t>(colon - line)};
    const std::string_view value{v, static_cast<std::size_t>(end - v)};
    headers_[header_count_++] = header{name, value};
    // Only a few names change framing or connection handling; skip the call for all others.
    const auto size = name.size();
    if (size == 6 || size == 10 || size == 14 || size == 17) {
      if (const auto e = on_header(name, value); e != errc::ok) return fail(e);
    }
  }
}

errc request_parser::on_request_line(const char* line, std::size_t len) noexcept {
  const char* end = line + len;
  const char* sp1 = line;
  while (sp1 < end && is_tchar(*sp1)) ++sp1;
  if (sp1 == end) return errc::bad_request_line;  // a method alone
  if (sp1 == line || *sp1 != ' ') return errc::bad_method;

  const char* t = sp1 + 1;
  const char* sp2 = target_end(t, end);
  // No version (HTTP/0.9), an empty target, or a control character in it.
  if (sp2 == end || sp2 == t || *sp2 != ' ') return errc::bad_request_line;

  const std::string_view version{sp2 + 1, static_cast<std::size_t>(end - sp2 - 1)};
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[5] < '0' || version[5] > '9' ||
      version[6] != '.' || version[7] < '0' || version[7] > '9')
    return errc::bad_version;
  version_major_ = version[5] - '0';
  version_minor_ = version[7] - '0';
  if (version_major_ != 1) return errc::unsupported_version;

  method_ = {line, static_cast<std::size_t>(sp1 - line)};
  target_ = {t, static_cast<std::size_t>(sp2 - t)};
  return errc::ok;
}

errc request_parser::on_header(std::string_view name, std::string_view value) noexcept {
  errc result = errc::ok;
  switch (name.size()) {
    case 14:
      if (name_is(name, "content-length")) {
        // Repeated values ("5, 5" or two fields) are accepted only if they agree (RFC 9110 8.6).
        bool any = false;
        for_each_element(value, [&](std::string_view element) {
          std::uint64_t v = 0;
          if (!parse_decimal(element, v) || (has_content_length_ && v != content_length_)) {
            result = errc::bad_content_length;
            return;
          }
          any = true;
          has_content_length_ = true;
          content_length_ = v;
        });
        if (!any && result == errc::ok) result = errc::bad_content_length;
      }
      break;
    case 17:
      if (name_is(name, "transfer-encoding")) {
        bool any = false;
        for_each_element(value, [&](std::string_view element) {
          if (result != errc::ok) return;
          any = true;
          if (!iequals(element, "chunked")) {
            result = errc::unknown_transfer_coding;  // we decode no other coding
          } else if (chunked_) {
            result = errc::bad_header;  // chunked applied twice (RFC 9112 6.1)
          } else {
            chunked_ = true;
          }
        });
        if (!any && result == errc::ok) result = errc::bad_header;
        has_transfer_encoding_ = true;
      }
      break;
    case 10:
      if (name_is(name, "connection")) {
        for_each_element(value, [&](std::string_view element) {
          if (iequals(element, "close")) connection_close_ = true;
          else if (iequals(element, "keep-alive")) connection_keep_alive_ = true;
        });
      }
      break;
    case 6:
      // HTTP/1.0 clients cannot expect 100 Continue; RFC 9110 10.1.1 says to ignore it there.
      if (name_is(name, "expect") && iequals(value, "100-continue") && version_minor_ >= 1) expect_continue_ = true;
      break;
    default:
      break;
  }
  return result;
}

errc request_parser::finish_head() noexcept {
  // Both framings at once is the classic request-smuggling vector (RFC 9112 6.3): refuse and close.
  if (has_transfer_encoding_ && has_content_length_) return errc::content_length_with_te;
  keep_alive_ = !connection_close_ && (version_minor_ >= 1 || connection_keep_alive_);
  if (chunked_) {
    stage_ = stage::chunk_size;
    body_read_pos_ = body_write_pos_ = head_end_;
    scan_pos_ = line_start_ = head_end_;
    return errc::ok;
  }
  if (content_length_ > limits_.max_body) return errc::body_too_large;
  stage_ = stage::body_length;
  return errc::ok;
}

// Decodes a chunked body in place: chunk data is moved down over the size lines, so body() is
// one contiguous view starting right after the head.
parse_status request_parser::parse_chunked(char* p, std::size_t n) {
  for (;;) {
    switch (stage_) {
      case stage::chunk_size: {
        const std::size_t lf = scan_line(p, scan_pos_, n, line_bad_, scan_pos_);
        if (lf == npos) {
          if (n - line_start_ >= max_chunk_line) return fail(errc::bad_chunk);
          return parse_status::need_more;
        }
        if (lf + 1 - line_start_ > max_chunk_line) return fail(errc::bad_chunk);
        line_bad_ = false;  // the size line is checked character by character below
        std::size_t len = lf - line_start_;
        if (len > 0 && p[lf - 1] == '\r') --len;
        const std::string_view line{p + line_start_, len};
        std::uint64_t size = 0;
        std::size_t i = 0;
        for (; i < line.size(); ++i) {
          const int h = hex_value(line[i]);
          if (h < 0) break;
          if (i == 16) return fail(errc::bad_chunk);  // over 64 bits
          size = (size << 4) | static_cast<std::uint64_t>(h);
        }
        if (i == 0) return fail(errc::bad_chunk);
        while (i < line.size() && is_ows(line[i])) ++i;  // BWS before an extension
        if (i < line.size()) {
          if (line[i] != ';') return fail(errc::bad_chunk);
          for (; i < line.size(); ++i)
            if (!is_value_char(line[i])) return fail(errc::bad_chunk);
        }
        scan_pos_ = line_start_ = body_read_pos_ = lf + 1;
        if (size == 0) {
          stage_ = stage::trailers;
          section_start_ = lf + 1;
          continue;
        }
        const std::uint64_t decoded = body_write_pos_ - head_end_;
        if (size > limits_.max_body - decoded) return fail(errc::body_too_large);
        chunk_left_ = size;
        stage_ = stage::chunk_data;
        continue;
      }
      case stage::chunk_data: {
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(n - body_read_pos_, chunk_left_));
        if (take > 0 && body_write_pos_ != body_read_pos_) std::memmove(p + body_write_pos_, p + body_read_pos_, take);
        body_write_pos_ += take;
        body_read_pos_ += take;
        chunk_left_ -= take;
        scan_pos_ = body_read_pos_;
        if (chunk_left_ > 0) return parse_status::need_more;
        stage_ = stage::chunk_data_end;
        continue;
      }
      case stage::chunk_data_end: {
        if (body_read_pos_ >= n) return parse_status::need_more;
        if (p[body_read_pos_] == '\n') {
          body_read_pos_ += 1;
        } else if (p[body_read_pos_] == '\r') {
          if (body_read_pos_ + 1 >= n) return parse_status::need_more;
          if (p[body_read_pos_ + 1] != '\n') return fail(errc::bad_chunk);
          body_read_pos_ += 2;
        } else {
          return fail(errc::bad_chunk);
        }
        scan_pos_ = line_start_ = body_read_pos_;
        stage_ = stage::chunk_size;
        continue;
      }
      case stage::trailers: {
        const std::size_t lf = scan_line(p, scan_pos_, n, line_bad_, scan_pos_);
        if (lf == npos) {
          if (n - section_start_ >= limits_.max_header_bytes) return fail(errc::headers_too_large);
          return parse_status::need_more;
        }
        if (lf + 1 - section_start_ > limits_.max_header_bytes) return fail(errc::headers_too_large);
        std::size_t len = lf - line_start_;
        if (len > 0 && p[lf - 1] == '\r') --len;
        const std::string_view line{p + line_start_, len};
        scan_pos_ = line_start_ = body_read_pos_ = lf + 1;
        line_bad_ = false;  // trailer lines are checked by valid_field_line below
        if (line.empty()) {
          body_ = {p + head_end_, body_write_pos_ - head_end_};
          consumed_ = lf + 1;
          stage_ = stage::done;
          return parse_status::complete;
        }
        // Trailer fields are checked for syntax and dropped: no handler here needs them.
        if (!valid_field_line(line)) return fail(errc::bad_chunk);
        continue;
      }
      default:
        return stage_ == stage::done ? parse_status::complete : parse_status::error;
    }
  }
}

}  // namespace perflab::http
