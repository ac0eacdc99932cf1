// `loadgen ab` end to end: the real program running a scenario against two lab-target builds (or
// two services), interleaved, and its verdict in the exit code, ab.json and both sides' run.json.
// The physics the verdict must see: the same binary on both sides is no regression; a candidate
// that burns a fixed 3 ms of CPU in every request of a 5 ms /sleep endpoint is 60 % slower at the
// median, far beyond any run-to-run noise.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../poll.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/core/result_io.hpp"
#include "runner_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using perflab::testing::quote;
using perflab::testing::Runner;
using perflab::testing::slurp;

// Short on purpose: each run is about 1 s with the target's start and stop (60 measured requests).
const char* k_ab = R"(name = "ab-e2e"
description = "5 ms sleep at 100 req/s"
[target]
model = "reactor"
[load]
model = "open"
rate = "100/s"
warmup = "200ms"
duration = "600ms"
send_lag_bound = "250ms"
[[request]]
path = "/sleep?ms=5"
)";

class Ab : public Runner {
 protected:
  perflab::testing::run_output ab(const fs::path& scenario, const std::string& sides, const std::string& extra = "") {
    return sh(std::string(PERFLAB_LOADGEN_BIN) + " ab " + quote(scenario.string()) + " " + sides + " --output " +
              quote((dir_ / "results").string()) + " --no-report " + extra);
  }
  std::string bins(const std::string& a, const std::string& b) {
    return "--baseline-bin " + quote(a) + " --candidate-bin " + quote(b);
  }
  nlohmann::json verdict(const fs::path& run_dir) { return nlohmann::json::parse(slurp(run_dir / "ab.json")); }
};

// A lab-target started by the test (an "external service" to loadgen ab), stopped at the end.
class service {
 public:
  explicit service(const fs::path& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::freopen(log.c_str(), "w", stdout);
      ::execl(PERFLAB_LAB_TARGET_BIN, PERFLAB_LAB_TARGET_BIN, "--model", "reactor", "--listen", "127.0.0.1:0",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    std::smatch m;
    perflab::testing::poll_until(
        [&] {
          std::string text = slurp(log);
          static const std::regex re("listening (http://127\\.0\\.0\\.1:[0-9]+)");
          if (!std::regex_search(text, m, re)) return false;
          url_ = m[1];
          return true;
        },
        10s);
  }
  ~service() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = -1;
  std::string url_;
};

TEST_F(Ab, TheSameBinaryOnBothSidesOverSixRunsEachIsNoRegression) {
  fs::path scenario = write("ab.toml", k_ab);
  auto r = ab(scenario, bins(PERFLAB_LAB_TARGET_BIN, PERFLAB_LAB_TARGET_BIN), "--repeats 6");
  ASSERT_EQ(r.code, perflab::exit_code::ok) << r.out << r.err;
  EXPECT_NE(r.out.find("A/A: both sides are the same"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NO REGRESSION"), std::string::npos) << r.out;
  fs::path dir = run_dir();
  auto j = verdict(dir);
  EXPECT_EQ(j["exit_code"], 0);
  EXPECT_EQ(j["headline"], "NO REGRESSION");
  EXPECT_EQ(j["repeats"], 6);
  for (const char* side : {"baseline", "candidate"}) {
    auto run = perflab::result::read_run_json(dir / side / "run.json");
    ASSERT_TRUE(run.has_value()) << run.error();
    EXPECT_TRUE(run->complete) << side;
    ASSERT_EQ(run->variants.size(), 6u) << side;
    for (const auto& v : run->variants) {
      EXPECT_TRUE(v.complete) << side << " " << v.repeat;
      EXPECT_EQ(v.errors.total(), 0) << side << " " << v.repeat;
      EXPECT_GE(v.ttlb.p50_us, 5000) << "a 5 ms sleep is never answered sooner";
    }
    auto schema = validate_schema(dir / side);
    EXPECT_EQ(schema.code, 0) << schema.out << schema.err;
  }
  // The runs were interleaved A B B A ...: the progress lines say which side ran when.
  std::string seq;
  std::regex line("\\[[0-9]+/12\\] [^\\n]* (A|B) (baseline|candidate)");
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), line), end; it != end; ++it) seq += (*it)[1].str();
  EXPECT_EQ(seq, "ABBAABBAABBA") << r.out;
}

TEST_F(Ab, ACandidateBurning3msPerRequestIsARegressionWithExitFour) {
  fs::path scenario = write("ab.toml", k_ab);
  // The candidate build: the same lab-target with the A/B test option, behind a wrapper script.
  fs::path slow = write("slow-lab-target",
                        std::string("#!/bin/sh\nexec ") + PERFLAB_LAB_TARGET_BIN + " --test-slowdown 3ms \"$@\"\n", true);
  fs::path junit = dir_ / "ab.xml", md = dir_ / "ab.md";
  auto r = ab(scenario, bins(PERFLAB_LAB_TARGET_BIN, slow.string()),
              "--repeats 5 --junit " + quote(junit.string()) + " --summary-md " + quote(md.string()));
  ASSERT_EQ(r.code, perflab::exit_code::regression) << r.out << r.err;
  EXPECT_NE(r.out.find("REGRESSION"), std::string::npos) << r.out;
  auto j = verdict(run_dir());
  EXPECT_EQ(j["exit_code"], perflab::exit_code::regression);
  bool p50_regressed = false;
  for (const auto& c : j["changes"]) {
    if (c["metric"] != "ttlb.p50") continue;
    p50_regressed = c["verdict"] == "regressed";
    // 5 ms + 3 ms of CPU over 5 ms: about 1.6; the interval must hold well above the 5 % floor.
    // Its upper end only rejects a runaway interval: on a machine busy with other work the 3 ms
    // of CPU stretch (2.4 measured beside two builds), so it is not held to the quiet 1.6.
    ASSERT_TRUE(c["ci95_median_ratio"].is_array()) << c.dump();
    EXPECT_GT(c["ci95_median_ratio"][0].get<double>(), 1.3) << c.dump();
    EXPECT_LT(c["ci95_median_ratio"][1].get<double>(), 4.0) << c.dump();
    EXPECT_LT(c["p_value"].get<double>(), 0.05) << c.dump();
  }
  EXPECT_TRUE(p50_regressed) << j.dump(2);
  EXPECT_NE(slurp(junit).find("type=\"REGRESSION\""), std::string::npos) << slurp(junit);
  EXPECT_NE(slurp(md).find("REGRESSION"), std::string::npos);
}

TEST_F(Ab, TwoServicesByUrl) {
  fs::path scenario = write("ab.toml", k_ab);
  service a(dir_ / "a.log"), b(dir_ / "b.log");
  ASSERT_FALSE(a.url().empty());
  ASSERT_FALSE(b.url().empty());
  auto r = ab(scenario, "--baseline-url " + a.url() + " --candidate-url " + b.url(), "--repeats 3");
  ASSERT_EQ(r.code, perflab::exit_code::ok) << r.out << r.err;
  auto run = perflab::result::read_run_json(run_dir() / "candidate" / "run.json");
  ASSERT_TRUE(run.has_value()) << run.error();
  ASSERT_EQ(run->variants.size(), 3u);
  EXPECT_EQ(run->variants[0].target.url, b.url());
  EXPECT_FALSE(run->variants[0].target.spawned);
}

TEST_F(Ab, AMissingBinaryOrADeadServiceIsAUsageErrorBeforeAnythingRuns) {
  fs::path scenario = write("ab.toml", k_ab);
  auto r = ab(scenario, bins(PERFLAB_LAB_TARGET_BIN, (dir_ / "no-such-lab-target").string()));
  EXPECT_EQ(r.code, perflab::exit_code::usage) << r.out << r.err;
  EXPECT_NE(r.err.find("--candidate-bin"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "results")) << "nothing ran, nothing written";

  fs::path not_a_target = write("not-a-target", "#!/bin/sh\necho hello\n", true);
  r = ab(scenario, bins(not_a_target.string(), PERFLAB_LAB_TARGET_BIN));
  EXPECT_EQ(r.code, perflab::exit_code::usage) << r.out << r.err;
  EXPECT_NE(r.err.find("does not look like lab-target"), std::string::npos) << r.err;

  r = ab(scenario, "--baseline-url http://127.0.0.1:1 --candidate-url http://127.0.0.1:1");
  EXPECT_EQ(r.code, perflab::exit_code::usage) << r.out << r.err;
  EXPECT_NE(r.err.find("nothing was run"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "results"));

  fs::path typo = write("typo.toml", std::string(k_ab) + "[load2]\n");
  r = ab(typo, bins(PERFLAB_LAB_TARGET_BIN, PERFLAB_LAB_TARGET_BIN));
  EXPECT_EQ(r.code, perflab::exit_code::usage) << r.out << r.err;
  EXPECT_NE(r.err.find("typo.toml"), std::string::npos) << r.err;
}

// scripts/ci-regression.sh: a ref that does not exist is exit 2, said before any build.
TEST_F(Ab, CiRegressionScriptRefusesAnUnknownRef) {
  auto r = sh(std::string(PERFLAB_SOURCE_ROOT) + "/scripts/ci-regression.sh no-such-ref-perflab");
  EXPECT_EQ(r.code, perflab::exit_code::usage) << r.out << r.err;
  EXPECT_NE(r.err.find("no-such-ref-perflab"), std::string::npos) << r.err;
}

// A base ref whose lab-target does not build: exit 2 and nothing run. The base is a commit made
// for the test in a clone of this checkout: its CMakeLists.txt does not parse.
TEST_F(Ab, CiRegressionScriptRefusesABaseThatDoesNotBuild) {
  const std::string src = PERFLAB_SOURCE_ROOT;
  if (sh("git -C " + quote(src) + " rev-parse --git-dir").code != 0) GTEST_SKIP() << src << " is not a git checkout";
  const fs::path clone = dir_ / "clone";
  auto r = sh("git clone -q " + quote(src) + " " + quote(clone.string()) + " && cd " + quote(clone.string()) +
              " && echo 'this is not cmake(' >> CMakeLists.txt && git -c user.name=t -c user.email=t@t commit -qam broken");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  r = sh(quote((clone / "scripts" / "ci-regression.sh").string()) + " HEAD");
  EXPECT_EQ(r.code, perflab::exit_code::usage) << r.out << r.err;
  EXPECT_NE(r.err.find("does not build lab-target; nothing was run"), std::string::npos) << r.out << r.err;
  if (fs::exists(clone / "results")) {  // holds the committed README and baselines, never a run
    for (const auto& e : fs::directory_iterator(clone / "results")) {
      EXPECT_EQ(e.path().filename().string().find("-ab-"), std::string::npos) << "nothing ran: " << e.path();
    }
  }
  EXPECT_FALSE(fs::exists(clone / "build" / "release")) << "stopped before building the working tree";
}

}  // namespace
