#pragma once
// Small text helpers shared by the parsers of options, scenarios and /proc files.
#include <cstddef>
#include <string_view>

namespace perflab {

// s without leading and trailing blanks (space, tab, CR, LF).
constexpr std::string_view trim(std::string_view s) noexcept {
  constexpr std::string_view blanks = " \t\r\n";
  const auto b = s.find_first_not_of(blanks);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(blanks) - b + 1);
}

// ASCII case-insensitive equality, for HTTP field names ("Content-Type" == "content-type").
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  constexpr auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

}  // namespace perflab
