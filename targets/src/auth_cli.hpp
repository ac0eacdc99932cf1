#pragma once
// lab-target's --auth options (docs/targets.md, Authentication), kept out of main.cpp. Only
// lab-target includes this (it alone links CLI11).
#include <CLI/CLI.hpp>

#include <perflab/targets/auth_gate.hpp>

namespace perflab::targets {

inline void add_auth_options(CLI::App& app, auth_options& a) {
  app.add_option("--auth", a.scheme,
                 "none|jwt-hs256|jwt-rs256|jwt-eddsa|session-local|session-redis: what every request but /metrics, "
                 "/health and /admin/* must carry (401 otherwise)")
      ->capture_default_str();
  app.add_option("--auth-key", a.key, "jwt-*: FILE with the HS256 secret, or the PEM public key (RS256, EdDSA)");
  app.add_option("--auth-audience", a.audience, "jwt-*: the aud a token must hold (\"\": not checked)")->capture_default_str();
  app.add_option("--auth-leeway", a.leeway, "jwt-*: clock skew allowed on exp and nbf")->capture_default_str();
  app.add_option("--auth-session-ttl", a.session_ttl, "session-*: how long a session from POST /auth/login lives")
      ->capture_default_str();
  app.add_option("--auth-redis", a.redis, "session-redis: redis://HOST:PORT holding the sessions")->capture_default_str();
  app.add_option("--auth-redis-timeout", a.redis_timeout, "session-redis: connect, and each reply (then 503)")
      ->capture_default_str();
}

}  // namespace perflab::targets
