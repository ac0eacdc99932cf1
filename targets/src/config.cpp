#include <perflab/targets/config.hpp>

#include <algorithm>
#include <charconv>

#include <arpa/inet.h>

#include <perflab/core/cpus.hpp>

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
  return std::nullopt;
}

std::string_view to_string(model m) noexcept {
  switch (m) {
    case model::thread_per_request: return "thread-per-request";
    case model::thread_pool: return "thread-pool";
    case model::reactor: return "reactor";
    case model::coroutine: return "coroutine";
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

}  // namespace perflab::targets
