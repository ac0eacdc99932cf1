// lab-target --cors over real sockets, on every model (the decision is in the shared session
// code): a preflight is answered 204 with the Fetch standard's fields, checked one by one; a
// disallowed origin, method or header gets 403 with no CORS field; an actual request from an
// allowed origin gets Access-Control-Allow-Origin (and Vary: Origin), from another origin none;
// an OPTIONS without Access-Control-Request-Method is the resource's own answer; the
// perflab_cors_* counters in /metrics count each kind.
#include <gtest/gtest.h>

#include <string>

#include "target_harness.hpp"

namespace {

using namespace perflab::testing;

class TargetCors : public model_test {};

std::vector<std::string> cors_args(const std::string& model) {
  return model_args(model, {"--cors", "https://app.example,https://b.example", "--cors-max-age", "42"});
}

std::string preflight(std::string_view origin, std::string_view method, std::string_view headers = {}) {
  std::string fields = "Origin: " + std::string(origin) + "\r\nAccess-Control-Request-Method: " + std::string(method) + "\r\n";
  if (!headers.empty()) fields += "Access-Control-Request-Headers: " + std::string(headers) + "\r\n";
  return get("/echo", fields, "OPTIONS");
}

// No field of the CORS protocol at all.
void expect_no_cors_field(const response& r) {
  EXPECT_EQ(r.head.find("Access-Control-"), std::string::npos) << r.head;
  EXPECT_EQ(r.head.find("Vary: Origin"), std::string::npos) << r.head;
}

TEST_P(TargetCors, AllowedPreflightGets204WithEveryField) {
  target_process t(cors_args(GetParam()));
  client c(t.port());
  auto r = c.request(preflight("https://b.example", "PUT", "Content-Type, Idempotency-Key"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(field(*r, "Access-Control-Allow-Origin"), "https://b.example");
  EXPECT_EQ(field(*r, "Access-Control-Allow-Methods"), "GET, HEAD, POST, PUT, PATCH, DELETE");
  EXPECT_EQ(field(*r, "Access-Control-Allow-Headers"), "content-type, authorization, idempotency-key");
  EXPECT_EQ(field(*r, "Access-Control-Max-Age"), "42");
  EXPECT_EQ(field(*r, "Vary"), "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  EXPECT_EQ(field(*r, "Content-Length"), "");  // a 204 has none
  // The connection goes on: the actual request follows on it.
  r = c.request(get("/hello", "Origin: https://b.example\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Hello, World!");
  EXPECT_EQ(field(*r, "Access-Control-Allow-Origin"), "https://b.example");
  EXPECT_EQ(field(*r, "Vary"), "Origin");
  // No headers asked: no Access-Control-Allow-Headers.
  r = c.request(preflight("https://app.example", "DELETE"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->head.find("Access-Control-Allow-Headers"), std::string::npos);
}

TEST_P(TargetCors, DisallowedOriginMethodOrHeaderGetsNoCorsField) {
  target_process t(cors_args(GetParam()));
  client c(t.port());
  for (const auto& raw : {preflight("https://evil.example", "PUT"), preflight("https://app.example", "TRACE"),
                          preflight("https://app.example", "PUT", "content-type, x-secret")}) {
    auto r = c.request(raw);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    expect_no_cors_field(*r);
  }
  auto r = c.request(get("/hello", "Origin: https://evil.example\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);  // CORS is the browser's to enforce: answered, without the field
  expect_no_cors_field(*r);
  // An OPTIONS that is no preflight is the resource's own answer.
  r = c.request(get("/echo", "Origin: https://app.example\r\n", "OPTIONS"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(field(*r, "Allow"), "");
  EXPECT_EQ(field(*r, "Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(counter(t.port(), "perflab_cors_preflights_total{result=\"refused\"}"), 3);
  EXPECT_EQ(counter(t.port(), "perflab_cors_preflights_total{result=\"allowed\"}"), 0);
  EXPECT_EQ(counter(t.port(), "perflab_cors_requests_total{result=\"refused\"}"), 1);
  EXPECT_EQ(counter(t.port(), "perflab_cors_requests_total{result=\"allowed\"}"), 1);
}

TEST_P(TargetCors, WildcardAnswersStar) {
  target_process t(model_args(GetParam(), {"--cors", "*"}));
  client c(t.port());
  auto r = c.request(preflight("https://anyone.example", "PATCH", "authorization"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(field(*r, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(field(*r, "Access-Control-Max-Age"), "600");  // the default
  r = c.request(get("/hello", "Origin: https://anyone.example\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(field(*r, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(r->head.find("Vary: Origin"), std::string::npos);
  // Without --cors nothing changes: a preflight is the resource's OPTIONS answer.
  target_process plain(model_args(GetParam()));
  client p(plain.port());
  r = p.request(preflight("https://app.example", "PUT"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  expect_no_cors_field(*r);
}

TEST(TargetCorsOptions, BadOriginsExitWithUsage) {
  const auto r = run_command(std::string(PERFLAB_LAB_TARGET) + " --model reactor --cors app.example 2>&1");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--cors: expected"), std::string::npos) << r.out;
}

// A few models are enough here: the CORS code is the shared session's; both families (threads
// and event loops) are covered.
INSTANTIATE_TEST_SUITE_P(Models, TargetCors, ::testing::Values("thread-pool", "reactor", "coroutine"),
                         [](const auto& p) { return model_test_name(p.param); });

}  // namespace
