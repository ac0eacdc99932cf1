#include <perflab/db/service.hpp>

#include <charconv>
#include <stdexcept>

#include <perflab/core/units.hpp>
#include <perflab/db/postgres.hpp>

namespace perflab::db {

namespace {

using tl::unexpected;

bool to_u64(std::string_view text, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

tl::expected<double, std::string> fraction(const std::string& name, const std::string& text, double max) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v >= 0) || v > max)
    return unexpected(name + ": expected a number from 0 to " + std::to_string(max).substr(0, 3) + ", got '" + text + "'");
  return v;
}

// A duration option; zero allowed only where it means "never".
tl::expected<std::chrono::milliseconds, std::string> millis(const std::string& name, const std::string& text,
                                                            bool zero_ok) {
  auto d = units::parse_duration(text);
  if (!d) return unexpected(name + ": " + d.error());
  if (d->count() < 0) return unexpected(name + ": must not be negative, got '" + text + "'");
  const auto v = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  if (!zero_ok && v.count() <= 0) return unexpected(name + ": must be at least 1ms, got '" + text + "'");
  return v;
}

tl::expected<std::size_t, std::string> count(const std::string& name, const std::string& text, std::uint64_t min,
                                             std::uint64_t max) {
  std::uint64_t v = 0;
  if (!to_u64(text, v) || v < min || v > max)
    return unexpected(name + ": expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                      ", got '" + text + "'");
  return static_cast<std::size_t>(v);
}

bool is_postgres_url(std::string_view url) {
  return url.starts_with("postgres://") || url.starts_with("postgresql://");
}

std::unique_ptr<database> make_database(const config& c) {
  if (c.url == "sim") return std::make_unique<sim_database>(c.sim);
  return make_postgres(c.url);  // throws naming --db when unreachable
}

}  // namespace

tl::expected<config, std::string> parse_options(const options& o) {
  config c;
  if (o.url != "sim" && !is_postgres_url(o.url))
    return unexpected("--db: unknown database '" + o.url + "' (accepted: sim, postgres://USER@HOST:PORT/DB)");
  c.url = o.url;
  c.given = o.given;
  auto lat = parse_latency(o.latency);
  if (!lat) return unexpected("--db-latency: " + lat.error());
  c.latency = *lat;
  auto cost = units::parse_duration(o.connect_cost);
  if (!cost) return unexpected("--db-connect-cost: " + cost.error());
  if (cost->count() < 0 || *cost > std::chrono::seconds(60))
    return unexpected("--db-connect-cost: must be from 0 to 60s, got '" + o.connect_cost + "'");
  c.sim.connect_cost = std::chrono::duration_cast<std::chrono::microseconds>(*cost);
  auto cores = count("--db-cores", o.cores, 0, 4096);
  if (!cores) return unexpected(cores.error());
  c.sim.cores = static_cast<unsigned>(*cores);
  auto contention = fraction("--db-contention", o.contention, 10);
  if (!contention) return unexpected(contention.error());
  c.sim.contention = *contention;
  auto fail = fraction("--db-fail-rate", o.fail_rate, 1);
  if (!fail) return unexpected(fail.error());
  c.sim.fail_rate = *fail;
  std::uint64_t seed = 0;
  if (!to_u64(o.seed, seed)) return unexpected("--db-seed: expected a whole number, got '" + o.seed + "'");
  c.seed = seed;
  c.sim.seed = seed;

  auto& p = c.pool;
  p.enabled = !o.no_pool;
  p.seed = seed;
  auto size = count("--pool-size", o.pool_size, 1, 10000);
  if (!size) return unexpected(size.error());
  p.max_size = *size;
  if (o.min_idle.empty()) {
    p.min_idle = p.max_size;
  } else {
    auto min_idle = count("--pool-min-idle", o.min_idle, 0, 10000);
    if (!min_idle) return unexpected(min_idle.error());
    if (*min_idle > p.max_size)
      return unexpected("--pool-min-idle: " + o.min_idle + " is more than --pool-size " + o.pool_size);
    p.min_idle = *min_idle;
  }
  auto acquire = millis("--pool-acquire-timeout", o.acquire_timeout, false);
  if (!acquire) return unexpected(acquire.error());
  p.acquire_timeout = *acquire;
  auto idle = millis("--pool-idle-timeout", o.idle_timeout, true);
  if (!idle) return unexpected(idle.error());
  p.idle_timeout = *idle;
  auto life = millis("--pool-max-lifetime", o.max_lifetime, true);
  if (!life) return unexpected(life.error());
  p.max_lifetime = *life;
  if (o.validation == "none") p.validate = validation::none;
  else if (o.validation == "on-borrow") p.validate = validation::on_borrow;
  else if (o.validation == "background") p.validate = validation::background;
  else return unexpected("--pool-validation: unknown '" + o.validation + "' (accepted: none, on-borrow, background)");
  auto every = millis("--pool-validation-interval", o.validation_interval, false);
  if (!every) return unexpected(every.error());
  p.validation_interval = *every;
  if (!p.enabled) p.min_idle = 0;
  return c;
}

service::service(const config& cfg)
    : cfg_(cfg), db_(make_database(cfg)), latency_(cfg.latency, cfg.seed ^ 0x9e3779b97f4a7c15ull),
      pool_(std::make_unique<pool>(cfg.pool, db_.get())) {
  pool_->start_housekeeper();
}

service::~service() = default;

}  // namespace perflab::db
