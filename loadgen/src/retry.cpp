#include "perflab/loadgen/retry.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "perflab/core/units.hpp"

namespace perflab::loadgen {

bool retry_policy::retries_status(int status) const noexcept {
  return std::find(on.begin(), on.end(), status) != on.end();
}

std::string retry_policy::describe() const {
  if (!enabled()) return "";
  std::string codes;
  for (int s : on) {
    codes += codes.empty() ? "" : ",";
    codes += s == reset_code ? std::string("reset") : std::to_string(s);
  }
  std::string text = fmt::format("{} on {}, ", max, codes);
  if (unsafe) text += "any method, ";
  if (exponential)
    text += fmt::format("exponential {}..{} {} jitter", units::format_duration(backoff.base),
                        units::format_duration(backoff.cap), resilience::to_string(backoff.kind));
  else
    text += "no backoff";
  if (retry_after) text += fmt::format(", Retry-After (cap {})", units::format_duration(backoff.cap));
  return text;
}

bool should_retry(const retry_policy& p, bool idempotent, int status, std::int64_t retries_done) noexcept {
  return (idempotent || p.unsafe) && retries_done < p.max && p.retries_status(status);
}

std::chrono::nanoseconds retry_delay(const retry_policy& p, resilience::backoff& b, unsigned retry,
                                     std::int64_t retry_after_s) {
  if (p.retry_after && retry_after_s >= 0) {
    const std::int64_t cap_s = std::chrono::duration_cast<std::chrono::seconds>(p.backoff.cap).count() + 1;
    return std::min<std::chrono::nanoseconds>(p.backoff.cap, std::chrono::seconds(std::min(retry_after_s, cap_s)));
  }
  if (!p.exponential) return std::chrono::nanoseconds(0);
  return b.next(retry);
}

tl::expected<std::vector<int>, std::string> parse_retry_statuses(std::string_view list) {
  std::vector<int> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = list.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    int code = 0;
    if (item == "reset") {
      code = retry_policy::reset_code;
    } else {
      auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), code);
      if (item.empty() || ec != std::errc() || p != item.data() + item.size() || code < 200 || code > 599)
        return tl::unexpected(fmt::format("expected HTTP status codes from 200 to 599 or \"reset\", such as "
                                          "[503, 429, \"reset\"], found \"{}\"", item));
    }
    if (std::find(out.begin(), out.end(), code) == out.end()) out.push_back(code);
    start = comma + 1;
  }
  return out;
}

tl::expected<bool, std::string> parse_retry_backoff(std::string_view text) {
  if (text == "exponential") return true;
  if (text == "none") return false;
  return tl::unexpected(fmt::format("expected \"exponential\" or \"none\" (retry at once), found \"{}\"", text));
}

tl::expected<resilience::jitter, std::string> parse_retry_jitter(std::string_view text) {
  if (text == "full") return resilience::jitter::full;
  if (text == "equal") return resilience::jitter::equal;
  if (text == "none") return resilience::jitter::none;
  return tl::unexpected(fmt::format("expected \"full\", \"equal\" or \"none\", found \"{}\"", text));
}

tl::expected<void, std::string> check_retry_policy(const retry_policy& p) {
  if (p.max < 0 || p.max > 100)
    return tl::unexpected(fmt::format("max: expected retries from 0 to 100, found {}", p.max));
  if (p.backoff.base <= std::chrono::nanoseconds(0))
    return tl::unexpected(std::string("base: expected a duration above zero, e.g. \"50ms\""));
  if (p.exponential && p.backoff.cap < p.backoff.base)
    return tl::unexpected(fmt::format("cap: expected at least base ({}), found {}",
                                      units::format_duration(p.backoff.base), units::format_duration(p.backoff.cap)));
  if (p.on.empty()) return tl::unexpected(std::string("on: expected at least one status, e.g. [503, 429]"));
  return {};
}

}  // namespace perflab::loadgen
