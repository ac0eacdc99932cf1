// HTTP/1.1 conformance of lab-target over real sockets, on every model: each requirement RFC 9112
// (sections 2-9) and RFC 9110's message handling place on a server, as raw bytes and the answer
// they must get. docs/targets.md ("HTTP conformance") maps each row to its RFC text. After every
// row a fresh connection must still be served.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include <poll.h>

#include "target_harness.hpp"

namespace {

using namespace perflab::testing;
using namespace std::string_literals;

struct requirement {
  const char* rfc;   // section, e.g. "9112 3.2"
  const char* what;  // the requirement, in short
  std::string raw;   // sent on a fresh connection
  int status;        // the answer
  bool closes;       // the server closes after it (else the connection serves another request)
  bool head = false;              // a HEAD request: the answer must have no body
  std::vector<std::string> must_contain = {};  // each in the head or body of the answer
};

std::vector<requirement> requirements() {
  const std::string te = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: ";
  return {
      {"9112 2.2", "empty lines before the request-line are ignored", "\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n",
       200, false},
      {"9112 2.2", "a bare LF ends a line", "GET /hello HTTP/1.1\nHost: t\n\n", 200, false},
      {"9112 2.2", "whitespace between the start-line and the first field", "GET /hello HTTP/1.1\r\n Host: t\r\n\r\n",
       400, true},
      {"9112 2.2", "a bare CR in the request-line", "GET /hel\rlo HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
      {"9112 2.2", "a bare CR in a field value", "GET /hello HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", 400, true},
      {"9112 2.2", "bytes that are not HTTP", "\x16\x03\x01\x02\x00\x01\xfc\x03\x03 x\r\n\r\n"s, 400, true},
      {"9112 2.3", "the version is case-sensitive", "GET /hello http/1.1\r\nHost: t\r\n\r\n", 400, true},
      {"9110 6.2", "a higher minor version is served as 1.1", "GET /hello HTTP/1.7\r\nHost: t\r\n\r\n", 200, false},
      {"9110 15.6.6", "major version 2: 505", "GET /hello HTTP/2.0\r\nHost: t\r\n\r\n", 505, true},
      {"9110 15.6.6", "major version 0: 505", "GET /hello HTTP/0.9\r\n\r\n", 505, true},
      {"9112 3", "two spaces in the request-line", "GET  /hello HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
      {"9112 3", "a tab as separator", "GET\t/hello HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
      {"9112 3", "a space after the version", "GET /hello HTTP/1.1 \r\nHost: t\r\n\r\n", 400, true},
      {"9112 3", "a request-target longer than we parse: 414",
       "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414, true},
      {"9112 3.2", "HTTP/1.1 without Host", "GET /hello HTTP/1.1\r\n\r\n", 400, true},
      {"9112 3.2", "two Host field lines", "GET /hello HTTP/1.1\r\nHost: t\r\nHost: t\r\n\r\n", 400, true},
      {"9112 3.2", "two Host field lines in HTTP/1.0", "GET /hello HTTP/1.0\r\nHost: t\r\nhost: u\r\n\r\n", 400, true},
      {"9112 3.2", "a Host value with a space", "GET /hello HTTP/1.1\r\nHost: a b\r\n\r\n", 400, true},
      {"9112 3.2", "a Host value with userinfo", "GET /hello HTTP/1.1\r\nHost: u@t\r\n\r\n", 400, true},
      {"9112 3.2", "HTTP/1.0 without Host is served", "GET /hello HTTP/1.0\r\n\r\n", 200, true},
      {"9112 3.2", "an IPv6 Host with a port", "GET /hello HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 200, false},
      {"9112 3.2", "a relative request-target", "GET hello HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
      {"9112 3.2", "a fragment in the request-target", "GET /hello#x HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
      {"9112 3.2", "a bad percent-escape in the request-target", "GET /hel%zzlo HTTP/1.1\r\nHost: t\r\n\r\n", 400,
       true},
      {"9112 3.2.2", "absolute-form is served", "GET http://t/hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, false, false,
       {"Hello, World!"}},
      {"9112 3.2.2", "absolute-form's host is used, not Host", "GET http://elsewhere:81/hello HTTP/1.1\r\nHost: t\r\n\r\n",
       200, false, false, {"Hello, World!"}},
      {"9112 3.2.2", "absolute-form: scheme and host in any case, query kept",
       "GET HTTP://T/json?items=1 HTTP/1.1\r\nHost: t\r\n\r\n", 200, false, false, {"\"count\":1,"}},
      {"9112 3.2.2", "absolute-form without Host in HTTP/1.1", "GET http://t/hello HTTP/1.1\r\n\r\n", 400, true},
      {"9110 4.2.4", "absolute-form with userinfo", "GET http://u@t/hello HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
      {"9110 4.2.1", "absolute-form with an empty host", "GET http:///hello HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
      {"9112 3.2.2", "absolute-form of a scheme we do not serve", "GET ftp://t/hello HTTP/1.1\r\nHost: t\r\n\r\n", 400,
       true},
      {"9112 3.2.3", "authority-form with GET", "GET t:80 HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
      {"9110 9.1", "CONNECT, which we do not implement: 501", "CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n", 501,
       false},
      {"9112 3.2.4", "asterisk-form with GET", "GET * HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
      {"9110 9.3.7", "OPTIONS *: 200, Allow, Content-Length 0", "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", 200, false,
       false, {"\r\nAllow: GET, HEAD, POST, PUT, DELETE, PURGE, OPTIONS\r\n", "\r\nContent-Length: 0\r\n"}},
      {"9110 9.3.7", "OPTIONS on a resource lists its methods", "OPTIONS /echo HTTP/1.1\r\nHost: t\r\n\r\n", 200, false,
       false, {"\r\nAllow: POST, PUT, OPTIONS\r\n"}},
      {"9110 15.5.6", "405 carries Allow", "DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n", 405, false, false,
       {"\r\nAllow: GET, HEAD, OPTIONS\r\n"}},
      {"9110 9.1", "an unknown method: 501", "BREW /hello HTTP/1.1\r\nHost: t\r\n\r\n", 501, false},
      {"9110 9.3.2", "HEAD: GET's fields, no body", "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, false, true,
       {"\r\nContent-Length: 13\r\n"}},
      {"9110 9.3.2", "HEAD answered 404: no body", "HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n", 404, false, true},
      {"9110 9.3.2", "HEAD answered 405: no body", "HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n", 405, false, true},
      {"9110 9.3.2", "HEAD answered 400 for a bad field: no body", "HEAD /hello HTTP/1.1\r\nHost: t\r\nBad Field\r\n\r\n",
       400, true, true},
      {"9112 5.1", "whitespace between field name and colon", "GET /hello HTTP/1.1\r\nHost : t\r\n\r\n", 400, true},
      {"9112 5.2", "obs-fold, refused saying why", "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 400, true,
       false, {"obsolete line folding"}},
      {"9110 5.5", "NUL in a field value", "GET /hello HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n"s, 400, true},
      {"9110 5.5", "a control character in a field value", "GET /hello HTTP/1.1\r\nHost: t\r\nX: a\x01z\r\n\r\n", 400,
       true},
      {"9110 5.4", "a header section larger than we process: 431",
       "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n", 431, true},
      {"9110 5.6.1", "empty list elements are accepted",
       "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: ,, keep-alive ,\r\n\r\n", 200, false},
      {"9112 6.1", "Transfer-Encoding in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
       400, true},
      {"9112 6.1", "chunked applied twice", te + "chunked, chunked\r\n\r\n0\r\n\r\n", 400, true},
      {"9112 6.1", "a coding we do not implement before chunked: 501", te + "gzip, chunked\r\n\r\n0\r\n\r\n", 501, true},
      {"9112 6.3", "chunked not the final coding", te + "chunked, gzip\r\n\r\n", 400, true},
      {"9112 6.3", "a coding without chunked", te + "gzip\r\n\r\n", 400, true},
      {"9112 6.3", "Content-Length and Transfer-Encoding",
       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true},
      {"9112 6.3", "Content-Length not a number", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\nh", 400,
       true},
      {"9112 6.3", "a Content-Length list that disagrees", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2, 3\r\n\r\nhi",
       400, true},
      {"9112 6.3", "two Content-Length fields that disagree",
       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi", 400, true},
      {"9112 6.3", "a Content-Length list that agrees", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2, 2\r\n\r\nhi",
       200, false, false, {"\r\n\r\nhi"}},
      {"9112 6.3", "a body on GET is read before the next request",
       "GET /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody", 200, false},
      {"9112 7.1", "a chunk size that overflows", te + "chunked\r\n\r\n10000000000000000\r\n", 400, true},
      {"9112 7.1.1", "chunk extensions are ignored", te + "chunked\r\n\r\n2;ext=1;x\r\nhi\r\n0\r\n\r\n", 200, false,
       false, {"\r\n\r\nhi"}},
      {"9112 7.1.2", "trailer fields are read and dropped", te + "chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n", 200,
       false, false, {"\r\n\r\nhi"}},
      {"9110 10.1.1", "an expectation other than 100-continue: 417",
       "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: fancy\r\nContent-Length: 2\r\n\r\nhi", 417, true},
      {"9112 9.6", "Connection: close is honoured", "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200,
       true},
      {"9112 9.6", "nothing after Connection: close is answered",
       "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, true},
      {"9112 9.3", "HTTP/1.0 keep-alive is kept and said", "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200,
       false, false, {"\r\nConnection: keep-alive\r\n"}},
  };
}

class TargetRfc : public model_test {};

TEST_P(TargetRfc, EveryRequirementHolds) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  for (const auto& r : requirements()) {
    SCOPED_TRACE(std::string("RFC ") + r.rfc + ": " + r.what);
    client c(t.port());
    ASSERT_TRUE(c.connected());
    auto got = c.request(r.raw, r.head);
    ASSERT_TRUE(got) << "no response";
    EXPECT_EQ(got->status, r.status) << got->head;
    EXPECT_EQ(got->close, r.closes) << got->head;
    // RFC 9110 6.6.1: an origin server with a clock sends Date in 2xx, 3xx and 4xx responses.
    EXPECT_NE(got->head.find("\r\nDate: "), std::string::npos) << got->head;
    for (const auto& want : r.must_contain) {
      EXPECT_NE((got->head + "\r\n" + got->body).find(want), std::string::npos) << want << " not in " << got->head
                                                                                << got->body;
    }
    if (r.closes) {
      // Also: no body after a HEAD answer, nothing answered after a close.
      EXPECT_TRUE(c.buffered().empty() && c.closed_by_peer()) << "more bytes came: " << c.buffered();
    } else {
      // A body after a HEAD answer, or anything else left over, would break this response.
      auto again = c.request(get_hello);
      ASSERT_TRUE(again) << "the connection did not serve another request";
      EXPECT_EQ(again->status, 200);
      EXPECT_EQ(again->body, "Hello, World!");
    }
    expect_still_serving(t.port());
  }
}

TEST_P(TargetRfc, AnEmptyLineAfterABodyIsIgnoredNotTimedOut) {
  // RFC 9112 2.2: a client may send a CRLF after a body; the server ignores it. It must not
  // start a header deadline (an unsolicited 408 and a close).
  target_process t(model_args(GetParam(), {"--header-timeout", "300ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  auto r = c.request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Three header timeouts pass with nothing from the server.
  pollfd p{c.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 900), 0) << "the server sent something unasked (408?)";
  auto again = c.request(get_hello);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST_P(TargetRfc, HeadRequestThatTimesOutGets408WithoutBody) {
  target_process t(model_args(GetParam(), {"--header-timeout", "300ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  ASSERT_TRUE(c.send("HEAD /hello HTTP/1.1\r\nHost: t\r\n"));  // the blank line never comes
  auto r = c.read(true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(c.buffered().empty() && c.closed_by_peer()) << "a body followed: " << c.buffered();
}

TEST_P(TargetRfc, ExpectContinueGets100ThenTheAnswerAndNotOnHttp10) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  {
    client c(t.port());
    auto interim = c.request("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    ASSERT_TRUE(interim);
    EXPECT_EQ(interim->status, 100);
    // RFC 9110 8.6: no Content-Length in a 1xx response.
    EXPECT_EQ(interim->head.find("Content-Length"), std::string::npos) << interim->head;
    auto r = c.request("ping");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ping");
  }
  {
    // RFC 9110 10.1.1: a 100-continue expectation in HTTP/1.0 is ignored (no 1xx to 1.0 clients).
    client c(t.port());
    auto r = c.request("POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nping");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ping");
  }
}

// A chunked body of `size` bytes in chunks of `chunk` bytes.
std::string chunked_echo(std::size_t size, std::size_t chunk) {
  std::string req = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  char hex[32];
  for (std::size_t off = 0; off < size; off += chunk) {
    const std::size_t n = std::min(chunk, size - off);
    std::snprintf(hex, sizeof hex, "%zx\r\n", n);
    req += hex;
    req.append(n, static_cast<char>('a' + (off / chunk) % 26));
    req += "\r\n";
  }
  return req + "0\r\n\r\n";
}

TEST_P(TargetRfc, TheChunkedBodyLimitCountsDecodedBytesNotFraming) {
  // --max-body is 1 MiB: 1,000,000 bytes pass whatever the chunk size; one byte over the limit,
  // in chunks, does not.
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  for (const std::size_t chunk : {std::size_t{8}, std::size_t{4096}}) {
    SCOPED_TRACE(chunk);
    client c(t.port(), 20s);
    auto r = c.request(chunked_echo(1'000'000, chunk));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.size(), 1'000'000u);
  }
  client over(t.port(), 20s);
  ASSERT_TRUE(over.send(chunked_echo((1 << 20) + 1, 8)));
  auto r = over.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(r->close);
  expect_still_serving(t.port());
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetRfc, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

}  // namespace
