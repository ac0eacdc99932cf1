#pragma once
// The upstream (the dependency /proxy/{path} forwards to) and the options of the client and of
// the policies around its calls, as lab-target's --upstream* flags give them.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <netinet/in.h>

#include <tl/expected.hpp>

#include <perflab/resilience/breaker.hpp>
#include <perflab/resilience/retry.hpp>

namespace perflab::upstream {

using nanos = std::chrono::nanoseconds;

// "http://HOST[:PORT][/base]": HOST numeric, or a name resolved once at start-up (IPv4).
struct target {
  std::string host;          // as given (the Host header)
  std::uint16_t port = 80;
  std::string base_path;     // prefix of every forwarded path ("" or "/base", no trailing '/')
  sockaddr_in address{};     // resolved
};
tl::expected<target, std::string> parse_target(std::string_view url);

// A response served when a call is refused or fails (--upstream-fallback).
struct fallback_config {
  enum class kind : std::uint8_t { none, fixed, cached } what = kind::none;
  int status = 200;          // fixed: the status
  std::string body;          // fixed: the body (text/plain)
};
// "STATUS:BODY" (e.g. "200:{}") or "cached" (the last 2xx response to a GET of that path, for
// GET and HEAD only).
tl::expected<fallback_config, std::string> parse_fallback(std::string_view spec);

struct config {
  target to;
  std::uint32_t max_connections = 64;          // pooled connections to the upstream, in use or idle, >= 1
  nanos idle_timeout = std::chrono::seconds(30);  // an idle pooled connection older than this is closed
  nanos connect_timeout = std::chrono::seconds(1);  // TCP connect, within the attempt's time
  nanos attempt_timeout = std::chrono::milliseconds(200);  // one attempt: pool wait, connect, request, response
  nanos deadline{0};                           // a whole call, retries and backoff included (0: none)
  // Policies, outermost first: bulkhead -> circuit breaker -> retry -> timeout.
  std::uint32_t bulkhead = 0;                  // calls in flight at most (0: no bulkhead); excess: 503 at once
  std::optional<resilience::breaker_config> breaker;
  resilience::retry_config retry;              // max_attempts 1: no retry
  fallback_config fallback;
  std::uint64_t seed = 1;                      // backoff jitter draws
};

// The options as typed on the command line (lab-target's --upstream*).
struct options {
  std::string url;                             // --upstream (empty: /proxy answers 404)
  std::string timeout = "200ms";               // --upstream-timeout: per attempt
  std::string connect_timeout = "1s";          // --upstream-connect-timeout
  std::string deadline = "0";                  // --upstream-deadline: whole call (0: none)
  std::string pool = "64";                     // --upstream-pool: max connections
  std::string idle_timeout = "30s";            // --upstream-idle-timeout
  std::string retry;                           // --upstream-retry SPEC (resilience::parse_retry)
  std::string breaker;                         // --upstream-breaker SPEC (resilience::parse_breaker)
  std::string bulkhead = "0";                  // --upstream-bulkhead N
  std::string fallback;                        // --upstream-fallback STATUS:BODY | cached
};
// nullopt config when no --upstream; the error names the offending option and what it accepts.
tl::expected<std::optional<config>, std::string> parse_options(const options& o);

}  // namespace perflab::upstream
