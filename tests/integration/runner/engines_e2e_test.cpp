// The two load engines (issue 20) end to end. Parity: the same scenario run by both engines
// (matrix load.engine) against lab-target's /sleep?ms=10 at a fixed rate must measure the same
// goodput and TTLB median from the write (within 5 %), both at least the injected 10 ms. HTTPS and HTTP/2: the
// curl engine against a throwaway h2o (scripts/services.sh start h2o-tls), verified with the
// certificate it made; without it the handshakes fail and are counted as TLS errors, --insecure
// accepts them. Skipped, with the reason, when h2o cannot be installed here.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "perflab/core/result_io.hpp"
#include "runner_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using perflab::testing::quote;
using perflab::testing::Runner;
using perflab::testing::slurp;

// 240 requests per engine: enough for a stable median, about 2 s each with the target's start.
const char* k_parity = R"(name = "engine-parity"
[target]
model = "reactor"
[load]
model = "open"
rate = "200/s"
warmup = "200ms"
duration = "1200ms"
send_lag_bound = "250ms"
[[request]]
path = "/sleep?ms=10"
[matrix]
"load.engine" = ["asio", "curl"]
)";

TEST_F(Runner, BothEnginesMeasureTheSameGoodputAndMedianAgainstTheSameServer) {
  auto r = loadgen_run(write("parity.toml", k_parity));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const fs::path run = run_dir();
  EXPECT_EQ(validate_schema(run).code, 0) << slurp(dir_ / "stderr");
  auto result = perflab::result::read_run_json(run / "run.json");
  ASSERT_TRUE(result) << result.error();
  ASSERT_EQ(result->variants.size(), 2u);
  const auto& a = result->variants[0];
  const auto& c = result->variants[1];
  ASSERT_EQ(a.load.engine, "asio");
  ASSERT_EQ(c.load.engine, "curl");
  for (const auto* v : {&a, &c}) {
    EXPECT_EQ(v->errors.total(), 0) << v->load.engine;
    EXPECT_FALSE(v->loadgen.saturated) << v->load.engine;
    EXPECT_GE(v->ttlb.p50_us, 10'000) << v->load.engine << ": below the injected 10 ms";
    EXPECT_GE(v->ttlb_uncorrected.p50_us, 10'000) << v->load.engine << ": below the injected 10 ms";
    EXPECT_NEAR(v->tps_mean, 200, 200 * 0.05) << v->load.engine;
  }
  EXPECT_NEAR(c.tps_mean / a.tps_mean, 1.0, 0.05) << "goodput asio " << a.tps_mean << ", curl " << c.tps_mean;
  // The median as each client saw the server (from its write): corrected numbers add the client's
  // own send lag, which on a busy 2-core machine varies between runs more than the engines differ.
  EXPECT_NEAR(c.ttlb_uncorrected.p50_us / a.ttlb_uncorrected.p50_us, 1.0, 0.05)
      << "TTLB p50 (from the write) asio " << a.ttlb_uncorrected.p50_us << " us, curl " << c.ttlb_uncorrected.p50_us
      << " us";
}

// A closed loop of 2 clients, 200 requests to `path` through lab-target's read-through LRU, run
// by each engine (matrix load.engine); `keys` adds a [keys] table. Each variant starts its own target.
std::string cache_scenario(const std::string& name, const std::string& path, const std::string& keys) {
  return "name = \"" + name + "\"\n[target]\nmodel = \"reactor\"\ncache = \"lru\"\n[load]\nmodel = \"closed\"\n"
         "connections = 2\nmax_requests = 200\n" + keys + "[[request]]\npath = \"" + path + "\"\n"
         "[matrix]\n\"load.engine\" = [\"asio\", \"curl\"]\n";
}

// The two variants of a scenario run by both engines, read back from its run.json.
class BothEngines : public Runner {
 protected:
  std::vector<perflab::result::variant> run_both(const fs::path& scenario) {
    auto r = loadgen_run(scenario);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    auto result = perflab::result::read_run_json(run_dir() / "run.json");
    if (!result || result->variants.size() != 2) {
      ADD_FAILURE() << "expected 2 variants: " << (result ? "" : result.error());
      return {};
    }
    return result->variants;
  }
};

// X-Cache counted by both engines: 10 keys, 200 requests each; every response is a HIT or a MISS,
// and a key misses at most once per client.
TEST_F(BothEngines, CountXCacheHitsAndMisses) {
  for (const auto& v : run_both(write("xcache.toml", cache_scenario("engine-xcache", "/cache/{key}",
                                                                                    "[keys]\ncount = 10\n")))) {
    EXPECT_EQ(v.completed, 200) << v.load.engine;
    EXPECT_EQ(v.cache.hit + v.cache.miss, v.completed) << v.load.engine;
    EXPECT_GE(v.cache.miss, 1) << v.load.engine;
    // A key misses until its origin call is stored: once per client at most, with 2 clients.
    EXPECT_LE(v.cache.miss, 10 * 2) << v.load.engine;
  }
}

// `{uuid}` in the path is stamped fresh for every request by both engines: 200 requests to
// /cache/{uuid} are 200 misses and no hit (a repeated or unstamped uuid would hit).
TEST_F(BothEngines, StampAFreshUuidInThePathOfEveryRequest) {
  for (const auto& v : run_both(write("uuid-path.toml", cache_scenario("engine-uuid-path", "/cache/{uuid}", "")))) {
    EXPECT_EQ(v.completed, 200) << v.load.engine;
    EXPECT_EQ(v.errors.total(), 0) << v.load.engine;
    EXPECT_EQ(v.cache.miss, 200) << v.load.engine;
    EXPECT_EQ(v.cache.hit, 0) << v.load.engine;
  }
}

class Https : public Runner {
 protected:
  void SetUp() override {
    Runner::SetUp();
    name_ = "engines-e2e-" + std::to_string(::getpid());
    auto r = sh(std::string(PERFLAB_SOURCE_ROOT) + "/scripts/services.sh start " + service_ + " --access-log --name " + name_);
    if (r.code == 3) GTEST_SKIP() << service_ << " cannot be installed here: " << r.err;
    ASSERT_EQ(r.code, 0) << r.err;
    url_ = r.out.substr(0, r.out.find('\n'));
    cert_ = std::string(PERFLAB_SOURCE_ROOT) + "/build/services/" + name_ + "/cert.pem";
    started_ = true;
  }
  void TearDown() override {
    if (started_) sh(std::string(PERFLAB_SOURCE_ROOT) + "/scripts/services.sh stop " + name_);
    Runner::TearDown();
  }
  // One `loadgen attack` of /hello, its variant read back from the run.json it wrote.
  perflab::result::variant attack(const std::string& args, int expected_code) {
    const fs::path out = dir_ / ("attack" + std::to_string(++runs_));
    auto r = sh(std::string(PERFLAB_LOADGEN_BIN) + " attack " + quote(url_ + "/hello") + " -o " + quote(out.string()) +
                " " + args);
    EXPECT_EQ(r.code, expected_code) << args << "\n" << r.out << r.err;
    auto run = perflab::result::read_run_json(out / "run.json");
    if (!run || run->variants.empty()) {
      ADD_FAILURE() << "no run.json from `attack " << args << "`: " << (run ? "" : run.error()) << r.err;
      return {};
    }
    return run->variants[0];
  }
  // The server's access log (services.sh --access-log): requests so far, and those whose
  // connection resumed its TLS session (nginx: "r HTTP/1.1 200", h2o: "1 HTTP/1.1 200").
  std::pair<int, int> access_log() const {
    std::ifstream in(std::string(PERFLAB_SOURCE_ROOT) + "/build/services/" + name_ + "/access.log");
    int lines = 0, resumed = 0;
    for (std::string l; std::getline(in, l); ++lines) resumed += l.rfind("1 ", 0) == 0 || l.rfind("r ", 0) == 0 ? 1 : 0;
    return {lines, resumed};
  }
  int runs_ = 0;
  std::string service_ = "h2o-tls";
  std::string name_, url_, cert_;
  bool started_ = false;
};

TEST_F(Https, Http2OverTlsVerifiedWithTheServersCertificateAndTlsErrorsCounted) {
  // HTTP/2 over TLS (ALPN), a fixed rate with a cap of 4 connections: every response a success,
  // its 13-byte body checked (--verify).
  // The first requests wait for the TLS handshakes: a send lag bound for a busy machine (tested
  // here: protocol and counts, not speed).
  auto v = attack("--http2 --cacert " + quote(cert_) + " --rate 200/s --connections 4 --duration 500ms "
                  "--send-lag-bound 250ms --verify --verify-length 13", 0);
  EXPECT_EQ(v.load.engine, "curl");
  EXPECT_EQ(v.load.http, "2");
  EXPECT_NEAR(static_cast<double>(v.succeeded), 100, 10);
  EXPECT_EQ(v.errors.total(), 0);
  EXPECT_EQ(v.statuses["200"], v.completed);
  EXPECT_GT(v.bytes_per_response, 13);  // "Hello, World!" and a head
  EXPECT_GE(v.streams_peak, 1);
  EXPECT_LE(v.streams_peak, 100);  // the default --max-streams
  // Streams apart from connections: 8 clients in a closed loop share one connection (8 streams
  // each at most): 400 requests as streams on one or two connections (libcurl may open a second
  // while the first has not yet confirmed HTTP/2), several at once, never more than 8.
  auto mux = attack("--http2 --cacert " + quote(cert_) + " --connections 8 --max-streams 8 --requests 400", 0);
  EXPECT_EQ(mux.succeeded, 400);
  EXPECT_LE(mux.connections_opened + mux.connections_warmup, 2);
  EXPECT_GE(mux.streams_peak, 2) << "8 clients on one connection, one stream at a time";
  EXPECT_LE(mux.streams_peak, 8);
  // Without the certificate the self-signed server is refused: counted, one error per request.
  auto bad = attack("--connections 1 --requests 5", 7);
  EXPECT_EQ(bad.errors.tls, 5);
  EXPECT_EQ(bad.completed, 0);
  // --insecure accepts it; HTTPS picked the curl engine by itself, over HTTP/1.1.
  auto ok = attack("--insecure --connections 1 --requests 5", 0);
  EXPECT_EQ(ok.load.engine, "curl");
  EXPECT_EQ(ok.load.http, "1.1");
  EXPECT_EQ(ok.succeeded, 5);
  EXPECT_EQ(ok.streams_peak, 0);  // HTTP/1.1: no streams
  EXPECT_GE(ok.tls_handshake.count, 1);
  // --verify on the curl engine: a body of another length than expected is an error per response.
  auto wrong = attack("--insecure --connections 1 --requests 5 --verify --verify-length 12", 7);
  EXPECT_EQ(wrong.errors.verify_failed, 5);
  EXPECT_EQ(wrong.succeeded, 0);
}

// nginx (TLS 1.3, a session cache): it gives a resumed connection a new ticket, so every
// connection can resume. (h2o 2.2 does not: a resumed connection gets no ticket, and OpenSSL
// uses a TLS 1.3 ticket once, so against it every other connection is a full handshake.)
class HttpsNginx : public Https {
 protected:
  void SetUp() override {
    service_ = "nginx-tls";
    Https::SetUp();
  }
};

TEST_F(HttpsNginx, NewConnectionsResumeTlsSessionsUnlessTurnedOff) {
  // A new connection per request, two clients, 40 requests: every request pays a handshake
  // (libcurl's own TLS timing counts one each). With resumption (the default) the worker's
  // session cache offers the server a session on every connection after the first that
  // finished its handshake, so at most the two first connections are full handshakes; with
  // --no-tls-resume none is resumed. Counted by the server itself (nginx's access log).
  auto on = attack("--insecure --no-keepalive --connections 2 --requests 40", 0);
  EXPECT_EQ(on.succeeded, 40);
  EXPECT_EQ(on.tls_handshake.count, 40);
  EXPECT_TRUE(on.load.tls_resume);
  auto [lines, resumed] = access_log();
  EXPECT_EQ(lines, 40);
  EXPECT_GE(resumed, 38);
  auto off = attack("--insecure --no-keepalive --no-tls-resume --connections 2 --requests 40", 0);
  EXPECT_EQ(off.succeeded, 40);
  EXPECT_EQ(off.tls_handshake.count, 40);
  EXPECT_FALSE(off.load.tls_resume);
  auto [lines2, resumed2] = access_log();
  EXPECT_EQ(lines2, 80);
  EXPECT_EQ(resumed2, resumed);  // none of the second run's 40
  // On the wire (TCP payload, counted by the kernel): TLS records carry more than the HTTP bytes
  // the engine handed over, and a full handshake more than a resumed one (the server's
  // certificate, which a resumed handshake does not send).
  EXPECT_GT(on.tcp_bytes_in, on.bytes_in);
  EXPECT_GT(on.tcp_bytes_out, on.bytes_out);
  EXPECT_GT(off.tcp_bytes_in, on.tcp_bytes_in + 40 * 200)
      << "full " << off.tcp_bytes_in / 40 << " B per connection, resumed " << on.tcp_bytes_in / 40;
}

TEST_F(HttpsNginx, AcceptedJobsAreFollowedOverHttp2AndTls) {
  // [load] follow on the curl engine over HTTP/2 and TLS: nginx-tls answers POST /jobs with 202
  // and Location /jobs/1, and /jobs/1 with a done state, so each request is one 202 and one poll
  // to the request's own https:// origin.
  const fs::path out = dir_ / "follow";
  auto r = sh(std::string(PERFLAB_LOADGEN_BIN) + " attack " + quote(url_ + "/jobs") + " -m POST --body x --http2 --cacert " +
              quote(cert_) + " --connections 2 --requests 20 --follow-every 5ms --follow-until " +
              quote("\"state\":\"done\"") + " -o " + quote(out.string()));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto run = perflab::result::read_run_json(out / "run.json");
  ASSERT_TRUE(run && !run->variants.empty()) << (run ? "" : run.error());
  const auto& v = run->variants[0];
  EXPECT_EQ(v.load.engine, "curl");
  EXPECT_EQ(v.load.http, "2");
  EXPECT_EQ(v.sent, 20);
  EXPECT_EQ(v.followed, 20);
  EXPECT_EQ(v.follow_polls, 20) << "one poll each: the job is done at the first";
  EXPECT_EQ(v.accepted.count, 20);
  EXPECT_EQ(v.statuses.count("200") ? v.statuses.at("200") : 0, 20) << "the poll's answer is the request's";
  EXPECT_EQ(v.statuses.count("202"), 0u);
  EXPECT_EQ(v.errors.total(), 0);
  EXPECT_LE(v.ttfb.max_us, v.accepted.max_us) << "TTFB is the 202's first byte";
  auto [lines, resumed] = access_log();
  EXPECT_EQ(lines, 40) << "20 POSTs and 20 polls reached nginx";
}

// [[service]]: one command runs a scenario against a TLS server it starts itself. The runner
// starts nginx-tls through scripts/services.sh, sends the load to its https:// URL verified with
// its certificate, samples its CPU through its pid file (master and worker), and stops it at the
// end: no instance of the run is left under build/services.
const char* k_service = R"(name = "service-e2e"
[[service]]
name = "tls"
kind = "nginx-tls"
[target]
url = "{tls}"
[load]
model = "closed"
connections = 2
max_requests = 300
keepalive = "new-connection"
[[request]]
path = "/hello"
)";

TEST_F(Runner, AServiceIsStartedForTheRunMeasuredThroughItsPidFileAndStoppedAfter) {
  auto r = loadgen_run(write("service.toml", k_service));
  if (r.code != 0 && r.err.find("cannot be installed here") != std::string::npos)
    GTEST_SKIP() << "nginx cannot be installed here: " << r.err;
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto result = perflab::result::read_run_json(run_dir() / "run.json");
  ASSERT_TRUE(result) << result.error();
  ASSERT_EQ(result->variants.size(), 1u);
  const auto& v = result->variants[0];
  EXPECT_EQ(v.load.engine, "curl");
  EXPECT_EQ(v.target.url.rfind("https://127.0.0.1:", 0), 0u) << v.target.url;
  EXPECT_EQ(v.succeeded, 300);  // verified with the service's own certificate: no TLS error
  EXPECT_EQ(v.connections_opened, 300);
  EXPECT_FALSE(v.target.spawned);
  EXPECT_GT(v.target.cpu_user_s + v.target.cpu_system_s, 0.0) << "300 handshakes cost the server CPU";
  EXPECT_GE(v.target.threads, 2) << "nginx's master and its worker";
  const fs::path services = fs::path(PERFLAB_SOURCE_ROOT) / "build" / "services";
  if (fs::exists(services)) {
    for (const auto& e : fs::directory_iterator(services)) {
      EXPECT_EQ(e.path().filename().string().rfind("service-e2e-", 0), std::string::npos)
          << "left running: " << e.path();
    }
  }
}

}  // namespace
