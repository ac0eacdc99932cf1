#pragma once
// Why a request's credentials were refused: one value per reason, each counted in lab-target's
// /metrics (perflab_auth_rejected_total{reason=...}) and named in its 401's error_description.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>

namespace perflab::auth {

enum class errc : std::uint8_t {
  missing = 1,      // no Authorization: Bearer and no sid cookie
  malformed,        // not three base64url parts, bad base64url, bad JSON, a claim of the wrong type
  wrong_alg,        // the header's alg is not the configured algorithm ("none" included)
  bad_signature,    // the signature does not verify (a tampered header or payload, another key)
  expired,          // exp (plus the leeway) is in the past, or there is no exp
  not_yet_valid,    // nbf (minus the leeway) is in the future
  wrong_audience,   // aud is missing or does not hold the configured audience
  unknown_session,  // no session with this id (never created, expired, or in another store)
  unavailable,      // the session store could not be asked (Redis unreachable or too slow): 503
};
inline constexpr std::size_t errc_count = 9;  // for per-reason counter arrays, indexed errc - 1

// "missing", "malformed", "wrong_alg", ...: the metrics label.
std::string_view reason_label(errc e) noexcept;
// One line for a 401's error_description (no quotes or backslashes in it).
std::string_view describe(errc e) noexcept;

const std::error_category& auth_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), auth_category()}; }

}  // namespace perflab::auth

template <>
struct std::is_error_code_enum<perflab::auth::errc> : std::true_type {};
