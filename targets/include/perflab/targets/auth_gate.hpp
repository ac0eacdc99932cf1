#pragma once
// lab-target's --auth: what a request must carry and how the server checks it (the session's part
// is session_auth.cpp). Every request but /metrics, /health and /admin/* must carry
//   jwt-hs256, jwt-rs256, jwt-eddsa:  Authorization: Bearer <JWT>, verified by perflab::auth
//                                     (alg, signature, exp/nbf with a leeway, aud);
//   session-local, session-redis:     Cookie: sid=<id> from POST /auth/login?user=NAME, looked up in
//                                     the server's memory, or in Redis (GET per request: blocking
//                                     on the thread models, on the loop's asynchronous client on
//                                     the event loops).
// A refusal is 401 with WWW-Authenticate (RFC 6750) and counted by reason; a Redis that cannot be
// asked within its timeout is 503, never a hang.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include <perflab/auth/jwt.hpp>
#include <perflab/auth/scheme.hpp>
#include <perflab/auth/sessions.hpp>
#include <perflab/cache/remote.hpp>

namespace boost::asio {
class io_context;
}
namespace perflab::cache {
class redis_pool;
class redis_asio;
}  // namespace perflab::cache

namespace perflab::targets {

// The options as typed (lab-target --auth*).
struct auth_options {
  std::string scheme = "none";        // --auth none|jwt-hs256|jwt-rs256|jwt-eddsa|session-local|session-redis
  std::string key;                    // --auth-key FILE: HS256 secret, or the PEM public key (RS256, EdDSA)
  std::string audience = "perflab";   // --auth-audience: the aud a token must hold ("" : not checked)
  std::string leeway = "30s";         // --auth-leeway: clock skew allowed on exp and nbf
  std::string session_ttl = "1h";     // --auth-session-ttl: a login's session lives this long
  std::string redis = "redis://127.0.0.1:6379";  // --auth-redis: session-redis's store
  std::string redis_timeout = "100ms";           // --auth-redis-timeout: connect, and each reply (then 503)
};

// The checked configuration (server_config::auth).
struct auth_config {
  auth::scheme scheme = auth::scheme::none;
  std::shared_ptr<const auth::verifier> verifier;  // jwt-*: the key and the checks
  std::chrono::seconds session_ttl{3600};           // session-*: a session's life
  std::optional<cache::remote_config> redis;        // session-redis: where (its ttl is session_ttl)
  bool enabled() const noexcept { return scheme != auth::scheme::none; }
};
// The error names the option and what it accepts (a key file that cannot be read or is of the
// wrong type, a scheme without the key it needs, a bad URL or duration).
tl::expected<auth_config, std::string> parse_auth_options(const auth_options& o);

// Shared by every connection of a server with --auth: the counters, the session stores, and for
// session-redis the Redis clients (a blocking pool for the thread models; one asynchronous client
// per event loop, made by the model with make_loop_client before its loops run).
class auth_gate {
 public:
  auth_gate(const auth_config& cfg, bool blocking_model);
  ~auth_gate();
  const auth_config& config() const noexcept { return cfg_; }
  auth::stats& stats() noexcept { return stats_; }
  const auth::stats& stats() const noexcept { return stats_; }
  auth::local_sessions& local() noexcept { return local_; }
  cache::remote_stats& redis_stats() noexcept { return redis_stats_; }
  const cache::remote_stats& redis_stats() const noexcept { return redis_stats_; }
  cache::redis_pool* pool() noexcept { return pool_.get(); }  // session-redis on a thread model
  // session-redis on an event-loop model: the loop's client, which the model owns (destroyed
  // before its io_context), starts with the loop and stops with it. Null without session-redis.
  // Called before any loop runs.
  std::unique_ptr<cache::redis_asio> make_loop_client(boost::asio::io_context& ioc);
  // The client made for ioc (null: none).
  cache::redis_asio* loop_client(const boost::asio::io_context& ioc) const noexcept;

 private:
  auth_config cfg_;
  auth::stats stats_;
  auth::local_sessions local_;
  cache::remote_stats redis_stats_;
  std::unique_ptr<cache::redis_pool> pool_;
  std::vector<std::pair<const boost::asio::io_context*, cache::redis_asio*>> loop_clients_;
};

// perflab_auth_* for /metrics.
void write_auth_prometheus(const auth_gate& gate, std::string& out);

}  // namespace perflab::targets
