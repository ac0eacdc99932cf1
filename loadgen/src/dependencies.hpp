#pragma once
// Internal to the scenario runner: a variant's named [[target]]s (docs/scenarios.md,
// "Dependencies, faults and timed actions"). Started in the order written, each after its
// health check, with "{name}" in its options replaced by the URLs of those before it; sampled at
// the measured phase's boundaries (CPU over the phase, as the measured target); stopped after
// the measured target, last first.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/core/result.hpp"
#include "perflab/loadgen/scenario.hpp"
#include "perflab/loadgen/spawn.hpp"

namespace perflab::loadgen::detail {

// s with every "{name}" of urls replaced by its URL (other braces kept).
std::string substitute_urls(const std::string& s, const std::map<std::string, std::string>& urls);
// t with its options' "{name}"s replaced.
target_spec with_urls(target_spec t, const std::map<std::string, std::string>& urls);

class dependency_set {
 public:
  dependency_set() = default;
  dependency_set(const dependency_set&) = delete;
  dependency_set& operator=(const dependency_set&) = delete;
  ~dependency_set();

  // Starts them in order; logs go to <dir>/<prefix>.<name>.log. Error: which one and why (the
  // ones started are stopped by stop() or the destructor).
  tl::expected<void, std::string> start(const std::vector<target_spec>& deps, const std::filesystem::path& bin,
                                        const std::filesystem::path& dir, const std::string& prefix);
  // name -> URL of every dependency started.
  const std::map<std::string, std::string>& urls() const noexcept { return urls_; }
  // The measured phase's boundaries (exact per-thread CPU, see spawn.hpp).
  void sample_start();
  void sample_end();
  // A dependency that has exited while it should run ("name: exit 1"), if any.
  std::optional<std::string> dead();
  // Stops them (last first) and returns what each cost.
  std::vector<result::target_info> stop();

 private:
  struct running {
    target_spec spec;
    std::optional<child_process> child;
    result::target_info info;
    std::optional<process_sample> at_start, at_end;
  };
  std::vector<running> deps_;
  std::map<std::string, std::string> urls_;
};

}  // namespace perflab::loadgen::detail
