#include "perflab/resilience/retry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "perflab/core/units.hpp"
#include "spec.hpp"

namespace perflab::resilience {

std::string_view to_string(jitter j) {
  switch (j) {
    case jitter::none: return "none";
    case jitter::full: return "full";
    case jitter::equal: return "equal";
    case jitter::decorrelated: return "decorrelated";
  }
  return "?";
}

backoff::backoff(backoff_config config, std::uint64_t seed) : config_(config), rng_(seed), previous_(config.base) {}

void backoff::reset() { previous_ = config_.base; }

nanos backoff::ceiling(unsigned retry) const {
  // base * 2^(retry-1), saturating at cap (and never shifting past the representable range).
  const unsigned shift = retry == 0 ? 0 : std::min(retry - 1, 62u);
  const auto base = config_.base.count();
  if (base > (config_.cap.count() >> shift)) return config_.cap;
  return nanos(std::min<std::int64_t>(config_.cap.count(), base << shift));
}

nanos backoff::uniform(nanos lo, nanos hi) {
  if (hi <= lo) return lo;
  std::uniform_int_distribution<std::int64_t> d(lo.count(), hi.count());
  return nanos(d(rng_));
}

nanos backoff::next(unsigned retry) {
  switch (config_.kind) {
    case jitter::none: return ceiling(retry);
    case jitter::full: return uniform(nanos(0), ceiling(retry));
    case jitter::equal: {
      const nanos t = ceiling(retry);
      return t / 2 + uniform(nanos(0), t - t / 2);
    }
    case jitter::decorrelated: {
      const nanos hi = std::max(config_.base, std::min(config_.cap, previous_ * 3));
      previous_ = std::min(config_.cap, uniform(config_.base, hi));
      return previous_;
    }
  }
  return config_.base;
}

retry_budget::retry_budget(retry_budget_config config)
    : config_(config),
      buckets_(static_cast<std::size_t>(
          std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(config.window).count()))) {}

retry_budget::bucket& retry_budget::at(nanos now) {
  const std::int64_t sec = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  bucket& b = buckets_[static_cast<std::size_t>(sec) % buckets_.size()];
  if (b.second != sec) b = bucket{sec, 0, 0};
  return b;
}

void retry_budget::on_call(nanos now) {
  std::lock_guard lock(mutex_);
  ++at(now).calls;
  ++stats_.calls;
}

bool retry_budget::try_retry(nanos now) {
  std::lock_guard lock(mutex_);
  bucket& current = at(now);
  const std::int64_t sec = current.second;
  const auto n = static_cast<std::int64_t>(buckets_.size());
  std::uint64_t calls = 0, retries = 0;
  for (const auto& b : buckets_)
    if (b.second > sec - n && b.second <= sec) {
      calls += b.calls;
      retries += b.retries;
    }
  const double allowance = config_.ratio * static_cast<double>(calls) + config_.min_per_second * static_cast<double>(n);
  if (static_cast<double>(retries + 1) > allowance + 1e-9) {
    ++stats_.refused;
    return false;
  }
  ++current.retries;
  ++stats_.retries;
  return true;
}

retry_budget::stats_t retry_budget::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

tl::expected<retry_config, std::string> parse_retry(std::string_view text) {
  auto sp = detail::split_spec(text, "--retry");
  if (!sp) return tl::unexpected(sp.error());
  retry_config c;
  {
    unsigned n = 0;
    auto [p, ec] = std::from_chars(sp->head.data(), sp->head.data() + sp->head.size(), n);
    if (ec != std::errc() || p != sp->head.data() + sp->head.size() || n < 1 || n > 100)
      return tl::unexpected(fmt::format(
          "--retry: \"{}\" is not a number of attempts (expected 1..100, the first attempt included, e.g. --retry 3,jitter=full)",
          sp->head));
    c.max_attempts = n;
  }
  auto duration = [](std::string_view key, std::string_view value) -> tl::expected<nanos, std::string> {
    auto d = units::parse_duration(value);
    if (!d || d->count() <= 0)
      return tl::unexpected(fmt::format("--retry: {}=\"{}\" must be a duration > 0, such as 100ms", key, value));
    return *d;
  };
  for (auto [key, value] : sp->options) {
    if (key == "base" || key == "cap") {
      auto d = duration(key, value);
      if (!d) return tl::unexpected(d.error());
      (key == "base" ? c.backoff.base : c.backoff.cap) = *d;
    } else if (key == "jitter") {
      if (value == "none") c.backoff.kind = jitter::none;
      else if (value == "full") c.backoff.kind = jitter::full;
      else if (value == "equal") c.backoff.kind = jitter::equal;
      else if (value == "decorrelated") c.backoff.kind = jitter::decorrelated;
      else
        return tl::unexpected(
            fmt::format("--retry: jitter=\"{}\" (expected none, full, equal or decorrelated)", value));
    } else if (key == "budget") {
      auto f = units::parse_fraction(value);
      if (!f) return tl::unexpected(fmt::format("--retry: budget=\"{}\": {}", value, f.error()));
      c.budgeted = true;
      c.budget.ratio = *f;
    } else if (key == "budget-min") {
      auto r = units::parse_rate(value);
      if (!r || *r < 0) return tl::unexpected(fmt::format("--retry: budget-min=\"{}\" must be a rate such as 10/s", value));
      c.budget.min_per_second = *r;
    } else {
      return tl::unexpected(
          fmt::format("--retry: unknown key \"{}\" (expected base, cap, jitter, budget, budget-min)", key));
    }
  }
  if (c.backoff.cap < c.backoff.base)
    return tl::unexpected(fmt::format("--retry: cap ({}) is below base ({})", units::format_duration(c.backoff.cap),
                                      units::format_duration(c.backoff.base)));
  return c;
}

bool idempotent(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" || m == "DELETE";
}

bool retryable_status(int status) { return status == 0 || status == 502 || status == 503 || status == 504; }

}  // namespace perflab::resilience
