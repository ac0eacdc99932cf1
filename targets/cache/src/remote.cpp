#include <perflab/cache/remote.hpp>

#include <algorithm>
#include <charconv>

#include "redis_command.hpp"

namespace perflab::cache {

std::optional<remote_config> parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) return std::nullopt;
  url.remove_prefix(scheme.size());
  if (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.empty() || url.find_first_of("/@?#") != std::string_view::npos) return std::nullopt;
  remote_config cfg;
  const auto colon = url.rfind(':');
  if (colon == std::string_view::npos) {
    cfg.host = std::string(url);
    return cfg;
  }
  const auto port_text = url.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535 || colon == 0)
    return std::nullopt;
  cfg.host = std::string(url.substr(0, colon));
  cfg.port = static_cast<std::uint16_t>(port);
  return cfg;
}

std::string_view to_string(remote_op op) noexcept {
  switch (op) {
    case remote_op::get: return "get";
    case remote_op::set: return "set";
    case remote_op::del: return "del";
    case remote_op::purge: return "purge";
  }
  return "?";
}

std::string_view to_string(remote_error e) noexcept {
  switch (e) {
    case remote_error::unavailable: return "unavailable";
    case remote_error::timeout: return "timeout";
    case remote_error::io: return "io";
    case remote_error::count_: break;
  }
  return "?";
}

std::int64_t backoff::failed(std::int64_t now_ns) noexcept {
  const auto wait = next_;
  next_ = std::min(cap, next_ * 2);
  return now_ns + std::chrono::nanoseconds(wait).count();
}

namespace detail {

void redis_argv::build(const remote_request& r, std::chrono::milliseconds ttl_ms) {
  auto arg = [&](std::string_view s) {
    argv[static_cast<std::size_t>(argc)] = s.data();
    len[static_cast<std::size_t>(argc)] = s.size();
    ++argc;
  };
  argc = 0;
  if (r.op == remote_op::purge) {
    arg("FLUSHDB");
    return;
  }
  key.assign(remote_key_prefix).append(r.key);
  switch (r.op) {
    case remote_op::get: arg("GET"); break;
    case remote_op::set: arg("SET"); break;
    case remote_op::del: arg("DEL"); break;
    case remote_op::purge: break;
  }
  arg(key);
  if (r.op != remote_op::set) return;
  arg(r.value);
  if (ttl_ms.count() > 0) {
    ttl = std::to_string(ttl_ms.count());
    arg("PX");
    arg(ttl);
  }
}

remote_status interpret(const remote_request& r, const redisReply* reply, std::string& value, remote_stats& stats) {
  if (!reply) return remote_status::error;  // counted by the client, which knows why
  stats.round_trips[static_cast<std::size_t>(r.op)].fetch_add(1, std::memory_order_relaxed);
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      value.assign(reply->str, reply->len);
      stats.hits.fetch_add(1, std::memory_order_relaxed);
      return remote_status::hit;
    case REDIS_REPLY_NIL:
      stats.misses.fetch_add(1, std::memory_order_relaxed);
      return remote_status::miss;
    case REDIS_REPLY_INTEGER:
      return reply->integer > 0 ? remote_status::hit : remote_status::miss;
    case REDIS_REPLY_STATUS:
      return remote_status::ok;
    default:
      stats.error(remote_error::io);
      return remote_status::error;
  }
}

}  // namespace detail
}  // namespace perflab::cache
