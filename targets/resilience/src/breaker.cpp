#include "perflab/resilience/breaker.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "perflab/core/units.hpp"
#include "spec.hpp"

namespace perflab::resilience {

namespace {
constexpr std::uint8_t failed_bit = 1, slow_bit = 2;

std::int64_t second_of(nanos t) { return std::chrono::duration_cast<std::chrono::seconds>(t).count(); }

tl::expected<std::uint32_t, std::string> parse_positive(std::string_view text, std::string_view key) {
  auto n = detail::whole_number("--circuit-breaker", key, text, 1);
  if (!n) return tl::unexpected(n.error());
  return static_cast<std::uint32_t>(*n);
}

tl::expected<double, std::string> parse_threshold(std::string_view text, std::string_view key) {
  auto f = units::parse_fraction(text);
  if (!f || *f <= 0)
    return tl::unexpected(fmt::format("--circuit-breaker: {}=\"{}\" must be a rate in (0, 100%], such as 50%", key, text));
  return *f;
}

tl::expected<nanos, std::string> parse_positive_duration(std::string_view text, std::string_view key) {
  auto d = units::parse_duration(text);
  if (!d || d->count() <= 0)
    return tl::unexpected(fmt::format("--circuit-breaker: {}=\"{}\" must be a duration > 0, such as 500ms", key, text));
  return *d;
}
}  // namespace

std::string_view to_string(breaker_state s) {
  switch (s) {
    case breaker_state::closed: return "closed";
    case breaker_state::open: return "open";
    case breaker_state::half_open: return "half-open";
  }
  return "?";
}

tl::expected<breaker_config, std::string> parse_breaker(std::string_view text) {
  auto sp = detail::split_spec(text, "--circuit-breaker");
  if (!sp) return tl::unexpected(sp.error());
  breaker_config c;
  const std::size_t colon = sp->head.find(':');
  const std::string_view kind = sp->head.substr(0, colon);
  const std::string_view size = colon == std::string_view::npos ? std::string_view() : sp->head.substr(colon + 1);
  if (kind == "count") {
    c.window = breaker_config::window_kind::count;
    if (!size.empty()) {
      auto n = parse_positive(size, "count");
      if (!n) return tl::unexpected(n.error());
      c.window_size = *n;
    }
  } else if (kind == "time") {
    c.window = breaker_config::window_kind::time;
    c.window_size = 10;
    if (!size.empty()) {
      auto d = units::parse_duration(size);
      if (!d || *d < std::chrono::seconds(1) || d->count() % 1'000'000'000 != 0)
        return tl::unexpected(fmt::format("--circuit-breaker: the time window \"{}\" must be whole seconds >= 1s", size));
      c.window_size = static_cast<std::uint32_t>(second_of(*d));
    }
  } else {
    return tl::unexpected(fmt::format(
        "--circuit-breaker: \"{}\" is not a window (expected count[:CALLS] or time[:SECONDS], e.g. count:100 or time:10s)",
        sp->head));
  }
  for (auto [key, value] : sp->options) {
    if (key == "min") {
      auto n = parse_positive(value, key);
      if (!n) return tl::unexpected(n.error());
      c.minimum_calls = *n;
    } else if (key == "failure") {
      auto f = parse_threshold(value, key);
      if (!f) return tl::unexpected(f.error());
      c.failure_rate_threshold = *f;
    } else if (key == "slow") {
      auto f = parse_threshold(value, key);
      if (!f) return tl::unexpected(f.error());
      c.slow_call_rate_threshold = *f;
    } else if (key == "slow-call") {
      auto d = parse_positive_duration(value, key);
      if (!d) return tl::unexpected(d.error());
      c.slow_call_duration = *d;
    } else if (key == "open") {
      auto d = parse_positive_duration(value, key);
      if (!d) return tl::unexpected(d.error());
      c.wait_in_open = *d;
    } else if (key == "half-open") {
      auto n = parse_positive(value, key);
      if (!n) return tl::unexpected(n.error());
      c.permitted_in_half_open = *n;
    } else {
      return tl::unexpected(fmt::format(
          "--circuit-breaker: unknown key \"{}\" (expected min, failure, slow, slow-call, open, half-open)", key));
    }
  }
  return c;
}

circuit_breaker::circuit_breaker(breaker_config config) : config_(config) {
  if (config_.window == breaker_config::window_kind::count)
    ring_.assign(std::max<std::uint32_t>(1, config_.window_size), 0);
  else
    buckets_.assign(std::max<std::uint32_t>(1, config_.window_size), bucket{});
}

circuit_breaker::permit circuit_breaker::try_acquire(nanos now) {
  std::lock_guard lock(mutex_);
  if (state_ == breaker_state::open && now - opened_at_ >= config_.wait_in_open)
    transition(breaker_state::half_open, now);
  bool granted = false;
  switch (state_) {
    case breaker_state::closed: granted = true; break;
    case breaker_state::open: granted = false; break;
    case breaker_state::half_open:
      granted = trials_granted_ < config_.permitted_in_half_open;
      trials_granted_ += granted;
      break;
  }
  granted ? ++stats_.permitted : ++stats_.rejected;
  return permit{granted, epoch_};
}

void circuit_breaker::on_success(const permit& p, nanos duration, nanos now) { record(p, false, duration, now); }
void circuit_breaker::on_failure(const permit& p, nanos duration, nanos now) { record(p, true, duration, now); }

void circuit_breaker::release(const permit& p) {
  if (!p.granted) return;
  std::lock_guard lock(mutex_);
  if (p.epoch == epoch_ && state_ == breaker_state::half_open && trials_granted_ > 0) --trials_granted_;
}

void circuit_breaker::record(const permit& p, bool failed, nanos duration, nanos now) {
  if (!p.granted) return;
  const bool slow = duration >= config_.slow_call_duration;
  std::lock_guard lock(mutex_);
  failed ? ++stats_.failures : ++stats_.successes;
  stats_.slow += slow;
  if (p.epoch != epoch_) {
    ++stats_.late;
    return;
  }
  auto over = [&](const bucket& t, std::uint32_t needed) {
    if (t.calls < needed || t.calls == 0) return false;
    return static_cast<double>(t.failures) >= config_.failure_rate_threshold * t.calls ||
           static_cast<double>(t.slow) >= config_.slow_call_rate_threshold * t.calls;
  };
  if (state_ == breaker_state::half_open) {
    ++trials_.calls;
    trials_.failures += failed;
    trials_.slow += slow;
    if (trials_.calls >= config_.permitted_in_half_open)
      transition(over(trials_, config_.permitted_in_half_open) ? breaker_state::open : breaker_state::closed, now);
    return;
  }
  if (state_ != breaker_state::closed) return;  // granted in this epoch, so closed or half-open
  const std::uint8_t bits = static_cast<std::uint8_t>((failed ? failed_bit : 0) | (slow ? slow_bit : 0));
  std::uint32_t needed = config_.minimum_calls;
  if (config_.window == breaker_config::window_kind::count) {
    ring_[ring_next_] = bits;
    ring_next_ = (ring_next_ + 1) % ring_.size();
    ring_filled_ = std::min(ring_filled_ + 1, ring_.size());
    needed = std::min<std::uint32_t>(needed, static_cast<std::uint32_t>(ring_.size()));
  } else {
    const std::int64_t sec = second_of(now);
    bucket& b = buckets_[static_cast<std::size_t>(sec) % buckets_.size()];
    if (b.second != sec) b = bucket{sec, 0, 0, 0};
    ++b.calls;
    b.failures += failed;
    b.slow += slow;
  }
  last_now_ = now;
  if (over(totals(now), needed)) transition(breaker_state::open, now);
}

circuit_breaker::bucket circuit_breaker::totals(nanos now) const {
  bucket t;
  if (config_.window == breaker_config::window_kind::count) {
    for (std::size_t i = 0; i < ring_filled_; ++i) {
      ++t.calls;
      t.failures += (ring_[i] & failed_bit) != 0;
      t.slow += (ring_[i] & slow_bit) != 0;
    }
    return t;
  }
  const std::int64_t sec = second_of(now);
  const auto n = static_cast<std::int64_t>(buckets_.size());
  for (const auto& b : buckets_)
    if (b.second > sec - n && b.second <= sec) {
      t.calls += b.calls;
      t.failures += b.failures;
      t.slow += b.slow;
    }
  return t;
}

void circuit_breaker::transition(breaker_state to, nanos now) {
  ++stats_.transitions[static_cast<int>(state_)][static_cast<int>(to)];
  state_ = to;
  ++epoch_;
  trials_granted_ = 0;
  trials_ = bucket{};
  if (to == breaker_state::open) opened_at_ = now;
  if (to == breaker_state::closed) reset_window();
}

void circuit_breaker::reset_window() {
  std::fill(ring_.begin(), ring_.end(), std::uint8_t{0});
  ring_next_ = ring_filled_ = 0;
  std::fill(buckets_.begin(), buckets_.end(), bucket{});
}

breaker_state circuit_breaker::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

breaker_stats circuit_breaker::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

double circuit_breaker::failure_rate() const {
  std::lock_guard lock(mutex_);
  const bucket t = state_ == breaker_state::half_open ? trials_ : totals(last_now_);
  return t.calls ? static_cast<double>(t.failures) / t.calls : 0.0;
}

double circuit_breaker::slow_call_rate() const {
  std::lock_guard lock(mutex_);
  const bucket t = state_ == breaker_state::half_open ? trials_ : totals(last_now_);
  return t.calls ? static_cast<double>(t.slow) / t.calls : 0.0;
}

}  // namespace perflab::resilience
