#include "perflab/core/http.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using perflab::http::errc;
using perflab::http::response_limits;
using perflab::http::response_parser;

struct valid_response {
  const char* name;
  std::string raw;
  bool head_request;  // reset(no_body = true)
  int status;
  bool keep_alive;
  std::uint64_t body_bytes;
  bool chunked;
  std::optional<std::uint64_t> content_length;
};

std::vector<valid_response> valid_responses() {
  return {
      {"content_length", "HTTP/1.1 200 OK\r\nServer: t\r\nContent-Length: 5\r\n\r\nhello", false, 200, true, 5, false, 5},
      {"http10_closes", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, false, 2, false, 2},
      {"http10_keep_alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", false, 200, true,
       2, false, 2},
      {"connection_close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false, 200, false, 2,
       false, 2},
      {"connection_list", "HTTP/1.1 200 OK\r\nconnection: Upgrade , CLOSE\r\nContent-Length: 0\r\n\r\n", false, 200, false,
       0, false, 0},
      {"content_length_zero", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false, 404, true, 0, false, 0},
      {"content_length_repeated", "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\ncontent-length:3\r\n\r\nabc", false, 200,
       true, 3, false, 3},
      {"chunked_ext_trailers",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n6 ;x\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
       false, 200, true, 11, true, std::nullopt},
      {"chunked_upper_hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", false,
       200, true, 10, true, std::nullopt},
      {"chunked_after_gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false,
       200, true, 3, true, std::nullopt},
      {"chunked_bare_lf", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n", false, 200, true, 3, true,
       std::nullopt},
      {"no_content", "HTTP/1.1 204 No Content\r\nServer: t\r\n\r\n", false, 204, true, 0, false, std::nullopt},
      {"not_modified_ignores_length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", false, 304, true, 0,
       false, 100},
      {"head_ignores_length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, 200, true, 0, false, 100},
      {"head_ignores_chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, 200, true, 0, false,
       std::nullopt},
      {"continue_then_final", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", false,
       201, true, 1, false, 1},
      {"early_hints_then_final",
       "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\nContent-Length: 9\r\n\r\n"
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
       false, 200, true, 2, false, 2},
      {"switching_protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", false, 101, false, 0,
       false, std::nullopt},
      {"no_reason", "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", false, 200, true, 1, false, 1},
      {"empty_reason", "HTTP/1.1 500 \r\nContent-Length: 1\r\n\r\nx", false, 500, true, 1, false, 1},
      {"bare_lf", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, 200, true, 2, false, 2},
      {"long_and_odd_names",
       "HTTP/1.1 200 OK\r\nX-A-Very-Long-Header-Name-Indeed: v\r\nContent-Lengthy: 7\r\nX-Empty:\r\n"
       "Content-Length:   4   \r\n\r\nbody",
       false, 200, true, 4, false, 4},
  };
}

void expect_result(const response_parser& p, const valid_response& c) {
  EXPECT_TRUE(p.complete());
  EXPECT_FALSE(p.in_progress());
  EXPECT_TRUE(p.head_complete());
  EXPECT_EQ(p.status(), c.status);
  EXPECT_EQ(p.keep_alive(), c.keep_alive);
  EXPECT_EQ(p.body_bytes(), c.body_bytes);
  EXPECT_EQ(p.chunked(), c.chunked);
  EXPECT_EQ(p.content_length(), c.content_length);
  EXPECT_EQ(p.wire_bytes(), c.raw.size());
  EXPECT_EQ(p.error(), errc::ok);
}

TEST(ResponseParser, ParsesValidResponsesWhole) {
  for (const auto& c : valid_responses()) {
    SCOPED_TRACE(c.name);
    response_parser p;
    p.reset(c.head_request);
    const auto r = p.feed(c.raw);
    EXPECT_TRUE(r.started);
    EXPECT_EQ(r.first_byte, 0u);
    ASSERT_TRUE(r.complete) << "error " << static_cast<int>(r.error);
    EXPECT_EQ(r.consumed, c.raw.size());
    expect_result(p, c);
    // Nothing more is consumed until reset().
    const auto again = p.feed("HTTP/1.1 200 OK\r\n");
    EXPECT_EQ(again.consumed, 0u);
    EXPECT_FALSE(again.complete);
  }
}

TEST(ResponseParser, ParsesValidResponsesSplitAtEveryByte) {
  for (const auto& c : valid_responses()) {
    for (std::size_t k = 1; k < c.raw.size(); ++k) {
      SCOPED_TRACE(std::string(c.name) + " split at " + std::to_string(k));
      response_parser p;
      p.reset(c.head_request);
      const std::string_view all = c.raw;
      const auto a = p.feed(all.substr(0, k));
      EXPECT_TRUE(a.started);
      EXPECT_EQ(a.first_byte, 0u);
      ASSERT_FALSE(a.complete);
      ASSERT_EQ(a.consumed, k);
      EXPECT_TRUE(p.in_progress());
      const auto b = p.feed(all.substr(k));
      EXPECT_FALSE(b.started);
      ASSERT_TRUE(b.complete);
      EXPECT_EQ(b.consumed, c.raw.size() - k);  // the last byte is the last one fed
      expect_result(p, c);
    }
  }
}

// TTFB is the first byte of the final response: the caller times the last status line it is
// told about, so an interim 100 Continue or 103 Early Hints must be told apart from it.
TEST(ResponseParser, MarksEveryStatusLineSoTheFinalResponseCanBeTimed) {
  const std::string interim = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n";
  const std::string final_response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  {
    response_parser p;
    p.reset();
    const auto r = p.feed(interim + final_response);
    EXPECT_TRUE(r.status_line);
    EXPECT_EQ(r.status_line_at, interim.size());  // the last status line of the call: the final one
    EXPECT_TRUE(r.complete);
  }
  {
    // Interim and final arrive in separate reads: each read reports the status line it began.
    response_parser p;
    p.reset();
    const auto a = p.feed(interim);
    EXPECT_TRUE(a.status_line);
    EXPECT_EQ(a.status_line_at, 0u);
    EXPECT_FALSE(a.complete);
    const auto b = p.feed(final_response);
    EXPECT_FALSE(b.started);
    EXPECT_TRUE(b.status_line);
    EXPECT_EQ(b.status_line_at, 0u);
    EXPECT_TRUE(b.complete);
    EXPECT_EQ(p.status(), 200);
  }
  {
    // A status line split across reads is reported once, where it began.
    response_parser p;
    p.reset();
    const std::string all = final_response;
    const auto a = p.feed(std::string_view(all).substr(0, 6));
    EXPECT_TRUE(a.status_line);
    const auto b = p.feed(std::string_view(all).substr(6));
    EXPECT_FALSE(b.status_line);
    EXPECT_TRUE(b.complete);
  }
}

TEST(ResponseParser, ParsesValidResponsesOneByteAtATime) {
  for (const auto& c : valid_responses()) {
    SCOPED_TRACE(c.name);
    response_parser p;
    p.reset(c.head_request);
    for (std::size_t i = 0; i < c.raw.size(); ++i) {
      const auto r = p.feed(std::string_view(c.raw).substr(i, 1));
      ASSERT_EQ(r.error, errc::ok) << "at byte " << i;
      ASSERT_EQ(r.consumed, 1u) << "at byte " << i;
      EXPECT_EQ(r.started, i == 0);
      ASSERT_EQ(r.complete, i + 1 == c.raw.size()) << "at byte " << i;
    }
    expect_result(p, c);
  }
}

TEST(ResponseParser, ParsesPipelinedResponsesInOneBuffer) {
  const std::string r1 = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  const std::string r2 = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
  const std::string r3 = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
  const std::string buf = r1 + r2 + r3 + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhea";  // a 4th, still arriving
  struct expected {
    int status;
    std::uint64_t body;
    std::size_t wire;
  };
  const std::vector<expected> want = {{200, 3, r1.size()}, {204, 0, r2.size()}, {200, 2, r3.size()}};
  response_parser p;
  std::string_view rest = buf;
  for (const auto& w : want) {
    p.reset();
    const auto r = p.feed(rest);
    ASSERT_TRUE(r.complete);
    EXPECT_TRUE(r.started);
    EXPECT_EQ(p.status(), w.status);
    EXPECT_EQ(p.body_bytes(), w.body);
    EXPECT_EQ(r.consumed, w.wire);
    rest.remove_prefix(r.consumed);
  }
  p.reset();
  const auto r = p.feed(rest);
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.consumed, rest.size());
  EXPECT_EQ(p.body_bytes(), 3u);
  EXPECT_TRUE(p.in_progress());
}

TEST(ResponseParser, CloseDelimitedBodyEndsAtEof) {
  struct row {
    const char* name;
    std::string raw;
    std::uint64_t body;
  };
  const std::vector<row> rows = {
      {"no_length", "HTTP/1.1 200 OK\r\nServer: t\r\n\r\nsome body bytes", 15},
      {"http10_no_length", "HTTP/1.0 200 OK\r\n\r\nxyz", 3},
      {"unframed_coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzzz", 4},
      {"empty_body", "HTTP/1.1 200 OK\r\n\r\n", 0},
  };
  for (const auto& c : rows) {
    SCOPED_TRACE(c.name);
    response_parser p;
    p.reset();
    const auto r = p.feed(c.raw);
    EXPECT_FALSE(r.complete);
    EXPECT_EQ(r.consumed, c.raw.size());
    EXPECT_FALSE(p.keep_alive());
    EXPECT_TRUE(p.head_complete());
    EXPECT_TRUE(p.finish_eof());
    EXPECT_TRUE(p.complete());
    EXPECT_EQ(p.body_bytes(), c.body);
    EXPECT_EQ(p.error(), errc::ok);
  }
}

TEST(ResponseParser, EofMidResponseIsClosedMidResponse) {
  const std::vector<std::string> partial = {
      "H",
      "HTTP/1.1 200 OK\r\nContent-Le",
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
      "HTTP/1.1 100 Continue\r\n\r\n",
  };
  for (const auto& raw : partial) {
    SCOPED_TRACE(raw);
    response_parser p;
    p.reset();
    const auto r = p.feed(raw);
    ASSERT_FALSE(r.complete);
    ASSERT_EQ(r.error, errc::ok);
    EXPECT_TRUE(p.in_progress());
    EXPECT_FALSE(p.finish_eof());
    EXPECT_EQ(p.error(), errc::closed_mid_response);
  }
}

TEST(ResponseParser, EofBeforeAnyByteIsNotAResponse) {
  response_parser p;
  p.reset();
  EXPECT_FALSE(p.in_progress());
  EXPECT_FALSE(p.finish_eof());
  EXPECT_EQ(p.error(), errc::ok);
  EXPECT_FALSE(p.complete());
}

TEST(ResponseParser, EofAfterCompleteResponseIsFine) {
  response_parser p;
  p.reset();
  ASSERT_TRUE(p.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").complete);
  EXPECT_TRUE(p.finish_eof());
  EXPECT_EQ(p.error(), errc::ok);
}

struct bad_response {
  const char* name;
  std::string raw;
  errc error;
};

std::vector<bad_response> bad_responses() {
  return {
      {"not_http", "FOO 200 OK\r\n\r\n", errc::bad_status_line},
      {"http2", "HTTP/2 200 OK\r\n\r\n", errc::bad_status_line},
      {"http20", "HTTP/2.0 200 OK\r\n\r\n", errc::bad_status_line},
      {"lowercase", "http/1.1 200 OK\r\n\r\n", errc::bad_status_line},
      {"two_digit_status", "HTTP/1.1 20 OK\r\n\r\n", errc::bad_status_line},
      {"four_digit_status", "HTTP/1.1 2000 OK\r\n\r\n", errc::bad_status_line},
      {"status_leading_zero", "HTTP/1.1 099 Odd\r\n\r\n", errc::bad_status_line},
      {"letters_in_status", "HTTP/1.1 2x0 OK\r\n\r\n", errc::bad_status_line},
      {"no_space", "HTTP/1.1200 OK\r\n\r\n", errc::bad_status_line},
      {"leading_crlf", "\r\nHTTP/1.1 200 OK\r\n\r\n", errc::bad_status_line},
      {"header_without_colon", "HTTP/1.1 200 OK\r\nServer t\r\n\r\n", errc::bad_header},
      {"space_before_colon", "HTTP/1.1 200 OK\r\nServer : t\r\n\r\n", errc::bad_header},
      {"obs_fold", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n", errc::bad_header},
      {"empty_name", "HTTP/1.1 200 OK\r\n: v\r\n\r\n", errc::bad_header},
      {"cr_without_lf", "HTTP/1.1 200 OK\r\nX: y\r\n\rX", errc::bad_header},
      {"content_length_letters", "HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\n", errc::bad_content_length},
      {"content_length_two_numbers", "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", errc::bad_content_length},
      {"content_length_empty", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", errc::bad_content_length},
      {"content_length_conflict", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
       errc::bad_content_length},
      {"content_length_list_conflict", "HTTP/1.1 200 OK\r\nContent-Length: 1,2\r\n\r\nab", errc::bad_content_length},
      {"content_length_overflow", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
       errc::bad_content_length},
      {"content_length_with_te", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       errc::content_length_with_te},
      {"chunk_size_not_hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", errc::bad_chunk},
      {"chunk_size_missing", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n", errc::bad_chunk},
      {"chunk_size_overflow", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
       errc::bad_chunk},
      {"chunk_size_cr_without_lf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello", errc::bad_chunk},
      {"chunk_data_too_long", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
       errc::bad_chunk},
      {"chunk_data_cr_without_lf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\rx", errc::bad_chunk},
      {"last_chunk_cr_without_lf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\rx", errc::bad_chunk},
  };
}

TEST(ResponseParser, RejectsMalformedResponses) {
  for (const auto& c : bad_responses()) {
    SCOPED_TRACE(c.name);
    response_parser p;
    p.reset();
    const auto r = p.feed(c.raw);
    EXPECT_FALSE(r.complete);
    ASSERT_EQ(r.error, c.error) << make_error_code(r.error).message();
    EXPECT_EQ(p.error(), c.error);
    EXPECT_LE(r.consumed, c.raw.size());
    EXPECT_FALSE(p.in_progress());
    EXPECT_EQ(p.feed("more").consumed, 0u);
  }
}

TEST(ResponseParser, RejectsMalformedResponsesFedOneByteAtATime) {
  for (const auto& c : bad_responses()) {
    SCOPED_TRACE(c.name);
    response_parser p;
    p.reset();
    errc got = errc::ok;
    for (std::size_t i = 0; i < c.raw.size() && got == errc::ok; ++i)
      got = p.feed(std::string_view(c.raw).substr(i, 1)).error;
    EXPECT_EQ(got, c.error);
  }
}

TEST(ResponseParser, HeaderSectionIsBounded) {
  response_limits limits;
  limits.max_header_bytes = 128;
  const std::string head = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(200, 'b');
  for (std::size_t piece : {head.size(), std::size_t{7}}) {
    SCOPED_TRACE(piece);
    response_parser p(limits);
    p.reset();
    errc got = errc::ok;
    for (std::size_t i = 0; i < head.size() && got == errc::ok; i += piece)
      got = p.feed(std::string_view(head).substr(i, piece)).error;
    EXPECT_EQ(got, errc::headers_too_large);
  }
  // A head just under the limit is fine.
  response_parser ok(limits);
  ok.reset();
  const std::string small = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  EXPECT_TRUE(ok.feed(small).complete);
}

TEST(ResponseParser, LargeBodiesAreSkippedByLength) {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n";
  const std::string chunk(64 * 1024, 'z');
  response_parser p;
  p.reset();
  auto r = p.feed(head);
  ASSERT_FALSE(r.complete);
  std::uint64_t fed = 0;
  while (!r.complete) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), 1000000 - fed + 10));
    r = p.feed(std::string_view(chunk).substr(0, n));
    fed += r.consumed;
    ASSERT_EQ(r.error, errc::ok);
  }
  EXPECT_EQ(fed, 1000000u);
  EXPECT_EQ(p.body_bytes(), 1000000u);
  EXPECT_EQ(p.wire_bytes(), head.size() + 1000000u);
}

TEST(ResponseParser, ResetClearsThePreviousResponse) {
  response_parser p;
  p.reset();
  ASSERT_TRUE(p.feed("HTTP/1.0 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").complete);
  EXPECT_FALSE(p.keep_alive());
  p.reset();
  EXPECT_FALSE(p.head_complete());
  EXPECT_EQ(p.body_bytes(), 0u);
  ASSERT_TRUE(p.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx").complete);
  EXPECT_EQ(p.status(), 200);
  EXPECT_TRUE(p.keep_alive());
  EXPECT_FALSE(p.chunked());
  EXPECT_EQ(p.wire_bytes(), 39u);
}

}  // namespace

namespace perflab::http {
namespace {

TEST(ResponseParserXCache, ReadsTheFirstWordOfTheFirstXCacheAtEverySplit) {
  struct xcase {
    const char* raw;
    cache_status want;
  };
  const std::vector<xcase> cases = {
      {"HTTP/1.1 200 OK\r\nX-Cache: HIT\r\nContent-Length: 2\r\n\r\nok", cache_status::hit},
      {"HTTP/1.1 200 OK\r\nx-cache:miss\r\nContent-Length: 2\r\n\r\nok", cache_status::miss},
      {"HTTP/1.1 200 OK\r\nX-CACHE: Stale\r\nContent-Length: 0\r\n\r\n", cache_status::stale},
      {"HTTP/1.1 200 OK\r\nX-Cache: HIT from proxy.example\r\nContent-Length: 0\r\n\r\n", cache_status::hit},
      {"HTTP/1.1 200 OK\r\nX-Cache: MISS\r\nX-Cache: HIT\r\nContent-Length: 0\r\n\r\n", cache_status::miss},
      {"HTTP/1.1 200 OK\r\nX-Cache: REVALIDATED\r\nContent-Length: 0\r\n\r\n", cache_status::other},
      {"HTTP/1.1 200 OK\r\nX-Cache-Lookup: HIT\r\nContent-Length: 0\r\n\r\n", cache_status::none},
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", cache_status::none},
      {"HTTP/1.1 100 Continue\r\nX-Cache: HIT\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", cache_status::none},
  };
  for (const auto& c : cases) {
    const std::string_view raw = c.raw;
    for (std::size_t split = 1; split < raw.size(); ++split) {
      SCOPED_TRACE(std::string(raw) + " split at " + std::to_string(split));
      response_parser p;
      p.reset();
      p.feed(raw.substr(0, split));
      const auto r = p.feed(raw.substr(split));
      ASSERT_TRUE(r.complete || p.complete());
      EXPECT_EQ(p.x_cache(), c.want);
    }
  }
  // The next response starts without the previous one's X-Cache.
  response_parser p;
  p.reset();
  p.feed("HTTP/1.1 200 OK\r\nX-Cache: HIT\r\nContent-Length: 0\r\n\r\n");
  p.reset();
  p.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(p.x_cache(), cache_status::none);
}

}  // namespace
}  // namespace perflab::http

namespace perflab::http {
namespace {

// Retry-After in seconds (what the loadgen's [load] retry honours with retry_after = true): the
// first field's value at every split; an HTTP-date, a non-number or no field reads -1.
TEST(ResponseParserRetryAfter, ReadsDelaySecondsOfTheFirstFieldAtEverySplit) {
  struct rcase {
    const char* raw;
    std::int64_t want;
  };
  const std::vector<rcase> cases = {
      {"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n", 2},
      {"HTTP/1.1 429 Too Many Requests\r\nretry-after:120\r\nContent-Length: 2\r\n\r\nno", 120},
      {"HTTP/1.1 503 X\r\nRetry-After: 0\r\nRetry-After: 9\r\nContent-Length: 0\r\n\r\n", 0},
      {"HTTP/1.1 503 X\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\nContent-Length: 0\r\n\r\n", -1},
      {"HTTP/1.1 503 X\r\nRetry-After: 1.5\r\nContent-Length: 0\r\n\r\n", -1},
      {"HTTP/1.1 503 X\r\nRetry-After: 12345678901\r\nContent-Length: 0\r\n\r\n", -1},
      {"HTTP/1.1 503 X\r\nContent-Length: 0\r\n\r\n", -1},
  };
  for (const auto& c : cases) {
    const std::string_view raw = c.raw;
    for (std::size_t split = 1; split < raw.size(); ++split) {
      SCOPED_TRACE(std::string(raw) + " split at " + std::to_string(split));
      response_parser p;
      p.reset();
      p.feed(raw.substr(0, split));
      const auto r = p.feed(raw.substr(split));
      ASSERT_TRUE(r.complete || p.complete());
      EXPECT_EQ(p.retry_after_s(), c.want);
    }
  }
  response_parser p;
  p.reset();
  p.feed("HTTP/1.1 503 X\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n");
  p.reset();
  p.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(p.retry_after_s(), -1) << "the next response starts without it";
}

}  // namespace
}  // namespace perflab::http
