#include "perflab/loadgen/runner.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace perflab::loadgen {
namespace {

namespace fs = std::filesystem;

TEST(ListeningLine, ParsesTheTargetsAddressAndRejectsAnythingElse) {
  struct row {
    const char* line;
    bool ok;
    const char* host;
    int port;
    const char* url;
  };
  const row rows[] = {
      {"listening http://127.0.0.1:8080", true, "127.0.0.1", 8080, "http://127.0.0.1:8080"},
      {"listening http://127.0.0.1:41061/", true, "127.0.0.1", 41061, "http://127.0.0.1:41061"},
      {"listening http://[::1]:9000", true, "::1", 9000, "http://[::1]:9000"},
      {"listening on port 8080", false, "", 0, ""},
      {"listening http://127.0.0.1", false, "", 0, ""},
      {"listening http://127.0.0.1:0", false, "", 0, ""},
      {"listening http://127.0.0.1:99999", false, "", 0, ""},
      {"listening http://127.0.0.1:80a", false, "", 0, ""},
      {"", false, "", 0, ""},
  };
  for (const auto& r : rows) {
    auto a = parse_listening_line(r.line);
    ASSERT_EQ(a.has_value(), r.ok) << r.line;
    if (!r.ok) continue;
    EXPECT_EQ(a->host, r.host) << r.line;
    EXPECT_EQ(a->port, r.port) << r.line;
    EXPECT_EQ(a->url(), r.url) << r.line;
    EXPECT_EQ(a->grpc_port, 0) << r.line;
  }
}

// lab-target --grpc-port: the gRPC server's address follows the HTTP one on the same line.
TEST(ListeningLine, ReadsTheGrpcAddressAfterTheHttpOne) {
  auto a = parse_listening_line("listening http://127.0.0.1:41171 grpc http://127.0.0.1:37385");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port, 41171);
  EXPECT_EQ(a->grpc_port, 37385);
  EXPECT_EQ(a->url(), "http://127.0.0.1:41171");
  EXPECT_EQ(a->grpc_url(), "http://127.0.0.1:37385");
  for (const char* bad : {"listening http://127.0.0.1:41171 grpc http://127.0.0.1:0",
                          "listening http://127.0.0.1:41171 grpc http://127.0.0.1",
                          "listening http://127.0.0.1:x grpc http://127.0.0.1:5"})
    EXPECT_FALSE(parse_listening_line(bad)) << bad;
}

TEST(TargetBin, ExplicitThenEnvironmentAndClearErrors) {
  fs::path fake = fs::temp_directory_path() / ("perflab_runner_test_bin_" + std::to_string(::getpid()));
  std::ofstream(fake) << "#!/bin/sh\n";
  fs::permissions(fake, fs::perms::owner_all);
  auto explicit_bin = find_target_bin(fake);
  ASSERT_TRUE(explicit_bin.has_value()) << explicit_bin.error();
  EXPECT_EQ(*explicit_bin, fake);

  auto missing = find_target_bin("/nonexistent/lab-target");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().find("--target-bin /nonexistent/lab-target"), std::string::npos) << missing.error();

  ::setenv("PERFLAB_TARGET_BIN", fake.c_str(), 1);
  auto from_env = find_target_bin({});
  ::setenv("PERFLAB_TARGET_BIN", "/nonexistent/env-target", 1);
  auto bad_env = find_target_bin({});
  ::unsetenv("PERFLAB_TARGET_BIN");
  fs::remove(fake);
  ASSERT_TRUE(from_env.has_value());
  EXPECT_EQ(*from_env, fake);
  ASSERT_FALSE(bad_env.has_value());
  EXPECT_NE(bad_env.error().find("PERFLAB_TARGET_BIN=/nonexistent/env-target"), std::string::npos);
}

TEST(RunScenario, BadScenarioExitsTwoAndCreatesNothing) {
  fs::path dir = fs::temp_directory_path() / ("perflab_runner_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "bad.toml") << "name = \"bad\"\n[target]\nmodel = \"fibers\"\n";
  runner_options o;
  o.scenario_file = dir / "bad.toml";
  o.output_root = dir / "results";
  std::ostringstream out, err;
  auto res = run_scenario(o, out, err);
  EXPECT_EQ(res.exit_code, 2);
  EXPECT_TRUE(res.run_dir.empty());
  EXPECT_FALSE(fs::exists(dir / "results"));
  EXPECT_NE(err.str().find((dir / "bad.toml").string() + ":3:9: target.model: unknown model \"fibers\""),
            std::string::npos)
      << err.str();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace perflab::loadgen
