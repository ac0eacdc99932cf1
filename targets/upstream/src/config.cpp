#include <perflab/upstream/config.hpp>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include <perflab/core/resolve.hpp>
#include <perflab/core/units.hpp>

namespace perflab::upstream {

namespace {

// The library's errors name its own flags (--retry:, --circuit-breaker:); ours are --upstream-*.
std::string renamed(std::string error, std::string_view from, std::string_view to) {
  if (error.starts_with(from)) error.replace(0, from.size(), to);
  return error;
}

tl::expected<nanos, std::string> duration(std::string_view option, const std::string& text, bool zero_ok) {
  auto d = units::parse_duration(text);
  if (!d) return tl::unexpected(fmt::format("{}: {}", option, d.error()));
  if (d->count() < 0 || (!zero_ok && d->count() == 0))
    return tl::unexpected(fmt::format("{}: must be a duration {} 0, such as 200ms, got '{}'", option, zero_ok ? ">=" : ">", text));
  return *d;
}

tl::expected<std::uint32_t, std::string> count(std::string_view option, const std::string& text, std::uint32_t min) {
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || p != text.data() + text.size() || v < min)
    return tl::unexpected(fmt::format("{}: must be a whole number >= {}, got '{}'", option, min, text));
  return v;
}

}  // namespace

tl::expected<target, std::string> parse_target(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  auto bad = [&](std::string_view why) {
    return tl::unexpected(fmt::format("--upstream: '{}' {} (expected http://HOST[:PORT][/base])", url, why));
  };
  if (!url.starts_with(scheme)) return bad("is not an http:// URL");
  std::string_view rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  while (path.ends_with('/')) path.remove_suffix(1);
  if (path.find_first_of("?#") != std::string_view::npos) return bad("has a query or fragment");
  target t;
  const auto colon = authority.rfind(':');
  std::string_view host = authority.substr(0, colon);
  if (colon != std::string_view::npos) {
    const auto port_text = authority.substr(colon + 1);
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc{} || p != port_text.data() + port_text.size() || port == 0 || port > 65535)
      return bad("has a bad port");
    t.port = static_cast<std::uint16_t>(port);
  }
  if (host.empty()) return bad("has no host");
  t.host.assign(host);
  t.base_path.assign(path);
  t.address.sin_family = AF_INET;
  t.address.sin_port = htons(t.port);
  // A name is resolved once, here (core's net::numeric_host), so no call ever waits for DNS.
  const auto numeric = net::numeric_host(t.host);
  if (!numeric) return tl::unexpected(fmt::format("--upstream: {}", numeric.error()));
  if (::inet_pton(AF_INET, numeric->c_str(), &t.address.sin_addr) != 1) return bad("is not an IPv4 host");
  return t;
}

tl::expected<fallback_config, std::string> parse_fallback(std::string_view spec) {
  fallback_config f;
  if (spec.empty() || spec == "none") return f;
  if (spec == "cached") {
    f.what = fallback_config::kind::cached;
    return f;
  }
  const auto colon = spec.find(':');
  const auto code = spec.substr(0, colon);
  int status = 0;
  auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), status);
  if (colon == std::string_view::npos || ec != std::errc{} || p != code.data() + code.size() || status < 200 || status > 599)
    return tl::unexpected(fmt::format("--upstream-fallback: '{}' must be STATUS:BODY (status 200..599, e.g. 200:{{}}) or cached", spec));
  f.what = fallback_config::kind::fixed;
  f.status = status;
  f.body.assign(spec.substr(colon + 1));
  return f;
}

tl::expected<std::optional<config>, std::string> parse_options(const options& o) {
  if (o.url.empty() || o.url == "none") return std::optional<config>{};
  config c;
  auto t = parse_target(o.url);
  if (!t) return tl::unexpected(t.error());
  c.to = std::move(*t);
  auto attempt = duration("--upstream-timeout", o.timeout, false);
  if (!attempt) return tl::unexpected(attempt.error());
  c.attempt_timeout = *attempt;
  auto connect = duration("--upstream-connect-timeout", o.connect_timeout, false);
  if (!connect) return tl::unexpected(connect.error());
  c.connect_timeout = *connect;
  auto deadline = duration("--upstream-deadline", o.deadline, true);
  if (!deadline) return tl::unexpected(deadline.error());
  c.deadline = *deadline;
  auto idle = duration("--upstream-idle-timeout", o.idle_timeout, false);
  if (!idle) return tl::unexpected(idle.error());
  c.idle_timeout = *idle;
  auto pool = count("--upstream-pool", o.pool, 1);
  if (!pool) return tl::unexpected(pool.error());
  c.max_connections = *pool;
  auto bulkhead = count("--upstream-bulkhead", o.bulkhead, 0);
  if (!bulkhead) return tl::unexpected(bulkhead.error());
  c.bulkhead = *bulkhead;
  if (!o.retry.empty() && o.retry != "none") {
    auto r = resilience::parse_retry(o.retry);
    if (!r) return tl::unexpected(renamed(r.error(), "--retry", "--upstream-retry"));
    c.retry = *r;
  }
  if (!o.breaker.empty() && o.breaker != "none") {
    auto b = resilience::parse_breaker(o.breaker);
    if (!b) return tl::unexpected(renamed(b.error(), "--circuit-breaker", "--upstream-breaker"));
    c.breaker = *b;
  }
  auto f = parse_fallback(o.fallback);
  if (!f) return tl::unexpected(f.error());
  c.fallback = std::move(*f);
  return std::optional<config>(std::move(c));
}

}  // namespace perflab::upstream
