#pragma once
// For the scenario unit tests: a scenario parsed from text, as if read from "s.toml" in the
// temporary directory, with optional --set overrides.
#include <filesystem>
#include <string>
#include <vector>

#include "perflab/loadgen/scenario.hpp"

namespace perflab::loadgen::testing {

inline tl::expected<scenario, scenario_error> parse(const std::string& text, std::vector<std::string> overrides = {}) {
  return parse_scenario(text, "s.toml", std::filesystem::temp_directory_path(), overrides);
}

}  // namespace perflab::loadgen::testing
