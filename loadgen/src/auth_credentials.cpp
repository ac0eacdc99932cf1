#include "perflab/loadgen/auth.hpp"

#include <filesystem>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <perflab/auth/jwt.hpp>
#include <perflab/core/text.hpp>
#include <perflab/core/units.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include "perflab/loadgen/request_mix.hpp"

namespace perflab::loadgen {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr std::int64_t max_tokens = 100'000;
constexpr auto login_timeout = std::chrono::seconds(5);

std::optional<auth::algorithm> jwt_alg(const std::string& scheme) {
  if (!scheme.starts_with("jwt-")) return std::nullopt;
  return auth::parse_algorithm(std::string_view(scheme).substr(4));
}

std::string user_name(std::int64_t i) { return fmt::format("user-{:06}", i); }

// One POST login_path?user=NAME on its own connection (Connection: close); the sid of its
// Set-Cookie.
tl::expected<std::string, std::string> log_in(asio::io_context& ioc, const tcp::resolver::results_type& where,
                                              const parsed_url& url, const std::string& path, const std::string& user) {
  tcp::socket sock(ioc);
  boost::system::error_code ec;
  asio::connect(sock, where, ec);
  if (ec) return tl::unexpected(fmt::format("cannot connect to {}:{}: {}", url.host, url.port, ec.message()));
  // A target that accepts and never answers must not hang the run.
  const timeval tv{static_cast<time_t>(login_timeout.count()), 0};
  ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const std::string req = fmt::format("POST {}?user={} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                                      path, user, url.host_header);
  asio::write(sock, asio::buffer(req), ec);
  if (ec) return tl::unexpected(fmt::format("login of {}: {}", user, ec.message()));
  std::string resp;
  asio::read(sock, asio::dynamic_buffer(resp, 64 * 1024), ec);
  if (ec && ec != asio::error::eof) return tl::unexpected(fmt::format("login of {}: {}", user, ec.message()));
  const auto line_end = resp.find("\r\n");
  const std::string_view status_line = std::string_view(resp).substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.substr(9, 3) != "200")
    return tl::unexpected(fmt::format("POST {}?user={} answered '{}' (does the target run --auth session-*?)", path, user,
                                      status_line));
  // The sid of a Set-Cookie line, up to its first ';'.
  std::size_t at = 0;
  while ((at = resp.find("\r\n", at)) != std::string::npos && at < resp.find("\r\n\r\n")) {
    at += 2;
    const auto end = resp.find("\r\n", at);
    const std::string_view line = std::string_view(resp).substr(at, end - at);
    if (!iequals(line.substr(0, 11), "set-cookie:")) continue;
    std::string_view v = line.substr(11);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (!v.starts_with("sid=")) continue;
    v.remove_prefix(4);
    return std::string(v.substr(0, v.find(';')));
  }
  return tl::unexpected(fmt::format("POST {}?user={} set no sid cookie", path, user));
}

}  // namespace

tl::expected<void, std::string> check_auth(const auth_config& c) {
  if (c.scheme == "none") return {};
  if (c.scheme != "session" && !jwt_alg(c.scheme))
    return tl::unexpected(fmt::format("scheme: expected one of {}, found \"{}\"", auth_scheme_names, c.scheme));
  if (c.tokens < 1 || c.tokens > max_tokens)
    return tl::unexpected(fmt::format("tokens: expected 1 to {}, found {}", max_tokens, c.tokens));
  if (jwt_alg(c.scheme)) {
    if (c.key_file.empty()) return tl::unexpected(fmt::format("key_file: {} needs the signing key's file", c.scheme));
    if (c.ttl.count() <= 0) return tl::unexpected(std::string("ttl: expected a duration above 0"));
  }
  if (c.scheme == "session" && (c.login_path.empty() || c.login_path.front() != '/'))
    return tl::unexpected(fmt::format("login_path: expected a path such as \"/auth/login\", found \"{}\"", c.login_path));
  return {};
}

tl::expected<void, std::string> ensure_auth_key(const auth_config& c) {
  const auto alg = jwt_alg(c.scheme);
  if (!alg) return {};
  std::error_code ec;
  if (std::filesystem::exists(c.key_file, ec)) return {};
  auto made = auth::write_key_pair(*alg, c.key_file, c.key_file + ".pub");
  if (!made) return tl::unexpected("auth key: " + made.error());
  return {};
}

tl::expected<std::vector<std::pair<std::string, std::string>>, std::string> make_credentials(const auth_config& c,
                                                                                             const parsed_url& url) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!c.enabled()) return out;
  if (auto ok = check_auth(c); !ok) return tl::unexpected("auth " + ok.error());
  out.reserve(static_cast<std::size_t>(c.tokens));
  if (const auto alg = jwt_alg(c.scheme)) {
    if (auto made = ensure_auth_key(c); !made) return tl::unexpected(made.error());
    auto k = auth::key::load(*alg, c.key_file);
    if (!k) return tl::unexpected("auth key_file: " + k.error());
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auth::claims claims;
    claims.aud = c.audience;
    claims.iat = now;
    claims.exp = now + std::chrono::duration_cast<std::chrono::seconds>(c.ttl).count();
    for (std::int64_t i = 0; i < c.tokens; ++i) {
      claims.sub = user_name(i);
      auto token = auth::sign(*k, claims);
      if (!token) return tl::unexpected("auth: signing failed: " + token.error());
      out.emplace_back("Authorization", "Bearer " + *token);
    }
    return out;
  }
  if (url.tls) return tl::unexpected(std::string("auth session: logins go over http:// only"));
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  const auto where = resolver.resolve(url.host, url.port, ec);
  if (ec) return tl::unexpected(fmt::format("auth session: cannot resolve '{}': {}", url.host, ec.message()));
  for (std::int64_t i = 0; i < c.tokens; ++i) {
    auto sid = log_in(ioc, where, url, c.login_path, user_name(i));
    if (!sid) return tl::unexpected("auth session: " + sid.error());
    out.emplace_back("Cookie", "sid=" + *sid);
  }
  return out;
}

std::string describe_auth(const auth_config& c) {
  if (!c.enabled()) return {};
  if (c.scheme == "session") return fmt::format("session, {} users logged in at {}", c.tokens, c.login_path);
  return fmt::format("{}, {} tokens, aud {}, ttl {}", c.scheme, c.tokens, c.audience.empty() ? "(none)" : c.audience,
                     units::format_duration(c.ttl));
}

}  // namespace perflab::loadgen
