#include <perflab/targets/handlers.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace perflab::targets {
namespace {

struct route_case {
  const char* method;
  const char* path;
  const char* query;
  endpoint ep;
  int status;
  std::uint64_t arg;
};

TEST(HandlersResolve, RoutesEveryEndpointAndRejectsTheRest) {
  const std::vector<route_case> cases = {
      {"GET", "/hello", "", endpoint::hello, 200, 0},
      {"HEAD", "/hello", "", endpoint::hello, 200, 0},
      {"GET", "/bytes/1024", "", endpoint::bytes, 200, 1024},
      {"GET", "/bytes/0", "", endpoint::bytes, 200, 0},
      {"GET", "/bytes/abc", "", endpoint::bytes, 400, 0},
      {"GET", "/bytes/999999999999", "", endpoint::bytes, 400, 0},  // over the cap
      {"GET", "/json", "items=5", endpoint::json, 200, 5},
      {"GET", "/json", "", endpoint::json, 200, 10},                // default
      {"GET", "/json", "x=1&items=7", endpoint::json, 200, 7},
      {"GET", "/json", "items=-1", endpoint::json, 400, 0},
      {"GET", "/cpu", "us=250", endpoint::cpu, 200, 250},
      {"GET", "/cpu", "", endpoint::cpu, 400, 0},
      {"GET", "/sleep", "ms=10", endpoint::sleep, 200, 10},
      {"GET", "/sleep", "ms=ten", endpoint::sleep, 400, 0},
      {"GET", "/health", "", endpoint::health, 200, 0},
      {"GET", "/metrics", "", endpoint::metrics, 200, 0},
      {"POST", "/echo", "", endpoint::echo, 200, 0},
      {"GET", "/echo", "", endpoint::echo, 405, 0},
      {"POST", "/hello", "", endpoint::hello, 405, 0},
      {"DELETE", "/json", "", endpoint::json, 405, 0},
      {"GET", "/nope", "", endpoint::not_found, 404, 0},
      {"GET", "/hello/", "", endpoint::not_found, 404, 0},
      {"BREW", "/hello", "", endpoint::invalid, 501, 0},
      {"CONNECT", "", "", endpoint::invalid, 501, 0},      // we are no proxy
      {"OPTIONS", "*", "", endpoint::options, 200, 0},
      {"OPTIONS", "/hello", "", endpoint::options, 200, 0},
      {"OPTIONS", "/echo", "", endpoint::options, 200, 0},
      {"OPTIONS", "/nope", "", endpoint::not_found, 404, 0},
      {"PUT", "/echo", "", endpoint::echo, 200, 0},
      {"TRACE", "/hello", "", endpoint::hello, 405, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.path + "?" + c.query);
    const auto d = resolve(c.method, c.path, c.query);
    EXPECT_EQ(d.ep, c.ep);
    EXPECT_EQ(d.status, c.status);
    if (c.status == 200) {
      EXPECT_EQ(d.arg, c.arg);
    }
    EXPECT_EQ(d.head, std::string_view(c.method) == "HEAD");
  }
}

TEST(HandlersQuery, FindsParametersByExactName) {
  EXPECT_EQ(query_param("items=5", "items"), "5");
  EXPECT_EQ(query_param("a=1&items=9&b=2", "items"), "9");
  EXPECT_EQ(query_param("itemsx=3", "items"), "");
  EXPECT_EQ(query_param("", "items"), "");
  std::uint64_t v = 0;
  EXPECT_TRUE(parse_u64("18446744073709551615", v));
  EXPECT_FALSE(parse_u64("18446744073709551616", v));
  EXPECT_FALSE(parse_u64("+1", v));
  EXPECT_FALSE(parse_u64("", v));
}

std::string respond(const char* method, const char* path, const char* query, bool keep_alive = true,
                    int minor = 1) {
  request_view req{method, path, query, {}, minor, keep_alive};
  std::string out;
  write_response(resolve(method, path, query), req, keep_alive, {}, out);
  return out;
}

std::string body_of(const std::string& response) {
  auto p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

TEST(HandlersResponse, HelloIsThirteenBytesWithRequiredHeaders) {
  const auto r = respond("GET", "/hello", "");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_NE(r.find("\r\nContent-Length: 13\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\nServer: perflab-lab-target\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\nDate: "), std::string::npos);
  EXPECT_EQ(r.find("Connection:"), std::string::npos);  // 1.1 keep-alive is the default
  EXPECT_EQ(body_of(r), "Hello, World!");
  // The cached and the general path give the same bytes.
  EXPECT_EQ(respond("GET", "/hello", ""), r);
}

TEST(HandlersResponse, HeadHasGetHeadersAndNoBody) {
  const auto get = respond("GET", "/bytes/100", "");
  const auto head = respond("HEAD", "/bytes/100", "");
  EXPECT_EQ(body_of(get).size(), 100u);
  EXPECT_NE(head.find("\r\nContent-Length: 100\r\n"), std::string::npos);
  EXPECT_EQ(body_of(head), "");
  EXPECT_TRUE(head.ends_with("\r\n\r\n"));
}

TEST(HandlersResponse, ConnectionHeaderFollowsVersionAndKeepAlive) {
  EXPECT_NE(respond("GET", "/hello", "", false, 1).find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_NE(respond("GET", "/hello", "", true, 0).find("\r\nConnection: keep-alive\r\n"), std::string::npos);
  EXPECT_NE(respond("GET", "/hello", "", false, 0).find("\r\nConnection: close\r\n"), std::string::npos);
}

TEST(HandlersResponse, ErrorsCarryStatusAndAllow) {
  const auto r405 = respond("POST", "/hello", "");
  EXPECT_TRUE(r405.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_NE(r405.find("\r\nAllow: GET, HEAD, OPTIONS\r\n"), std::string::npos);
  EXPECT_NE(respond("GET", "/echo", "").find("\r\nAllow: POST, PUT, OPTIONS\r\n"), std::string::npos);
  EXPECT_TRUE(respond("GET", "/missing", "").starts_with("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_TRUE(respond("BREW", "/hello", "").starts_with("HTTP/1.1 501 Not Implemented\r\n"));
  std::string out;
  write_error(431, out);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  EXPECT_NE(out.find("\r\nConnection: close\r\n"), std::string::npos);
}

TEST(HandlersResponse, OptionsListsTheMethodsWithNoContent) {
  const auto any = respond("OPTIONS", "*", "");
  EXPECT_TRUE(any.starts_with("HTTP/1.1 200 OK\r\n")) << any;
  EXPECT_NE(any.find("\r\nAllow: GET, HEAD, POST, PUT, DELETE, PURGE, OPTIONS\r\n"), std::string::npos) << any;
  EXPECT_NE(any.find("\r\nContent-Length: 0\r\n"), std::string::npos) << any;
  EXPECT_EQ(any.find("Content-Type"), std::string::npos) << any;
  EXPECT_TRUE(any.ends_with("\r\n\r\n"));
  EXPECT_NE(respond("OPTIONS", "/json", "").find("\r\nAllow: GET, HEAD, OPTIONS\r\n"), std::string::npos);
  EXPECT_NE(respond("OPTIONS", "/echo", "").find("\r\nAllow: POST, PUT, OPTIONS\r\n"), std::string::npos);
}

TEST(HandlersResponse, ErrorsForHeadHaveTheFieldsButNoBodyAndSayWhy) {
  std::string get, head;
  write_error(400, get, false, "obsolete line folding is not accepted");
  write_error(400, head, true, "obsolete line folding is not accepted");
  EXPECT_EQ(body_of(get), "400 Bad Request: obsolete line folding is not accepted\n");
  EXPECT_EQ(body_of(head), "");
  EXPECT_EQ(head, get.substr(0, get.size() - body_of(get).size()));  // same fields, Content-Length included
  EXPECT_EQ(body_of(respond("HEAD", "/nope", "")), "");
  EXPECT_NE(respond("HEAD", "/nope", "").find("\r\nContent-Length: 14\r\n"), std::string::npos);
}

TEST(HandlersResponse, LargeBytesBodiesAreStreamedNotCopied) {
  request_view req{"GET", "/bytes/1000000", "", {}, 1, true};
  std::string out;
  const auto info = write_response(resolve("GET", "/bytes/1000000", ""), req, true, {}, out);
  EXPECT_EQ(info.status, 200);
  EXPECT_EQ(info.stream, 1000000u);
  EXPECT_TRUE(out.ends_with("\r\n\r\n")) << "the body was copied into the response";
  EXPECT_EQ(filler(27, 3), "bcd");
  EXPECT_EQ(filler(0, 1u << 30).size(), filler_slice);
}

TEST(HandlersResponse, JsonIsRecordsWithTheEntropyOfRealDataAndASeed) {
  const auto small = body_of(respond("GET", "/json", "items=1"));
  EXPECT_TRUE(small.starts_with("{\"count\":1,\"items\":[{\"id\":")) << small;
  EXPECT_TRUE(small.ends_with("}]}")) << small;
  const auto big = body_of(respond("GET", "/json", "items=200"));
  EXPECT_EQ(big, body_of(respond("GET", "/json", "items=200&seed=0"))) << "seed 0 is the default";
  EXPECT_EQ(big, body_of(respond("GET", "/json", "items=200"))) << "deterministic";
  EXPECT_NE(big, body_of(respond("GET", "/json", "items=200&seed=7")));
  EXPECT_EQ(respond("GET", "/json", "items=2&seed=x").substr(0, 12), "HTTP/1.1 400");
  EXPECT_EQ(std::count(big.begin(), big.end(), '{'), 201) << "one object per record, one around them";
  // Not one record repeated: the names, e-mails and balances vary, as rows of a real table do.
  std::set<std::string> emails;
  for (std::size_t p = 0; (p = big.find("\"email\":\"", p)) != std::string::npos; ++p)
    emails.insert(big.substr(p, big.find('"', p + 9) - p));
  EXPECT_GT(emails.size(), 150u);
}

TEST(HandlersResponse, MetricsIsPrometheusText) {
  metrics m;
  m.record(endpoint::hello, 200, std::chrono::microseconds(30));
  request_view req{"GET", "/metrics", "", {}, 1, true};
  std::string out;
  write_response(resolve("GET", "/metrics", ""), req, true, {&m, "reactor"}, out);
  EXPECT_NE(out.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(out.find("perflab_target_requests_total{endpoint=\"hello\",status=\"200\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("perflab_target_info{model=\"reactor\"} 1\n"), std::string::npos);
}

TEST(HandlersDate, IsImfFixdate) {
  const auto d = http_date();
  ASSERT_EQ(d.size(), 29u) << d;
  EXPECT_EQ(d.substr(3, 2), ", ");
  EXPECT_TRUE(d.ends_with(" GMT"));
}

}  // namespace
}  // namespace perflab::targets
