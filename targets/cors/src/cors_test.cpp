#include <perflab/cors/cors.hpp>

#include <gtest/gtest.h>

namespace {

using perflab::cors::decide;
using perflab::cors::kind;
using perflab::cors::make_policy;
using perflab::cors::policy;
using perflab::cors::request;

policy make(std::string_view origins, std::string_view headers = perflab::cors::default_headers, std::uint32_t age = 600) {
  auto p = make_policy(origins, headers, age);
  EXPECT_TRUE(p) << p.error();
  return *p;
}

request actual(std::string_view method, std::optional<std::string_view> origin = {},
               std::optional<std::string_view> request_method = {}) {
  return {.method = method, .origin = origin, .request_method = request_method, .request_headers = {}};
}

request preflight(std::string_view origin, std::string_view method, std::optional<std::string_view> headers = {}) {
  return {.method = "OPTIONS", .origin = origin, .request_method = method, .request_headers = headers};
}

TEST(CorsPolicy, ParsesOriginsAndHeaders) {
  const auto p = make("https://app.example, http://localhost:3000", "Content-Type,X-Trace");
  EXPECT_FALSE(p.any_origin);
  ASSERT_EQ(p.origins.size(), 2u);
  EXPECT_EQ(p.origins[1], "http://localhost:3000");
  EXPECT_EQ(p.allow_headers, "content-type, x-trace");
  EXPECT_TRUE(make("*").any_origin);
}

TEST(CorsPolicy, RejectsBadInputNamingTheOption) {
  for (const auto* bad : {"", "app.example", "https://app.example/", "https://*.example", ","}) {
    auto p = make_policy(bad, "", 600);
    ASSERT_FALSE(p) << bad;
    EXPECT_NE(p.error().find("--cors"), std::string::npos) << p.error();
  }
  auto h = make_policy("*", "content type", 600);
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().find("--cors-headers"), std::string::npos);
}

TEST(CorsDecide, AllowedPreflightGetsEveryField) {
  const auto p = make("https://app.example", "content-type,authorization", 600);
  const auto d = decide(p, preflight("https://app.example", "PUT", "Content-Type, Authorization"));
  EXPECT_EQ(d.what, kind::preflight_allowed);
  EXPECT_EQ(d.fields,
            "Access-Control-Allow-Origin: https://app.example\r\n"
            "Access-Control-Allow-Methods: GET, HEAD, POST, PUT, PATCH, DELETE\r\n"
            "Access-Control-Allow-Headers: content-type, authorization\r\n"
            "Access-Control-Max-Age: 600\r\n"
            "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n");
}

TEST(CorsDecide, NoAllowHeadersWhenNoneRequested) {
  const auto d = decide(make("https://app.example"), preflight("https://app.example", "DELETE"));
  EXPECT_EQ(d.what, kind::preflight_allowed);
  EXPECT_EQ(d.fields.find("Access-Control-Allow-Headers"), std::string::npos);
  EXPECT_NE(d.fields.find("Access-Control-Max-Age: 600\r\n"), std::string::npos);
}

TEST(CorsDecide, WildcardAnswersStar) {
  const auto p = make("*", "content-type", 30);
  const auto d = decide(p, preflight("https://anyone.example", "PATCH", "content-type"));
  EXPECT_EQ(d.what, kind::preflight_allowed);
  EXPECT_NE(d.fields.find("Access-Control-Allow-Origin: *\r\n"), std::string::npos);
  EXPECT_NE(d.fields.find("Access-Control-Max-Age: 30\r\n"), std::string::npos);
  const auto a = decide(p, actual("GET", "https://anyone.example"));
  EXPECT_EQ(a.what, kind::actual_allowed);
  EXPECT_EQ(a.fields, "Access-Control-Allow-Origin: *\r\n");  // the same for every origin: no Vary
}

TEST(CorsDecide, RefusedPreflightsCarryNoField) {
  const auto p = make("https://app.example", "content-type");
  // origin (exact, case-sensitive), method, header
  for (const auto& r : {preflight("https://evil.example", "PUT"), preflight("https://APP.example", "PUT"),
                        preflight("https://app.example", "TRACE"), preflight("https://app.example", "put"),
                        preflight("https://app.example", "PUT", "content-type, x-secret")}) {
    const auto d = decide(p, r);
    EXPECT_EQ(d.what, kind::preflight_refused) << *r.origin << " " << *r.request_method;
    EXPECT_TRUE(d.fields.empty());
  }
}

TEST(CorsDecide, HeaderNamesAreCaseInsensitive) {
  const auto p = make("https://app.example", "Content-Type,IDEMPOTENCY-KEY");
  EXPECT_EQ(decide(p, preflight("https://app.example", "POST", "content-type,idempotency-key")).what,
            kind::preflight_allowed);
  EXPECT_EQ(decide(p, preflight("https://app.example", "POST", " CONTENT-TYPE ,\tIdempotency-Key")).what,
            kind::preflight_allowed);
}

TEST(CorsDecide, ActualRequests) {
  const auto p = make("https://app.example,https://other.example");
  const auto ok = decide(p, actual("PUT", "https://other.example"));
  EXPECT_EQ(ok.what, kind::actual_allowed);
  EXPECT_EQ(ok.fields, "Access-Control-Allow-Origin: https://other.example\r\nVary: Origin\r\n");
  const auto no = decide(p, actual("GET", "https://evil.example"));
  EXPECT_EQ(no.what, kind::actual_refused);
  EXPECT_TRUE(no.fields.empty());
  EXPECT_EQ(decide(p, actual("GET")).what, kind::none);  // no Origin: not CORS
}

TEST(CorsDecide, OptionsWithoutRequestMethodIsNoPreflight) {
  const auto p = make("https://app.example");
  // Routed normally (the resource's own OPTIONS answer), with the actual request's field.
  EXPECT_EQ(decide(p, actual("OPTIONS", "https://app.example")).what, kind::actual_allowed);
  EXPECT_EQ(decide(p, actual("OPTIONS")).what, kind::none);
  EXPECT_EQ(decide(p, actual("OPTIONS", {}, "PUT")).what, kind::none);  // no Origin
}

TEST(CorsStats, CountsAndExposes) {
  perflab::cors::stats s;
  s.count(kind::preflight_allowed);
  s.count(kind::preflight_allowed);
  s.count(kind::preflight_refused);
  s.count(kind::actual_allowed);
  s.count(kind::none);
  std::string out;
  s.write_prometheus(out);
  EXPECT_NE(out.find("perflab_cors_preflights_total{result=\"allowed\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("perflab_cors_preflights_total{result=\"refused\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("perflab_cors_requests_total{result=\"allowed\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("perflab_cors_requests_total{result=\"refused\"} 0\n"), std::string::npos);
}

}  // namespace
