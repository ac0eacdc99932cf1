#include "perflab/core/cpus.hpp"
#include "perflab/core/text.hpp"

#include <algorithm>
#include <optional>
#include <thread>

#include <sched.h>

#include <fmt/format.h>

namespace perflab::cpus {

namespace {

constexpr std::string_view list_forms =
    "CPU numbers from 0 to 1023 or lo-hi ranges, separated by commas (e.g. \"0\", \"0,2\", \"0-3\", \"0-1,4,6-7\")";
static_assert(max_cpu == 1023 && max_cpu == CPU_SETSIZE - 1, "list_forms names the limit");

// Decimal digits only (no sign, no spaces). Saturates above max_cpu so that huge numbers are
// reported as out of range, not as "not a number".
std::optional<long> to_number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = std::min<long>(v * 10 + (c - '0'), max_cpu + 1L);
  }
  return v;
}

}  // namespace

tl::expected<std::vector<int>, std::string> parse_list(std::string_view text) {
  const std::string_view list = trim(text);
  auto bad = [&](std::string why) {
    return tl::unexpected(fmt::format("invalid CPU list \"{}\": {}; expected {}", text, why, list_forms));
  };
  if (list.empty()) return bad("the list is empty");
  std::vector<int> out;
  std::size_t pos = 0;
  for (int item_no = 1;; ++item_no) {
    const auto comma = list.find(',', pos);
    const std::string_view item = list.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (item.empty()) return bad(fmt::format("item {} is empty", item_no));
    long lo = 0, hi = 0;
    if (const auto dash = item.find('-'); dash == std::string_view::npos) {
      auto n = to_number(item);
      if (!n) return bad(fmt::format("\"{}\" is not a CPU number", item));
      lo = hi = *n;
    } else {
      auto a = to_number(item.substr(0, dash));
      auto b = to_number(item.substr(dash + 1));
      if (!a || !b) return bad(fmt::format("\"{}\" is not a range lo-hi of CPU numbers", item));
      if (*a > *b) return bad(fmt::format("range \"{}\" is reversed (lo-hi needs lo <= hi)", item));
      lo = *a;
      hi = *b;
    }
    if (hi > max_cpu) return bad(fmt::format("\"{}\" is out of range (CPUs go up to {})", item, max_cpu));
    for (long c = lo; c <= hi; ++c) out.push_back(static_cast<int>(c));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

tl::expected<void, std::string> check_present(const std::vector<int>& cpus) {
  const int n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int c : cpus) {
    if (c < 0 || c >= n)
      return tl::unexpected(fmt::format("CPU {} is not on this machine (it has CPUs {})", c,
                                        n == 1 ? std::string("0") : fmt::format("0-{}", n - 1)));
  }
  return {};
}

}  // namespace perflab::cpus
