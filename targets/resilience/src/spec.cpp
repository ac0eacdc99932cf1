#include "spec.hpp"

#include <charconv>

#include <fmt/format.h>

namespace perflab::resilience::detail {

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

tl::expected<spec, std::string> split_spec(std::string_view text, std::string_view what) {
  spec out;
  std::size_t pos = 0;
  bool first = true;
  while (pos <= text.size()) {
    const std::size_t comma = text.find(',', pos);
    const std::string_view item = trim(text.substr(pos, comma == std::string_view::npos ? text.npos : comma - pos));
    if (first) {
      if (item.empty()) return tl::unexpected(fmt::format("{}: empty specification \"{}\"", what, text));
      out.head = item;
      first = false;
    } else {
      const std::size_t eq = item.find('=');
      if (eq == std::string_view::npos || trim(item.substr(0, eq)).empty())
        return tl::unexpected(fmt::format("{}: \"{}\" in \"{}\" is not key=value", what, item, text));
      out.options.emplace_back(trim(item.substr(0, eq)), trim(item.substr(eq + 1)));
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

tl::expected<std::uint64_t, std::string> whole_number(std::string_view what, std::string_view key,
                                                      std::string_view value, std::uint64_t min, std::uint64_t max) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || p != value.data() + value.size() || v < min || v > max)
    return tl::unexpected(fmt::format("{}: {}=\"{}\" must be a whole number >= {}", what, key, value, min));
  return v;
}

}  // namespace perflab::resilience::detail
