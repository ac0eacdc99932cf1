#include "perflab/resilience/limiter.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include <fmt/format.h>

#include "perflab/core/units.hpp"
#include "spec.hpp"

namespace perflab::resilience {

namespace {

using seconds_d = std::chrono::duration<double>;

std::uint64_t second_of_rate(double rate) { return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(rate))); }

nanos interval_of(double rate) { return nanos(std::max<std::int64_t>(1, std::llround(1e9 / rate))); }

// Rate r, bucket size b, one token per request, kept as GCRA's theoretical arrival time in whole
// nanoseconds (no drift from summing fractions of tokens): the bucket is full when that time is
// not in the future, and a request is accepted while it is at most (b - 1) / r ahead of now.
class token_bucket final : public rate_limiter {
 public:
  token_bucket(double rate, std::uint64_t burst)
      : interval_(interval_of(rate)), burst_(burst), tolerance_(interval_ * static_cast<std::int64_t>(burst - 1)) {}
  limit_decision acquire(nanos now) override {
    limit_decision d;
    d.limit = burst_;
    const nanos start = std::max(tat_, now);
    if (start - now > tolerance_) {
      d.retry_after = start - now - tolerance_;
      d.reset = start - now;
      return d;
    }
    d.allowed = true;
    tat_ = start + interval_;
    const nanos backlog = tat_ - now;  // time until the bucket is full again
    d.reset = backlog;
    const std::int64_t left = (interval_ * static_cast<std::int64_t>(burst_) - backlog) / interval_;
    d.remaining = static_cast<std::uint64_t>(std::max<std::int64_t>(0, left));
    return d;
  }
  bool idle(nanos now) const override { return tat_ <= now; }

 private:
  nanos interval_;
  std::uint64_t burst_;
  nanos tolerance_;
  nanos tat_{std::numeric_limits<std::int64_t>::min() / 2};
};

// A queue drained at r: the virtual time at which the next accepted request is served (GCRA).
// A request that would wait more than `queue` places is refused.
class leaky_bucket final : public rate_limiter {
 public:
  leaky_bucket(double rate, std::uint64_t queue)
      : interval_(interval_of(rate)), queue_(queue) {}
  limit_decision acquire(nanos now) override {
    limit_decision d;
    d.limit = queue_ + 1;
    const nanos start = std::max(next_free_, now);
    const nanos wait = start - now;
    const nanos max_wait = interval_ * static_cast<std::int64_t>(queue_);
    if (wait > max_wait) {
      d.allowed = false;
      d.retry_after = wait - max_wait;
      d.reset = wait;
      d.remaining = 0;
      return d;
    }
    d.allowed = true;
    d.delay = wait;
    next_free_ = start + interval_;
    const nanos backlog = next_free_ - now;  // this request's place included
    const auto used = static_cast<std::uint64_t>((backlog.count() + interval_.count() - 1) / interval_.count());
    d.remaining = used >= d.limit ? 0 : d.limit - used;
    d.reset = backlog;
    return d;
  }
  bool idle(nanos now) const override { return next_free_ <= now; }

 private:
  nanos interval_;
  std::uint64_t queue_;
  nanos next_free_{std::numeric_limits<std::int64_t>::min() / 2};
};

class fixed_window final : public rate_limiter {
 public:
  fixed_window(std::uint64_t limit, nanos window) : limit_(limit), window_(window) {}
  limit_decision acquire(nanos now) override {
    const std::int64_t idx = now.count() / window_.count();
    if (idx != index_) {
      index_ = idx;
      count_ = 0;
    }
    limit_decision d;
    d.limit = limit_;
    d.reset = nanos((idx + 1) * window_.count()) - now;
    d.allowed = count_ < limit_;
    if (d.allowed) ++count_;
    else d.retry_after = d.reset;
    d.remaining = limit_ - count_;
    return d;
  }
  bool idle(nanos now) const override { return now.count() / window_.count() != index_ || count_ == 0; }

 private:
  std::uint64_t limit_;
  nanos window_;
  std::int64_t index_ = std::numeric_limits<std::int64_t>::min();
  std::uint64_t count_ = 0;
};

class sliding_log final : public rate_limiter {
 public:
  sliding_log(std::uint64_t limit, nanos window) : limit_(limit), window_(window) {}
  limit_decision acquire(nanos now) override {
    while (!log_.empty() && log_.front() <= now - window_) log_.pop_front();
    limit_decision d;
    d.limit = limit_;
    d.allowed = log_.size() < limit_;
    if (d.allowed) log_.push_back(now);
    else d.retry_after = log_.front() + window_ - now;
    d.remaining = limit_ - log_.size();
    d.reset = log_.empty() ? nanos(0) : log_.back() + window_ - now;
    return d;
  }
  bool idle(nanos now) const override { return log_.empty() || log_.back() <= now - window_; }

 private:
  std::uint64_t limit_;
  nanos window_;
  std::deque<nanos> log_;
};

// The current window's count plus the previous window's, weighted by how much of the previous
// window still overlaps the sliding window ending now.
class sliding_window final : public rate_limiter {
 public:
  sliding_window(std::uint64_t limit, nanos window) : limit_(limit), window_(window) {}
  limit_decision acquire(nanos now) override {
    roll(now);
    const double w = weight(now);
    const double estimate = static_cast<double>(previous_) * w + static_cast<double>(current_);
    limit_decision d;
    d.limit = limit_;
    d.allowed = estimate + 1.0 <= static_cast<double>(limit_) + 1e-9;
    if (d.allowed) ++current_;
    else d.retry_after = retry_after(now);
    const double after = static_cast<double>(previous_) * w + static_cast<double>(current_);
    d.remaining = after >= static_cast<double>(limit_) ? 0 : static_cast<std::uint64_t>(std::floor(static_cast<double>(limit_) - after));
    d.reset = nanos((index_ + 1) * window_.count()) - now + (current_ > 0 ? window_ : nanos(0));
    return d;
  }
  bool idle(nanos now) const override {
    const std::int64_t idx = now.count() / window_.count();
    return idx >= index_ + 2 || (current_ == 0 && (previous_ == 0 || idx >= index_ + 1));
  }

 private:
  void roll(nanos now) {
    const std::int64_t idx = now.count() / window_.count();
    if (idx == index_) return;
    previous_ = idx == index_ + 1 ? current_ : 0;
    current_ = 0;
    index_ = idx;
  }
  double weight(nanos now) const {
    const double into = static_cast<double>(now.count() - index_ * window_.count()) / static_cast<double>(window_.count());
    return 1.0 - into;
  }
  nanos retry_after(nanos now) const {
    const double room = static_cast<double>(limit_) - 1.0;  // the estimate must fall to this
    const double W = static_cast<double>(window_.count());
    if (static_cast<double>(current_) <= room && previous_ > 0) {
      const double w = (room - static_cast<double>(current_)) / static_cast<double>(previous_);  // weight needed
      const double t = static_cast<double>(index_) * W + (1.0 - w) * W;
      return nanos(std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(t)) - now.count()));
    }
    // Not before the next window, where this window's count becomes the weighted one.
    const double w = current_ == 0 ? 1.0 : std::min(1.0, room / static_cast<double>(current_));
    const double t = static_cast<double>(index_ + 1) * W + (1.0 - w) * W;
    return nanos(std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(t)) - now.count()));
  }
  std::uint64_t limit_;
  nanos window_;
  std::int64_t index_ = std::numeric_limits<std::int64_t>::min() / 2;
  std::uint64_t previous_ = 0, current_ = 0;
};

}  // namespace

std::string_view to_string(limiter_algorithm a) {
  switch (a) {
    case limiter_algorithm::token_bucket: return "token-bucket";
    case limiter_algorithm::leaky_bucket: return "leaky-bucket";
    case limiter_algorithm::fixed_window: return "fixed-window";
    case limiter_algorithm::sliding_log: return "sliding-log";
    case limiter_algorithm::sliding_window: return "sliding-window";
  }
  return "?";
}

std::uint64_t limiter_config::limit() const {
  switch (algorithm) {
    case limiter_algorithm::token_bucket: return burst ? burst : second_of_rate(rate);
    case limiter_algorithm::leaky_bucket: return (queue ? queue : second_of_rate(rate)) + 1;
    default:
      return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(rate * seconds_d(window).count())));
  }
}

std::unique_ptr<rate_limiter> make_limiter(const limiter_config& c) {
  switch (c.algorithm) {
    case limiter_algorithm::token_bucket: return std::make_unique<token_bucket>(c.rate, c.limit());
    case limiter_algorithm::leaky_bucket:
      return std::make_unique<leaky_bucket>(c.rate, c.queue ? c.queue : second_of_rate(c.rate));
    case limiter_algorithm::fixed_window: return std::make_unique<fixed_window>(c.limit(), c.window);
    case limiter_algorithm::sliding_log: return std::make_unique<sliding_log>(c.limit(), c.window);
    case limiter_algorithm::sliding_window: return std::make_unique<sliding_window>(c.limit(), c.window);
  }
  return nullptr;
}

tl::expected<limiter_config, std::string> parse_rate_limit(std::string_view text) {
  auto sp = detail::split_spec(text, "--rate-limit");
  if (!sp) return tl::unexpected(sp.error());
  limiter_config c;
  const std::size_t colon = sp->head.find(':');
  const std::string_view algo = sp->head.substr(0, colon);
  if (algo == "token-bucket") c.algorithm = limiter_algorithm::token_bucket;
  else if (algo == "leaky-bucket") c.algorithm = limiter_algorithm::leaky_bucket;
  else if (algo == "fixed-window") c.algorithm = limiter_algorithm::fixed_window;
  else if (algo == "sliding-log") c.algorithm = limiter_algorithm::sliding_log;
  else if (algo == "sliding-window") c.algorithm = limiter_algorithm::sliding_window;
  else
    return tl::unexpected(fmt::format("--rate-limit: unknown algorithm \"{}\" (expected token-bucket, leaky-bucket, "
                                      "fixed-window, sliding-log or sliding-window, e.g. token-bucket:100/s,burst=10)",
                                      algo));
  if (colon == std::string_view::npos)
    return tl::unexpected(fmt::format("--rate-limit: \"{}\" needs a rate, e.g. {}:100/s", text, algo));
  auto rate = units::parse_rate(sp->head.substr(colon + 1));
  if (!rate || *rate <= 0)
    return tl::unexpected(fmt::format("--rate-limit: the rate \"{}\" must be above 0, e.g. 100/s", sp->head.substr(colon + 1)));
  c.rate = *rate;
  auto whole = [](std::string_view key, std::string_view value, std::uint64_t min) {
    return detail::whole_number("--rate-limit", key, value, min, UINT64_MAX);
  };
  for (auto [key, value] : sp->options) {
    if (key == "burst") {
      if (c.algorithm != limiter_algorithm::token_bucket)
        return tl::unexpected(fmt::format("--rate-limit: burst= is for token-bucket (leaky-bucket has queue=)"));
      auto v = whole(key, value, 1);
      if (!v) return tl::unexpected(v.error());
      c.burst = *v;
    } else if (key == "queue") {
      if (c.algorithm != limiter_algorithm::leaky_bucket)
        return tl::unexpected(fmt::format("--rate-limit: queue= is for leaky-bucket (token-bucket has burst=)"));
      auto v = whole(key, value, 0);
      if (!v) return tl::unexpected(v.error());
      c.queue = *v;
    } else if (key == "window") {
      if (c.algorithm == limiter_algorithm::token_bucket || c.algorithm == limiter_algorithm::leaky_bucket)
        return tl::unexpected(fmt::format("--rate-limit: window= is for the window algorithms, not {}", algo));
      auto d = units::parse_duration(value);
      if (!d || *d < std::chrono::milliseconds(1))
        return tl::unexpected(fmt::format("--rate-limit: window=\"{}\" must be a duration >= 1ms, e.g. 1s", value));
      c.window = *d;
    } else if (key == "key") {
      if (value == "ip") c.key = limiter_config::key_kind::ip;
      else if (value == "global") c.key = limiter_config::key_kind::global;
      else if (value.substr(0, 7) == "header:" && value.size() > 7) {
        c.key = limiter_config::key_kind::header;
        c.key_header = std::string(value.substr(7));
      } else
        return tl::unexpected(fmt::format("--rate-limit: key=\"{}\" (expected ip, global or header:NAME)", value));
    } else {
      return tl::unexpected(fmt::format("--rate-limit: unknown key \"{}\" (expected burst, queue, window, key)", key));
    }
  }
  return c;
}

void append_rate_limit_headers(const limit_decision& d, std::string& out) {
  auto whole_seconds = [](nanos t) { return (std::max<std::int64_t>(0, t.count()) + 999'999'999) / 1'000'000'000; };
  fmt::format_to(std::back_inserter(out), "X-RateLimit-Limit: {}\r\nX-RateLimit-Remaining: {}\r\nX-RateLimit-Reset: {}\r\n",
                 d.limit, d.remaining, whole_seconds(d.reset));
  if (!d.allowed)
    fmt::format_to(std::back_inserter(out), "Retry-After: {}\r\n", std::max<std::int64_t>(1, whole_seconds(d.retry_after)));
}

std::string rate_limit_headers(const limit_decision& d) {
  std::string out;
  append_rate_limit_headers(d, out);
  return out;
}

keyed_limiter::keyed_limiter(limiter_config config, std::size_t max_keys)
    : config_(std::move(config)), max_keys_per_shard_(std::max<std::size_t>(1, max_keys / 16)), shards_(16) {}

limit_decision keyed_limiter::acquire(std::string_view key, nanos now) {
  shard& s = shards_[std::hash<std::string_view>{}(key) % shards_.size()];
  limit_decision d;
  {
    std::lock_guard lock(s.mutex);
    auto it = s.limiters.find(key);
    if (it == s.limiters.end()) {
      if (s.limiters.size() >= max_keys_per_shard_)
        std::erase_if(s.limiters, [&](const auto& kv) { return kv.second->idle(now); });
      it = s.limiters.emplace(std::string(key), make_limiter(config_)).first;
    }
    d = it->second->acquire(now);
  }
  (d.allowed ? allowed_ : refused_).fetch_add(1, std::memory_order_relaxed);
  if (d.allowed && d.delay.count() > 0) delayed_.fetch_add(1, std::memory_order_relaxed);
  return d;
}

std::size_t keyed_limiter::keys() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.limiters.size();
  }
  return n;
}

keyed_limiter::stats_t keyed_limiter::stats() const {
  return {allowed_.load(std::memory_order_relaxed), refused_.load(std::memory_order_relaxed),
          delayed_.load(std::memory_order_relaxed)};
}

}  // namespace perflab::resilience
