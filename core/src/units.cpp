#include "perflab/core/units.hpp"
#include "perflab/core/text.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace perflab::units {

namespace {

constexpr std::string_view duration_forms =
    "a number with a unit ns, us, ms, s, m or h (e.g. \"250us\", \"1.5s\", \"2m\"), or 0";
constexpr std::string_view size_forms =
    "a whole number of bytes, or a number with a unit B, kB, MB, GB, TB (powers of 1000) or "
    "KiB, MiB, GiB, TiB (powers of 1024) (e.g. \"512B\", \"16KiB\", \"1MB\")";
constexpr std::string_view count_forms =
    "a number with an optional suffix k (thousand), M (million) or G (billion) (e.g. \"100\", \"10k\", \"1.5M\")";
constexpr std::string_view rate_forms =
    "a count per second, optionally with /s, /m (per minute), /h (per hour) or /ms (per millisecond) "
    "(e.g. \"5000\", \"5k/s\", \"300/m\")";

std::string error(std::string_view what, std::string_view text, std::string_view forms) {
  return fmt::format("invalid {} \"{}\": expected {}", what, text, forms);
}

// An unsigned decimal number at the front of s: digits, optionally '.' and more digits.
// Returns the value and advances s past it; nullopt-like NaN when there is no number.
double take_number(std::string_view& s) {
  std::size_t i = 0;
  double v = 0.0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = v * 10.0 + (s[i++] - '0');
  const std::size_t int_digits = i;
  if (int_digits == 0) return std::numeric_limits<double>::quiet_NaN();
  if (i < s.size() && s[i] == '.') {
    std::size_t j = i + 1;
    double scale = 0.1;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
      v += (s[j++] - '0') * scale;
      scale /= 10.0;
    }
    if (j == i + 1) return std::numeric_limits<double>::quiet_NaN();  // "1." has no fraction digits
    i = j;
  }
  s.remove_prefix(i);
  return v;
}

struct unit {
  std::string_view name;
  double factor;
};

// Up to 3 significant digits, trailing zeros trimmed: 1.5, 250, 16, 1.23, 0.5.
std::string short_number(double x) {
  std::string s;
  if (x >= 100.0)
    s = fmt::format("{:.0f}", x);
  else if (x >= 10.0)
    s = fmt::format("{:.1f}", x);
  else
    s = fmt::format("{:.2f}", x);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

// Picks the largest unit whose rounded value is >= 1, then moves up when rounding reached the
// next unit (999.7us prints as 1ms, not 1000us).
template <std::size_t N>
std::string scaled(double x, const std::array<unit, N>& units) {
  std::size_t k = 0;
  for (std::size_t i = 0; i < N; ++i)
    if (x >= units[i].factor) k = i;
  if (k + 1 < N && std::stod(short_number(x / units[k].factor)) * units[k].factor >= units[k + 1].factor) ++k;
  return short_number(x / units[k].factor) + std::string(units[k].name);
}

}  // namespace

tl::expected<std::chrono::nanoseconds, std::string> parse_duration(std::string_view text) {
  std::string_view s = trim(text);
  const double v = take_number(s);
  if (std::isnan(v)) return tl::unexpected(error("duration", text, duration_forms));
  static constexpr std::array<unit, 8> table{{{"ns", 1.0},
                                              {"us", 1e3},
                                              {"\xC2\xB5s", 1e3},  // µs
                                              {"ms", 1e6},
                                              {"s", 1e9},
                                              {"m", 60e9},
                                              {"min", 60e9},
                                              {"h", 3600e9}}};
  double factor = 0.0;
  if (s.empty()) {
    if (v != 0.0) return tl::unexpected(error("duration", text, duration_forms) + " (the unit is missing)");
    return std::chrono::nanoseconds{0};
  }
  for (const auto& u : table)
    if (s == u.name) factor = u.factor;
  if (factor == 0.0) return tl::unexpected(error("duration", text, duration_forms));
  const double ns = std::round(v * factor);
  if (ns >= 9223372036854775808.0) return tl::unexpected(error("duration", text, duration_forms) + " (too large)");
  return std::chrono::nanoseconds{static_cast<std::int64_t>(ns)};
}

tl::expected<std::uint64_t, std::string> parse_size(std::string_view text) {
  std::string_view s = trim(text);
  const double v = take_number(s);
  if (std::isnan(v)) return tl::unexpected(error("size", text, size_forms));
  static constexpr std::array<unit, 11> table{{{"", 1.0},
                                               {"B", 1.0},
                                               {"kB", 1e3},
                                               {"KB", 1e3},
                                               {"MB", 1e6},
                                               {"GB", 1e9},
                                               {"TB", 1e12},
                                               {"KiB", 1024.0},
                                               {"MiB", 1048576.0},
                                               {"GiB", 1073741824.0},
                                               {"TiB", 1099511627776.0}}};
  double factor = 0.0;
  for (const auto& u : table)
    if (s == u.name) factor = u.factor;
  if (factor == 0.0) return tl::unexpected(error("size", text, size_forms));
  const double bytes = v * factor;
  if (bytes >= 1.8e19) return tl::unexpected(error("size", text, size_forms) + " (too large)");
  const double whole = std::round(bytes);
  if (std::fabs(bytes - whole) > 1e-6 * std::max(1.0, whole))
    return tl::unexpected(error("size", text, size_forms) + " (not a whole number of bytes)");
  return static_cast<std::uint64_t>(whole);
}

namespace {

// Number plus optional SI suffix; leaves the rest of s for the caller.
double take_count(std::string_view& s) {
  double v = take_number(s);
  if (std::isnan(v) || s.empty()) return v;
  switch (s.front()) {
    case 'k':
    case 'K': v *= 1e3; s.remove_prefix(1); break;
    case 'M': v *= 1e6; s.remove_prefix(1); break;
    case 'G': v *= 1e9; s.remove_prefix(1); break;
    default: break;
  }
  return v;
}

}  // namespace

tl::expected<double, std::string> parse_count(std::string_view text) {
  std::string_view s = trim(text);
  const double v = take_count(s);
  if (std::isnan(v) || !s.empty()) return tl::unexpected(error("count", text, count_forms));
  return v;
}

tl::expected<double, std::string> parse_rate(std::string_view text) {
  std::string_view s = trim(text);
  const double v = take_count(s);
  if (std::isnan(v)) return tl::unexpected(error("rate", text, rate_forms));
  if (s.empty() || s == "/s") return v;
  if (s == "/ms") return v * 1e3;
  if (s == "/m" || s == "/min") return v / 60.0;
  if (s == "/h") return v / 3600.0;
  return tl::unexpected(error("rate", text, rate_forms));
}

tl::expected<double, std::string> parse_fraction(std::string_view text) {
  std::string_view s = trim(text);
  const bool percent = !s.empty() && s.back() == '%';
  if (percent) s = trim(s.substr(0, s.size() - 1));
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || !(v >= 0) || v > (percent ? 100.0 : 1.0))
    return tl::unexpected(fmt::format("invalid fraction \"{}\" (expected a percentage such as \"1%\" or a "
                                      "fraction in [0, 1] such as 0.01)", text));
  return percent ? v / 100.0 : v;
}

std::string format_duration(std::chrono::nanoseconds d) {
  const auto ns = d.count();
  if (ns == 0) return "0s";
  static constexpr std::array<unit, 6> table{
      {{"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}}};
  const auto x = static_cast<double>(ns);
  return ns < 0 ? "-" + scaled(-x, table) : scaled(x, table);
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<unit, 5> table{
      {{"B", 1.0}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}}};
  if (bytes < 1024) return fmt::format("{}B", bytes);
  return scaled(static_cast<double>(bytes), table);
}

std::string format_rate(double per_second) {
  if (!std::isfinite(per_second)) return fmt::format("{}/s", per_second);
  if (per_second < 0) return "-" + format_rate(-per_second);
  if (per_second < 1.0) return fmt::format("{:.3g}/s", per_second);
  static constexpr std::array<unit, 4> table{{{"", 1.0}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}}};
  return scaled(per_second, table) + "/s";
}

}  // namespace perflab::units
