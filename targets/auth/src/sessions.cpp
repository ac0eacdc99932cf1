#include <perflab/auth/sessions.hpp>

#include <openssl/rand.h>

namespace perflab::auth {

tl::expected<std::string, std::string> new_session_id() {
  unsigned char raw[session_id_length / 2];
  if (RAND_bytes(raw, sizeof raw) != 1) return tl::unexpected(std::string("RAND_bytes failed"));
  static constexpr char hex[] = "0123456789abcdef";
  std::string id;
  id.reserve(session_id_length);
  for (const unsigned char b : raw) {
    id.push_back(hex[b >> 4]);
    id.push_back(hex[b & 15]);
  }
  return id;
}

bool is_session_id(std::string_view text) noexcept {
  if (text.size() != session_id_length) return false;
  for (const char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool local_sessions::put(std::string_view sid, std::string_view user, std::int64_t now_ns, std::int64_t expires_ns) {
  shard& s = shard_of(sid);
  std::lock_guard lock(s.mutex);
  if (s.map.size() >= max_per_shard_) {
    std::erase_if(s.map, [&](const auto& kv) { return kv.second.expires_ns <= now_ns; });
  }
  if (s.map.size() >= max_per_shard_) return false;
  auto& e = s.map[std::string(sid)];
  e.user.assign(user);
  e.expires_ns = expires_ns;
  return true;
}

bool local_sessions::find(std::string_view sid, std::int64_t now_ns) {
  shard& s = shard_of(sid);
  std::lock_guard lock(s.mutex);
  const auto it = s.map.find(sid);
  if (it == s.map.end()) return false;
  if (it->second.expires_ns <= now_ns) {
    s.map.erase(it);
    return false;
  }
  return true;
}

std::size_t local_sessions::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.map.size();
  }
  return n;
}

}  // namespace perflab::auth
