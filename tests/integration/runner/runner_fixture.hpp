#pragma once
// The `loadgen run` end-to-end fixture shared by runner_e2e_test.cpp and search_e2e_test.cpp: a
// fresh folder per test, the real loadgen and lab-target run through the shell with their output
// captured, the one run directory found, run.json checked against docs/result.schema.json with a
// validator we did not write (python3-jsonschema).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "perflab/core/result.hpp"

namespace perflab::testing {

namespace fs = std::filesystem;

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

inline std::string quote(const std::string& s) { return "'" + s + "'"; }

// Whether a counter the target never exported reads as no change (a labelled series appears only
// once something of its kind has happened) or fails the test.
enum class series : bool { must_exist, zero_when_absent };

// A [report] counter's change over a variant's run (read before the load and after its drain);
// a failure, and -1, when the run has no such counter, or the target did not export it and
// `absent` is series::must_exist.
inline double counter_delta(const perflab::result::variant& v, const std::string& metric,
                            series absent = series::must_exist) {
  for (const auto& c : v.target_counters)
    if (c.metric == metric) {
      if (!c.found && absent == series::zero_when_absent) return 0;
      EXPECT_TRUE(c.found) << metric;
      return c.delta;
    }
  ADD_FAILURE() << "no counter " << metric;
  return -1;
}

struct run_output {
  int code = -1;
  std::string out, err;
};

// A fresh folder per test, removed at the end.
class Runner : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("perflab_runner_") + info->test_suite_name() + "_" + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  fs::path write(const std::string& name, const std::string& text, bool executable = false) {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    if (executable) fs::permissions(p, fs::perms::owner_all, fs::perm_options::add);
    return p;
  }

  // Runs a shell command line with stdout/stderr captured.
  run_output sh(const std::string& cmd) {
    std::string full = cmd + " >" + quote((dir_ / "stdout").string()) + " 2>" + quote((dir_ / "stderr").string());
    int st = std::system(full.c_str());
    run_output r;
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = slurp(dir_ / "stdout");
    r.err = slurp(dir_ / "stderr");
    return r;
  }

  run_output loadgen_run(const fs::path& scenario, const std::string& extra = "") {
    return sh(std::string(PERFLAB_LOADGEN_BIN) + " run " + quote(scenario.string()) + " --output " +
              quote((dir_ / "results").string()) + " --target-bin " + PERFLAB_LAB_TARGET_BIN + " " + extra);
  }

  // The one run directory under results/.
  fs::path run_dir() {
    std::vector<fs::path> dirs;
    if (fs::exists(dir_ / "results"))
      for (const auto& e : fs::directory_iterator(dir_ / "results")) dirs.push_back(e.path());
    EXPECT_EQ(dirs.size(), 1u);
    return dirs.empty() ? fs::path() : dirs.front();
  }

  // 0 when run.json validates against the published schema (the validator's message otherwise).
  run_output validate_schema(const fs::path& run_dir) {
    const std::string schema = std::string(PERFLAB_SOURCE_ROOT) + "/docs/result.schema.json";
    return sh("/usr/bin/python3 -c 'import json,sys,jsonschema; "
              "jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))' " +
              quote((run_dir / "run.json").string()) + " " + quote(schema));
  }

  fs::path dir_;
};

}  // namespace perflab::testing
