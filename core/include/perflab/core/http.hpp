#pragma once
// Incremental, zero-copy HTTP/1.1 parsers over caller-owned buffers. No allocation per message:
// header storage is reserved once at construction.
//
//  - request_parser (targets): the caller keeps the bytes of the current request contiguous,
//    starting at its first byte, and calls parse() with everything received so far (the buffer
//    may move between calls, e.g. when a vector grows: views are re-based on every call). Names,
//    values and the body are string_views into that buffer (chunked bodies are decoded in place,
//    hence the mutable span). Scanning resumes where the previous call stopped, so a client that
//    sends one byte at a time costs linear, not quadratic, work.
//  - response_parser (loadgen): a byte-level state machine; bytes may be fed in any split and
//    are not kept, so the caller can reuse its read buffer at once. It reports where in each fed
//    buffer the response's first byte and its last byte fell, so TTFB and TTLB can be stamped
//    with the time the read returned.
//
// Line endings: CRLF, and a bare LF is accepted as well (RFC 9112 section 2.2); a CR that is not
// followed by LF inside the request head is an error.
//
// The request parser is strict where RFC 9112 and RFC 9110 tell a server to reject: what it
// refuses, and the status each refusal maps to, is listed in errc below and, requirement by
// requirement, in docs/targets.md ("HTTP conformance").
//
// Server loop (targets), with `buf` holding the received bytes from the current request on:
//   switch (parser.parse(buf)) {
//     case parse_status::need_more: read more, append, call again (the parser resumes); when the
//       buffer is full, compact() first gives back the chunk framing of a half-received body;
//     case parse_status::error: answer parser.error_status(), then close;
//     case parse_status::complete: handle; if (parser.must_close()) close after the answer;
//       drop parser.consumed() bytes (the rest is the next pipelined request), parser.reset().
//   }
// Client loop (loadgen), per read of n bytes at time t:
//   auto r = parser.feed({data, n});
//   if (r.started) ttfb = t;  if (r.complete) ttlb = t;  // the bytes after r.consumed start the
//   next response: reset() and feed them too. On EOF: parser.finish_eof(). If !keep_alive(),
//   the server closes after this response.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

namespace perflab::http {

// Parse errors. Each maps to an HTTP status (for requests) via status_for().
enum class errc {
  ok = 0,
  bad_request_line,        // 400: malformed method SP target SP version CRLF
  bad_version,             // 400 (505 for a well-formed but unsupported major version)
  unsupported_version,     // 505: HTTP/2.0 and other majors
  bad_method,              // 400: empty or non-token method
  request_line_too_long,   // 414: request line over limits.max_request_line
  bad_header,              // 400: header line without ':' or with whitespace before ':', bad chars
  headers_too_large,       // 431: header section over limits.max_header_bytes
  too_many_headers,        // 431: more than limits.max_headers header fields
  bad_content_length,      // 400: non-digits, overflow, or conflicting duplicate values
  content_length_with_te,  // 400 (and close): both Content-Length and Transfer-Encoding
  unknown_transfer_coding, // 501: a transfer coding we do not implement, chunked being the final one
  bad_chunk,               // 400: malformed chunk size line, chunk data or trailer
  body_too_large,          // 413: declared or decoded body over limits.max_body
  bad_status_line,         // response: malformed status line
  closed_mid_response,     // response: EOF before the message was complete
  bad_target,              // 400: request-target in no valid form, or a form the method may not use
  missing_host,            // 400: HTTP/1.1 request without Host (RFC 9112 3.2)
  bad_host,                // 400: more than one Host field line, or an invalid Host value
  obs_fold,                // 400: a field line starting with whitespace (obs-fold, RFC 9112 5.2, 2.2)
  transfer_encoding_http10,// 400 (and close): Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1)
  chunked_not_final,       // 400 (and close): Transfer-Encoding whose final coding is not chunked (RFC 9112 6.3)
  expectation_failed,      // 417: an Expect member other than 100-continue (RFC 9110 10.1.1)
};

const std::error_category& http_category() noexcept;
std::error_code make_error_code(errc e) noexcept;
// HTTP status a server answers with for a request parse error (400, 413, 414, 417, 431, 501, 505).
int status_for(errc e) noexcept;
// Short reason phrase for the statuses status_for() returns ("Bad Request", ...), for error pages.
std::string_view reason_phrase(int status) noexcept;

struct header {
  std::string_view name;
  std::string_view value;  // leading/trailing whitespace removed
};

struct request_limits {
  std::size_t max_request_line = 8 * 1024;   // bytes, incl. CRLF (nginx large_client_header_buffers)
  std::size_t max_header_bytes = 8 * 1024;   // bytes of header fields after the request line (also
                                             // the limit for a chunked body's trailer section)
  std::size_t max_headers = 100;             // header fields
  std::uint64_t max_body = 1024 * 1024;      // bytes, after chunked decoding
};

enum class parse_status { need_more, complete, error };

// The four forms of request-target (RFC 9112 3.2).
enum class target_form : std::uint8_t {
  origin,     // "/path?query": any method but CONNECT
  absolute,   // "http://host/path?query": accepted from any client (3.2.2); its host replaces Host
  authority,  // "host:port": CONNECT only
  asterisk,   // "*": OPTIONS only
};

class request_parser {
 public:
  explicit request_parser(request_limits limits = {});

  // Parses the request at the start of buf (see the file comment). On complete, consumed() bytes
  // of buf belong to this request (head + framed body); the rest is the next pipelined request.
  // After complete or error, further calls return the same status until reset().
  parse_status parse(std::span<char> buf);
  // Forget the current request; the next parse() starts a new one.
  void reset() noexcept;

  // Valid after complete (head fields also once head_complete()), while buf is unchanged.
  std::string_view method() const noexcept { return method_; }
  std::string_view target() const noexcept { return target_; }   // as sent, e.g. "/json?items=5"
  target_form form() const noexcept { return form_; }
  // The path: origin-form up to '?'; absolute-form's path ("/" when empty); "*"; empty for
  // authority-form.
  std::string_view path() const noexcept { return path_is_root_ ? std::string_view("/") : path_; }
  std::string_view query() const noexcept { return query_; }     // after '?', or empty
  // absolute-form's authority ("host[:port]") or authority-form's target; empty otherwise.
  std::string_view authority() const noexcept { return authority_; }
  int version_major() const noexcept { return version_major_; }  // always 1 once the line parsed
  int version_minor() const noexcept { return version_minor_; }  // HTTP/1.<minor>: 0 or 1
  std::span<const header> headers() const noexcept { return {headers_.data(), header_count_}; }
  std::optional<std::string_view> header_value(std::string_view name) const noexcept;  // case-insensitive
  bool keep_alive() const noexcept { return keep_alive_; }       // 1.1 default on, 1.0 needs keep-alive
  bool chunked() const noexcept { return chunked_; }
  // Declared Content-Length (absent for chunked requests and requests without a body).
  std::optional<std::uint64_t> content_length() const noexcept;
  // The request carried "Expect: 100-continue": once head_complete(), a server may answer
  // "HTTP/1.1 100 Continue" before the body arrives.
  bool expect_continue() const noexcept { return expect_continue_; }
  // The request line and headers are parsed (the body may still be pending).
  bool head_complete() const noexcept { return stage_ >= stage::body_length; }
  std::string_view body() const noexcept { return body_; }       // decoded
  std::size_t consumed() const noexcept { return consumed_; }

  // After need_more while a chunked body arrives: moves the bytes not yet decoded down over the
  // chunk framing already decoded, so that the buffer holds head + decoded body + the rest, and
  // the body limit is what limits the buffer, not the framing (8-byte chunks carry 5 bytes of
  // framing each). Returns by how many bytes the received data shrank (the caller moves its end
  // back by that much); 0 when there is nothing to give back.
  std::size_t compact(std::span<char> buf) noexcept;

  // Valid after error.
  errc error() const noexcept { return error_; }
  int error_status() const noexcept { return status_for(error_); }
  // The connection must be closed after answering: always after an error (framing can no longer
  // be trusted), and after a complete request that is not keep-alive.
  bool must_close() const noexcept { return error_ != errc::ok || !keep_alive_; }

 private:
  enum class stage : std::uint8_t {
    request_line,
    headers,
    body_length,      // Content-Length body
    chunk_size,       // chunk-size [; ext] CRLF
    chunk_data,
    chunk_data_end,   // CRLF after chunk data
    trailers,
    done,
    failed,
  };
  parse_status fail(errc e) noexcept;
  parse_status parse_head(char* p, std::size_t n);
  parse_status parse_chunked(char* p, std::size_t n);
  errc on_request_line(const char* line, std::size_t len) noexcept;
  errc on_target(const char* t, std::size_t len) noexcept;
  errc on_header(std::string_view name, std::string_view value) noexcept;
  errc finish_head() noexcept;
  void rebase(const char* base) noexcept;

  request_limits limits_;
  std::vector<header> headers_;
  std::size_t header_count_ = 0;
  std::string_view method_, target_, path_, query_, authority_, body_;
  target_form form_ = target_form::origin;
  bool path_is_root_ = false;   // absolute-form with an empty path: path() is "/"
  const char* base_ = nullptr;  // buf.data() of the previous call, to re-base views if it moved
  int version_major_ = 1;
  int version_minor_ = 1;
  bool keep_alive_ = true;
  bool chunked_ = false;
  bool expect_continue_ = false;
  bool has_content_length_ = false;
  bool has_transfer_encoding_ = false;
  bool te_chunked_last_ = false;   // the last transfer coding so far is chunked
  bool te_unknown_ = false;        // a coding other than chunked was named
  bool has_host_ = false;
  bool expect_unknown_ = false;    // an expectation other than 100-continue
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool line_bad_ = false;  // the line being scanned holds a stray control byte
  errc error_ = errc::ok;
  stage stage_ = stage::request_line;
  std::size_t consumed_ = 0;
  // Resumable scanning state: offsets into buf.
  std::size_t scan_pos_ = 0;     // where the search for the next LF resumes
  std::size_t line_start_ = 0;   // first byte of the line being read
  std::size_t section_start_ = 0;  // first byte of the header (or trailer) section
  std::size_t head_end_ = 0;     // first byte after the blank line ending the head
  std::uint64_t content_length_ = 0;
  std::size_t body_read_pos_ = 0;   // next undecoded chunked byte
  std::size_t body_write_pos_ = 0;  // end of the decoded body so far (<= body_read_pos_)
  std::uint64_t chunk_left_ = 0;
};

// The first word of a response's X-Cache header (case-insensitive), as caches and lab-target
// send it: HIT, MISS, STALE; other: some other word; none: no X-Cache header.
enum class cache_status : std::uint8_t { none, hit, miss, stale, other };

struct response_limits {
  std::size_t max_header_bytes = 64 * 1024;  // status line + header fields
};

class response_parser {
 public:
  explicit response_parser(response_limits limits = {});

  // Prepare for the next response. no_body: the request was HEAD (no body whatever the headers).
  void reset(bool no_body = false) noexcept;

  struct progress {
    std::size_t consumed = 0;        // bytes of data that belong to this response
    bool started = false;            // this call saw the response's first byte...
    std::size_t first_byte = 0;      // ...at data[first_byte]
    bool status_line = false;        // a status line began in this call (the last one of the call at
    std::size_t status_line_at = 0;  // data[status_line_at]); the last a response has is its final one's
    bool complete = false;           // the response ended in this call, its last byte at data[consumed-1]
    errc error = errc::ok;
  };
  // Feeds the next bytes. Stops at the end of the response: bytes after consumed belong to the
  // next one (pipelining). 1xx interim responses (except 101) are skipped; the final one counts.
  // `started` marks the first byte of whatever the server sent first, interim or not;
  // `status_line` marks each status line, so a caller can time the final response's first byte
  // (TTFB) apart from an interim 100 Continue or 103 Early Hints.
  // After complete or error, feed() consumes nothing until reset(). A close-delimited body
  // (no Content-Length, not chunked) consumes everything until finish_eof().
  progress feed(std::string_view data) noexcept;
  // The peer closed. Completes a close-delimited body (returns true; also true when the response
  // was already complete); otherwise a response in progress is an error (closed_mid_response) and
  // false is returned. Before any byte of a response it returns false and sets no error.
  bool finish_eof() noexcept;

  bool in_progress() const noexcept;                    // some byte of the response was seen
  bool complete() const noexcept;
  // The status line and headers of the final response are parsed.
  bool head_complete() const noexcept;
  int status() const noexcept { return status_; }
  int version_minor() const noexcept { return version_minor_; }
  bool keep_alive() const noexcept { return keep_alive_; }   // false: server closes after this one
  std::optional<std::uint64_t> content_length() const noexcept;
  bool chunked() const noexcept { return chunked_; }
  std::uint64_t body_bytes() const noexcept { return body_bytes_; }  // decoded body bytes so far
  std::uint64_t wire_bytes() const noexcept { return wire_bytes_; }  // all bytes of the response so far
  errc error() const noexcept { return error_; }
  // The final response's X-Cache (read while parsing, like Connection: no header is copied).
  cache_status x_cache() const noexcept { return x_cache_; }
  // The final response's Retry-After in seconds (delay-seconds, RFC 9110 10.2.3); -1 when absent
  // or an HTTP-date (not read).
  std::int64_t retry_after_s() const noexcept { return retry_after_s_; }

 private:
  void end_of_head() noexcept;
  bool end_list_element() noexcept;
  void clear_head() noexcept;

  response_limits limits_;
  int status_ = 0;
  bool keep_alive_ = true;
  bool chunked_ = false;
  bool no_body_ = false;
  std::uint64_t body_bytes_ = 0;
  std::uint64_t wire_bytes_ = 0;
  errc error_ = errc::ok;
  // State machine (see http_response.cpp).
  std::uint8_t state_ = 0;
  std::uint8_t header_kind_ = 0;     // which header's value is being read
  cache_status x_cache_ = cache_status::none;
  std::int64_t retry_after_s_ = -1;
  std::uint8_t digits_ = 0;          // digits read in the current number (status, size)
  bool head_done_ = false;
  bool has_content_length_ = false;
  bool has_transfer_encoding_ = false;
  bool te_chunked_last_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool value_seen_ = false;          // current Content-Length value had digits
  int version_minor_ = 1;
  std::uint64_t content_length_ = 0;
  std::uint64_t number_ = 0;         // number being read (Content-Length value, chunk size)
  std::uint64_t remaining_ = 0;      // body or chunk bytes still to come
  std::size_t head_bytes_ = 0;
  char name_buf_[20] = {};           // lower-cased header name prefix (the names we need are short)
  std::uint8_t name_len_ = 0;        // saturates past sizeof(name_buf_)
  char token_buf_[12] = {};          // lower-cased list token (Transfer-Encoding, Connection)
  std::uint8_t token_len_ = 0;
};

}  // namespace perflab::http

template <>
struct std::is_error_code_enum<perflab::http::errc> : std::true_type {};
