#pragma once
// How requests authenticate (lab-target --auth, the scenario's [load] auth), and the server's
// counters of what it accepted and refused.
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include <perflab/auth/errc.hpp>
#include <perflab/auth/jwt.hpp>

namespace perflab::auth {

enum class scheme : std::uint8_t {
  none,           // no credentials asked for
  jwt_hs256,      // Authorization: Bearer <JWT>, verified with the shared secret
  jwt_rs256,      // ... with the RSA public key
  jwt_eddsa,      // ... with the Ed25519 public key
  session_local,  // Cookie: sid=<id> from POST /auth/login, looked up in the server's memory
  session_redis,  // ... looked up in Redis (GET per request)
};
// "none", "jwt-hs256", "jwt-rs256", "jwt-eddsa", "session-local", "session-redis".
std::optional<scheme> parse_scheme(std::string_view text) noexcept;
std::string_view to_string(scheme s) noexcept;
inline constexpr std::string_view scheme_names = "none|jwt-hs256|jwt-rs256|jwt-eddsa|session-local|session-redis";
// The JWT algorithm of a jwt-* scheme.
std::optional<algorithm> jwt_algorithm(scheme s) noexcept;
inline bool is_session(scheme s) noexcept { return s == scheme::session_local || s == scheme::session_redis; }

// A server's counters (relaxed atomics, read at /metrics scrapes).
struct stats {
  std::atomic<std::uint64_t> accepted{0};                      // requests whose credentials held
  std::array<std::atomic<std::uint64_t>, errc_count> rejected{};  // refused (401, or 503 for unavailable), by reason
  std::atomic<std::uint64_t> logins{0};                        // sessions created by POST /auth/login
  std::atomic<std::uint64_t> login_failures{0};                // logins refused (bad user, store full or unavailable)
  void reject(errc e) noexcept { rejected[static_cast<std::size_t>(e) - 1].fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t rejected_for(errc e) const noexcept {
    return rejected[static_cast<std::size_t>(e) - 1].load(std::memory_order_relaxed);
  }
};

}  // namespace perflab::auth
