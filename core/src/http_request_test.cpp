#include "perflab/core/http.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using perflab::http::errc;
using perflab::http::parse_status;
using perflab::http::request_limits;
using perflab::http::request_parser;

struct valid_request {
  const char* name;
  std::string raw;
  std::string method;
  std::string target;
  int minor;
  bool keep_alive;
  std::string body;
  std::size_t header_count;
  bool chunked;
};

std::vector<valid_request> valid_requests() {
  return {
      {"simple_get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/", 1, true, "", 1, false},
      {"http10_closes", "GET /x HTTP/1.0\r\n\r\n", "GET", "/x", 0, false, "", 0, false},
      {"http10_keep_alive", "GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "GET", "/x", 0, true, "", 1, false},
      {"http11_close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "GET", "/", 1, false, "", 2, false},
      {"connection_list", "GET / HTTP/1.1\r\nConnection: Upgrade, close\r\n\r\n", "GET", "/", 1, false, "", 1, false},
      {"content_length_body", "POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", "POST", "/submit", 1,
       true, "hello", 2, false},
      {"content_length_zero", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "POST", "/", 1, true, "", 1, false},
      {"repeated_equal_length", "POST / HTTP/1.1\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc", "POST", "/", 1,
       true, "abc", 2, false},
      {"chunked_ext_trailers",
       "POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n6 ; x\r\n world\r\n"
       "0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n",
       "POST", "/u", 1, true, "hello world", 1, true},
      {"chunked_upper_hex", "PUT /p HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", "PUT",
       "/p", 1, true, "0123456789", 1, true},
      {"chunked_empty", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "POST", "/", 1, true, "", 1,
       true},
      {"chunked_leading_zeros", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0003\r\nabc\r\n000\r\n\r\n", "POST",
       "/", 1, true, "abc", 1, true},
      {"bare_lf", "GET /lf HTTP/1.1\nHost: a\nContent-Length: 2\n\nok", "GET", "/lf", 1, true, "ok", 2, false},
      {"bare_lf_chunked", "POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n2\nok\n0\n\n", "POST", "/", 1, true, "ok", 1,
       true},
      {"leading_empty_lines", "\r\n\r\nGET / HTTP/1.1\r\n\r\n", "GET", "/", 1, true, "", 0, false},
      {"query", "GET /json?items=5&x=1 HTTP/1.1\r\n\r\n", "GET", "/json?items=5&x=1", 1, true, "", 0, false},
      {"ows_trimmed_and_empty_value", "GET / HTTP/1.1\r\nX-A: \t v w \t\r\nX-Empty:\r\n\r\n", "GET", "/", 1, true, "", 2,
       false},
      {"obs_text_value", "GET / HTTP/1.1\r\nX-A: caf\xc3\xa9\r\n\r\n", "GET", "/", 1, true, "", 1, false},
      {"unknown_token_method", "PURGE /cache HTTP/1.1\r\n\r\n", "PURGE", "/cache", 1, true, "", 0, false},
      {"asterisk_form", "OPTIONS * HTTP/1.1\r\n\r\n", "OPTIONS", "*", 1, true, "", 0, false},
      {"minor_above_one", "GET / HTTP/1.2\r\n\r\n", "GET", "/", 2, true, "", 0, false},
  };
}

void expect_parsed(const request_parser& p, const valid_request& c) {
  EXPECT_EQ(p.method(), c.method);
  EXPECT_EQ(p.target(), c.target);
  EXPECT_EQ(p.version_major(), 1);
  EXPECT_EQ(p.version_minor(), c.minor);
  EXPECT_EQ(p.keep_alive(), c.keep_alive);
  EXPECT_EQ(p.must_close(), !c.keep_alive);
  EXPECT_EQ(p.body(), c.body);
  EXPECT_EQ(p.headers().size(), c.header_count);
  EXPECT_EQ(p.chunked(), c.chunked);
  EXPECT_EQ(p.consumed(), c.raw.size());
  EXPECT_EQ(p.error(), errc::ok);
  EXPECT_TRUE(p.head_complete());
}

TEST(RequestParser, ParsesValidRequestsWhole) {
  for (const auto& c : valid_requests()) {
    SCOPED_TRACE(c.name);
    std::string buf = c.raw;
    request_parser p;
    ASSERT_EQ(p.parse(buf), parse_status::complete);
    expect_parsed(p, c);
    // Further calls without reset() keep the verdict.
    EXPECT_EQ(p.parse(buf), parse_status::complete);
  }
}

TEST(RequestParser, ParsesValidRequestsSplitAtEveryByte) {
  for (const auto& c : valid_requests()) {
    for (std::size_t k = 0; k < c.raw.size(); ++k) {
      SCOPED_TRACE(std::string(c.name) + " split at " + std::to_string(k));
      std::string buf = c.raw;
      request_parser p;
      ASSERT_EQ(p.parse(std::span<char>(buf.data(), k)), parse_status::need_more);
      ASSERT_EQ(p.parse(buf), parse_status::complete);
      expect_parsed(p, c);
    }
  }
}

TEST(RequestParser, ParsesValidRequestsOneByteAtATimeInAGrowingBuffer) {
  for (const auto& c : valid_requests()) {
    SCOPED_TRACE(c.name);
    // A vector that reallocates as it grows: views must follow the bytes to their new address.
    std::vector<char> buf;
    request_parser p;
    parse_status s = parse_status::need_more;
    for (std::size_t i = 0; i < c.raw.size(); ++i) {
      ASSERT_EQ(s, parse_status::need_more) << "completed early at byte " << i;
      buf.push_back(c.raw[i]);
      s = p.parse(buf);
    }
    ASSERT_EQ(s, parse_status::complete);
    expect_parsed(p, c);
  }
}

TEST(RequestParser, ExposesHeadersPathQueryAndExpect) {
  std::string buf =
      "POST /api/items?limit=10 HTTP/1.1\r\nHost: example\r\nX-Trace:  abc  \r\nExpect: 100-continue\r\n"
      "Content-Length: 4\r\n\r\nbody";
  request_parser p;
  ASSERT_EQ(p.parse(std::span<char>(buf.data(), buf.size() - 4)), parse_status::need_more);
  EXPECT_TRUE(p.head_complete());
  EXPECT_TRUE(p.expect_continue());
  ASSERT_EQ(p.parse(buf), parse_status::complete);
  EXPECT_EQ(p.path(), "/api/items");
  EXPECT_EQ(p.query(), "limit=10");
  EXPECT_EQ(p.header_value("x-trace"), "abc");
  EXPECT_EQ(p.header_value("HOST"), "example");
  EXPECT_FALSE(p.header_value("missing").has_value());
  EXPECT_EQ(p.content_length(), 4u);
  ASSERT_EQ(p.headers().size(), 4u);
  EXPECT_EQ(p.headers()[1].name, "X-Trace");
  EXPECT_EQ(p.body(), "body");
}

TEST(RequestParser, ExpectContinueIsIgnoredForHttp10) {
  std::string buf = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx";
  request_parser p;
  ASSERT_EQ(p.parse(buf), parse_status::complete);
  EXPECT_FALSE(p.expect_continue());
}

TEST(RequestParser, PathWithoutQueryHasEmptyQuery) {
  std::string buf = "GET /plain HTTP/1.1\r\n\r\n";
  request_parser p;
  ASSERT_EQ(p.parse(buf), parse_status::complete);
  EXPECT_EQ(p.path(), "/plain");
  EXPECT_EQ(p.query(), "");
  EXPECT_FALSE(p.expect_continue());
  EXPECT_FALSE(p.content_length().has_value());
}

TEST(RequestParser, ParsesPipelinedRequestsInOneBuffer) {
  std::string buf =
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
      "GET /d HTTP/1.0\r\n\r\n"
      "GET /e HTT";  // the start of a fifth request
  struct expected {
    std::string target, body;
    bool keep_alive;
  };
  const std::vector<expected> want = {{"/a", "", true}, {"/b", "xyz", true}, {"/c", "abcde", true}, {"/d", "", false}};
  request_parser p;
  std::size_t offset = 0;
  for (const auto& w : want) {
    SCOPED_TRACE(w.target);
    ASSERT_EQ(p.parse(std::span<char>(buf).subspan(offset)), parse_status::complete);
    EXPECT_EQ(p.target(), w.target);
    EXPECT_EQ(p.body(), w.body);
    EXPECT_EQ(p.keep_alive(), w.keep_alive);
    offset += p.consumed();
    p.reset();
  }
  EXPECT_EQ(p.parse(std::span<char>(buf).subspan(offset)), parse_status::need_more);
  EXPECT_EQ(buf.substr(offset), "GET /e HTT");
}

TEST(RequestParser, FollowsTheBufferWhenItMoves) {
  const std::string raw = "GET /moved?q=1 HTTP/1.1\r\nHost: h\r\nX-Long: 0123456789\r\n\r\n";
  std::string first = raw.substr(0, 30);
  request_parser p;
  ASSERT_EQ(p.parse(first), parse_status::need_more);
  std::string second = raw;  // same bytes, new address (e.g. the caller compacted its buffer)
  first.assign(first.size(), '#');
  ASSERT_EQ(p.parse(second), parse_status::complete);
  EXPECT_EQ(p.target(), "/moved?q=1");
  EXPECT_EQ(p.method(), "GET");
  EXPECT_EQ(p.header_value("host"), "h");
  EXPECT_GE(p.target().data(), second.data());
  EXPECT_LT(p.target().data(), second.data() + second.size());
}

struct bad_request {
  const char* name;
  std::string raw;
  errc error;
  int status;
};

std::vector<bad_request> bad_requests() {
  return {
      {"no_target", "GET\r\n\r\n", errc::bad_request_line, 400},
      {"http09", "GET /\r\n\r\n", errc::bad_request_line, 400},
      {"empty_method", " / HTTP/1.1\r\n\r\n", errc::bad_method, 400},
      {"non_token_method", "G@T / HTTP/1.1\r\n\r\n", errc::bad_method, 400},
      {"double_space", "GET  / HTTP/1.1\r\n\r\n", errc::bad_request_line, 400},
      {"control_in_target", "GET /\x01 HTTP/1.1\r\n\r\n", errc::bad_request_line, 400},
      {"bare_cr_in_line", "GET /a\rb HTTP/1.1\r\n\r\n", errc::bad_request_line, 400},
      {"space_in_target", "GET /a b HTTP/1.1\r\n\r\n", errc::bad_version, 400},
      {"bad_protocol", "GET / HTTX/1.1\r\n\r\n", errc::bad_version, 400},
      {"bad_version_digits", "GET / HTTP/1.x\r\n\r\n", errc::bad_version, 400},
      {"trailing_garbage", "GET / HTTP/1.1 x\r\n\r\n", errc::bad_version, 400},
      {"lowercase_http", "GET / http/1.1\r\n\r\n", errc::bad_version, 400},
      {"http2", "GET / HTTP/2.0\r\n\r\n", errc::unsupported_version, 505},
      {"http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", errc::unsupported_version, 505},
      {"header_without_colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", errc::bad_header, 400},
      {"space_before_colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", errc::bad_header, 400},
      {"empty_header_name", "GET / HTTP/1.1\r\n: a\r\n\r\n", errc::bad_header, 400},
      {"obs_fold", "GET / HTTP/1.1\r\nX-A: a\r\n  folded\r\n\r\n", errc::bad_header, 400},
      {"control_in_value", "GET / HTTP/1.1\r\nX-A: a\x01z\r\n\r\n", errc::bad_header, 400},
      {"bare_cr_in_value", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", errc::bad_header, 400},
      {"content_length_letters", "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", errc::bad_content_length, 400},
      {"content_length_negative", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", errc::bad_content_length, 400},
      {"content_length_empty", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", errc::bad_content_length, 400},
      {"content_length_overflow", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
       errc::bad_content_length, 400},
      {"content_length_list_conflict", "POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nhello", errc::bad_content_length,
       400},
      {"content_length_fields_conflict", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
       errc::bad_content_length, 400},
      {"content_length_with_te", "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       errc::content_length_with_te, 400},
      {"te_with_content_length", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
       errc::content_length_with_te, 400},
      {"te_gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", errc::unknown_transfer_coding, 501},
      {"te_gzip_chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", errc::unknown_transfer_coding,
       501},
      {"te_chunked_twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", errc::bad_header, 400},
      {"te_empty", "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", errc::bad_header, 400},
      {"chunk_size_not_hex", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", errc::bad_chunk, 400},
      {"chunk_size_empty", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", errc::bad_chunk, 400},
      {"chunk_size_overflow", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
       errc::bad_chunk, 400},
      {"chunk_size_negative", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", errc::bad_chunk, 400},
      {"chunk_size_garbage_after", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n",
       errc::bad_chunk, 400},
      {"chunk_data_too_long", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n",
       errc::bad_chunk, 400},
      {"chunk_ext_control", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n", errc::bad_chunk,
       400},
      {"bad_trailer", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnot a field\r\n\r\n", errc::bad_chunk,
       400},
      {"body_over_limit_declared", "POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", errc::body_too_large, 413},
      {"chunked_over_limit", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", errc::body_too_large,
       413},
  };
}

TEST(RequestParser, RejectsMalformedRequestsWithTheRightStatus) {
  for (const auto& c : bad_requests()) {
    SCOPED_TRACE(c.name);
    std::string buf = c.raw;
    request_parser p;
    ASSERT_EQ(p.parse(buf), parse_status::error);
    EXPECT_EQ(p.error(), c.error) << make_error_code(p.error()).message();
    EXPECT_EQ(p.error_status(), c.status);
    EXPECT_TRUE(p.must_close());
    EXPECT_EQ(p.parse(buf), parse_status::error);  // sticky until reset()
  }
}

TEST(RequestParser, RejectsMalformedRequestsFedOneByteAtATime) {
  for (const auto& c : bad_requests()) {
    SCOPED_TRACE(c.name);
    std::vector<char> buf;
    request_parser p;
    parse_status s = parse_status::need_more;
    for (std::size_t i = 0; i < c.raw.size() && s == parse_status::need_more; ++i) {
      buf.push_back(c.raw[i]);
      s = p.parse(buf);
    }
    ASSERT_EQ(s, parse_status::error);
    EXPECT_EQ(p.error(), c.error);
  }
}

// The head is scanned 16 and 8 bytes at a time, then byte by byte: a byte must be judged the same
// wherever it falls in a block.
TEST(RequestParser, JudgesEachByteTheSameAtEveryPosition) {
  struct row {
    const char* name;
    char byte;
    bool in_name;  // placed in the field name (else in the value)
    parse_status want;
  };
  const std::vector<row> rows = {
      {"control_in_value", '\x01', false, parse_status::error},
      {"del_in_value", '\x7f', false, parse_status::error},
      {"bare_cr_in_value", '\r', false, parse_status::error},
      {"nul_in_value", '\0', false, parse_status::error},
      {"tab_in_value", '\t', false, parse_status::complete},
      {"obs_text_in_value", '\xe9', false, parse_status::complete},
      {"high_byte_in_value", '\x80', false, parse_status::complete},
      {"space_in_name", ' ', true, parse_status::error},
      {"slash_in_name", '/', true, parse_status::error},
      {"at_in_name", '@', true, parse_status::error},
      {"high_byte_in_name", '\xc3', true, parse_status::error},
      {"control_in_name", '\x1f', true, parse_status::error},
      {"underscore_in_name", '_', true, parse_status::complete},
      {"tilde_in_name", '~', true, parse_status::complete},
      {"digit_in_name", '7', true, parse_status::complete},
  };
  for (const auto& r : rows) {
    for (std::size_t pos = 0; pos < 40; ++pos) {
      SCOPED_TRACE(std::string(r.name) + " at " + std::to_string(pos));
      std::string name(41, 'n');
      std::string value(40, 'v');
      (r.in_name ? name : value)[pos + (r.in_name ? 1 : 0)] = r.byte;
      std::string buf = "GET / HTTP/1.1\r\n" + name + ": " + value + "\r\nHost: h\r\n\r\n";
      request_parser p;
      ASSERT_EQ(p.parse(buf), r.want);
      if (r.want == parse_status::error) {
        EXPECT_EQ(p.error(), errc::bad_header);
      } else {
        // A tab at either end of the value is optional whitespace and is trimmed.
        std::string_view want = value;
        while (!want.empty() && want.front() == '\t') want.remove_prefix(1);
        while (!want.empty() && want.back() == '\t') want.remove_suffix(1);
        EXPECT_EQ(p.header_value(name), want);
      }
    }
  }
}

TEST(RequestParser, ResetAfterErrorParsesTheNextRequest) {
  std::string bad = "BAD\x01 / HTTP/1.1\r\n\r\n";
  std::string good = "GET /ok HTTP/1.1\r\n\r\n";
  request_parser p;
  ASSERT_EQ(p.parse(bad), parse_status::error);
  p.reset();
  ASSERT_EQ(p.parse(good), parse_status::complete);
  EXPECT_EQ(p.target(), "/ok");
  EXPECT_FALSE(p.must_close());
}

TEST(RequestLimits, RequestLineOverLimitIs414BeforeItsEndArrives) {
  std::string buf = "GET /" + std::string(9000, 'a');  // no CRLF yet: must not wait for one
  request_parser p;
  ASSERT_EQ(p.parse(buf), parse_status::error);
  EXPECT_EQ(p.error(), errc::request_line_too_long);
  EXPECT_EQ(p.error_status(), 414);
}

TEST(RequestLimits, RequestLineLimitCountsTheCrlf) {
  request_limits limits;
  limits.max_request_line = 64;
  const std::string fixed = "GET / HTTP/1.1\r\n";
  for (std::size_t extra : {0u, 1u}) {
    // A target that makes the line exactly the limit (incl. CRLF), then one byte more.
    const std::string target = "/" + std::string(limits.max_request_line - fixed.size() + extra, 'x');
    const std::string line = "GET " + target + " HTTP/1.1\r\n";
    SCOPED_TRACE(line.size());
    std::string buf = line + "\r\n";
    request_parser p(limits);
    EXPECT_EQ(p.parse(buf), extra == 0 ? parse_status::complete : parse_status::error);
    // Fed one byte at a time, the verdict is the same and an over-long line is refused as soon as
    // its length is certain.
    request_parser slow(limits);
    std::vector<char> grow;
    parse_status s = parse_status::need_more;
    for (std::size_t i = 0; i < buf.size() && s == parse_status::need_more; ++i) {
      grow.push_back(buf[i]);
      s = slow.parse(grow);
    }
    EXPECT_EQ(s, extra == 0 ? parse_status::complete : parse_status::error);
    if (extra == 1) {
      EXPECT_LE(grow.size(), limits.max_request_line);
    }
  }
}

TEST(RequestLimits, HeadersOverLimitAre431BeforeTheBlankLine) {
  std::string buf = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 50; ++i) buf += "X-Filler-" + std::to_string(i) + ": " + std::string(200, 'v') + "\r\n";
  ASSERT_GT(buf.size(), 8192u + 16u);  // no blank line: the client is still "sending"
  request_parser p;
  ASSERT_EQ(p.parse(buf), parse_status::error);
  EXPECT_EQ(p.error(), errc::headers_too_large);
  EXPECT_EQ(p.error_status(), 431);
}

TEST(RequestLimits, HeaderSectionExactlyAtTheLimitIsAccepted) {
  request_limits limits;
  limits.max_header_bytes = 100;
  const std::string line = "GET / HTTP/1.1\r\n";
  for (std::size_t extra : {0u, 1u}) {
    // "X: <v>\r\n" + "\r\n" == limit (+ extra)
    const std::string field = "X: " + std::string(limits.max_header_bytes - 7 + extra, 'v') + "\r\n";
    std::string buf = line + field + "\r\n";
    ASSERT_EQ(buf.size() - line.size(), limits.max_header_bytes + extra);
    request_parser p(limits);
    const auto s = p.parse(buf);
    if (extra == 0) {
      EXPECT_EQ(s, parse_status::complete);
    } else {
      ASSERT_EQ(s, parse_status::error);
      EXPECT_EQ(p.error(), errc::headers_too_large);
    }
  }
}

TEST(RequestLimits, TooManyHeadersIs431) {
  request_limits limits;
  limits.max_headers = 4;
  for (std::size_t count : {4u, 5u}) {
    std::string buf = "GET / HTTP/1.1\r\n";
    for (std::size_t i = 0; i < count; ++i) buf += "X-" + std::to_string(i) + ": v\r\n";
    buf += "\r\n";
    request_parser p(limits);
    const auto s = p.parse(buf);
    if (count == 4) {
      EXPECT_EQ(s, parse_status::complete);
      EXPECT_EQ(p.headers().size(), 4u);
    } else {
      ASSERT_EQ(s, parse_status::error);
      EXPECT_EQ(p.error(), errc::too_many_headers);
      EXPECT_EQ(p.error_status(), 431);
    }
  }
}

TEST(RequestLimits, BodyLimitAppliesToDeclaredAndDecodedLength) {
  request_limits limits;
  limits.max_body = 10;
  struct row {
    std::string raw;
    parse_status want;
  };
  const std::vector<row> rows = {
      {"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", parse_status::complete},
      {"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", parse_status::error},  // refused before the body
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n",
       parse_status::complete},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n6\r\n", parse_status::error},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.raw);
    std::string buf = r.raw;
    request_parser p(limits);
    ASSERT_EQ(p.parse(buf), r.want);
    if (r.want == parse_status::error) {
      EXPECT_EQ(p.error(), errc::body_too_large);
      EXPECT_EQ(p.error_status(), 413);
    }
  }
}

TEST(RequestLimits, TrailerSectionIsBounded) {
  request_limits limits;
  limits.max_header_bytes = 64;
  std::string buf = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + std::string(100, 't');
  request_parser p(limits);
  ASSERT_EQ(p.parse(buf), parse_status::error);
  EXPECT_EQ(p.error(), errc::headers_too_large);
}

TEST(RequestLimits, ChunkSizeLineIsBounded) {
  std::string buf = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;" + std::string(5000, 'e');
  request_parser p;
  ASSERT_EQ(p.parse(buf), parse_status::error);
  EXPECT_EQ(p.error(), errc::bad_chunk);
}

TEST(HttpErrors, StatusForEveryError) {
  struct row {
    errc e;
    int status;
  };
  const std::vector<row> rows = {
      {errc::bad_request_line, 400},       {errc::bad_version, 400},     {errc::unsupported_version, 505},
      {errc::bad_method, 400},             {errc::request_line_too_long, 414}, {errc::bad_header, 400},
      {errc::headers_too_large, 431},      {errc::too_many_headers, 431}, {errc::bad_content_length, 400},
      {errc::content_length_with_te, 400}, {errc::unknown_transfer_coding, 501}, {errc::bad_chunk, 400},
      {errc::body_too_large, 413},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(perflab::http::status_for(r.e), r.status) << static_cast<int>(r.e);
    const std::error_code ec = r.e;  // is_error_code_enum
    EXPECT_EQ(&ec.category(), &perflab::http::http_category());
    EXPECT_FALSE(ec.message().empty());
    EXPECT_NE(perflab::http::reason_phrase(r.status), "Unknown");
  }
}

}  // namespace
