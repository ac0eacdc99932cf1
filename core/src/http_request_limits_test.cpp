// The request parser's limits (request line, header section, header count, body declared and
// decoded, trailers, chunk lines), compaction of chunk framing, and the error-to-status mapping.
#include "perflab/core/http.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using perflab::http::errc;
using perflab::http::parse_status;
using perflab::http::request_limits;
using perflab::http::request_parser;
using namespace std::string_literals;

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
    std::string buf = line + "Host: a\r\n\r\n";
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
  std::string buf = "GET / HTTP/1.1\r\nHost: a\r\n";
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
    // "Host: <v>\r\n" + "\r\n" == limit (+ extra)
    const std::string field = "Host: " + std::string(limits.max_header_bytes - 10 + extra, 'v') + "\r\n";
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
    std::string buf = "GET / HTTP/1.1\r\nHost: a\r\n";  // Host is one of the count
    for (std::size_t i = 1; i < count; ++i) buf += "X-" + std::to_string(i) + ": v\r\n";
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
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", parse_status::complete},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", parse_status::error},  // refused before the body
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n",
       parse_status::complete},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n6\r\n", parse_status::error},
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

TEST(RequestParser, CompactGivesBackChunkFramingSoTheBodyLimitIsWhatBoundsTheBuffer) {
  // 1000 chunks of 8 bytes: 13 bytes on the wire per 8 decoded. The buffer only ever has room
  // for the head, the decoded limit and a little more; compact() makes that enough.
  request_limits limits;
  limits.max_body = 8000;
  const std::string head = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string wire = head, body;
  for (int i = 0; i < 1000; ++i) {
    std::string chunk(8, static_cast<char>('a' + i % 26));
    body += chunk;
    wire += "8\r\n" + chunk + "\r\n";
  }
  wire += "0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::size_t room = head.size() + limits.max_body + 64;
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{64}}) {
    SCOPED_TRACE(piece);
    std::vector<char> buf;
    buf.reserve(room);
    std::size_t sent = 0, given_back = 0;
    request_parser p(limits);
    parse_status s = parse_status::need_more;
    while (s == parse_status::need_more) {
      if (buf.size() == room) {
        const std::size_t k = p.compact(buf);
        ASSERT_GT(k, 0u) << "a full buffer with nothing to give back";
        buf.resize(buf.size() - k);
        given_back += k;
      }
      const std::size_t n = std::min({piece, room - buf.size(), wire.size() - sent});
      ASSERT_GT(n, 0u);
      buf.insert(buf.end(), wire.begin() + static_cast<std::ptrdiff_t>(sent), wire.begin() + static_cast<std::ptrdiff_t>(sent + n));
      sent += n;
      s = p.parse(buf);
    }
    ASSERT_EQ(s, parse_status::complete) << make_error_code(p.error()).message();
    EXPECT_EQ(p.body(), body);
    EXPECT_GT(given_back, 0u);
    // What follows the body is the next request, intact.
    const std::string rest(buf.begin() + static_cast<std::ptrdiff_t>(p.consumed()), buf.end());
    EXPECT_EQ(rest + wire.substr(sent), "GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
  }
}

TEST(RequestParser, CompactGivesBackNothingOutsideChunkData) {
  std::string head_only = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chu";
  request_parser p;
  ASSERT_EQ(p.parse(head_only), parse_status::need_more);
  EXPECT_EQ(p.compact(head_only), 0u);
  std::string trailers = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n";
  request_parser q;
  ASSERT_EQ(q.parse(trailers), parse_status::need_more);
  EXPECT_EQ(q.compact(trailers), 0u);  // the trailer section counts against its own limit
}

TEST(RequestLimits, TrailerSectionIsBounded) {
  request_limits limits;
  limits.max_header_bytes = 64;
  std::string buf = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + std::string(100, 't');
  request_parser p(limits);
  ASSERT_EQ(p.parse(buf), parse_status::error);
  EXPECT_EQ(p.error(), errc::headers_too_large);
}

TEST(RequestLimits, ChunkSizeLineIsBounded) {
  std::string buf = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;" + std::string(5000, 'e');
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
      {errc::body_too_large, 413},         {errc::bad_target, 400},      {errc::missing_host, 400},
      {errc::bad_host, 400},               {errc::obs_fold, 400},        {errc::transfer_encoding_http10, 400},
      {errc::chunked_not_final, 400},      {errc::expectation_failed, 417},
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
