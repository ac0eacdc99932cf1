#include <perflab/targets/config.hpp>

#include <algorithm>
#include <charconv>

#include <arpa/inet.h>

#include <perflab/core/cpus.hpp>
#include <perflab/core/resolve.hpp>
#include <perflab/core/text.hpp>
#include <perflab/encode/brotli.hpp>
#include <perflab/encode/gzip.hpp>
#include <perflab/encode/zstd.hpp>
#include <perflab/core/units.hpp>

namespace perflab::targets {

namespace {

bool to_int(std::string_view s, long& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

}  // namespace

std::optional<model> parse_model(std::string_view name) noexcept {
  if (name == "thread-per-request") return model::thread_per_request;
  if (name == "thread-pool") return model::thread_pool;
  if (name == "reactor") return model::reactor;
  if (name == "coroutine") return model::coroutine;
  if (name == "fiber") return model::fiber;
  if (name == "io-uring") return model::io_uring;
  return std::nullopt;
}

std::string_view to_string(model m) noexcept {
  switch (m) {
    case model::thread_per_request: return "thread-per-request";
    case model::thread_pool: return "thread-pool";
    case model::reactor: return "reactor";
    case model::coroutine: return "coroutine";
    case model::fiber: return "fiber";
    case model::io_uring: return "io-uring";
  }
  return "unknown";
}

tl::expected<listen_address, std::string> parse_listen(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return tl::unexpected("bad listen address '" + std::string(text) +
                          "' (accepted: HOST:PORT with a numeric IPv4 host, e.g. 127.0.0.1:0)");
  listen_address a;
  a.host = colon == 0 ? "127.0.0.1" : std::string(text.substr(0, colon));
  long port = -1;
  if (!to_int(text.substr(colon + 1), port) || port < 0 || port > 65535)
    return tl::unexpected("bad port in listen address '" + std::string(text) + "' (0-65535)");
  in_addr addr{};
  if (inet_pton(AF_INET, a.host.c_str(), &addr) != 1)
    return tl::unexpected("bad host in listen address '" + std::string(text) +
                          "' (a numeric IPv4 address, e.g. 127.0.0.1)");
  a.port = static_cast<std::uint16_t>(port);
  return a;
}

tl::expected<void, std::string> apply_cache_options(const cache_options& o, server_config& cfg) {
  using tl::unexpected;
  auto count = [](const std::string& name, const std::string& text,
                  std::uint64_t max) -> tl::expected<std::uint64_t, std::string> {
    long v = -1;
    if (!to_int(text, v) || v < 0 || static_cast<std::uint64_t>(v) > max)
      return tl::unexpected(name + ": expected a whole number from 0 to " + std::to_string(max) + ", got '" + text + "'");
    return static_cast<std::uint64_t>(v);
  };
  auto duration = [](const std::string& name, const std::string& text) -> tl::expected<std::chrono::nanoseconds, std::string> {
    auto d = units::parse_duration(text);
    if (!d) return tl::unexpected(name + ": " + d.error());
    if (d->count() < 0) return tl::unexpected(name + ": must not be negative, got '" + text + "'");
    return *d;
  };
  cache::read_through_config rt;
  // --cache redis://H:P is short for --cache none --cache-remote redis://H:P.
  const bool remote_only = o.policy.starts_with("redis://");
  const std::string policy_name = remote_only ? "none" : o.policy;
  const auto policy = cache::parse_policy(policy_name);
  if (!policy && policy_name != "none")
    return unexpected("--cache: unknown policy '" + o.policy + "' (accepted: lru, lfu, fifo, none, redis://HOST:PORT)");
  const bool has_remote = !o.remote.empty() && o.remote != "none";
  if (remote_only && has_remote)
    return unexpected("--cache-remote: not with --cache " + o.policy +
                      " (--cache redis://... is the remote cache alone; for two levels use --cache lru|lfu|fifo "
                      "--cache-remote redis://...)");
  const std::string url = remote_only ? o.policy : has_remote ? o.remote : std::string();
  std::optional<cache::remote_config> remote;
  if (!url.empty()) {
    remote = cache::parse_redis_url(url);
    if (!remote)
      return unexpected((remote_only ? "--cache: bad Redis URL '" : "--cache-remote: bad Redis URL '") + url +
                        "' (accepted: redis://HOST:PORT or redis://HOST, e.g. redis://127.0.0.1:6379)");
    // Resolved here, once: the event loops' asynchronous connects must not block in DNS.
    auto address = net::numeric_host(remote->host);
    if (!address)
      return unexpected((remote_only ? "--cache: " : "--cache-remote: ") + url + ": " + address.error());
    remote->host = *address;
    auto timeout = duration("--cache-remote-timeout", o.remote_timeout);
    if (!timeout) return unexpected(timeout.error());
    if (*timeout < std::chrono::milliseconds(1) || *timeout > std::chrono::seconds(60))
      return unexpected("--cache-remote-timeout: expected 1ms to 60s, got '" + o.remote_timeout + "'");
    remote->timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*timeout);
  }
  auto capacity = count("--cache-capacity", o.capacity, 100'000'000);
  if (!capacity) return unexpected(capacity.error());
  auto bytes = units::parse_size(o.bytes);
  if (!bytes) return unexpected("--cache-bytes: " + bytes.error());
  auto ttl = duration("--cache-ttl", o.ttl);
  if (!ttl) return unexpected(ttl.error());
  auto prewarm = count("--cache-prewarm", o.prewarm, 100'000'000);
  if (!prewarm) return unexpected(prewarm.error());
  if (o.coalesce != "on" && o.coalesce != "off")
    return unexpected("--cache-coalesce: expected on or off, got '" + o.coalesce + "'");
  auto latency = duration("--origin-latency", o.origin_latency);
  if (!latency) return unexpected(latency.error());
  if (*latency > std::chrono::seconds(60))
    return unexpected("--origin-latency: at most 60s, got '" + o.origin_latency + "'");
  auto value_bytes = count("--origin-bytes", o.origin_bytes, 1 << 20);
  if (!value_bytes) return unexpected(value_bytes.error());
  if (policy) {
    if (*capacity == 0)
      return unexpected("--cache-capacity: must be at least 1 with --cache " + o.policy + " (--cache none stores nothing)");
    if (*prewarm > *capacity)
      return unexpected("--cache-prewarm: " + o.prewarm + " keys do not fit in --cache-capacity " + o.capacity);
    rt.cache = cache::cache_limits{*policy, static_cast<std::size_t>(*capacity), static_cast<std::size_t>(*bytes), *ttl, 16};
  } else if (*prewarm > 0) {
    return unexpected("--cache-prewarm: needs a local cache policy (--cache lru, lfu or fifo), not --cache " + o.policy);
  }
  rt.coalesce = o.coalesce == "on";
  rt.origin.latency = *latency;
  rt.origin.value_bytes = static_cast<std::size_t>(*value_bytes);
  cfg.cache = rt;
  cfg.cache_prewarm = static_cast<std::size_t>(*prewarm);
  if (remote) {
    remote->ttl = std::chrono::duration_cast<std::chrono::milliseconds>(*ttl);
    if (ttl->count() > 0 && remote->ttl.count() == 0)
      return unexpected("--cache-ttl: at least 1ms with a remote cache (Redis expiries are in ms), got '" + o.ttl + "'");
  }
  cfg.cache_remote = remote;
  return {};
}

tl::expected<void, std::string> apply_encode_options(const encode_options& o, server_config& cfg) {
  using tl::unexpected;
  encode::policy p;
  long level = -1;
  if (!to_int(o.gzip_level, level) || level < 0 || level > encode::max_gzip_level)
    return unexpected("--gzip-level: expected a whole number from 0 (off) to 9, got '" + o.gzip_level + "'");
  p.gzip_level = static_cast<int>(level);
  long br = -1;
  if (!to_int(o.br_level, br) || br < 0 || br > encode::max_br_level)
    return unexpected("--br-level: expected a whole number from 0 (off) to 11, got '" + o.br_level + "'");
  p.br_level = static_cast<int>(br);
  long zstd = -1;
  if (!to_int(o.zstd_level, zstd) || zstd < 0 || zstd > encode::max_zstd_level)
    return unexpected("--zstd-level: expected a whole number from 0 (off) to 19, got '" + o.zstd_level + "'");
  p.zstd_level = static_cast<int>(zstd);
  p.static_bodies = o.gzip_static;
  std::string_view rate = trim(o.link_rate);
  if (rate.ends_with("/s")) rate.remove_suffix(2);
  auto rate_bytes = units::parse_size(rate);
  if (!rate_bytes)
    return unexpected("--link-rate: expected bytes per second such as 1MB/s, 256KiB/s or 0 (unlimited), got '" +
                      o.link_rate + "'");
  auto latency = units::parse_duration(o.link_latency);
  if (!latency || latency->count() < 0 || *latency > std::chrono::seconds(10))
    return unexpected("--link-latency: expected a duration from 0 to 10s such as 20ms, got '" + o.link_latency + "'");
  cfg.link.rate_bytes_per_s = *rate_bytes;
  cfg.link.latency = *latency;
  auto min_length = units::parse_size(o.gzip_min_length);
  if (!min_length) return unexpected("--gzip-min-length: " + min_length.error());
  p.min_length = static_cast<std::size_t>(*min_length);
  p.types.clear();
  std::string_view rest = o.gzip_types;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto type = trim(rest.substr(0, comma));
    const auto slash = type.find('/');
    const bool valid = type == "*" || (slash != std::string_view::npos && slash > 0 && slash + 1 < type.size() &&
                                       type.find_first_of(" \t;,") == std::string_view::npos);
    if (!valid)
      return unexpected("--gzip-types: '" + std::string(type) +
                        "' is not a media type (accepted: a comma-separated list of type/subtype, type/* or *)");
    p.types.emplace_back(type);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (p.types.empty()) return unexpected(std::string("--gzip-types: empty (name at least one media type, or *)"));
  cfg.encoding = std::move(p);
  return {};
}

unsigned usable_cpus(const server_config& cfg) noexcept {
  // --cpu's list when given (main pins to it before the server starts, so it is then the affinity
  // mask too), else the mask we were started with; either way no more than a cgroup quota allows.
  int n = cfg.cpus.empty() ? cpus::available() : static_cast<int>(cfg.cpus.size());
  if (!cfg.cpus.empty())
    if (const auto quota = cpus::quota_limit()) n = std::min(n, *quota);
  return static_cast<unsigned>(std::max(1, n));
}

unsigned effective_threads(const server_config& cfg) noexcept {
  if (cfg.threads > 0 || cfg.which == model::thread_per_request) return cfg.threads;
  if (cfg.which == model::thread_pool) return pool_workers_per_cpu * usable_cpus(cfg);
  return usable_cpus(cfg);  // event loops: one per CPU we may run on
}

tl::expected<std::size_t, std::string> parse_fiber_stack(std::string_view text) {
  // Below 32 KiB some handlers do not fit: brotli at level 11 overflowed 16 KiB (24 KiB fitted).
  // Above 64 MiB a fiber is no longer cheaper than a thread.
  constexpr std::uint64_t min = 32 * 1024, max = 64 * 1024 * 1024;
  auto v = units::parse_size(text);
  if (!v) return tl::unexpected("--fiber-stack: " + v.error());
  if (*v < min || *v > max)
    return tl::unexpected("--fiber-stack: expected a size from 32KiB to 64MiB, got '" + std::string(text) + "'");
  return static_cast<std::size_t>(*v);
}

}  // namespace perflab::targets
