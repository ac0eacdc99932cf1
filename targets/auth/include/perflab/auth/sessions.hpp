#pragma once
// Server-side sessions held in process (lab-target --auth session-local): session id -> user, with
// an expiry, in a map split into shards that each have their own mutex, so concurrent lookups of
// different sessions rarely meet on one lock. Session ids are 128 random bits (OpenSSL's
// RAND_bytes) as 32 lower-case hex digits.
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <tl/expected.hpp>

namespace perflab::auth {

inline constexpr std::size_t session_id_length = 32;
// A fresh session id; error: the random generator failed.
tl::expected<std::string, std::string> new_session_id();
// Whether text has a session id's form (32 hex digits): anything else is refused before a lookup.
bool is_session_id(std::string_view text) noexcept;

class local_sessions {
 public:
  static constexpr std::size_t shard_count = 64;
  // max_sessions: a login beyond it first drops the expired sessions of its shard, then fails.
  explicit local_sessions(std::size_t max_sessions = 1'000'000) : max_per_shard_(max_sessions / shard_count + 1) {}
  // Stores sid -> user until expires_ns (now_ns() time; now_ns: the time now). False: full.
  bool put(std::string_view sid, std::string_view user, std::int64_t now_ns, std::int64_t expires_ns);
  // Whether sid is a live session at now_ns (an expired one is removed).
  bool find(std::string_view sid, std::int64_t now_ns);
  std::size_t size() const;

 private:
  struct entry {
    std::string user;
    std::int64_t expires_ns = 0;
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct alignas(64) shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, entry, string_hash, std::equal_to<>> map;
  };
  shard& shard_of(std::string_view sid) noexcept { return shards_[string_hash{}(sid) % shard_count]; }
  std::size_t max_per_shard_;
  std::array<shard, shard_count> shards_;
};

}  // namespace perflab::auth
