#include "perflab/core/cpus.hpp"
#include "perflab/core/text.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
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

namespace cgroup {

namespace {

// A positive decimal integer, nothing else (no sign, no blanks).
std::optional<std::int64_t> positive(std::string_view s) {
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

// mountinfo escapes space, tab, newline and backslash in paths as \ooo (octal).
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto octal = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '7'; };
    if (s[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

bool has_item(std::string_view list, std::string_view item) {
  for (auto x : split(list, ','))
    if (x == item) return true;
  return false;
}

// The process's cgroup path relative to a mount whose root (mountinfo field 4) is root.
std::optional<std::string> relative(std::string_view path, std::string_view root) {
  if (root == "/") return std::string(path);
  if (path == root) return std::string("/");
  if (path.starts_with(root) && path.size() > root.size() && path[root.size()] == '/')
    return std::string(path.substr(root.size()));
  return std::nullopt;  // our cgroup is outside what this mount shows
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

tl::expected<std::optional<double>, std::string> parse_cpu_max(std::string_view text) {
  const auto words = split(trim(text), ' ');
  auto bad = [&] {
    return tl::unexpected(fmt::format("cpu.max \"{}\": expected \"max PERIOD\" or \"QUOTA PERIOD\" in microseconds",
                                      trim(text)));
  };
  if (words.size() != 2) return bad();
  const auto period = positive(words[1]);
  if (!period) return bad();
  if (words[0] == "max") return std::optional<double>{};
  const auto quota = positive(words[0]);
  if (!quota) return bad();
  return std::optional<double>(static_cast<double>(*quota) / static_cast<double>(*period));
}

tl::expected<std::optional<double>, std::string> parse_cfs(std::string_view quota_text, std::string_view period_text) {
  const auto q = trim(quota_text);
  const auto period = positive(trim(period_text));
  if (!period)
    return tl::unexpected(fmt::format("cpu.cfs_period_us \"{}\": expected a positive number of microseconds",
                                      trim(period_text)));
  if (q == "-1") return std::optional<double>{};
  const auto quota = positive(q);
  if (!quota)
    return tl::unexpected(fmt::format("cpu.cfs_quota_us \"{}\": expected -1 or a positive number of microseconds", q));
  return std::optional<double>(static_cast<double>(*quota) / static_cast<double>(*period));
}

int cpus_for_limit(double limit) noexcept {
  if (!(limit > 1.0)) return 1;  // also NaN
  if (limit >= 1e6) return 1'000'000;
  return static_cast<int>(std::ceil(limit));
}

std::optional<location> locate(std::string_view proc_self_cgroup, std::string_view mountinfo) {
  // "ID:controllers:path" per hierarchy; v2 is "0::path".
  std::optional<std::string> v1_path, v2_path;
  for (auto line : split(proc_self_cgroup, '\n')) {
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const auto controllers = line.substr(first + 1, second - first - 1);
    const auto path = line.substr(second + 1);
    if (line.substr(0, first) == "0" && controllers.empty()) v2_path = std::string(path);
    else if (has_item(controllers, "cpu")) v1_path = std::string(path);
  }
  // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS".
  std::optional<location> v1, v2;
  for (auto line : split(mountinfo, '\n')) {
    const auto dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    const auto left = split(line.substr(0, dash), ' ');
    const auto right = split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    const std::string root = unescape(left[3]);
    const std::string mount = unescape(left[4]);
    if (right[0] == "cgroup" && v1_path && !v1 && has_item(right[2], "cpu")) {
      if (auto rel = relative(*v1_path, root)) v1 = location{1, mount, *rel};
    } else if (right[0] == "cgroup2" && v2_path && !v2) {
      if (auto rel = relative(*v2_path, root)) v2 = location{2, mount, *rel};
    }
  }
  return v1 ? v1 : v2;
}

std::vector<std::string> directories(const location& where) {
  std::vector<std::string> out;
  std::string path = where.path;
  while (!path.empty() && path.back() == '/') path.pop_back();
  for (;;) {
    out.push_back(where.mount + path);
    if (path.empty()) break;
    path.erase(path.rfind('/'));
  }
  return out;
}

}  // namespace cgroup

std::optional<int> quota_limit() noexcept {
  try {
    const auto where = cgroup::locate(cgroup::read_file("/proc/self/cgroup"), cgroup::read_file("/proc/self/mountinfo"));
    if (!where) return std::nullopt;
    std::optional<double> tightest;
    for (const auto& dir : cgroup::directories(*where)) {
      tl::expected<std::optional<double>, std::string> limit = std::optional<double>{};
      if (where->version == 2) {
        if (!cgroup::exists(dir + "/cpu.max")) continue;  // the root has none
        limit = cgroup::parse_cpu_max(cgroup::read_file(dir + "/cpu.max"));
      } else {
        if (!cgroup::exists(dir + "/cpu.cfs_quota_us")) continue;
        limit = cgroup::parse_cfs(cgroup::read_file(dir + "/cpu.cfs_quota_us"),
                                  cgroup::read_file(dir + "/cpu.cfs_period_us"));
      }
      // A file we cannot make sense of sets no limit: a default must never stop the program.
      if (limit && *limit && (!tightest || **limit < *tightest)) tightest = **limit;
    }
    if (!tightest) return std::nullopt;
    return cgroup::cpus_for_limit(*tightest);
  } catch (...) {
    return std::nullopt;
  }
}

int available() noexcept {
  int count = 0;
  // A cpu_set_t holds 1024 CPUs; larger machines need a bigger mask (EINVAL until it fits).
  for (int size = CPU_SETSIZE; size <= (1 << 20) && count == 0; size *= 2) {
    cpu_set_t* set = CPU_ALLOC(static_cast<unsigned>(size));
    if (!set) break;
    const auto bytes = CPU_ALLOC_SIZE(static_cast<unsigned>(size));
    if (::sched_getaffinity(0, bytes, set) == 0) {
      count = CPU_COUNT_S(bytes, set);
    } else if (errno != EINVAL) {
      CPU_FREE(set);
      break;
    }
    CPU_FREE(set);
  }
  if (count <= 0) count = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (const auto quota = quota_limit()) count = std::min(count, *quota);
  return std::max(1, count);
}

}  // namespace perflab::cpus
