#pragma once
// Small text helpers shared by the parsers of options, scenarios and /proc files.
#include <string_view>

namespace perflab {

// s without leading and trailing blanks (space, tab, CR, LF).
constexpr std::string_view trim(std::string_view s) noexcept {
  constexpr std::string_view blanks = " \t\r\n";
  const auto b = s.find_first_not_of(blanks);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(blanks) - b + 1);
}

}  // namespace perflab
