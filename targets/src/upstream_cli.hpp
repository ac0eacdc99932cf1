#pragma once
// lab-target's /proxy options (docs/targets.md, Upstream and /proxy), kept out of main.cpp. Only
// lab-target includes this (it alone links CLI11).
#include <CLI/CLI.hpp>

#include <perflab/upstream/config.hpp>

namespace perflab::targets {

inline void add_upstream_options(CLI::App& app, upstream::options& u) {
  app.add_option("--upstream", u.url, "http://HOST:PORT[/base]: /proxy/{path} forwards to it + /{path} (numeric host, or resolved once)");
  app.add_option("--upstream-timeout", u.timeout, "one attempt: pool wait, connect, request and response (then 504)")
      ->capture_default_str();
  app.add_option("--upstream-connect-timeout", u.connect_timeout, "the TCP connect, within the attempt")->capture_default_str();
  app.add_option("--upstream-deadline", u.deadline, "a whole call, retries and backoff included (0: none)")->capture_default_str();
  app.add_option("--upstream-pool", u.pool, "most connections to the upstream, in use or idle (keep-alive)")->capture_default_str();
  app.add_option("--upstream-idle-timeout", u.idle_timeout, "close a pooled connection idle this long")->capture_default_str();
  app.add_option("--upstream-retry", u.retry,
                 "ATTEMPTS[,base=100ms][,cap=10s][,jitter=none|full|equal|decorrelated][,budget=20%][,budget-min=10/s]: "
                 "retry idempotent requests after no response or 502/503/504");
  app.add_option("--upstream-breaker", u.breaker,
                 "count:N|time:Ns[,min=N][,failure=50%][,slow=100%][,slow-call=60s][,open=60s][,half-open=10]: circuit breaker");
  app.add_option("--upstream-bulkhead", u.bulkhead, "calls to the upstream in flight at most; more: 503 at once (0: none)")
      ->capture_default_str();
  app.add_option("--upstream-fallback", u.fallback,
                 "STATUS:BODY or cached (the last 2xx for that path): the answer when a call is refused or fails, "
                 "marked X-Fallback: reason");
}

}  // namespace perflab::targets
