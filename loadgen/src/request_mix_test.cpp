#include "perflab/loadgen/request_mix.hpp"

#include <map>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace perflab::loadgen {
namespace {

TEST(ParseUrl, AcceptsHostPortAndPath) {
  struct row {
    const char* url;
    bool ok;
    const char* host;
    const char* port;
    const char* path;
  };
  const row rows[] = {
      {"http://127.0.0.1:8080", true, "127.0.0.1", "8080", "/"},
      {"http://127.0.0.1:8080/json?items=5", true, "127.0.0.1", "8080", "/json?items=5"},
      {"http://localhost/", true, "localhost", "80", "/"},
      {"http://[::1]:9000/x", true, "::1", "9000", "/x"},
      {"http://h:8080?x=1", true, "h", "8080", "/?x=1"},
      {"https://h/", true, "h", "443", "/"},
      {"https://h:8443/x", true, "h", "8443", "/x"},
      {"ftp://h/", false, "", "", ""},
      {"127.0.0.1:8080", false, "", "", ""},
      {"http://:8080/", false, "", "", ""},
      {"http://h:0/", false, "", "", ""},
      {"http://h:99999/", false, "", "", ""},
      {"http://h:80a/", false, "", "", ""},
  };
  for (const auto& r : rows) {
    auto u = parse_url(r.url);
    ASSERT_EQ(u.has_value(), r.ok) << r.url;
    if (!r.ok) {
      EXPECT_NE(u.error().find(r.url), std::string::npos) << u.error();
      continue;
    }
    EXPECT_EQ(u->host, r.host);
    EXPECT_EQ(u->port, r.port);
    EXPECT_EQ(u->path, r.path);
  }
}

TEST(RequestMix, RendersDefaultGetWithHostHeader) {
  auto url = parse_url("http://127.0.0.1:8080/hello");
  ASSERT_TRUE(url);
  auto mix = request_mix::build(*url, {}, {});
  ASSERT_TRUE(mix) << mix.error();
  rng r(1);
  EXPECT_EQ(mix->pick(r).bytes, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
}

TEST(RequestMix, RendersBodyHeadersAndContentLength) {
  auto url = parse_url("http://h:1/api");
  request_spec s;
  s.method = "POST";
  s.path = "/items";
  s.headers = {{"Content-Type", "application/json"}};
  s.body = "{\"a\":1}";
  auto mix = request_mix::build(*url, {s}, {});
  ASSERT_TRUE(mix) << mix.error();
  rng r(1);
  EXPECT_EQ(mix->pick(r).bytes,
            "POST /api/items HTTP/1.1\r\nHost: h:1\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
            "{\"a\":1}");
}

TEST(RequestMix, PreRendersOneBufferPerKey) {
  auto url = parse_url("http://h:1");
  request_spec s;
  s.path = "/item/{key}";
  s.headers = {{"X-Key", "k{key}"}};
  auto mix = request_mix::build(*url, {s}, {"uniform", 3, 0});
  ASSERT_TRUE(mix) << mix.error();
  EXPECT_EQ(mix->size(), 3u);
  EXPECT_EQ(mix->at(2).bytes, "GET /item/2 HTTP/1.1\r\nHost: h:1\r\nX-Key: k2\r\n\r\n");
}

TEST(RequestMix, KeyWithoutKeysIsAnError) {
  auto url = parse_url("http://h:1");
  request_spec s;
  s.path = "/item/{key}";
  auto mix = request_mix::build(*url, {s}, {});
  ASSERT_FALSE(mix);
  EXPECT_NE(mix.error().find("{key}"), std::string::npos);
}

TEST(RequestMix, BadWeightIsAnError) {
  auto url = parse_url("http://h:1");
  request_spec s;
  s.weight = 0;
  EXPECT_FALSE(request_mix::build(*url, {s}, {}));
}

TEST(RequestMix, WeightsSetTheMix) {
  auto url = parse_url("http://h:1");
  request_spec a, b;
  a.path = "/a";
  a.weight = 3;
  b.path = "/b";
  b.weight = 1;
  auto mix = request_mix::build(*url, {a, b}, {});
  ASSERT_TRUE(mix);
  rng r(5);
  int count_a = 0;
  for (int i = 0; i < 40000; ++i) count_a += mix->pick(r).bytes.substr(0, 6) == "GET /a";
  EXPECT_NEAR(count_a, 30000, 500);
}

TEST(RequestMix, ZipfFavoursLowKeys) {
  auto url = parse_url("http://h:1");
  request_spec s;
  s.path = "/{key}";
  auto mix = request_mix::build(*url, {s}, {"zipf", 1000, 1.0});
  ASSERT_TRUE(mix);
  rng r(9);
  std::map<std::uint64_t, int> hits;
  const int n = 200000;
  for (int i = 0; i < n; ++i) ++hits[mix->pick_key(r)];
  // P(key 0) = 1 / H(1000) = 0.1336; P(key 1) is half of that.
  EXPECT_NEAR(hits[0] / double(n), 0.1336, 0.005);
  EXPECT_NEAR(hits[1] / double(n), 0.0668, 0.004);
  for (auto& [k, c] : hits) EXPECT_LT(k, 1000u);
}

TEST(RequestMix, HeadRequestsExpectNoBody) {
  auto url = parse_url("http://h:1");
  request_spec s;
  s.method = "HEAD";
  auto mix = request_mix::build(*url, {s}, {});
  ASSERT_TRUE(mix);
  rng r(1);
  EXPECT_TRUE(mix->pick(r).head);
}

TEST(RequestMix, IdempotentMethodsMayBeResent) {
  // RFC 9110 9.2.2; the engine resends only these after a stale keep-alive connection.
  struct row {
    const char* method;
    bool idempotent;
  };
  const row rows[] = {{"GET", true},   {"HEAD", true},     {"PUT", true},    {"DELETE", true},
                      {"OPTIONS", true}, {"TRACE", true},  {"POST", false},  {"PATCH", false},
                      {"CONNECT", false}, {"get", false},  {"PURGE", false}};
  auto url = parse_url("http://h:1");
  for (const auto& r : rows) {
    request_spec s;
    s.method = r.method;
    auto mix = request_mix::build(*url, {s}, {});
    ASSERT_TRUE(mix) << r.method;
    rng g(1);
    EXPECT_EQ(mix->pick(g).idempotent, r.idempotent) << r.method;
    EXPECT_EQ(is_idempotent_method(r.method), r.idempotent) << r.method;
  }
}

TEST(RequestMixUuid, EachStampIsAFreshVersion4UuidInPlaceOfThePlaceholder) {
  auto url = parse_url("http://127.0.0.1:8080");
  ASSERT_TRUE(url);
  request_spec s;
  s.method = "POST";
  s.path = "/orders";
  s.headers = {{"Idempotency-Key", "{uuid}"}};
  s.body = R"({"ref":"{uuid}"})";
  auto mix = request_mix::build(*url, {s}, {});
  ASSERT_TRUE(mix) << mix.error();
  rng g(1);
  auto r = mix->pick(g);
  ASSERT_EQ(r.uuids.size(), 2u);
  EXPECT_TRUE(r.idempotent) << "a POST with an Idempotency-Key is safe to resend";
  // The body's length counts the 36-byte UUID, not the 6-byte placeholder.
  EXPECT_NE(r.bytes.find("Content-Length: 46\r\n"), std::string_view::npos) << r.bytes;
  EXPECT_EQ(mix->max_uuid_request_bytes(), r.bytes.size());
  std::string buf;
  buf.reserve(mix->max_uuid_request_bytes());
  const char* storage = buf.data();
  std::set<std::string> seen;
  const std::regex v4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (int i = 0; i < 100; ++i) {
    auto req = mix->pick(g);
    stamp_uuids(req, buf, g);
    EXPECT_EQ(buf.data(), storage) << "stamped in the reserved buffer, no allocation";
    EXPECT_EQ(req.bytes.data(), buf.data());
    const std::string key(req.bytes.substr(req.uuids[0], 36)), ref(req.bytes.substr(req.uuids[1], 36));
    EXPECT_TRUE(std::regex_match(key, v4)) << key;
    EXPECT_NE(key, ref) << "each placeholder gets its own";
    EXPECT_TRUE(seen.insert(key).second) << "a fresh key per logical request";
    EXPECT_NE(req.bytes.find("Idempotency-Key: " + key + "\r\n"), std::string_view::npos) << req.bytes;
  }
  // Without `{uuid}`: nothing to stamp, the shared bytes are sent as they are.
  auto plain = request_mix::build(*url, {}, {});
  ASSERT_TRUE(plain);
  auto p = plain->pick(g);
  const auto before = p.bytes.data();
  stamp_uuids(p, buf, g);
  EXPECT_EQ(p.bytes.data(), before);
  EXPECT_EQ(plain->max_uuid_request_bytes(), 0u);
  EXPECT_FALSE(p.uuids.size());
}

}  // namespace
}  // namespace perflab::loadgen
