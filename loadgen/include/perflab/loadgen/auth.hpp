#pragma once
// The credentials every request of a run carries ([load] auth, `loadgen attack --auth`), made
// before the run: for jwt-* the loadgen signs `tokens` JWTs (sub user-0000 .. user-NNNN, the
// audience, exp = now + ttl) with the key lab-target's --auth-key verifies; for session it logs
// `tokens` users in (POST login_path?user=user-NNNN, one connection each) and keeps their sid
// cookies. The request mix renders each request once per credential and every request takes one
// of them at random (request_mix::build): nothing is formatted per request.
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace perflab::loadgen {

struct parsed_url;

struct auth_config {
  std::string scheme = "none";          // none | jwt-hs256 | jwt-rs256 | jwt-eddsa | session
  std::string key_file;                 // jwt-*: the signing key (HS256 secret, or PEM private key); made,
                                        // with its verifying half in <key_file>.pub, when missing
  std::int64_t tokens = 100;            // distinct credentials (users) the requests take turns with
  std::string audience = "perflab";     // jwt-*: the aud claim
  std::chrono::nanoseconds ttl = std::chrono::hours(1);  // jwt-*: exp = now + ttl
  std::string login_path = "/auth/login";                // session: where users log in
  bool enabled() const noexcept { return scheme != "none"; }
  bool operator==(const auth_config&) const = default;
};

// The scheme names accepted, for messages.
inline constexpr const char* auth_scheme_names = "none, jwt-hs256, jwt-rs256, jwt-eddsa, session";
// What is wrong with c (unknown scheme, no key file for jwt-*, tokens out of 1..100000, ttl <= 0).
tl::expected<void, std::string> check_auth(const auth_config& c);
// jwt-*: writes a fresh key to key_file and its verifying half to key_file + ".pub" when key_file
// does not exist yet (lab-target is given the .pub). Nothing for the other schemes.
tl::expected<void, std::string> ensure_auth_key(const auth_config& c);
// The header (name, value) of each credential: "Authorization", "Bearer <jwt>" or "Cookie",
// "sid=<id>". Empty for none. Error: the key cannot be read or signs nothing, a login failed.
tl::expected<std::vector<std::pair<std::string, std::string>>, std::string> make_credentials(const auth_config& c,
                                                                                             const parsed_url& url);
// "jwt-rs256, 100 tokens, aud perflab, ttl 1h" (run.json's load.auth; "" for none).
std::string describe_auth(const auth_config& c);

}  // namespace perflab::loadgen
