#pragma once
// Idempotency keys kept in Redis or PostgreSQL (--idempotency-store redis://... | postgres://...),
// with the in-process store's semantics (idempotency.hpp): the first request with a key does the
// work and its response is stored; a repeat of the same request replays it; a repeat while the
// first is in flight gets 409; a repeat with a different request gets 422; a stored response
// expires `ttl` after it was stored. Unlike the in-process store, the keys are shared by every
// server using the same Redis or database, and survive a restart of this one.
//
// A keyed order runs whole on one of `workers` threads, each with its own connection: begin (one
// round trip), the work when first (the caller's callback: the order's effect and its response),
// then the response stored (one more), and the answer by callback on that thread, as the redis
// and PostgreSQL stock strategies answer a buy; so no event loop waits on the store. The work
// done is stored even when the client has gone: the effect happened.
//   redis     perflab:idem:<key> holds "<fingerprint>|-" while in flight (a lease of
//             inflight_lease, so a server that died mid-work frees the key), then
//             "<fingerprint>|<status>|<body>" with PX ttl. begin is one Lua script (GET, SET
//             when missing: atomic in Redis)
//   postgres  table perflab_idempotency (key primary key, fingerprint, status, body, expires_at):
//             INSERT ... ON CONFLICT DO NOTHING decides who is first; a done row past expires_at
//             is deleted and the key taken again; an in-flight row older than inflight_lease too
// Store unreachable or failing: the request is answered with error set (503), and no work is done.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include <perflab/contention/idempotency.hpp>

namespace perflab::contention {

struct remote_idempotency_config {
  std::string url;                                 // redis://HOST[:PORT] or postgres://...
  std::chrono::nanoseconds ttl = std::chrono::hours(24);  // --idempotency-ttl
  unsigned workers = 8;                            // threads = connections = keyed orders in flight
  std::chrono::milliseconds inflight_lease{60000};  // an in-flight key older than this is free again
};

struct keyed_result {
  idempotency_store::verdict verdict = idempotency_store::verdict::first;
  idempotency_store::stored_response response;  // first: the work's; replay: the stored one
  bool error = false;                           // the store could not be asked: 503, no work done
};

class remote_idempotency {
 public:
  virtual ~remote_idempotency() = default;
  // The order's effect and its response, run on a worker thread when the key is first.
  using work_fn = std::function<idempotency_store::stored_response()>;
  virtual void run_async(std::string key, std::uint64_t fingerprint, work_fn work,
                         std::function<void(keyed_result)> done) = 0;
  virtual idempotency_store::stats_t stats() const = 0;
  virtual std::string_view kind() const noexcept = 0;  // "redis", "postgres"
};

// Connects (and creates the table for postgres) before returning; the error says why not.
tl::expected<std::unique_ptr<remote_idempotency>, std::string> make_remote_idempotency(const remote_idempotency_config& cfg);

}  // namespace perflab::contention
