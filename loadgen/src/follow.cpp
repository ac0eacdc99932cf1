// [load] follow: the Location of a 202, the poll request, the policy's text (follow.hpp).
#include "perflab/loadgen/follow.hpp"

#include <fmt/format.h>

#include "perflab/core/units.hpp"

namespace perflab::loadgen {
namespace {

bool follow_iequal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view follow_trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of the first field named `name` in the head of `raw` (status line skipped), or empty.
std::string_view follow_field(std::string_view raw, std::string_view name) noexcept {
  const std::size_t head_end = raw.find("\r\n\r\n");
  const std::string_view head = raw.substr(0, head_end == std::string_view::npos ? raw.size() : head_end);
  std::size_t line = head.find("\r\n");
  while (line != std::string_view::npos) {
    const std::size_t start = line + 2;
    const std::size_t end = head.find("\r\n", start);
    const std::string_view l = head.substr(start, end == std::string_view::npos ? head.size() - start : end - start);
    const std::size_t colon = l.find(':');
    if (colon != std::string_view::npos && follow_iequal(l.substr(0, colon), name)) return follow_trim(l.substr(colon + 1));
    line = end;
  }
  return {};
}

}  // namespace

std::string follow_policy::describe() const {
  if (!enabled()) return {};
  return fmt::format("every {} until '{}', timeout {}", units::format_duration(every), until,
                     units::format_duration(timeout));
}

tl::expected<void, std::string> check_follow(const follow_policy& p) {
  if (p.every.count() <= 0) return tl::unexpected(std::string("every: expected a duration above 0 such as \"10ms\""));
  if (p.until.empty())
    return tl::unexpected(std::string("until: expected the text a finished job's status holds, e.g. "
                                      "'\"state\":\"done\"'"));
  if (p.timeout <= p.every)
    return tl::unexpected(fmt::format("timeout: expected more than every ({}), found {}", units::format_duration(p.every),
                                      units::format_duration(p.timeout)));
  return {};
}

std::string_view follow_location(std::string_view raw_response) noexcept {
  std::string_view v = follow_field(raw_response, "location");
  if (v.starts_with("http://") || v.starts_with("https://")) {
    const std::size_t slash = v.find('/', v.find("://") + 3);
    v = slash == std::string_view::npos ? std::string_view("/") : v.substr(slash);
  }
  if (v.empty() || v.front() != '/' || v.size() > follow_max_location) return {};
  for (const char ch : v)
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) return {};  // no spaces or controls in a request target
  return v;
}

bool render_follow_poll(std::string& out, std::string_view target, std::string_view request) {
  const std::string_view host = follow_field(request, "host");
  if (host.empty()) return false;
  out.clear();
  out.append("GET ").append(target).append(" HTTP/1.1\r\nHost: ").append(host).append("\r\n\r\n");
  return true;
}

}  // namespace perflab::loadgen
