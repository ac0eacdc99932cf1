// Request-target and Host syntax for the request parser (see http_request_target.hpp).
#include "http_request_target.hpp"

#include <array>

namespace perflab::http::detail {
namespace {

enum : unsigned char { unreserved = 1, sub_delim = 2, path_extra = 4, query_extra = 8, hex = 16 };

constexpr std::array<unsigned char, 256> make_classes() {
  std::array<unsigned char, 256> t{};
  auto set = [&](std::string_view chars, unsigned char bit) {
    for (char c : chars) t[static_cast<unsigned char>(c)] |= bit;
  };
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] |= unreserved;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] |= unreserved;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] |= unreserved | hex;
  set("abcdefABCDEF", hex);
  set("-._~", unreserved);
  set("!$&'()*+,;=", sub_delim);
  set(":@/", path_extra);  // pchar's ":" and "@", and the segment separator
  set("?", query_extra);
  return t;
}
constexpr auto classes = make_classes();

bool is(char c, unsigned char bits) noexcept { return (classes[static_cast<unsigned char>(c)] & bits) != 0; }

// Every byte is one of `bits` or a well-formed percent-escape.
bool all_of(std::string_view s, unsigned char bits) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (is(s[i], bits)) continue;
    if (s[i] != '%' || i + 2 >= s.size() || !is(s[i + 1], hex) || !is(s[i + 2], hex)) return false;
    i += 2;
  }
  return true;
}

constexpr unsigned char pchar = unreserved | sub_delim | path_extra;

// absolute-path [ "?" query ]: the origin-form, and the tail of an absolute-form.
bool split_path(std::string_view s, parsed_target& out) noexcept {
  const auto q = s.find('?');
  out.path = s.substr(0, q);
  out.query = q == std::string_view::npos ? std::string_view{} : s.substr(q + 1);
  return all_of(out.path, pchar) && all_of(out.query, pchar | query_extra);
}

bool iequals_ascii(std::string_view a, std::string_view lower_b) noexcept {
  if (a.size() != lower_b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char c = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] + 32) : a[i];
    if (c != lower_b[i]) return false;
  }
  return true;
}

// uri-host [":" port]; the host may be empty only when allow_empty_host.
bool valid_authority(std::string_view v, bool allow_empty_host, bool need_port) noexcept {
  std::string_view rest;
  if (!v.empty() && v.front() == '[') {
    // IP-literal: an IPv6 address or IPvFuture, whose characters are checked, not their order.
    const auto close = v.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    if (!all_of(v.substr(1, close - 1), unreserved | sub_delim | path_extra) ||
        v.substr(1, close - 1).find_first_of("/@") != std::string_view::npos)
      return false;
    rest = v.substr(close + 1);
  } else {
    const auto colon = v.find(':');
    const auto host = v.substr(0, colon);
    if (host.empty() && !allow_empty_host) return false;
    if (!all_of(host, unreserved | sub_delim)) return false;
    rest = colon == std::string_view::npos ? std::string_view{} : v.substr(colon);
  }
  if (rest.empty()) return !need_port;
  if (rest.front() != ':') return false;
  for (char c : rest.substr(1))
    if (c < '0' || c > '9') return false;
  return !need_port || rest.size() > 1;
}

}  // namespace

bool valid_host_value(std::string_view value) noexcept { return valid_authority(value, true, false); }

errc parse_target(std::string_view method, std::string_view target, parsed_target& out) noexcept {
  out = parsed_target{};
  const bool connect = method == "CONNECT";
  if (target == "*") {
    if (method != "OPTIONS") return errc::bad_target;
    out.form = target_form::asterisk;
    out.path = target;
    return errc::ok;
  }
  if (connect) {
    // authority-form, host and port, and nothing else (RFC 9112 3.2.3).
    if (!valid_authority(target, false, true)) return errc::bad_target;
    out.form = target_form::authority;
    out.authority = target;
    return errc::ok;
  }
  if (target.front() == '/') {
    out.form = target_form::origin;
    return split_path(target, out) ? errc::ok : errc::bad_target;
  }
  // absolute-form: scheme "://" authority path-abempty [ "?" query ]. We serve http and https
  // URIs only; an origin server has nothing to say about other schemes.
  const auto colon = target.find("://");
  if (colon == std::string_view::npos) return errc::bad_target;
  const auto scheme = target.substr(0, colon);
  if (!iequals_ascii(scheme, "http") && !iequals_ascii(scheme, "https")) return errc::bad_target;
  const auto after = target.substr(colon + 3);
  const auto end = after.find_first_of("/?");
  out.authority = after.substr(0, end);
  // userinfo is refused (RFC 9110 4.2.4), an empty host is invalid (4.2.1).
  if (out.authority.find('@') != std::string_view::npos || !valid_authority(out.authority, false, false))
    return errc::bad_target;
  out.form = target_form::absolute;
  const auto tail = end == std::string_view::npos ? std::string_view{} : after.substr(end);
  if (!split_path(tail, out)) return errc::bad_target;
  if (out.path.empty()) out.path_is_root = true;  // "http://h" and "http://h?q" mean "/"
  return errc::ok;
}

}  // namespace perflab::http::detail
