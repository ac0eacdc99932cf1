#include <perflab/auth/scheme.hpp>

namespace perflab::auth {

std::optional<scheme> parse_scheme(std::string_view text) noexcept {
  if (text == "none") return scheme::none;
  if (text == "jwt-hs256") return scheme::jwt_hs256;
  if (text == "jwt-rs256") return scheme::jwt_rs256;
  if (text == "jwt-eddsa") return scheme::jwt_eddsa;
  if (text == "session-local") return scheme::session_local;
  if (text == "session-redis") return scheme::session_redis;
  return std::nullopt;
}

std::string_view to_string(scheme s) noexcept {
  switch (s) {
    case scheme::none: return "none";
    case scheme::jwt_hs256: return "jwt-hs256";
    case scheme::jwt_rs256: return "jwt-rs256";
    case scheme::jwt_eddsa: return "jwt-eddsa";
    case scheme::session_local: return "session-local";
    case scheme::session_redis: return "session-redis";
  }
  return "none";
}

std::optional<algorithm> jwt_algorithm(scheme s) noexcept {
  switch (s) {
    case scheme::jwt_hs256: return algorithm::hs256;
    case scheme::jwt_rs256: return algorithm::rs256;
    case scheme::jwt_eddsa: return algorithm::eddsa;
    default: return std::nullopt;
  }
}

}  // namespace perflab::auth
