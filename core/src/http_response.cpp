// HTTP/1.1 response parser (RFC 9112) for the load generator: a resumable state machine that keeps
// no bytes, so a response may arrive split anywhere and the read buffer is reusable at once.
// Runs of bytes nobody needs (reason phrase, uninteresting header values, chunk extensions,
// trailers) are skipped with memchr; bodies are skipped by length.
#include "perflab/core/http.hpp"

#include "http_request_scan.hpp"  // character classes shared with the request parser

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace perflab::http {
namespace {

enum state : std::uint8_t {
  s_start,          // no byte of the response yet
  s_status,         // "HTTP/1.x NNN", digits_ is the index of the next character
  s_reason,         // reason phrase, up to LF
  s_header_start,   // first byte of a header line (or of the blank line)
  s_header_name,
  s_value,          // value of a header we interpret, byte by byte
  s_value_skip,     // value of any other header, up to LF
  s_head_lf,        // LF of the blank line
  // Everything below is after the head (not counted towards max_header_bytes).
  s_body_length,
  s_body_eof,       // close-delimited body
  s_chunk_size,
  s_chunk_ext,
  s_chunk_size_lf,
  s_chunk_data,
  s_chunk_data_cr,
  s_chunk_data_lf,
  s_trailer_start,
  s_trailer_line,
  s_trailer_lf,
  s_done,
  s_failed,
};

enum header_kind : std::uint8_t { h_other, h_content_length, h_transfer_encoding, h_connection, h_x_cache, h_retry_after };

constexpr std::array<std::uint8_t, 256> make_tchar_lower() {
  // 0: not a token character; otherwise the lower-cased character.
  std::array<std::uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c);
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c);
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c - 'A' + 'a');
  for (char c : std::string_view{"!#$%&'*+-.^_`|~"}) t[static_cast<unsigned char>(c)] = static_cast<std::uint8_t>(c);
  return t;
}
constexpr auto tchar_lower = make_tchar_lower();


constexpr std::string_view status_prefix = "HTTP/1.";  // the only major version we speak

}  // namespace

response_parser::response_parser(response_limits limits) : limits_(limits) {}

void response_parser::clear_head() noexcept {
  status_ = 0;
  keep_alive_ = true;
  chunked_ = false;
  head_done_ = false;
  has_content_length_ = false;
  has_transfer_encoding_ = false;
  te_chunked_last_ = false;
  connection_close_ = false;
  connection_keep_alive_ = false;
  version_minor_ = 1;
  content_length_ = 0;
  number_ = 0;
  digits_ = 0;
  x_cache_ = cache_status::none;
  retry_after_s_ = -1;
}

void response_parser::reset(bool no_body) noexcept {
  clear_head();
  no_body_ = no_body;
  body_bytes_ = 0;
  wire_bytes_ = 0;
  error_ = errc::ok;
  state_ = s_start;
  remaining_ = 0;
  head_bytes_ = 0;
}

bool response_parser::in_progress() const noexcept { return state_ != s_start && state_ != s_done && state_ != s_failed; }
bool response_parser::complete() const noexcept { return state_ == s_done; }
bool response_parser::head_complete() const noexcept { return head_done_; }

std::optional<std::uint64_t> response_parser::content_length() const noexcept {
  if (!has_content_length_) return std::nullopt;
  return content_length_;
}

bool response_parser::finish_eof() noexcept {
  if (state_ == s_body_eof) {
    state_ = s_done;
    return true;
  }
  if (state_ == s_done) return true;
  if (state_ == s_start || state_ == s_failed) return false;
  error_ = errc::closed_mid_response;
  state_ = s_failed;
  return false;
}

// Ends one element of a Content-Length list or one token of a Transfer-Encoding/Connection list.
// Returns false on an invalid Content-Length.
bool response_parser::end_list_element() noexcept {
  if (header_kind_ == h_content_length) {
    if (!value_seen_) return true;  // empty list element
    if (has_content_length_ && content_length_ != number_) return false;
    has_content_length_ = true;
    content_length_ = number_;
    number_ = 0;
    value_seen_ = false;
    token_len_ = 0;
    ++digits_;
    return true;
  }
  if (token_len_ == 0) return true;
  const std::string_view token{token_buf_, token_len_ <= sizeof(token_buf_) ? token_len_ : std::size_t{0}};
  if (header_kind_ == h_transfer_encoding) {
    has_transfer_encoding_ = true;
    te_chunked_last_ = token == "chunked";
  } else if (header_kind_ == h_x_cache) {
    // Only the value's first word counts ("HIT", or Squid's "HIT from host"), of the first field.
    if (digits_++ == 0 && x_cache_ == cache_status::none)
      x_cache_ = token == "hit" ? cache_status::hit : token == "miss" ? cache_status::miss
                 : token == "stale" ? cache_status::stale : cache_status::other;
  } else if (header_kind_ == h_retry_after) {
    // delay-seconds only, of the first field's first token (an HTTP-date starts with a day name).
    if (digits_++ == 0 && retry_after_s_ < 0 && !token.empty() && token.size() <= 9 &&
        std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      std::int64_t v = 0;
      for (char c : token) v = v * 10 + (c - '0');
      retry_after_s_ = v;
    }
  } else if (token == "close") {
    connection_close_ = true;
  } else if (token == "keep-alive") {
    connection_keep_alive_ = true;
  }
  token_len_ = 0;
  return true;
}

// After the blank line: decide how the body is framed (RFC 9112 6.3).
void response_parser::end_of_head() noexcept {
  if (status_ < 200 && status_ != 101) {
    // Interim response (100 Continue, 103 Early Hints): the final one follows.
    clear_head();
    state_ = s_status;
    return;
  }
  head_done_ = true;
  if (has_transfer_encoding_ && has_content_length_) {
    // Allowed to be resolved in favour of Transfer-Encoding, but a lab target sending both is a bug
    // worth reporting (and the classic response-splitting shape).
    error_ = errc::content_length_with_te;
    state_ = s_failed;
    return;
  }
  keep_alive_ = !connection_close_ && (version_minor_ >= 1 || connection_keep_alive_);
  if (status_ == 101) keep_alive_ = false;  // the connection is no longer HTTP/1.1
  if (no_body_ || status_ < 200 || status_ == 204 || status_ == 304) {
    state_ = s_done;
    return;
  }
  if (has_transfer_encoding_) {
    if (te_chunked_last_) {
      chunked_ = true;
      number_ = 0;
      digits_ = 0;
      state_ = s_chunk_size;
    } else {
      keep_alive_ = false;  // a coding we cannot frame: the body runs to the close
      state_ = s_body_eof;
    }
    return;
  }
  if (has_content_length_) {
    remaining_ = content_length_;
    state_ = content_length_ == 0 ? s_done : s_body_length;
    return;
  }
  keep_alive_ = false;
  state_ = s_body_eof;
}

response_parser::progress response_parser::feed(std::string_view data) noexcept {
  progress pr;
  if (state_ == s_done || state_ == s_failed) {
    pr.error = error_;
    return pr;
  }
  const char* p = data.data();
  const std::size_t n = data.size();
  if (n == 0) return pr;
  std::size_t i = 0;
  if (state_ == s_start) {
    pr.started = true;
    pr.first_byte = 0;
    state_ = s_status;
    digits_ = 0;
  }
  std::size_t head_from = 0;  // where the head bytes of this call began (if in the head)
  auto fail = [&](errc e) {
    error_ = e;
    state_ = s_failed;
  };
  // Adds the head bytes [head_from, end) to head_bytes_; false (and failed) when over the limit.
  auto account_head = [&](std::size_t end) {
    head_bytes_ += end - head_from;
    head_from = end;
    if (head_bytes_ > limits_.max_header_bytes) {
      fail(errc::headers_too_large);
      return false;
    }
    return true;
  };

  while (i < n && state_ != s_done && state_ != s_failed) {
    switch (state_) {
      case s_status: {
        // A status line starts here: the response's first, or the final one after an interim.
        if (digits_ == 0) {
          pr.status_line = true;
          pr.status_line_at = i;
        }
        while (i < n) {
          const char c = p[i];
          const unsigned idx = digits_;
          if (idx < status_prefix.size()) {
            if (c != status_prefix[idx]) break;
          } else if (idx == 7) {
            if (c < '0' || c > '9') break;
            version_minor_ = c - '0';
          } else if (idx == 8) {
            if (c != ' ') break;
          } else if (idx <= 11) {
            if (c < '0' || c > '9' || (idx == 9 && c == '0')) break;
            status_ = status_ * 10 + (c - '0');
          } else {
            // After the code: SP reason, or the line ends (the reason phrase may be absent).
            if (c == ' ' || c == '\r') {
              state_ = s_reason;
            } else if (c == '\n') {
              state_ = s_header_start;
            } else {
              break;
            }
            ++i;
            break;
          }
          ++digits_;
          ++i;
        }
        if (state_ == s_status && i < n) fail(errc::bad_status_line);
        break;
      }
      case s_reason:
      case s_value_skip:
      case s_trailer_line: {
        const void* hit = std::memchr(p + i, '\n', n - i);
        if (hit == nullptr) {
          i = n;
          break;
        }
        i = static_cast<std::size_t>(static_cast<const char*>(hit) - p) + 1;
        state_ = state_ == s_trailer_line ? s_trailer_start : s_header_start;
        break;
      }
      case s_header_start: {
        const char c = p[i++];
        if (c == '\r') {
          state_ = s_head_lf;
        } else if (c == '\n') {
          if (account_head(i)) end_of_head();
          head_from = i;
        } else if (tchar_lower[static_cast<unsigned char>(c)] != 0) {
          name_buf_[0] = static_cast<char>(tchar_lower[static_cast<unsigned char>(c)]);
          name_len_ = 1;
          state_ = s_header_name;
        } else {
          fail(errc::bad_header);  // obs-fold, empty name or a control character
        }
        break;
      }
      case s_header_name: {
        while (i < n) {
          const auto lc = tchar_lower[static_cast<unsigned char>(p[i])];
          if (lc == 0) break;
          if (name_len_ < sizeof(name_buf_)) name_buf_[name_len_] = static_cast<char>(lc);
          if (name_len_ < 255) ++name_len_;
          ++i;
        }
        if (i == n) break;
        if (p[i] != ':') {
          fail(errc::bad_header);
          break;
        }
        ++i;
        const std::string_view name{name_buf_, name_len_ <= sizeof(name_buf_) ? name_len_ : std::size_t{0}};
        header_kind_ = name == "content-length"      ? h_content_length
                       : name == "transfer-encoding" ? h_transfer_encoding
                       : name == "connection"        ? h_connection
                       : name == "x-cache"           ? h_x_cache
                       : name == "retry-after"       ? h_retry_after
                                                     : h_other;
        number_ = 0;
        value_seen_ = false;
        token_len_ = 0;
        digits_ = 0;  // Content-Length elements seen in this field
        state_ = header_kind_ == h_other ? s_value_skip : s_value;
        break;
      }
      case s_value: {
        while (i < n && state_ == s_value) {
          const char c = p[i++];
          if (c == '\n') {
            if (!end_list_element() || (header_kind_ == h_content_length && digits_ == 0)) {
              fail(errc::bad_content_length);
              break;
            }
            state_ = s_header_start;
          } else if (c == '\r') {
            // Tolerated anywhere in a value; the LF ends it.
          } else if (c == ',' || c == ' ' || c == '\t') {
            if (header_kind_ == h_content_length) {
              if (c == ',' && !end_list_element()) fail(errc::bad_content_length);
              else if (c != ',' && value_seen_) token_len_ = 1;  // digits ended; only OWS or ',' may follow
            } else {
              end_list_element();
            }
          } else if (header_kind_ == h_content_length) {
            if (c < '0' || c > '9' || token_len_ != 0) {
              fail(errc::bad_content_length);
              break;
            }
            const auto d = static_cast<std::uint64_t>(c - '0');
            if (number_ > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
              fail(errc::bad_content_length);
              break;
            }
            number_ = number_ * 10 + d;
            value_seen_ = true;
          } else {
            if (token_len_ < sizeof(token_buf_)) token_buf_[token_len_] = detail::lower(c);
            if (token_len_ < 255) ++token_len_;
          }
        }
        break;
      }
      case s_head_lf: {
        if (p[i++] != '\n') {
          fail(errc::bad_header);
          break;
        }
        if (account_head(i)) end_of_head();
        head_from = i;
        break;
      }
      case s_body_length: {
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(n - i, remaining_));
        i += take;
        remaining_ -= take;
        body_bytes_ += take;
        if (remaining_ == 0) state_ = s_done;
        break;
      }
      case s_body_eof: {
        body_bytes_ += n - i;
        i = n;
        break;
      }
      case s_chunk_size: {
        while (i < n) {
          const char c = p[i];
          const int h = detail::hex_value(c);
          if (h < 0) break;
          if (digits_ == 16) {
            fail(errc::bad_chunk);  // over 64 bits
            break;
          }
          number_ = (number_ << 4) | static_cast<std::uint64_t>(h);
          ++digits_;
          ++i;
        }
        if (i == n || state_ == s_failed) break;
        const char c = p[i++];
        if (digits_ == 0) {
          fail(errc::bad_chunk);
        } else if (c == ';' || c == ' ' || c == '\t') {
          state_ = s_chunk_ext;
        } else if (c == '\r') {
          state_ = s_chunk_size_lf;
        } else if (c == '\n') {
          remaining_ = number_;
          state_ = number_ == 0 ? s_trailer_start : s_chunk_data;
        } else {
          fail(errc::bad_chunk);
        }
        break;
      }
      case s_chunk_ext:
      case s_chunk_size_lf: {
        if (state_ == s_chunk_ext) {
          const void* hit = std::memchr(p + i, '\n', n - i);
          if (hit == nullptr) {
            i = n;
            break;
          }
          i = static_cast<std::size_t>(static_cast<const char*>(hit) - p) + 1;
        } else if (p[i++] != '\n') {
          fail(errc::bad_chunk);
          break;
        }
        remaining_ = number_;
        state_ = number_ == 0 ? s_trailer_start : s_chunk_data;
        break;
      }
      case s_chunk_data: {
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(n - i, remaining_));
        i += take;
        remaining_ -= take;
        body_bytes_ += take;
        if (remaining_ == 0) state_ = s_chunk_data_cr;
        break;
      }
      case s_chunk_data_cr:
      case s_chunk_data_lf: {
        const char c = p[i++];
        if (c == '\r' && state_ == s_chunk_data_cr) {
          state_ = s_chunk_data_lf;
          break;
        }
        if (c != '\n') {
          fail(errc::bad_chunk);
          break;
        }
        number_ = 0;
        digits_ = 0;
        state_ = s_chunk_size;
        break;
      }
      case s_trailer_start: {
        const char c = p[i++];
        if (c == '\r') state_ = s_trailer_lf;
        else if (c == '\n') state_ = s_done;
        else state_ = s_trailer_line;
        break;
      }
      case s_trailer_lf: {
        if (p[i++] != '\n') fail(errc::bad_chunk);
        else state_ = s_done;
        break;
      }
      default:
        fail(errc::bad_status_line);
        break;
    }
  }
  if (state_ < s_body_length && state_ != s_start) account_head(i);

  pr.consumed = i;
  wire_bytes_ += i;
  pr.complete = state_ == s_done;
  pr.error = error_;
  return pr;
}

}  // namespace perflab::http
