#include <perflab/db/latency.hpp>

#include <cmath>

#include <perflab/core/units.hpp>

namespace perflab::db {

tl::expected<latency_dist, std::string> parse_latency(std::string_view text) {
  const std::string accepted = " (accepted: 5ms, fixed:5ms, exp:5ms, lognormal:5ms,0.5)";
  latency_dist d;
  std::string_view rest = text;
  if (const auto colon = rest.find(':'); colon != std::string_view::npos) {
    const auto name = rest.substr(0, colon);
    if (name == "fixed") d.what = latency_dist::shape::fixed;
    else if (name == "exp") d.what = latency_dist::shape::exp;
    else if (name == "lognormal") d.what = latency_dist::shape::lognormal;
    else return tl::unexpected("unknown distribution '" + std::string(name) + "'" + accepted);
    rest.remove_prefix(colon + 1);
  }
  std::string_view value = rest;
  if (d.what == latency_dist::shape::lognormal) {
    const auto comma = rest.find(',');
    if (comma == std::string_view::npos) return tl::unexpected("lognormal needs a median and a sigma" + accepted);
    value = rest.substr(0, comma);
    const std::string sigma(rest.substr(comma + 1));
    char* end = nullptr;
    d.sigma = std::strtod(sigma.c_str(), &end);
    if (sigma.empty() || *end != '\0' || !(d.sigma >= 0) || d.sigma > 5)
      return tl::unexpected("lognormal sigma must be a number from 0 to 5, got '" + sigma + "'" + accepted);
  }
  auto v = units::parse_duration(value);
  if (!v) return tl::unexpected(v.error() + accepted);
  if (v->count() < 0 || *v > std::chrono::minutes(10))
    return tl::unexpected("'" + std::string(value) + "' must be from 0 to 10min" + accepted);
  d.scale = std::chrono::duration_cast<std::chrono::microseconds>(*v);
  return d;
}

std::chrono::microseconds latency_sampler::draw() {
  const double scale = static_cast<double>(dist_.scale.count());
  double us = scale;
  {
    std::lock_guard l(mutex_);
    switch (dist_.what) {
      case latency_dist::shape::fixed: break;
      case latency_dist::shape::exp:
        if (scale > 0) us = std::exponential_distribution<double>(1.0 / scale)(rng_);
        break;
      case latency_dist::shape::lognormal:
        if (scale > 0) us = std::lognormal_distribution<double>(std::log(scale), dist_.sigma)(rng_);
        break;
    }
  }
  // Capped at 100x the scale, so one draw cannot hold a connection for minutes.
  us = std::min(us, 100.0 * scale);
  return std::chrono::microseconds(static_cast<std::int64_t>(us));
}

}  // namespace perflab::db
