#include <perflab/targets/auth_gate.hpp>

#include <utility>  // GCC 12: before any boost/asio header that pulls in awaitable

#include <iterator>

#include <fmt/format.h>

#include <perflab/cache/redis_asio.hpp>
#include <perflab/cache/redis_pool.hpp>
#include <perflab/core/units.hpp>

namespace perflab::targets {

namespace {

tl::expected<std::chrono::nanoseconds, std::string> auth_duration(std::string_view option, const std::string& text,
                                                                  bool zero_ok) {
  auto d = units::parse_duration(text);
  if (!d) return tl::unexpected(std::string(option) + ": " + d.error());
  if (d->count() < 0 || (!zero_ok && d->count() == 0))
    return tl::unexpected(fmt::format("{}: must be {}, got '{}'", option, zero_ok ? "0 or more" : "more than 0", text));
  return *d;
}

}  // namespace

tl::expected<auth_config, std::string> parse_auth_options(const auth_options& o) {
  auth_config c;
  const auto s = auth::parse_scheme(o.scheme);
  if (!s) return tl::unexpected(fmt::format("--auth: unknown scheme '{}' (accepted: {})", o.scheme, auth::scheme_names));
  c.scheme = *s;
  if (const auto alg = auth::jwt_algorithm(c.scheme)) {
    if (o.key.empty())
      return tl::unexpected(fmt::format("--auth {}: needs --auth-key FILE ({})", o.scheme,
                                        *alg == auth::algorithm::hs256 ? "the shared secret" : "the PEM public key"));
    auto k = auth::key::load(*alg, o.key);
    if (!k) return tl::unexpected("--auth-key: " + k.error());
    auto leeway = auth_duration("--auth-leeway", o.leeway, true);
    if (!leeway) return tl::unexpected(leeway.error());
    c.verifier = std::make_shared<const auth::verifier>(
        std::move(*k), auth::verify_options{o.audience, std::chrono::duration_cast<std::chrono::seconds>(*leeway)});
  } else if (!o.key.empty()) {
    return tl::unexpected(fmt::format("--auth-key: only with --auth jwt-*, not '{}'", o.scheme));
  }
  auto ttl = auth_duration("--auth-session-ttl", o.session_ttl, false);
  if (!ttl) return tl::unexpected(ttl.error());
  c.session_ttl = std::max(std::chrono::seconds(1), std::chrono::duration_cast<std::chrono::seconds>(*ttl));
  if (c.scheme == auth::scheme::session_redis) {
    auto r = cache::parse_redis_url(o.redis);
    if (!r) return tl::unexpected(fmt::format("--auth-redis: '{}' is not redis://HOST[:PORT]", o.redis));
    auto timeout = auth_duration("--auth-redis-timeout", o.redis_timeout, false);
    if (!timeout) return tl::unexpected(timeout.error());
    r->timeout = std::max(std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(*timeout));
    r->ttl = c.session_ttl;  // SET's PX: the session expires in Redis on its own
    c.redis = *r;
  }
  return c;
}

auth_gate::auth_gate(const auth_config& cfg, bool blocking_model) : cfg_(cfg) {
  if (cfg_.redis && blocking_model) pool_ = std::make_unique<cache::redis_pool>(*cfg_.redis, redis_stats_);
}

auth_gate::~auth_gate() = default;

std::unique_ptr<cache::redis_asio> auth_gate::make_loop_client(boost::asio::io_context& ioc) {
  if (!cfg_.redis) return nullptr;
  auto c = std::make_unique<cache::redis_asio>(ioc, *cfg_.redis, redis_stats_);
  loop_clients_.emplace_back(&ioc, c.get());
  return c;
}

cache::redis_asio* auth_gate::loop_client(const boost::asio::io_context& ioc) const noexcept {
  for (const auto& [io, client] : loop_clients_)
    if (io == &ioc) return client;
  return nullptr;
}

void write_auth_prometheus(const auth_gate& gate, std::string& out) {
  const auto& s = gate.stats();
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "# HELP perflab_auth_scheme_info What requests must carry (--auth).\n"
                 "# TYPE perflab_auth_scheme_info gauge\nperflab_auth_scheme_info{{scheme=\"{}\"}} 1\n"
                 "# HELP perflab_auth_accepted_total Requests whose credentials held.\n"
                 "# TYPE perflab_auth_accepted_total counter\nperflab_auth_accepted_total {}\n"
                 "# HELP perflab_auth_rejected_total Requests refused (401; 503 for unavailable), by reason.\n"
                 "# TYPE perflab_auth_rejected_total counter\n",
                 auth::to_string(gate.config().scheme), s.accepted.load(std::memory_order_relaxed));
  for (std::size_t i = 1; i <= auth::errc_count; ++i) {
    const auto e = static_cast<auth::errc>(i);
    fmt::format_to(it, "perflab_auth_rejected_total{{reason=\"{}\"}} {}\n", auth::reason_label(e), s.rejected_for(e));
  }
  fmt::format_to(it,
                 "# HELP perflab_auth_logins_total Sessions created by POST /auth/login.\n"
                 "# TYPE perflab_auth_logins_total counter\nperflab_auth_logins_total {}\n"
                 "# HELP perflab_auth_login_failures_total Logins refused (no user, store full or unavailable).\n"
                 "# TYPE perflab_auth_login_failures_total counter\nperflab_auth_login_failures_total {}\n",
                 s.logins.load(std::memory_order_relaxed), s.login_failures.load(std::memory_order_relaxed));
  if (gate.config().redis) {
    const auto& r = gate.redis_stats();
    fmt::format_to(it,
                   "# HELP perflab_auth_redis_round_trips_total Session commands answered by Redis.\n"
                   "# TYPE perflab_auth_redis_round_trips_total counter\nperflab_auth_redis_round_trips_total {}\n"
                   "# HELP perflab_auth_redis_errors_total Session commands that failed, by reason.\n"
                   "# TYPE perflab_auth_redis_errors_total counter\n",
                   r.round_trips[0].load(std::memory_order_relaxed) + r.round_trips[1].load(std::memory_order_relaxed));
    for (std::size_t i = 0; i < cache::remote_error_count; ++i)
      fmt::format_to(it, "perflab_auth_redis_errors_total{{reason=\"{}\"}} {}\n",
                     cache::to_string(static_cast<cache::remote_error>(i)), r.errors[i].load(std::memory_order_relaxed));
  }
}

}  // namespace perflab::targets
