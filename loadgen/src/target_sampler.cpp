#include "target_sampler.hpp"

#include <algorithm>
#include <charconv>

#include "timed_events.hpp"

namespace perflab::loadgen::detail {

namespace {
using clock_type = std::chrono::steady_clock;
}  // namespace

std::optional<double> gauge_value(std::string_view text, std::string_view name) {
  for (std::size_t pos = 0; (pos = text.find(name, pos)) != std::string_view::npos; pos += name.size()) {
    if (pos > 0 && text[pos - 1] != '\n') continue;  // the start of a line, not a longer name's tail
    const auto rest = text.substr(pos + name.size());
    if (rest.empty() || rest[0] != ' ') continue;    // labels or a longer name
    // The value is the next token (an optional timestamp may follow it).
    auto value = rest.substr(1, rest.find('\n') - 1);
    value = value.substr(0, value.find_first_of(" \r"));
    double v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc{} || p != value.data() + value.size()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

std::optional<double> metric_sum(std::string_view text, std::string_view selector) {
  // "name" sums every series of the name; "name{labels}" is one series, written as the target
  // writes it.
  const bool one = selector.find('{') != std::string_view::npos;
  double sum = 0;
  bool found = false;
  for (std::size_t pos = 0; (pos = text.find(selector, pos)) != std::string_view::npos; pos += selector.size()) {
    if (pos > 0 && text[pos - 1] != '\n') continue;
    auto rest = text.substr(pos + selector.size());
    if (rest.empty()) continue;
    if (!one && rest[0] == '{') rest = rest.substr(std::min(rest.size(), rest.find('}') + 1));  // any labels
    if (rest.empty() || rest[0] != ' ') continue;  // a longer name
    auto value = rest.substr(1, rest.find('\n') - 1);
    value = value.substr(0, value.find_first_of(" \r"));
    double v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc{} || p != value.data() + value.size()) continue;
    sum += v;
    found = true;
  }
  if (!found) return std::nullopt;
  return sum;
}

target_sampler::target_sampler(std::map<std::string, std::string> targets, std::chrono::nanoseconds period,
                               std::chrono::nanoseconds scrape_timeout)
    : urls_(std::move(targets)), period_(period), scrape_timeout_(scrape_timeout) {
  thread_ = std::thread([this] { run(); });
}

target_sampler::~target_sampler() { finish(); }

void target_sampler::measure_started() {
  std::lock_guard lk(mu_);
  if (started_) return;
  started_ = true;
  t0_ = clock_type::now();
  cv_.notify_all();
}

void target_sampler::measure_ended() {
  std::lock_guard lk(mu_);
  ended_ = true;
  cv_.notify_all();
}

void target_sampler::finish() {
  {
    std::lock_guard lk(mu_);
    finishing_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void target_sampler::sample() {
  // One deadline for the round, not one per target: with several slow targets the round still
  // ends below the period, and the targets it had no time for get a gap.
  const auto round_end = clock_type::now() + scrape_timeout_;
  for (const auto& [name, url] : urls_) {
    const auto hp = split_url(url);
    if (!hp) continue;
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(round_end - clock_type::now());
    if (left <= std::chrono::nanoseconds::zero()) break;
    auto r = http_request(hp->first, hp->second, "GET", "/metrics", "", left);
    const double t = std::chrono::duration<double>(clock_type::now() - t0_).count();
    if (!r || r->status != 200) continue;  // a gap: the target did not answer in time
    record(name, t, r->body);
  }
}

void target_sampler::record(const std::string& name, double t, std::string_view body) {
  std::lock_guard lk(mu_);
  auto& last = last_[name];
  // A counter's rate or mean over the interval since the previous scrape, at that scrape's time.
  auto since_last = [&](double prev_t) { return prev_t >= 0 && t > prev_t; };
  if (auto n = requests_answered(body)) {
    if (since_last(last.t_s) && last.requests >= 0)
      points_[{name, "requests_per_s"}].emplace_back(last.t_s, (*n - last.requests) / (t - last.t_s));
    last.requests = *n;
  }
  if (auto state = gauge_value(body, "perflab_upstream_breaker_state"))
    points_[{name, "breaker_state"}].emplace_back(t, *state);
  if (auto w = gauge_value(body, "perflab_db_pool_waiting")) points_[{name, "pool_waiting"}].emplace_back(t, *w);
  if (auto w = gauge_value(body, "perflab_db_pool_waiting_peak"))
    points_[{name, "pool_waiting_peak"}].emplace_back(t, *w);
  // A target with --outbox-db: its outbox's counts at the scrape (the last one is the run's result).
  static constexpr std::pair<std::string_view, const char*> outbox_gauges[] = {
      {"perflab_outbox_orders_total", "outbox_orders"},   {"perflab_outbox_backlog", "outbox_backlog"},
      {"perflab_outbox_consumed_total", "outbox_consumed"}, {"perflab_outbox_duplicates_total", "outbox_duplicates"},
      {"perflab_outbox_lost", "outbox_lost"},             {"perflab_outbox_recovery_seconds", "outbox_recovery_s"},
  };
  for (const auto& [gauge, metric] : outbox_gauges)
    if (auto v = gauge_value(body, gauge)) points_[{name, metric}].emplace_back(t, *v);
  const auto sum = gauge_value(body, "perflab_db_pool_acquire_wait_seconds_sum");
  const auto count = gauge_value(body, "perflab_db_pool_acquire_wait_seconds_count");
  if (sum && count) {
    // The mean wait of the acquisitions served in the interval (none served: no point).
    if (since_last(last.t_s) && last.wait_count >= 0 && *count > last.wait_count)
      points_[{name, "pool_acquire_wait_ms"}].emplace_back(
          last.t_s, 1e3 * (*sum - last.wait_sum_s) / (*count - last.wait_count));
    last.wait_sum_s = *sum;
    last.wait_count = *count;
  }
  last.t_s = t;
}

void target_sampler::run() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return started_ || finishing_; });
  auto stopped = [&] { return ended_ || finishing_; };
  // A sample at the phase's start, then one per period; a round that overran skips to the next
  // tick still ahead rather than sampling twice in a row.
  for (std::int64_t k = 0; !stopped();) {
    lk.unlock();
    sample();
    lk.lock();
    const auto elapsed = clock_type::now() - t0_;
    k = std::max<std::int64_t>(k + 1, elapsed / period_ + 1);
    if (cv_.wait_until(lk, t0_ + period_ * k, stopped)) break;
  }
}

std::vector<result::metric_series> target_sampler::series() const {
  std::lock_guard lk(mu_);
  std::vector<result::metric_series> out;
  for (const auto& [key, points] : points_) out.push_back({key.first, key.second, points});
  return out;
}

}  // namespace perflab::loadgen::detail
