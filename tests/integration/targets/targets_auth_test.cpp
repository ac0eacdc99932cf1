// --auth (docs/targets.md, Authentication): lab-target with each scheme accepts the loadgen's
// credentials (every request answered 200, counted as accepted) and refuses bad ones with 401,
// WWW-Authenticate (RFC 6750) and a counter per reason, on every model; session-redis answers a
// missing session 401 and a stopped or hung Redis 503 within --auth-redis-timeout.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include <perflab/auth/jwt.hpp>

#include "target_harness.hpp"

// A named namespace, not an anonymous one: the ci preset's unity build joins this file with its
// neighbours (targets_redis_test.cpp has its own source_dir and Redis helper).
namespace targets_auth_test {

using namespace std::chrono_literals;
using namespace perflab::testing;
namespace auth = perflab::auth;

const std::string source_dir = PERFLAB_SOURCE_DIR;

// Throwaway keys for this process: <dir>/<alg>.key (signing) and <dir>/<alg>.key.pub (verifying).
std::filesystem::path key_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("perflab-auth-test-" + std::to_string(::getpid()));
    for (const auto a : {auth::algorithm::hs256, auth::algorithm::rs256, auth::algorithm::eddsa}) {
      const auto name = std::string(auth::jose_name(a));
      if (!auth::write_key_pair(a, d / (name + ".key"), d / (name + ".key.pub"))) std::abort();
    }
    std::atexit([] { std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("perflab-auth-test-" + std::to_string(::getpid()))); });
    return d;
  }();
  return dir;
}
std::string signing_key(auth::algorithm a) { return (key_dir() / (std::string(auth::jose_name(a)) + ".key")).string(); }
std::string verifying_key(auth::algorithm a) { return signing_key(a) + ".pub"; }

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string token(auth::algorithm a, auth::claims c) {
  auto k = auth::key::load(a, signing_key(a));
  EXPECT_TRUE(k) << k.error();
  auto t = auth::sign(*k, c);
  EXPECT_TRUE(t) << t.error();
  return *t;
}
auth::claims valid_claims() {
  auth::claims c;
  c.sub = "tester";
  c.aud = "perflab";
  c.iat = now_s();
  c.exp = now_s() + 600;
  return c;
}

response ask(int port, const std::string& fields) {
  client c(port);
  auto r = c.request(get("/hello", fields));
  EXPECT_TRUE(r);
  return r ? *r : response{};
}

// The loadgen with credentials of `scheme` against the target: its exit code (0: no errors).
int loadgen_run(int port, const std::string& scheme, const std::string& key = {}) {
  std::string cmd = std::string(PERFLAB_LOADGEN_BIN) + " attack http://127.0.0.1:" + std::to_string(port) +
                    "/hello -c 4 -n 200 --auth " + scheme + " --auth-tokens 20";
  if (!key.empty()) cmd += " --auth-key " + key;
  cmd += " >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

const char* rejected(const char* reason) {
  static std::string s;
  s = std::string("perflab_auth_rejected_total{reason=\"") + reason + "\"}";
  return s.c_str();
}

class TargetAuth : public model_test {};

TEST_P(TargetAuth, JwtAcceptsValidTokensAndRefusesEachBadOneWithItsReason) {
  const auto a = auth::algorithm::eddsa;
  target_process t(model_args(GetParam(), {"--auth", "jwt-eddsa", "--auth-key", verifying_key(a)}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const auto good = token(a, valid_claims());
  EXPECT_EQ(ask(t.port(), "Authorization: Bearer " + good + "\r\n").status, 200);
  EXPECT_EQ(ask(t.port(), "authorization: bearer " + good + "\r\n").status, 200);  // names and scheme in any case

  const auto missing = ask(t.port(), "");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(field(missing, "WWW-Authenticate"), "Bearer realm=\"perflab\"");
  auto expired = valid_claims();
  expired.exp = now_s() - 120;
  auto wrong_aud = valid_claims();
  wrong_aud.aud = "someone-else";
  std::string tampered = good;
  tampered[tampered.rfind('.') + 1] = tampered[tampered.rfind('.') + 1] == 'A' ? 'B' : 'A';
  const std::string alg_none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiYXVkIjoicGVyZmxhYiIsImV4cCI6OTk5OTk5OTk5OX0.";
  const std::vector<std::pair<std::string, const char*>> bad = {
      {token(a, expired), "expired"},
      {token(a, wrong_aud), "wrong_audience"},
      {tampered, "bad_signature"},
      {token(auth::algorithm::hs256, valid_claims()), "wrong_alg"},
      {alg_none, "wrong_alg"},
      {"not-a-token", "malformed"},
  };
  for (const auto& [tok, reason] : bad) {
    SCOPED_TRACE(reason);
    const auto r = ask(t.port(), "Authorization: Bearer " + tok + "\r\n");
    EXPECT_EQ(r.status, 401);
    const auto www = field(r, "WWW-Authenticate");
    EXPECT_NE(www.find("error=\"invalid_token\""), std::string::npos) << www;
    EXPECT_NE(www.find("error_description=\""), std::string::npos) << www;
  }
  EXPECT_EQ(counter(t.port(), rejected("expired")), 1);
  EXPECT_EQ(counter(t.port(), rejected("wrong_audience")), 1);
  EXPECT_EQ(counter(t.port(), rejected("bad_signature")), 1);
  EXPECT_EQ(counter(t.port(), rejected("wrong_alg")), 2);
  EXPECT_EQ(counter(t.port(), rejected("malformed")), 1);
  EXPECT_EQ(counter(t.port(), rejected("missing")), 1);
  EXPECT_EQ(counter(t.port(), "perflab_auth_accepted_total"), 2);
  // /metrics and /health need nothing; the connection stays usable after a 401.
  client c(t.port());
  auto r1 = c.request(get("/health"));
  auto r2 = c.request(get("/hello"));
  auto r3 = c.request(get("/hello", "Authorization: Bearer " + good + "\r\n"));
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r2->status, 401);
  EXPECT_EQ(r3->status, 200);
}

TEST_P(TargetAuth, SessionLocalLogsInAndLooksUp) {
  target_process t(model_args(GetParam(), {"--auth", "session-local"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  auto login = c.request(post("/auth/login?user=alice"));
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 200);
  const auto cookie = field(*login, "Set-Cookie");
  ASSERT_TRUE(cookie.starts_with("sid=")) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  const auto sid = cookie.substr(4, cookie.find(';') - 4);
  auto ok = c.request(get("/hello", "Cookie: theme=dark; sid=" + sid + "\r\n"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ask(t.port(), "Cookie: sid=0123456789abcdef0123456789abcdef\r\n").status, 401);
  EXPECT_EQ(ask(t.port(), "Cookie: sid=nonsense\r\n").status, 401);
  EXPECT_EQ(ask(t.port(), "").status, 401);
  EXPECT_EQ(counter(t.port(), rejected("unknown_session")), 2);
  EXPECT_EQ(counter(t.port(), rejected("missing")), 1);
  EXPECT_EQ(counter(t.port(), "perflab_auth_logins_total"), 1);
  auto get_login = c.request(get("/auth/login?user=bob"));
  ASSERT_TRUE(get_login);
  EXPECT_EQ(get_login->status, 405);
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetAuth, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

#ifdef PERFLAB_LOADGEN_BIN
// Each JWT algorithm and local sessions with the loadgen's own credentials: 200 requests, no error.
TEST(TargetAuthLoadgen, EverySchemeAcceptsTheLoadgensCredentials) {
  for (const auto a : {auth::algorithm::hs256, auth::algorithm::rs256, auth::algorithm::eddsa}) {
    std::string scheme = "jwt-" + std::string(auth::jose_name(a));
    for (auto& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    SCOPED_TRACE(scheme);
    target_process t(model_args("reactor", {"--auth", scheme, "--auth-key", verifying_key(a)}));
    ASSERT_GT(t.port(), 0) << t.first_line();
    EXPECT_EQ(loadgen_run(t.port(), scheme, signing_key(a)), 0);
    EXPECT_EQ(counter(t.port(), "perflab_auth_accepted_total"), 200);
    // Without credentials the same run fails: every request is a 401.
    EXPECT_NE(loadgen_run(t.port(), "none"), 0);
    EXPECT_EQ(counter(t.port(), rejected("missing")), 200);
  }
  target_process t(model_args("thread-pool", {"--auth", "session-local"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  EXPECT_EQ(loadgen_run(t.port(), "session"), 0);
  EXPECT_EQ(counter(t.port(), "perflab_auth_logins_total"), 20);
  EXPECT_EQ(counter(t.port(), "perflab_auth_accepted_total"), 200);
}
#endif

// A redis-server from scripts/services.sh under a name of this process, stopped at the end.
class auth_redis {
 public:
  auth_redis() : name_("redis-auth-" + std::to_string(::getpid())) {
    auto [code, out] = run_command(source_dir + "/scripts/services.sh start redis --name " + name_ + " 2>&1");
    if (code == 0) url_ = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
    else message_ = out;
  }
  ~auth_redis() { stop(); }
  std::string unavailable() const { return url_.starts_with("redis://") ? std::string() : message_; }
  const std::string& url() const { return url_; }
  void stop() {
    if (!url_.empty()) run_command(source_dir + "/scripts/services.sh stop " + name_ + " >/dev/null 2>&1");
  }
  pid_t pid() const {
    std::ifstream f(source_dir + "/build/services/" + name_ + "/pid");
    long p = -1;
    f >> p;
    return static_cast<pid_t>(p);
  }

 private:
  std::string name_, url_, message_;
};

class TargetAuthRedis : public model_test {};

TEST_P(TargetAuthRedis, MissingSessionIs401AndAHungOrStoppedRedis503WithinTheTimeout) {
  auth_redis redis;
  if (auto why = redis.unavailable(); !why.empty()) GTEST_SKIP() << why;
  target_process t(model_args(GetParam(), {"--auth", "session-redis", "--auth-redis", redis.url(),
                                           "--auth-redis-timeout", "200ms"}));
  ASSERT_GT(t.port(), 0) << t.first_line();
  response login;
  // The loops connect to Redis as the server starts: the first login may find it still connecting.
  for (int i = 0; i < 50 && login.status != 200; ++i) {
    client c(t.port());
    if (auto r = c.request(post("/auth/login?user=carol"))) login = *r;
    if (login.status != 200) std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(login.status, 200) << login.head;
  const auto cookie = field(login, "Set-Cookie");
  const auto sid = cookie.substr(4, cookie.find(';') - 4);
  EXPECT_EQ(ask(t.port(), "Cookie: sid=" + sid + "\r\n").status, 200);
  EXPECT_EQ(ask(t.port(), "Cookie: sid=0123456789abcdef0123456789abcdef\r\n").status, 401);
  EXPECT_EQ(counter(t.port(), rejected("unknown_session")), 1);

  // A Redis that hangs (SIGSTOP): the command times out after --auth-redis-timeout, 503.
  const pid_t rp = redis.pid();
  ASSERT_GT(rp, 0);
  ASSERT_EQ(::kill(rp, SIGSTOP), 0);
  const auto hung_at = std::chrono::steady_clock::now();
  const auto hung = ask(t.port(), "Cookie: sid=" + sid + "\r\n");
  const auto hung_for = std::chrono::steady_clock::now() - hung_at;
  ::kill(rp, SIGCONT);
  EXPECT_EQ(hung.status, 503);
  EXPECT_GE(hung_for, 150ms);  // it waited for Redis, about the timeout ...
  EXPECT_LT(hung_for, 2s);     // ... and no longer
  EXPECT_EQ(field(hung, "Retry-After"), "1");
  // Redis answers again: the client reconnects (after its backoff), sessions are found again.
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    status = ask(t.port(), "Cookie: sid=" + sid + "\r\n").status;
    if (status != 200) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(status, 200);

  redis.stop();
  const auto before = std::chrono::steady_clock::now();
  const auto r = ask(t.port(), "Cookie: sid=" + sid + "\r\n");
  const auto took = std::chrono::steady_clock::now() - before;
  EXPECT_EQ(r.status, 503);
  EXPECT_LT(took, 2s);  // the client's own timeout is 5 s: a hang would show
  EXPECT_GE(counter(t.port(), rejected("unavailable")), 1);
  EXPECT_EQ(ask(t.port(), "").status, 401);  // the server goes on answering
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetAuthRedis, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

}  // namespace targets_auth_test
