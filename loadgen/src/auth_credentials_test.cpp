#include "perflab/loadgen/auth.hpp"

#include <ctime>
#include <filesystem>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <unistd.h>

#include <perflab/auth/jwt.hpp>

#include "perflab/loadgen/request_mix.hpp"
#include "scenario_test_support.hpp"

namespace perflab::loadgen {
namespace {

TEST(AuthCredentials, JwtTokensAreDistinctAndVerifyWithThePublicHalf) {
  const auto dir = std::filesystem::temp_directory_path() / ("perflab-auth-creds-" + std::to_string(::getpid()));
  auth_config c;
  c.scheme = "jwt-eddsa";
  c.key_file = (dir / "k.pem").string();
  c.tokens = 5;
  auto url = parse_url("http://127.0.0.1:1");
  auto creds = make_credentials(c, *url);  // makes the key pair: no target is asked
  ASSERT_TRUE(creds) << creds.error();
  ASSERT_EQ(creds->size(), 5u);
  auto pub = auth::key::load(auth::algorithm::eddsa, c.key_file + ".pub");
  ASSERT_TRUE(pub) << pub.error();
  const auth::verifier v(*pub, {.audience = "perflab"});
  std::set<std::string> seen;
  for (const auto& [name, value] : *creds) {
    EXPECT_EQ(name, "Authorization");
    ASSERT_TRUE(value.starts_with("Bearer "));
    EXPECT_TRUE(v.verify(value.substr(7), std::time(nullptr))) << value;
    seen.insert(value);
  }
  EXPECT_EQ(seen.size(), 5u);
  std::filesystem::remove_all(dir);
}

TEST(AuthCredentials, CheckNamesTheKey) {
  const auto with = [](std::string scheme, std::int64_t tokens = 100, std::string login = "/auth/login") {
    auth_config c;
    c.scheme = std::move(scheme);
    c.tokens = tokens;
    c.login_path = std::move(login);
    return c;
  };
  const std::vector<std::pair<auth_config, std::string>> bad = {
      {with("jwt-hs512"), "scheme:"},
      {with("jwt-hs256"), "key_file:"},
      {with("session", 0), "tokens:"},
      {with("session", 100, "login"), "login_path:"},
  };
  for (const auto& [c, want] : bad) {
    const auto ok = check_auth(c);
    ASSERT_FALSE(ok) << c.scheme;
    EXPECT_TRUE(ok.error().starts_with(want)) << ok.error();
  }
  EXPECT_TRUE(check_auth({}));
}

TEST(RequestMix, RendersEachRequestOncePerCredentialAndDrawsAmongThem) {
  auto url = parse_url("http://h:1");
  request_spec s;
  s.path = "/item/{key}";
  const std::vector<std::pair<std::string, std::string>> creds = {{"Cookie", "sid=a"}, {"Cookie", "sid=b"}};
  auto mix = request_mix::build(*url, {s}, {"uniform", 3, 0}, creds);
  ASSERT_TRUE(mix) << mix.error();
  EXPECT_EQ(mix->size(), 6u);
  EXPECT_EQ(mix->at(5).bytes, "GET /item/2 HTTP/1.1\r\nHost: h:1\r\nCookie: sid=b\r\n\r\n");
  EXPECT_EQ(mix->at(mix->entry_index(0, 1)).bytes, "GET /item/1 HTTP/1.1\r\nHost: h:1\r\nCookie: sid=a\r\n\r\n");
  rng r(7);
  std::set<std::string_view> drawn;
  for (int i = 0; i < 200; ++i) drawn.insert(mix->pick(r).bytes);
  EXPECT_EQ(drawn.size(), 6u);  // every key with every credential
}

TEST(ScenarioAuth, ReadsTheTableAndNamesFileLineColumnOnErrors) {
  const std::string head = "name = \"t\"\n[target]\nmodel = \"reactor\"\n[load]\nrate = 10\n";  // load: lines 4-5
  auto sc = testing::parse(head + "auth = { scheme = \"jwt-rs256\", key_file = \"k.pem\", tokens = 7, ttl = \"2m\" }\n");
  ASSERT_TRUE(sc) << sc.error().to_string();
  const auto& a = sc->variants.at(0).load.auth;
  EXPECT_EQ(a.scheme, "jwt-rs256");
  EXPECT_EQ(a.key_file, "k.pem");
  EXPECT_EQ(a.tokens, 7);
  EXPECT_EQ(a.ttl, std::chrono::minutes(2));
  const std::vector<std::tuple<std::string, std::string, std::string>> bad = {
      {"auth = { scheme = \"jwt-hs512\", key_file = \"k\" }\n", "s.toml:6:19", "load.auth.scheme: expected one of"},
      {"auth = { scheme = \"jwt-hs256\" }\n", "s.toml:6:8", "load.auth.key_file:"},
      {"auth = { scheme = \"session\", tokens = 0 }\n", "s.toml:6:39", "load.auth.tokens"},
      {"auth = { scheme = \"session\", colour = 1 }\n", "s.toml:6:30", "unknown key"},
      {"auth = { tokens = 3 }\n", "s.toml:6:8", "load.auth: expected scheme"},
      {"auth = \"jwt\"\n", "s.toml:6:8", "load.auth: expected a table"},
  };
  for (const auto& [line, where, part] : bad) {
    auto e = testing::parse(head + line);
    ASSERT_FALSE(e) << line;
    EXPECT_EQ(e.error().where, where) << e.error().to_string();
    EXPECT_NE(e.error().message.find(part), std::string::npos) << e.error().to_string();
  }
}

}  // namespace
}  // namespace perflab::loadgen
