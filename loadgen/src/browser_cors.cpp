#include "perflab/loadgen/browser_cors.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "perflab/core/text.hpp"
#include "perflab/loadgen/request_mix.hpp"

namespace perflab::loadgen::browser_cors {
namespace {

char cors_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), cors_lower);
  return out;
}

std::string_view trimmed(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Fields the browser writes itself (Fetch's forbidden request-headers that a request would carry);
// they never appear in Access-Control-Request-Headers.
constexpr std::array<std::string_view, 12> browser_set = {
    "host", "content-length", "connection", "keep-alive", "user-agent", "accept-encoding",
    "te", "transfer-encoding", "upgrade", "expect", "cookie", "origin"};

bool safelisted(std::string_view name, std::string_view value) {
  if (name == "accept" || name == "accept-language" || name == "content-language") return true;
  if (name != "content-type") return false;
  const auto essence = lowered(trimmed(value.substr(0, value.find(';'))));
  return essence == "application/x-www-form-urlencoded" || essence == "multipart/form-data" || essence == "text/plain";
}

std::string_view request_line(std::string_view request) noexcept { return request.substr(0, request.find("\r\n")); }

// Calls f(name, value) on each header field of the request's head.
template <class F>
void each_field(std::string_view request, F&& f) {
  const auto head_end = request.find("\r\n\r\n");
  std::string_view head = request.substr(0, head_end);
  auto line_end = head.find("\r\n");
  while (line_end != std::string_view::npos) {
    head.remove_prefix(line_end + 2);
    line_end = head.find("\r\n");
    const auto line = head.substr(0, line_end);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) f(line.substr(0, colon), trimmed(line.substr(colon + 1)));
  }
}

// Calls f(token) on each element of a comma-separated field value (empty elements skipped).
template <class F>
void cors_each_token(std::string_view list, F&& f) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto token = trimmed(list.substr(0, comma));
    if (!token.empty()) f(token);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

std::vector<std::string> unsafe_headers(std::string_view request) {
  std::vector<std::string> names;
  each_field(request, [&](std::string_view name, std::string_view value) {
    auto n = lowered(name);
    if (std::find(browser_set.begin(), browser_set.end(), n) != browser_set.end() || safelisted(n, value)) return;
    names.push_back(std::move(n));
  });
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

bool needs_preflight(std::string_view request) {
  const auto line = request_line(request);
  const auto method = line.substr(0, line.find(' '));
  if (method != "GET" && method != "HEAD" && method != "POST") return true;
  return !unsafe_headers(request).empty();
}

std::string with_origin(std::string_view request, std::string_view origin) {
  const auto line = request_line(request);
  std::string out;
  out.reserve(request.size() + origin.size() + 10);
  out.append(line).append("\r\nOrigin: ").append(origin).append(request.substr(line.size()));
  return out;
}

std::string preflight(std::string_view request, std::string_view origin) {
  const auto line = request_line(request);
  const auto sp = line.find(' ');
  const auto method = line.substr(0, sp);
  const auto target_and_version = line.substr(sp + 1);
  std::string out = "OPTIONS ";
  out.append(target_and_version).append("\r\n");
  each_field(request, [&](std::string_view name, std::string_view value) {
    if (lowered(name) == "host") out.append("Host: ").append(value).append("\r\n");
  });
  out.append("Origin: ").append(origin).append("\r\nAccess-Control-Request-Method: ").append(method).append("\r\n");
  const auto unsafe = unsafe_headers(request);
  if (!unsafe.empty()) {
    out.append("Access-Control-Request-Headers: ");
    for (std::size_t i = 0; i < unsafe.size(); ++i) out.append(i ? "," : "").append(unsafe[i]);
    out.append("\r\n");
  }
  out.append("\r\n");
  return out;
}

std::chrono::seconds effective_max_age(std::optional<std::int64_t> header_s) noexcept {
  if (!header_s || *header_s < 0) return default_max_age;
  return std::min(std::chrono::seconds(*header_s), max_max_age);
}

std::optional<std::string> origin_error(std::string_view origin) {
  const auto expected = [&](std::string_view why) {
    return std::string("expected an origin such as \"https://app.example\" or \"http://localhost:3000\" (scheme, "
                       "host, optional port; no path), found \"") + std::string(origin) + "\": " + std::string(why);
  };
  std::string_view rest = origin;
  if (rest.starts_with("https://")) rest.remove_prefix(8);
  else if (rest.starts_with("http://")) rest.remove_prefix(7);
  else return expected("no http:// or https:// scheme");
  if (rest.empty()) return expected("no host");
  if (rest.find_first_of("/?#") != std::string_view::npos) return expected("a path, query or fragment");
  if (rest.find_first_of(" \t\r\n,") != std::string_view::npos) return expected("a space or comma");
  if (rest.front() == ':') return expected("no host");
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos && rest.find(']') == std::string_view::npos) {
    const auto port = rest.substr(colon + 1);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
      return expected("a port that is not a number 0..65535");
  }
  return std::nullopt;
}

preflight_verdict judge_preflight(std::string_view head, int status, std::string_view origin, std::string_view method,
                                  const std::vector<std::string>& request_headers) noexcept {
  preflight_verdict v;
  int acao_fields = 0;
  bool origin_ok = false, method_listed = false, any_method = false, any_header = false;
  // Which of request_headers are listed (a request asks for a handful: a bit each).
  std::uint64_t listed = 0;
  each_field(head, [&](std::string_view name, std::string_view value) {
    if (iequals(name, "access-control-allow-origin")) {
      ++acao_fields;
      origin_ok = value == "*" || value == origin;
    } else if (iequals(name, "access-control-allow-methods")) {
      cors_each_token(value, [&](std::string_view m) {
        any_method = any_method || m == "*";
        method_listed = method_listed || m == method;
      });
    } else if (iequals(name, "access-control-allow-headers")) {
      cors_each_token(value, [&](std::string_view h) {
        any_header = any_header || h == "*";
        for (std::size_t i = 0; i < request_headers.size() && i < 64; ++i)
          if (iequals(h, request_headers[i])) listed |= std::uint64_t{1} << i;
      });
    } else if (iequals(name, "access-control-max-age")) {
      std::int64_t s = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
      if (ec == std::errc() && end == value.data() + value.size()) v.max_age_s = s;
    }
  });
  if (status < 200 || status > 299 || acao_fields != 1 || !origin_ok) return v;
  const bool simple_method = method == "GET" || method == "HEAD" || method == "POST";
  if (!simple_method && !method_listed && !any_method) return v;
  for (std::size_t i = 0; i < request_headers.size(); ++i) {
    const bool named = i < 64 && (listed & (std::uint64_t{1} << i)) != 0;
    // "*" covers every name but Authorization (Fetch's CORS non-wildcard request-header name).
    if (!named && !(any_header && request_headers[i] != "authorization")) return v;
  }
  v.allowed = true;
  return v;
}

plan plan::build(const request_mix& mix, const cors_config& cfg) {
  plan p;
  p.cfg = cfg;
  p.entries.resize(mix.size());
  for (std::size_t i = 0; i < mix.size(); ++i) {
    const std::string_view request = mix.at(i).bytes;
    entry& e = p.entries[i];
    const auto line = request_line(request);
    e.method = std::string(line.substr(0, line.find(' ')));
    if (!needs_preflight(request)) continue;
    e.preflight = preflight(request, cfg.origin);
    e.request_headers = unsafe_headers(request);
  }
  return p;
}

void cache::store(std::size_t entry, std::int64_t now_ns, std::optional<std::int64_t> max_age_header_s) noexcept {
  if (!enabled_ || entry >= expiry_ns_.size()) return;
  expiry_ns_[entry] = now_ns + std::chrono::nanoseconds(effective_max_age(max_age_header_s)).count();
}

}  // namespace perflab::loadgen::browser_cors
