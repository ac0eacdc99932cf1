#include "format.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace perflab::analysis::detail {

std::string format_us(double us) {
  if (!std::isfinite(us)) return "-";
  double a = std::fabs(us);
  if (a < 1000) return fmt::format("{:.0f} us", us);
  if (a < 10'000) return fmt::format("{:.2f} ms", us / 1e3);
  if (a < 1'000'000) return fmt::format("{:.1f} ms", us / 1e3);
  return fmt::format("{:.2f} s", us / 1e6);
}

std::string format_ms_plain(double us) {
  double ms = us / 1e3;
  double a = std::fabs(ms);
  if (a < 10) return fmt::format("{:.3f}", ms);
  if (a < 100) return fmt::format("{:.2f}", ms);
  if (a < 1000) return fmt::format("{:.1f}", ms);
  return fmt::format("{:.0f}", ms);
}

std::string format_rate(double per_s) {
  if (std::fabs(per_s) >= 1000) return fmt::format("{:.0f}", per_s);
  return fmt::format("{:.1f}", per_s);
}

std::string format_percent(double fraction) {
  double p = fraction * 100;
  if (p == 0) return "0%";
  if (std::fabs(p) < 0.01) return fmt::format("{:.4f}%", p);
  return fmt::format("{:.2f}%", p);
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (std::fabs(bytes) >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

namespace {

// A whole number with thousands separators: 3180 -> "3,180".
std::string grouped_integer(double v) {
  std::string digits = fmt::format("{:.0f}", std::fabs(v));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 && digits != "0" ? "-" + out : out;
}

}  // namespace

std::string format_grouped(double v) {
  if (!std::isfinite(v)) return "-";
  const double a = std::fabs(v);
  if (a < 10) return fmt::format("{:.2f}", v);
  if (a < 100) return fmt::format("{:.1f}", v);
  return grouped_integer(v);
}

std::string format_ratio(double r) {
  if (!std::isfinite(r)) return "x-";
  if (r < 10) return fmt::format("x{:.1f}", r);
  return "x" + grouped_integer(r);
}

std::string text_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& r) {
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  };
  measure(header);
  for (const auto& r : rows) measure(r);
  std::string out;
  auto line = [&](const std::vector<std::string>& r) {
    std::string l;
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < r.size() ? r[i] : std::string();
      if (i > 0) l += "  ";
      if (i == 0) {
        l += cell;
        l.append(width[i] - cell.size(), ' ');
      } else {
        l.append(width[i] - cell.size(), ' ');
        l += cell;
      }
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l;
    out += '\n';
  };
  line(header);
  std::size_t total = 0;
  for (std::size_t i = 0; i < width.size(); ++i) total += width[i] + (i > 0 ? 2 : 0);
  out.append(total, '-');
  out += '\n';
  for (const auto& r : rows) line(r);
  return out;
}

}  // namespace perflab::analysis::detail
