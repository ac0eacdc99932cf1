#include <perflab/cors/cors.hpp>

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

namespace perflab::cors {
namespace {

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

char lower_ascii(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequal_ascii(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower_ascii(x) == lower_ascii(y); });
}

// Calls f on each non-empty trimmed element of a comma-separated list; stops when f returns false.
template <class F>
bool each_element(std::string_view list, F&& f) {
  while (true) {
    const auto comma = list.find(',');
    const auto item = trim_ows(list.substr(0, comma));
    if (!item.empty() && !f(item)) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

bool is_token_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool method_allowed(std::string_view m) noexcept {
  bool found = false;
  each_element(allowed_methods, [&](std::string_view a) { return !(found = (a == m)); });
  return found;
}

bool origin_allowed(const policy& p, std::string_view origin) noexcept {
  return p.any_origin || std::find(p.origins.begin(), p.origins.end(), origin) != p.origins.end();
}

}  // namespace

tl::expected<policy, std::string> make_policy(std::string_view origins, std::string_view headers,
                                              std::uint32_t max_age_s) {
  policy p;
  p.max_age_s = max_age_s;
  std::string error;
  if (trim_ows(origins) == "*") {
    p.any_origin = true;
  } else {
    each_element(origins, [&](std::string_view o) {
      // An origin is scheme://host[:port]: no path, no trailing slash (Fetch, "serializing an origin").
      const auto scheme_end = o.find("://");
      if (scheme_end == std::string_view::npos || scheme_end == 0 || o.size() == scheme_end + 3 ||
          o.find('/', scheme_end + 3) != std::string_view::npos || o.find('*') != std::string_view::npos) {
        error = fmt::format("--cors: expected '*' or comma-separated origins like https://app.example[:port], got '{}'", o);
        return false;
      }
      p.origins.emplace_back(o);
      return true;
    });
    if (error.empty() && p.origins.empty()) error = "--cors: expected '*' or at least one origin (scheme://host[:port])";
  }
  if (!error.empty()) return tl::unexpected(error);
  each_element(headers, [&](std::string_view h) {
    if (!std::all_of(h.begin(), h.end(), is_token_char)) {
      error = fmt::format("--cors-headers: expected comma-separated header names, got '{}'", h);
      return false;
    }
    std::string name(h);
    std::transform(name.begin(), name.end(), name.begin(), lower_ascii);
    if (!p.allow_headers.empty()) p.allow_headers += ", ";
    p.allow_headers += name;
    p.headers.push_back(std::move(name));
    return true;
  });
  if (!error.empty()) return tl::unexpected(error);
  return p;
}

decision decide(const policy& p, const request& r) {
  decision d;
  if (!r.origin) return d;
  const std::string_view origin = *r.origin;
  const bool preflight = r.method == "OPTIONS" && r.request_method.has_value();
  const bool origin_ok = origin_allowed(p, origin);
  if (!preflight) {
    d.what = origin_ok ? kind::actual_allowed : kind::actual_refused;
    if (!origin_ok) return d;
    if (p.any_origin) {
      d.fields = "Access-Control-Allow-Origin: *\r\n";
    } else {
      d.fields = fmt::format("Access-Control-Allow-Origin: {}\r\nVary: Origin\r\n", origin);
    }
    return d;
  }
  d.what = kind::preflight_refused;
  if (!origin_ok || !method_allowed(trim_ows(*r.request_method))) return d;
  bool headers_requested = false;
  if (r.request_headers) {
    const bool all_known = each_element(*r.request_headers, [&](std::string_view h) {
      headers_requested = true;
      return std::any_of(p.headers.begin(), p.headers.end(), [&](const std::string& a) { return iequal_ascii(a, h); });
    });
    if (!all_known) return d;
  }
  d.what = kind::preflight_allowed;
  auto it = std::back_inserter(d.fields);
  fmt::format_to(it, "Access-Control-Allow-Origin: {}\r\nAccess-Control-Allow-Methods: {}\r\n",
                 p.any_origin ? std::string_view("*") : origin, allowed_methods);
  if (headers_requested) fmt::format_to(it, "Access-Control-Allow-Headers: {}\r\n", p.allow_headers);
  fmt::format_to(it, "Access-Control-Max-Age: {}\r\n"
                     "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n",
                 p.max_age_s);
  return d;
}

void stats::count(kind k) noexcept {
  switch (k) {
    case kind::preflight_allowed: preflight_allowed_.fetch_add(1, std::memory_order_relaxed); break;
    case kind::preflight_refused: preflight_refused_.fetch_add(1, std::memory_order_relaxed); break;
    case kind::actual_allowed: actual_allowed_.fetch_add(1, std::memory_order_relaxed); break;
    case kind::actual_refused: actual_refused_.fetch_add(1, std::memory_order_relaxed); break;
    case kind::none: break;
  }
}

void stats::write_prometheus(std::string& out) const {
  fmt::format_to(std::back_inserter(out),
                 "# HELP perflab_cors_preflights_total Preflight requests (OPTIONS with Origin and "
                 "Access-Control-Request-Method): allowed (204) or refused (403, no CORS field).\n"
                 "# TYPE perflab_cors_preflights_total counter\n"
                 "perflab_cors_preflights_total{{result=\"allowed\"}} {}\n"
                 "perflab_cors_preflights_total{{result=\"refused\"}} {}\n"
                 "# HELP perflab_cors_requests_total Other requests with an Origin: allowed (given "
                 "Access-Control-Allow-Origin) or refused (answered without it).\n"
                 "# TYPE perflab_cors_requests_total counter\n"
                 "perflab_cors_requests_total{{result=\"allowed\"}} {}\n"
                 "perflab_cors_requests_total{{result=\"refused\"}} {}\n",
                 preflights_allowed(), preflights_refused(), actual_allowed(), actual_refused());
}

}  // namespace perflab::cors
