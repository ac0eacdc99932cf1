#include <perflab/auth/errc.hpp>

#include <string>

namespace perflab::auth {

std::string_view reason_label(errc e) noexcept {
  switch (e) {
    case errc::missing: return "missing";
    case errc::malformed: return "malformed";
    case errc::wrong_alg: return "wrong_alg";
    case errc::bad_signature: return "bad_signature";
    case errc::expired: return "expired";
    case errc::not_yet_valid: return "not_yet_valid";
    case errc::wrong_audience: return "wrong_audience";
    case errc::unknown_session: return "unknown_session";
    case errc::unavailable: return "unavailable";
  }
  return "unknown";
}

std::string_view describe(errc e) noexcept {
  switch (e) {
    case errc::missing: return "no bearer token or session cookie";
    case errc::malformed: return "the token is malformed";
    case errc::wrong_alg: return "the token's algorithm is not the one accepted";
    case errc::bad_signature: return "the token's signature does not verify";
    case errc::expired: return "the token has expired";
    case errc::not_yet_valid: return "the token is not valid yet";
    case errc::wrong_audience: return "the token is for another audience";
    case errc::unknown_session: return "no such session";
    case errc::unavailable: return "the session store is unavailable";
  }
  return "unknown";
}

namespace {
class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "perflab.auth"; }
  std::string message(int v) const override { return std::string(describe(static_cast<errc>(v))); }
};
}  // namespace

const std::error_category& auth_category() noexcept {
  static const category c;
  return c;
}

}  // namespace perflab::auth
