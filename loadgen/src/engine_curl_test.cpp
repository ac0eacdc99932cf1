#include "engine_curl.hpp"
#include "verify.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace perflab::loadgen::detail {
namespace {

using namespace std::chrono_literals;

TEST(CurlErrorClass, MapsLibcurlsCodesToTheEnginesClasses) {
  struct row {
    CURLcode code;
    long os_errno;
    bool written;
    err expected;
  };
  const row rows[] = {
      {CURLE_COULDNT_CONNECT, ECONNREFUSED, false, err::connect_refused},
      {CURLE_COULDNT_CONNECT, EADDRNOTAVAIL, false, err::client_resources},
      {CURLE_COULDNT_CONNECT, 0, false, err::connect_other},
      {CURLE_OPERATION_TIMEDOUT, 0, false, err::connect_timeout},  // never connected
      {CURLE_OPERATION_TIMEDOUT, 0, true, err::read_timeout},      // the request was out
      {CURLE_RECV_ERROR, ECONNRESET, true, err::reset},
      {CURLE_SEND_ERROR, EPIPE, true, err::reset},
      {CURLE_RECV_ERROR, 0, true, err::io_other},
      {CURLE_GOT_NOTHING, 0, true, err::closed_mid_response},
      {CURLE_PARTIAL_FILE, 0, true, err::closed_mid_response},
      {CURLE_WEIRD_SERVER_REPLY, 0, true, err::malformed},
      {CURLE_HTTP2_STREAM, 0, true, err::reset},
      {CURLE_PEER_FAILED_VERIFICATION, 0, false, err::tls},
      {CURLE_SSL_CONNECT_ERROR, 0, false, err::tls},
      {CURLE_OUT_OF_MEMORY, 0, false, err::client_resources},
  };
  for (const auto& r : rows)
    EXPECT_EQ(curl_error_class(r.code, r.os_errno, r.written), r.expected) << curl_easy_strerror(r.code);
}

TEST(ChooseEngine, CurlForHttpsAndHttp2AsioOtherwiseAndNoAsioForWhatItCannotSpeak) {
  const auto http = parse_url("http://127.0.0.1:1/");
  const auto https = parse_url("https://127.0.0.1:1/");
  ASSERT_TRUE(http && https);
  run_config cfg;
  EXPECT_EQ(*choose_engine(cfg, *http), "asio");
  EXPECT_EQ(*choose_engine(cfg, *https), "curl");
  cfg.http2 = true;
  EXPECT_EQ(*choose_engine(cfg, *http), "curl");
  cfg.engine = "asio";
  EXPECT_NE(choose_engine(cfg, *http).error().find("http2"), std::string::npos);
  cfg.http2 = false;
  EXPECT_NE(choose_engine(cfg, *https).error().find("https"), std::string::npos);
  cfg.engine = "curl";
  EXPECT_EQ(*choose_engine(cfg, *http), "curl");
  cfg.engine = "wrk";
  EXPECT_NE(choose_engine(cfg, *http).error().find("accepted: asio, curl"), std::string::npos);
}

TEST(CurlRequests, TheMixsRequestsAsLibcurlTakesThem) {
  const auto url = parse_url("https://localhost:8443/base");
  ASSERT_TRUE(url);
  request_spec post;
  post.method = "POST";
  post.path = "/items/{key}";
  post.headers = {{"Content-Type", "application/json"}};
  post.body = "{\"k\":1}";
  auto mix = request_mix::build(*url, {post}, key_distribution{"uniform", 2, 0.99});
  ASSERT_TRUE(mix) << mix.error();
  auto table = curl_requests::build(*mix, *url);
  ASSERT_TRUE(table) << table.error();
  ASSERT_EQ(table->size(), 2u);
  const curl_request& r = (*table)[1];
  EXPECT_EQ(r.url, "https://localhost:8443/base/items/1");  // the URL's path prefixes the request's
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.body, "{\"k\":1}");
  EXPECT_EQ(r.bytes_out, static_cast<std::int64_t>(mix->at(1).bytes.size()));
  std::string fields;
  for (const curl_slist* h = r.headers; h; h = h->next) fields += std::string(h->data) + "|";
  EXPECT_EQ(fields, "Content-Type: application/json|");  // Host and Content-Length are libcurl's
}

TEST(CurlSupport, WhatTheCurlEngineDoesNotDoYetIsRefusedByName) {
  const auto url = parse_url("http://127.0.0.1:1/");
  auto mix = request_mix::build(*url, {}, {});
  ASSERT_TRUE(mix);
  run_config cfg;
  EXPECT_TRUE(check_curl_support(cfg, *mix));
  cfg.verify = true;  // supported since: the body is kept for verify_response
  EXPECT_TRUE(check_curl_support(cfg, *mix));
  cfg.verify = false;
  cfg.retry.max = 2;  // supported since: a transfer waits out its backoff and goes again
  EXPECT_TRUE(check_curl_support(cfg, *mix));
  cfg.retry.max = 0;
  cfg.keepalive = keepalive_policy::max_requests;  // supported since: K requests, then the connection is shut
  cfg.max_requests_per_connection = 10;
  EXPECT_TRUE(check_curl_support(cfg, *mix));
  cfg.http2 = true;  // an HTTP/2 connection's requests are concurrent streams: refused
  EXPECT_NE(check_curl_support(cfg, *mix).error().find("max requests per connection applies to HTTP/1.1"),
            std::string::npos);
}

TEST(CurlRequests, EachUuidIsStampedInPlaceWhereLibcurlSendsIt) {
  const auto url = parse_url("http://127.0.0.1:8080");
  ASSERT_TRUE(url);
  request_spec post;
  post.method = "POST";
  post.path = "/orders/{uuid}";
  post.headers = {{"Idempotency-Key", "{uuid}"}, {"X-Trace", "t-{uuid}"}};
  post.body = R"({"id":"{uuid}"})";
  auto mix = request_mix::build(*url, {post}, {});
  ASSERT_TRUE(mix) << mix.error();
  auto table = curl_requests::build(*mix, *url);
  ASSERT_TRUE(table) << table.error();
  curl_stamped_request own;
  ASSERT_TRUE(table->stamped_copy(mix->at(0), own));
  ASSERT_EQ(own.uuids.size(), 4u);  // path, two fields, body
  rng g(7);
  own.stamp(g);
  const std::string tmpl = "00000000-0000-4000-8000-000000000000";
  ASSERT_EQ(own.req.url.size(), std::string("http://127.0.0.1:8080/orders/").size() + 36);
  const std::string in_url = own.req.url.substr(own.req.url.size() - 36);
  EXPECT_NE(in_url, tmpl);
  EXPECT_EQ(in_url[8], '-');
  EXPECT_EQ(in_url[14], '4');  // version 4
  const std::string key = own.req.headers->data, trace = own.req.headers->next->data;
  EXPECT_EQ(key.substr(0, 17), "Idempotency-Key: ");
  EXPECT_EQ(trace.substr(0, 11), "X-Trace: t-");
  const std::string body_uuid = own.req.body.substr(7, 36);
  EXPECT_EQ(own.req.body.substr(0, 7), R"({"id":")");
  EXPECT_EQ(own.req.body.substr(43), R"("})");
  // Four UUIDs, all distinct, none the template; the shared table keeps the template.
  const std::string all[] = {in_url, key.substr(17), trace.substr(11), body_uuid};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(all[i].size(), 36u);
    EXPECT_NE(all[i], tmpl);
    for (std::size_t j = i + 1; j < 4; ++j) EXPECT_NE(all[i], all[j]);
  }
  EXPECT_EQ((*table)[0].url.substr((*table)[0].url.size() - 36), tmpl);
  own.stamp(g);  // the next logical request: a new one in the same place
  EXPECT_NE(own.req.url.substr(own.req.url.size() - 36), in_url);
}

TEST(CurlRequests, AUuidWhereLibcurlWritesTheFieldItselfIsRefusedBeforeTheRun) {
  const auto url = parse_url("http://127.0.0.1:8080");
  request_spec get;
  get.headers = {{"Connection", "{uuid}"}};  // libcurl writes Connection: the UUID would never go out
  auto mix = request_mix::build(*url, {get}, {});
  ASSERT_TRUE(mix) << mix.error();
  auto table = curl_requests::build(*mix, *url);
  ASSERT_FALSE(table);
  EXPECT_NE(table.error().find("{uuid} may stand only"), std::string::npos) << table.error();
}

TEST(CurlHeaders, XCacheIsTheFirstWordOfTheField) {
  using http::cache_status;
  EXPECT_EQ(x_cache_of("X-Cache: HIT\r\n"), cache_status::hit);
  EXPECT_EQ(x_cache_of("x-cache:miss\r\n"), cache_status::miss);
  EXPECT_EQ(x_cache_of("X-CACHE: STALE\r\n"), cache_status::stale);
  EXPECT_EQ(x_cache_of("X-Cache: HIT from squid.local\r\n"), cache_status::hit);
  EXPECT_EQ(x_cache_of("X-Cache: BYPASS\r\n"), cache_status::other);
  EXPECT_EQ(x_cache_of("X-Cache-Lookup: HIT\r\n"), cache_status::none);  // another field
  EXPECT_EQ(x_cache_of("Content-Type: text/plain\r\n"), cache_status::none);
  EXPECT_EQ(x_cache_of("HTTP/1.1 200 OK\r\n"), cache_status::none);
}

TEST(CurlHeaders, RetryAfterIsDelaySecondsOnly) {
  EXPECT_EQ(retry_after_of("Retry-After: 3\r\n"), 3);
  EXPECT_EQ(retry_after_of("retry-after:120\r\n"), 120);
  EXPECT_EQ(retry_after_of("Retry-After: Wed, 21 Oct 2026 07:28:00 GMT\r\n"), -1);  // an HTTP-date: not read
  EXPECT_EQ(retry_after_of("Retry-After: 1234567890\r\n"), -1);                     // out of range
  EXPECT_EQ(retry_after_of("Retry-After: 5s\r\n"), -1);
  EXPECT_EQ(retry_after_of("X-Retry-After: 3\r\n"), -1);
}

TEST(CurlHeaders, VerifyReadsTheFinalResponseWithoutChunkFraming) {
  std::string raw;
  // libcurl delivers an interim 100, then the final head (chunked) and the body unframed.
  for (const char* line : {"HTTP/1.1 100 Continue\r\n", "\r\n", "HTTP/1.1 200 OK\r\n",
                           "Transfer-Encoding: chunked\r\n", "Content-Type: text/plain\r\n", "\r\n"})
    append_verify_head(raw, line);
  raw += "Hello, World!";
  EXPECT_EQ(raw.find("100 Continue"), std::string::npos);
  EXPECT_EQ(raw.find("chunked"), std::string::npos);
  EXPECT_TRUE(verify_response(raw, 13));
  EXPECT_FALSE(verify_response(raw, 12));  // --verify-length counts the decoded body
  // A body that claims gzip and is not: refused.
  std::string bad;
  for (const char* line : {"HTTP/2 200\r\n", "content-encoding: gzip\r\n", "\r\n"}) append_verify_head(bad, line);
  bad += "not gzip";
  EXPECT_FALSE(verify_response(bad, -1));
}

// A loopback port bound and closed again: nothing listens there, connects are refused.
unsigned short refused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

run_config curl_closed(const std::string& url) {
  run_config cfg;
  cfg.url = url;
  cfg.engine = "curl";
  cfg.kind = "closed";
  cfg.connections = 1;
  cfg.threads = 1;
  cfg.duration = 300ms;
  return cfg;
}

TEST(CurlEngine, ARefusedPortIsCountedAsRefusedConnects) {
  auto v = run_load(curl_closed("http://127.0.0.1:" + std::to_string(refused_port()) + "/"));
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->load.engine, "curl");
  EXPECT_EQ(v->completed, 0);
  // One client, a 10 ms back-off between attempts: a bounded count, all of them refused.
  EXPECT_GE(v->errors.connect_refused, 3);
  EXPECT_LE(v->errors.connect_refused, 60);
  EXPECT_EQ(v->errors.transport(), v->errors.connect_refused);
  EXPECT_DOUBLE_EQ(v->error_rate, 1.0);
}

TEST(CurlEngine, AServerThatNeverAnswersIsAReadTimeoutRecordedAsALowerBound) {
  // The kernel completes the handshake into the backlog and takes the request; nobody answers.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  run_config cfg = curl_closed("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/");
  cfg.request_timeout = 100ms;
  cfg.duration = 250ms;
  auto v = run_load(cfg);
  ::close(fd);
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->completed, 0);
  EXPECT_GE(v->errors.read_timeout, 1);
  EXPECT_EQ(v->errors.transport(), v->errors.read_timeout);
  // Each given-up request is in TTLB at no less than its timeout.
  EXPECT_EQ(v->ttlb.count, v->errors.read_timeout);
  EXPECT_GE(v->ttlb.min_us, 99'000);
}

}  // namespace
}  // namespace perflab::loadgen::detail
