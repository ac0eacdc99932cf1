// HTTP/1.1 request parser (RFC 9112) for the lab targets: the request line, the header fields and
// the framing decisions they lead to (chunked bodies: http_request_chunked.cpp). Line-oriented:
// each LF is searched from where the previous call stopped, so bytes are scanned once however the
// request is split.
#include "perflab/core/http.hpp"

#include <algorithm>
#include <cstring>

#include "http_request_scan.hpp"
#include "http_request_target.hpp"

namespace perflab::http {
using namespace detail;

request_parser::request_parser(request_limits limits) : limits_(limits) {}

void request_parser::reset() noexcept {
  header_count_ = 0;
  method_ = target_ = path_ = query_ = authority_ = body_ = {};
  form_ = target_form::origin;
  path_is_root_ = false;
  base_ = nullptr;
  version_major_ = 1;
  version_minor_ = 1;
  keep_alive_ = true;
  chunked_ = false;
  expect_continue_ = false;
  has_content_length_ = false;
  has_transfer_encoding_ = false;
  te_chunked_last_ = false;
  te_unknown_ = false;
  has_host_ = false;
  expect_unknown_ = false;
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
    move(path_);
    move(query_);
    move(authority_);
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

    // A line starting with whitespace is obs-fold, or whitespace between the start line and the
    // first field: both rejected (RFC 9112 5.2, 2.2).
    if (is_ows(line[0])) return fail(errc::obs_fold);
    // field-name ":" OWS field-value OWS; no whitespace before the colon.
    const char* end = line + len;
    const char* colon = name_end(line, end);
    if (line_bad || colon == nullptr || colon == line) return fail(errc::bad_header);
    const char* v = colon + 1;
    while (v < end && is_ows(*v)) ++v;
    while (end > v && is_ows(end[-1])) --end;
    const std::string_view name{line, static_cast<std::size_t>(colon - line)};
    const std::string_view value{v, static_cast<std::size_t>(end - v)};
    if (header_count_ == headers_.size()) {
      // The only allocation: header slots, doubled as a request needs them (most need few),
      // up to the limit (std::bad_alloc leaves parse(): the session answers 503).
      headers_.resize(std::min(limits_.max_headers, std::max<std::size_t>(8, 2 * headers_.size())));
    }
    headers_[header_count_++] = header{name, value};
    // Only a few names change framing or connection handling; skip the call for all others.
    const auto size = name.size();
    if (size == 4 || size == 6 || size == 10 || size == 14 || size == 17) {
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
  detail::parsed_target parsed;
  if (const auto e = detail::parse_target(method_, target_, parsed); e != errc::ok) return e;
  form_ = parsed.form;
  path_ = parsed.path;
  query_ = parsed.query;
  authority_ = parsed.authority;
  path_is_root_ = parsed.path_is_root;
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
        // The codings in order, over all fields. What they mean is judged in finish_head: only
        // there is it known which coding is the final one.
        bool any = false;
        for_each_element(value, [&](std::string_view element) {
          if (result != errc::ok) return;
          any = true;
          const auto coding = trim_ows(element.substr(0, element.find(';')));  // parameters ignored
          for (char c : coding)
            if (!is_tchar(c)) result = errc::bad_header;
          if (coding.empty()) result = errc::bad_header;
          if (iequals(coding, "chunked")) {
            if (chunked_) result = errc::bad_header;  // chunked applied twice (RFC 9112 6.1)
            chunked_ = true;
            te_chunked_last_ = true;
          } else {
            te_unknown_ = true;
            te_chunked_last_ = false;
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
      if (name_is(name, "expect")) {
        for_each_element(value, [&](std::string_view element) {
          // HTTP/1.0 clients cannot expect 100 Continue; RFC 9110 10.1.1 says to ignore it there.
          if (iequals(element, "100-continue")) expect_continue_ = version_minor_ >= 1;
          else expect_unknown_ = true;  // answered 417 (RFC 9110 10.1.1 allows it)
        });
      }
      break;
    case 4:
      if (name_is(name, "host")) {
        // RFC 9112 3.2: 400 for more than one Host field line or an invalid value.
        if (has_host_ || !detail::valid_host_value(value)) result = errc::bad_host;
        has_host_ = true;
      }
      break;
    default:
      break;
  }
  return result;
}

errc request_parser::finish_head() noexcept {
  if (has_transfer_encoding_) {
    // HTTP/1.0 has no Transfer-Encoding: its framing is faulty (RFC 9112 6.1).
    if (version_minor_ == 0) return errc::transfer_encoding_http10;
    // Both framings at once is the classic request-smuggling vector (RFC 9112 6.3): refuse and close.
    if (has_content_length_) return errc::content_length_with_te;
    // Without chunked last the body's length cannot be known (6.3); with chunked last, another
    // coding we do not implement is 501 (6.1).
    if (!te_chunked_last_) return errc::chunked_not_final;
    if (te_unknown_) return errc::unknown_transfer_coding;
  }
  if (version_minor_ >= 1 && !has_host_) return errc::missing_host;  // RFC 9112 3.2
  if (expect_unknown_) return errc::expectation_failed;
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

}  // namespace perflab::http
