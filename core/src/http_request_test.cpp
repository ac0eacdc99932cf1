#include "perflab/core/http.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using perflab::http::errc;
using perflab::http::parse_status;
using perflab::http::request_limits;
using perflab::http::request_parser;
using namespace std::string_literals;

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
      {"connection_list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, close\r\n\r\n", "GET", "/", 1, false, "", 2,
       false},
      {"connection_empty_elements", "GET / HTTP/1.1\r\nHost: a\r\nConnection: , ,close,\r\n\r\n", "GET", "/", 1, false,
       "", 2, false},
      {"content_length_body", "POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", "POST", "/submit", 1,
       true, "hello", 2, false},
      {"content_length_zero", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "POST", "/", 1, true, "", 2, false},
      {"content_length_leading_zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 003\r\n\r\nabc", "POST", "/", 1,
       true, "abc", 2, false},
      {"repeated_equal_length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc",
       "POST", "/", 1, true, "abc", 3, false},
      {"get_with_body", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi", "GET", "/", 1, true, "hi", 2, false},
      {"chunked_ext_trailers",
       "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n6 ; x\r\n world\r\n"
       "0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n",
       "POST", "/u", 1, true, "hello world", 2, true},
      {"chunked_upper_hex", "PUT /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
       "PUT", "/p", 1, true, "0123456789", 2, true},
      {"chunked_empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "POST", "/", 1, true,
       "", 2, true},
      {"chunked_empty_list_elements", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n",
       "POST", "/", 1, true, "", 2, true},
      {"chunked_leading_zeros", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0003\r\nabc\r\n000\r\n\r\n",
       "POST", "/", 1, true, "abc", 2, true},
      {"bare_lf", "GET /lf HTTP/1.1\nHost: a\nContent-Length: 2\n\nok", "GET", "/lf", 1, true, "ok", 2, false},
      {"bare_lf_chunked", "POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n2\nok\n0\n\n", "POST", "/", 1, true,
       "ok", 2, true},
      {"leading_empty_lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/", 1, true, "", 1, false},
      {"query", "GET /json?items=5&x=1 HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/json?items=5&x=1", 1, true, "", 1, false},
      {"ows_trimmed_and_empty_value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: \t v w \t\r\nX-Empty:\r\n\r\n", "GET", "/", 1,
       true, "", 3, false},
      {"obs_text_value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9\r\n\r\n", "GET", "/", 1, true, "", 2, false},
      {"unknown_token_method", "PURGE /cache HTTP/1.1\r\nHost: a\r\n\r\n", "PURGE", "/cache", 1, true, "", 1, false},
      {"asterisk_form", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS", "*", 1, true, "", 1, false},
      {"absolute_form", "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: other\r\n\r\n", "GET",
       "http://example.com:8080/a/b?c=d", 1, true, "", 1, false},
      {"authority_form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "CONNECT",
       "example.com:443", 1, true, "", 1, false},
      {"minor_above_one", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", "GET", "/", 2, true, "", 1, false},
      {"http10_without_host", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", "/", 0, true, "", 1, false},
      {"host_ipv6_port", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "GET", "/", 1, true, "", 1, false},
      {"host_empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n", "GET", "/", 1, true, "", 1, false},
      {"host_empty_port", "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", "GET", "/", 1, true, "", 1, false},
      {"host_pct_and_subdelims", "GET / HTTP/1.1\r\nHost: a%41-b.c_d~e!f$&'()*+,;=\r\n\r\n", "GET", "/", 1, true, "", 1,
       false},
      {"pct_encoded_target", "GET /a%20b/%C3%A9?q=%7e HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/a%20b/%C3%A9?q=%7e", 1,
       true, "", 1, false},
      {"target_subdelims", "GET /a:b@c!$&'()*+,;=/~?x/y?z HTTP/1.1\r\nHost: a\r\n\r\n", "GET",
       "/a:b@c!$&'()*+,;=/~?x/y?z", 1, true, "", 1, false},
      {"expect_continue_case", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx", "POST",
       "/", 1, true, "x", 3, false},
      {"expect_continue_http10_ignored", "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", "POST",
       "/", 0, false, "x", 2, false},
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

TEST(RequestParser, SplitsEachTargetFormIntoPathQueryAndAuthority) {
  using perflab::http::target_form;
  struct row {
    std::string raw;
    target_form form;
    std::string path, query, authority;
  };
  const std::vector<row> rows = {
      {"GET /json?items=5 HTTP/1.1\r\nHost: a\r\n\r\n", target_form::origin, "/json", "items=5", ""},
      {"GET /plain HTTP/1.1\r\nHost: a\r\n\r\n", target_form::origin, "/plain", "", ""},
      {"GET http://h:1/hello HTTP/1.1\r\nHost: a\r\n\r\n", target_form::absolute, "/hello", "", "h:1"},
      {"GET HTTPS://H/json?items=1 HTTP/1.1\r\nHost: a\r\n\r\n", target_form::absolute, "/json", "items=1", "H"},
      {"GET http://h HTTP/1.1\r\nHost: a\r\n\r\n", target_form::absolute, "/", "", "h"},
      {"GET http://h?q=1 HTTP/1.1\r\nHost: a\r\n\r\n", target_form::absolute, "/", "q=1", "h"},
      {"GET http://[::1]:80/x HTTP/1.1\r\nHost: a\r\n\r\n", target_form::absolute, "/x", "", "[::1]:80"},
      {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", target_form::asterisk, "*", "", ""},
      {"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", target_form::authority, "", "", "h:443"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.raw);
    std::string buf = r.raw;
    request_parser p;
    ASSERT_EQ(p.parse(buf), parse_status::complete) << make_error_code(p.error()).message();
    EXPECT_EQ(p.form(), r.form);
    EXPECT_EQ(p.path(), r.path);
    EXPECT_EQ(p.query(), r.query);
    EXPECT_EQ(p.authority(), r.authority);
  }
}

TEST(RequestParser, ExpectContinueIsIgnoredForHttp10) {
  std::string buf = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx";
  request_parser p;
  ASSERT_EQ(p.parse(buf), parse_status::complete);
  EXPECT_FALSE(p.expect_continue());
}

TEST(RequestParser, PathWithoutQueryHasEmptyQuery) {
  std::string buf = "GET /plain HTTP/1.1\r\nHost: a\r\n\r\n";
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
      "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
      "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
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
      {"empty_method", " / HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_method, 400},
      {"non_token_method", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_method, 400},
      {"double_space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_request_line, 400},
      {"control_in_target", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_request_line, 400},
      {"bare_cr_in_line", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_request_line, 400},
      {"space_in_target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_version, 400},
      {"bad_protocol", "GET / HTTX/1.1\r\n\r\n", errc::bad_version, 400},
      {"bad_version_digits", "GET / HTTP/1.x\r\n\r\n", errc::bad_version, 400},
      {"trailing_garbage", "GET / HTTP/1.1 x\r\n\r\n", errc::bad_version, 400},
      {"lowercase_http", "GET / http/1.1\r\n\r\n", errc::bad_version, 400},
      {"http2", "GET / HTTP/2.0\r\n\r\n", errc::unsupported_version, 505},
      {"http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", errc::unsupported_version, 505},
      {"header_without_colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", errc::bad_header, 400},
      {"space_before_colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", errc::bad_header, 400},
      {"empty_header_name", "GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n", errc::bad_header, 400},
      {"obs_fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n  folded\r\n\r\n", errc::obs_fold, 400},
      {"obs_fold_tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n\tfolded\r\n\r\n", errc::obs_fold, 400},
      {"whitespace_after_start_line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", errc::obs_fold, 400},
      {"nul_in_value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n"s, errc::bad_header, 400},
      {"missing_host", "GET / HTTP/1.1\r\n\r\n", errc::missing_host, 400},
      {"missing_host_absolute_form", "GET http://a/ HTTP/1.1\r\n\r\n", errc::missing_host, 400},
      {"host_twice", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", errc::bad_host, 400},
      {"host_twice_http10", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", errc::bad_host, 400},
      {"host_with_space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", errc::bad_host, 400},
      {"host_with_slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", errc::bad_host, 400},
      {"host_with_userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", errc::bad_host, 400},
      {"host_bad_port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", errc::bad_host, 400},
      {"host_unclosed_ipv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", errc::bad_host, 400},
      {"host_bad_escape", "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", errc::bad_host, 400},
      {"target_relative", "GET hello HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"target_fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"target_bad_escape", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"target_short_escape", "GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"target_non_ascii", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"target_quote", "GET /a\"b HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"asterisk_with_get", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"authority_with_get", "GET a:80 HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"connect_origin_form", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"connect_without_port", "CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"absolute_other_scheme", "GET ftp://a/x HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"absolute_userinfo", "GET http://u:p@a/x HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"absolute_empty_host", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target, 400},
      {"absolute_bad_path", "GET http://a/x y HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_version, 400},
      {"expect_unknown", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, fancy\r\nContent-Length: 1\r\n\r\nx",
       errc::expectation_failed, 417},
      {"http09_major", "GET / HTTP/0.9\r\n\r\n", errc::unsupported_version, 505},
      {"tab_separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_method, 400},
      {"trailing_space_in_line", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", errc::bad_version, 400},
      {"content_length_plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", errc::bad_content_length,
       400},
      {"content_length_spaced_digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello",
       errc::bad_content_length, 400},
      {"content_length_hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", errc::bad_content_length,
       400},
      {"control_in_value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x01z\r\n\r\n", errc::bad_header, 400},
      {"bare_cr_in_value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n", errc::bad_header, 400},
      {"content_length_letters", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", errc::bad_content_length, 400},
      {"content_length_negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", errc::bad_content_length, 400},
      {"content_length_empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", errc::bad_content_length, 400},
      {"content_length_overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
       errc::bad_content_length, 400},
      {"content_length_list_conflict", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello", errc::bad_content_length,
       400},
      {"content_length_fields_conflict", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
       errc::bad_content_length, 400},
      {"content_length_with_te", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       errc::content_length_with_te, 400},
      {"te_with_content_length", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
       errc::content_length_with_te, 400},
      {"te_gzip_not_final", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", errc::chunked_not_final, 400},
      {"te_chunked_then_gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
       errc::chunked_not_final, 400},
      {"te_chunked_then_gzip_fields",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
       errc::chunked_not_final, 400},
      {"te_identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", errc::chunked_not_final,
       400},
      {"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", errc::transfer_encoding_http10,
       400},
      {"te_in_http10_with_length", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
       errc::transfer_encoding_http10, 400},
      {"te_not_a_token", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun ked\r\n\r\n", errc::bad_header, 400},
      {"te_gzip_chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", errc::unknown_transfer_coding,
       501},
      {"te_chunked_twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", errc::bad_header, 400},
      {"te_empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", errc::bad_header, 400},
      {"chunk_size_not_hex", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", errc::bad_chunk, 400},
      {"chunk_size_empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", errc::bad_chunk, 400},
      {"chunk_size_overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
       errc::bad_chunk, 400},
      {"chunk_size_negative", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", errc::bad_chunk, 400},
      {"chunk_size_garbage_after", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n",
       errc::bad_chunk, 400},
      {"chunk_data_too_long", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n",
       errc::bad_chunk, 400},
      {"chunk_ext_control", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n", errc::bad_chunk,
       400},
      {"bad_trailer", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnot a field\r\n\r\n", errc::bad_chunk,
       400},
      {"body_over_limit_declared", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", errc::body_too_large, 413},
      {"chunked_over_limit", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", errc::body_too_large,
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
  std::string bad = "BAD\x01 / HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string good = "GET /ok HTTP/1.1\r\nHost: a\r\n\r\n";
  request_parser p;
  ASSERT_EQ(p.parse(bad), parse_status::error);
  p.reset();
  ASSERT_EQ(p.parse(good), parse_status::complete);
  EXPECT_EQ(p.target(), "/ok");
  EXPECT_FALSE(p.must_close());
}

}  // namespace
