#pragma once
// Idempotency keys (the semantics of Stripe's API and of the IETF httpapi Idempotency-Key draft):
// the first request with a key does the work and its response is stored; a repeat with the same
// key and the same request gets the stored response without the work being done again; a repeat
// while the first is still in flight gets 409 Conflict (the client retries later; nothing waits
// on a server thread); a repeat with a different request (its fingerprint differs) gets 422.
// Keys expire `ttl` after the response was stored. In process, sharded; time is an argument.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace perflab::contention {

using nanos = std::chrono::nanoseconds;

class idempotency_store {
 public:
  enum class verdict : std::uint8_t {
    first,      // do the work, then complete() (or abandon() if it failed)
    replay,     // the stored response is in `stored`
    in_flight,  // 409: the first request with this key has not finished
    mismatch,   // 422: the key was used for a different request
  };
  struct stored_response {
    int status = 0;
    std::string body;
  };

  explicit idempotency_store(nanos ttl = std::chrono::hours(24), std::size_t max_keys = 1'000'000);

  // fingerprint: a hash of what makes the request the same request (method, path, body).
  verdict begin(std::string_view key, std::uint64_t fingerprint, nanos now, stored_response* stored);
  void complete(std::string_view key, stored_response response, nanos now);
  // The work failed before any effect: the key is free again (a retry does the work).
  void abandon(std::string_view key);

  struct stats_t {
    std::uint64_t first = 0, replays = 0, in_flight = 0, mismatches = 0, expired = 0;
  };
  stats_t stats() const;
  std::size_t keys() const;

 private:
  struct entry {
    std::uint64_t fingerprint = 0;
    bool done = false;
    nanos expires{0};  // when done
    stored_response response;
  };
  struct shard {
    mutable std::mutex m;
    std::unordered_map<std::string, entry> map;
  };
  shard& shard_of(std::string_view key);
  nanos ttl_;
  std::size_t max_per_shard_;
  std::vector<shard> shards_;
  mutable std::mutex stats_m_;
  stats_t stats_;
};

// FNV-1a over the parts, for fingerprints (not a security boundary: a lab's duplicate detector).
std::uint64_t fingerprint(std::string_view method, std::string_view path, std::string_view body);

}  // namespace perflab::contention
