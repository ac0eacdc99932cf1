// The request parser's chunked body decoder (RFC 9112 7.1): chunk data is decoded in place, and
// compact() gives back the framing already decoded. The head is http_request.cpp's.
#include "perflab/core/http.hpp"

#include <algorithm>
#include <cstring>

#include "http_request_scan.hpp"

namespace perflab::http {

using namespace detail;

std::size_t request_parser::compact(std::span<char> buf) noexcept {
  // Only while chunks arrive: trailer lines count against their own limit from section_start_.
  if (stage_ != stage::chunk_size && stage_ != stage::chunk_data && stage_ != stage::chunk_data_end) return 0;
  const std::size_t n = buf.size();
  if (n < body_read_pos_ || n < scan_pos_ || body_read_pos_ <= body_write_pos_) return 0;
  char* p = buf.data();
  const std::size_t gap = body_read_pos_ - body_write_pos_;
  std::memmove(p + body_write_pos_, p + body_read_pos_, n - body_read_pos_);
  // Everything the parser still has to look at moved down by gap. In chunk_size, line_start_ is
  // the size line's first byte (== body_read_pos_); elsewhere it is re-set before use.
  body_read_pos_ -= gap;
  scan_pos_ -= gap;
  line_start_ = stage_ == stage::chunk_size ? line_start_ - gap : body_read_pos_;
  return gap;
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
