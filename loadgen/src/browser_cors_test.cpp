#include "perflab/loadgen/browser_cors.hpp"

#include <gtest/gtest.h>

namespace {

namespace bc = perflab::loadgen::browser_cors;

constexpr std::string_view put_json =
    "PUT /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
    "Authorization: Bearer x\r\nContent-Length: 2\r\n\r\n{}";

TEST(BrowserCors, SimpleRequestsNeedNoPreflight) {
  EXPECT_FALSE(bc::needs_preflight("GET /hello HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n"));
  EXPECT_FALSE(bc::needs_preflight("HEAD /hello HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_FALSE(bc::needs_preflight(
      "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 1\r\n\r\nx"));
  EXPECT_FALSE(bc::needs_preflight(
      "POST /echo HTTP/1.1\r\nHost: h\r\ncontent-type: Application/X-WWW-Form-Urlencoded\r\n\r\n"));
}

TEST(BrowserCors, NonSimpleMethodHeaderOrContentTypeNeedsOne) {
  EXPECT_TRUE(bc::needs_preflight("PUT /echo HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_TRUE(bc::needs_preflight("DELETE /cache/1 HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_TRUE(bc::needs_preflight("GET /hello HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\n\r\n"));
  EXPECT_TRUE(bc::needs_preflight("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n\r\n{}"));
}

TEST(BrowserCors, UnsafeHeadersAreLowerCaseSortedAndSkipBrowserFields) {
  const auto h = bc::unsafe_headers(put_json);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0], "authorization");
  EXPECT_EQ(h[1], "content-type");
}

TEST(BrowserCors, RendersOriginAndPreflight) {
  EXPECT_EQ(bc::with_origin("GET / HTTP/1.1\r\nHost: h\r\n\r\n", "https://app.example"),
            "GET / HTTP/1.1\r\nOrigin: https://app.example\r\nHost: h\r\n\r\n");
  EXPECT_EQ(bc::preflight(put_json, "https://app.example"),
            "OPTIONS /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nOrigin: https://app.example\r\n"
            "Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: authorization,content-type\r\n\r\n");
  EXPECT_EQ(bc::preflight("DELETE /cache/1 HTTP/1.1\r\nHost: h\r\n\r\n", "https://a.example"),
            "OPTIONS /cache/1 HTTP/1.1\r\nHost: h\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: DELETE\r\n\r\n");
}

TEST(BrowserCors, MaxAgeDefaultsAndCap) {
  EXPECT_EQ(bc::effective_max_age(std::nullopt), std::chrono::seconds(5));
  EXPECT_EQ(bc::effective_max_age(-1), std::chrono::seconds(5));
  EXPECT_EQ(bc::effective_max_age(0), std::chrono::seconds(0));
  EXPECT_EQ(bc::effective_max_age(600), std::chrono::seconds(600));
  EXPECT_EQ(bc::effective_max_age(86400), std::chrono::seconds(7200));
}

TEST(BrowserCors, CacheHoldsAnEntryForItsMaxAgePerRequest) {
  constexpr std::int64_t s = 1'000'000'000;
  bc::cache c(3, true);
  EXPECT_FALSE(c.fresh(1, 0));
  c.store(1, 10 * s, 2);
  EXPECT_TRUE(c.fresh(1, 11 * s));
  EXPECT_FALSE(c.fresh(1, 12 * s));  // expired at exactly max-age
  EXPECT_FALSE(c.fresh(0, 11 * s));  // another request of the mix has its own entry
  c.store(2, 0, std::nullopt);
  EXPECT_TRUE(c.fresh(2, 4 * s));
  EXPECT_FALSE(c.fresh(2, 5 * s));
  c.store(0, 0, 0);  // max-age 0: not cached
  EXPECT_FALSE(c.fresh(0, 0));
  bc::cache off(3, false);  // preflight_cache = false
  off.store(1, 0, 600);
  EXPECT_FALSE(off.fresh(1, 1));
}

}  // namespace
