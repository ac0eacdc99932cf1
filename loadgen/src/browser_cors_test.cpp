#include "perflab/loadgen/browser_cors.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "perflab/loadgen/request_mix.hpp"

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

TEST(BrowserCors, CacheClearIsANewBrowser) {
  bc::cache c(2, true);
  c.store(0, 0, 600);
  ASSERT_TRUE(c.fresh(0, 1));
  c.clear();
  EXPECT_FALSE(c.fresh(0, 1));
}

TEST(BrowserCors, OriginsAreSchemeHostAndPortOnly) {
  struct row {
    std::string_view origin;
    bool ok;
  };
  for (const auto& [origin, ok] : std::vector<row>{{"https://app.example", true},
                                                   {"http://localhost:3000", true},
                                                   {"http://127.0.0.1", true},
                                                   {"http://[::1]:8080", true},
                                                   {"app.example", false},
                                                   {"ftp://app.example", false},
                                                   {"https://", false},
                                                   {"https://app.example/", false},
                                                   {"https://app.example/page", false},
                                                   {"https://app.example:99999", false},
                                                   {"https://app.example:", false},
                                                   {"https://a.example, https://b.example", false}}) {
    SCOPED_TRACE(origin);
    const auto error = bc::origin_error(origin);
    EXPECT_EQ(!error.has_value(), ok) << error.value_or("");
    if (error) {
      EXPECT_NE(error->find("expected an origin"), std::string::npos);
    }
  }
}

// A preflight answer as the target writes it (204 and its fields), varied one field at a time.
std::string answer(std::string_view status_line, std::string_view fields) {
  return std::string(status_line) + "\r\nServer: t\r\n" + std::string(fields) + "\r\n";
}

TEST(BrowserCors, JudgesAPreflightAnswerAsFetchDoes) {
  const std::vector<std::string> asked = {"authorization", "content-type"};
  const std::string_view origin = "https://app.example";
  const std::string allow_all =
      "Access-Control-Allow-Origin: https://app.example\r\nAccess-Control-Allow-Methods: GET, PUT\r\n"
      "Access-Control-Allow-Headers: Content-Type, Authorization\r\nAccess-Control-Max-Age: 600\r\n";
  struct row {
    const char* what;
    int status;
    std::string fields;
    std::string_view method;
    bool allowed;
  };
  const std::vector<row> rows = {
      {"all allowed", 204, allow_all, "PUT", true},
      {"a 403 with the same fields", 403, allow_all, "PUT", false},
      {"no Access-Control-Allow-Origin", 204,
       "Access-Control-Allow-Methods: PUT\r\nAccess-Control-Allow-Headers: authorization, content-type\r\n", "PUT", false},
      {"another origin", 204,
       "Access-Control-Allow-Origin: https://other.example\r\nAccess-Control-Allow-Methods: PUT\r\n"
       "Access-Control-Allow-Headers: authorization, content-type\r\n",
       "PUT", false},
      {"two Access-Control-Allow-Origin fields", 204,
       "Access-Control-Allow-Origin: https://app.example\r\nAccess-Control-Allow-Origin: *\r\n"
       "Access-Control-Allow-Methods: PUT\r\nAccess-Control-Allow-Headers: authorization, content-type\r\n",
       "PUT", false},
      {"origin * and method *", 200,
       "access-control-allow-origin: *\r\naccess-control-allow-methods: *\r\n"
       "access-control-allow-headers: authorization,content-type\r\n",
       "DELETE", true},
      {"method not listed", 204,
       "Access-Control-Allow-Origin: https://app.example\r\nAccess-Control-Allow-Methods: GET, POST\r\n"
       "Access-Control-Allow-Headers: authorization, content-type\r\n",
       "PUT", false},
      {"methods are case-sensitive", 204,
       "Access-Control-Allow-Origin: https://app.example\r\nAccess-Control-Allow-Methods: put\r\n"
       "Access-Control-Allow-Headers: authorization, content-type\r\n",
       "PUT", false},
      {"POST needs no listing", 204,
       "Access-Control-Allow-Origin: https://app.example\r\nAccess-Control-Allow-Headers: authorization, content-type\r\n",
       "POST", true},
      {"a header not listed", 204,
       "Access-Control-Allow-Origin: https://app.example\r\nAccess-Control-Allow-Methods: PUT\r\n"
       "Access-Control-Allow-Headers: content-type\r\n",
       "PUT", false},
      {"headers listed over two fields", 204,
       "Access-Control-Allow-Origin: https://app.example\r\nAccess-Control-Allow-Methods: PUT\r\n"
       "Access-Control-Allow-Headers: content-type\r\nAccess-Control-Allow-Headers: AUTHORIZATION\r\n",
       "PUT", true},
      {"* does not cover Authorization", 204,
       "Access-Control-Allow-Origin: https://app.example\r\nAccess-Control-Allow-Methods: PUT\r\n"
       "Access-Control-Allow-Headers: *\r\n",
       "PUT", false},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.what);
    const auto v = bc::judge_preflight(answer(r.status == 204 ? "HTTP/1.1 204 No Content" : "HTTP/1.1 200 OK", r.fields),
                                       r.status, origin, r.method, asked);
    EXPECT_EQ(v.allowed, r.allowed);
  }
  // "*" covers a header other than Authorization.
  EXPECT_TRUE(bc::judge_preflight(answer("HTTP/1.1 204 No Content",
                                         "Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: PUT\r\n"
                                         "Access-Control-Allow-Headers: *\r\n"),
                                  204, origin, "PUT", {"content-type", "x-trace"})
                  .allowed);
}

TEST(BrowserCors, ReadsMaxAgeOnlyWhenItIsANumber) {
  const std::string_view o = "https://app.example";
  const auto max_age = [&](std::string_view field) {
    return bc::judge_preflight(answer("HTTP/1.1 204 No Content", std::string("Access-Control-Allow-Origin: *\r\n") +
                                                                     std::string(field)),
                               204, o, "POST", {})
        .max_age_s;
  };
  EXPECT_EQ(max_age("Access-Control-Max-Age: 600\r\n"), 600);
  EXPECT_EQ(max_age("access-control-max-age:0\r\n"), 0);
  EXPECT_EQ(max_age(""), std::nullopt);
  EXPECT_EQ(max_age("Access-Control-Max-Age: ten\r\n"), std::nullopt);
  EXPECT_EQ(max_age("Access-Control-Max-Age: 60s\r\n"), std::nullopt);
}

TEST(BrowserCors, PlanRendersAPreflightForEachNonSimpleBufferOnly) {
  namespace lg = perflab::loadgen;
  auto url = lg::parse_url("http://127.0.0.1:8080");
  ASSERT_TRUE(url);
  lg::request_spec get;
  get.path = "/hello";
  get.headers = {{"Origin", "https://app.example"}};
  lg::request_spec put;
  put.method = "PUT";
  put.path = "/echo";
  put.headers = {{"Content-Type", "application/json"}, {"Origin", "https://app.example"}};
  put.body = "{}";
  auto mix = lg::request_mix::build(*url, {get, put}, {});
  ASSERT_TRUE(mix) << mix.error();
  const auto plan = bc::plan::build(*mix, {"https://app.example", true});
  ASSERT_EQ(plan.entries.size(), 2u);
  EXPECT_TRUE(plan.entries[0].preflight.empty());
  EXPECT_EQ(plan.entries[0].method, "GET");
  EXPECT_EQ(plan.entries[1].method, "PUT");
  EXPECT_EQ(plan.entries[1].request_headers, std::vector<std::string>{"content-type"});
  EXPECT_EQ(plan.entries[1].preflight,
            "OPTIONS /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nOrigin: https://app.example\r\n"
            "Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: content-type\r\n\r\n");
}

}  // namespace
