#include <perflab/upstream/service.hpp>

#include <iterator>

#include <fmt/format.h>

namespace perflab::upstream {

std::string_view to_string(fallback_reason r) noexcept {
  switch (r) {
    case fallback_reason::bulkhead: return "bulkhead";
    case fallback_reason::breaker_open: return "breaker-open";
    case fallback_reason::timeout: return "timeout";
    case fallback_reason::error: return "error";
    case fallback_reason::status: return "status";
  }
  return "error";
}

service::service(config c) : cfg_(std::move(c)), pool_(cfg_.max_connections, cfg_.idle_timeout) {
  if (cfg_.breaker) breaker_ = std::make_unique<resilience::circuit_breaker>(*cfg_.breaker);
  if (cfg_.retry.budgeted) budget_ = std::make_unique<resilience::retry_budget>(cfg_.retry.budget);
  if (cfg_.bulkhead > 0) bulkhead_ = std::make_unique<resilience::bulkhead>(cfg_.bulkhead);
}

void service::remember(std::string_view key, int status, std::string_view content_type, std::string_view body) {
  std::lock_guard lock(cache_mutex_);
  auto it = cache_.find(std::string(key));
  if (it == cache_.end()) {
    if (cache_.size() >= max_cached) cache_.erase(cache_.begin());  // any one: a bound, not a policy
    it = cache_.emplace(std::string(key), cached_response{}).first;
  }
  it->second.status = status;
  it->second.content_type.assign(content_type);
  it->second.body.assign(body);
}

bool service::recall(std::string_view key, cached_response& out) const {
  std::lock_guard lock(cache_mutex_);
  const auto it = cache_.find(std::string(key));
  if (it == cache_.end()) return false;
  out.status = it->second.status;
  out.content_type.assign(it->second.content_type);
  out.body.assign(it->second.body);
  return true;
}

void service::write_prometheus(std::string& out) const {
  auto it = std::back_inserter(out);
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  auto counter = [&](std::string_view name, std::string_view help, std::uint64_t v) {
    fmt::format_to(it, "# HELP perflab_upstream_{0} {1}\n# TYPE perflab_upstream_{0} counter\nperflab_upstream_{0} {2}\n", name, help, v);
  };
  const auto& c = counters_;
  counter("calls_total", "/proxy calls that reached the upstream client (refused ones included).", load(c.calls));
  counter("attempts_total", "Attempts made to the upstream (first tries and retries).", load(c.attempts));
  counter("retries_total", "Attempts after a call's first.", load(c.retries));
  counter("retry_budget_refusals_total", "Retries the retry budget refused.", load(c.budget_refusals));
  counter("retries_not_idempotent_total", "Retryable outcomes not retried because the method is not idempotent.",
          load(c.not_idempotent));
  out.append("# HELP perflab_upstream_attempt_failures_total Attempts without a response, by cause.\n"
             "# TYPE perflab_upstream_attempt_failures_total counter\n");
  for (std::size_t i = 1; i < failure_count; ++i)
    fmt::format_to(it, "perflab_upstream_attempt_failures_total{{cause=\"{}\"}} {}\n", to_string(static_cast<failure>(i)),
                   load(c.failures[i]));
  const std::uint64_t timeouts = load(c.failures[static_cast<std::size_t>(failure::timeout)]) +
                                 load(c.failures[static_cast<std::size_t>(failure::connect_timeout)]) +
                                 load(c.failures[static_cast<std::size_t>(failure::pool_timeout)]);
  counter("timeouts_total", "Attempts that timed out (pool wait, connect or response).", timeouts);
  out.append("# HELP perflab_upstream_responses_total /proxy answers by status class (fallbacks included).\n"
             "# TYPE perflab_upstream_responses_total counter\n");
  static constexpr std::string_view classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
  for (std::size_t i = 0; i < 6; ++i)
    fmt::format_to(it, "perflab_upstream_responses_total{{class=\"{}\"}} {}\n", classes[i], load(c.responses[i]));
  out.append("# HELP perflab_upstream_fallbacks_total Calls answered by --upstream-fallback, by reason.\n"
             "# TYPE perflab_upstream_fallbacks_total counter\n");
  for (std::size_t i = 0; i < fallback_reason_count; ++i)
    fmt::format_to(it, "perflab_upstream_fallbacks_total{{reason=\"{}\"}} {}\n", to_string(static_cast<fallback_reason>(i)),
                   load(c.fallbacks[i]));
  counter("bulkhead_rejections_total", "Calls the bulkhead refused (503 at once).", load(c.bulkhead_rejections));
  if (bulkhead_) {
    fmt::format_to(it,
                   "# HELP perflab_upstream_bulkhead_limit Calls in flight allowed.\n# TYPE perflab_upstream_bulkhead_limit gauge\n"
                   "perflab_upstream_bulkhead_limit {}\n"
                   "# HELP perflab_upstream_bulkhead_in_use Calls in flight now.\n# TYPE perflab_upstream_bulkhead_in_use gauge\n"
                   "perflab_upstream_bulkhead_in_use {}\n"
                   "# HELP perflab_upstream_bulkhead_peak Most calls in flight at once.\n# TYPE perflab_upstream_bulkhead_peak gauge\n"
                   "perflab_upstream_bulkhead_peak {}\n",
                   bulkhead_->limit(), bulkhead_->in_use(), bulkhead_->peak());
  }
  counter("breaker_rejections_total", "Calls the circuit breaker refused (503 at once).", load(c.breaker_rejections));
  if (breaker_) {
    const auto s = breaker_->stats();
    fmt::format_to(it,
                   "# HELP perflab_upstream_breaker_state Circuit breaker state: 0 closed, 1 open, 2 half-open.\n"
                   "# TYPE perflab_upstream_breaker_state gauge\nperflab_upstream_breaker_state {}\n"
                   "# HELP perflab_upstream_breaker_transitions_total Circuit breaker state changes.\n"
                   "# TYPE perflab_upstream_breaker_transitions_total counter\n",
                   static_cast<int>(breaker_->state()));
    for (int from = 0; from < 3; ++from)
      for (int to = 0; to < 3; ++to)
        if (from != to)
          fmt::format_to(it, "perflab_upstream_breaker_transitions_total{{from=\"{}\",to=\"{}\"}} {}\n",
                         resilience::to_string(static_cast<resilience::breaker_state>(from)),
                         resilience::to_string(static_cast<resilience::breaker_state>(to)), s.transitions[from][to]);
    fmt::format_to(it,
                   "# HELP perflab_upstream_breaker_calls_total Outcomes the breaker judged.\n"
                   "# TYPE perflab_upstream_breaker_calls_total counter\n"
                   "perflab_upstream_breaker_calls_total{{outcome=\"success\"}} {}\n"
                   "perflab_upstream_breaker_calls_total{{outcome=\"failure\"}} {}\n"
                   "perflab_upstream_breaker_calls_total{{outcome=\"slow\"}} {}\n",
                   s.successes, s.failures, s.slow);
  }
  const auto p = pool_.stats();
  fmt::format_to(it,
                 "# HELP perflab_upstream_pool_max Connections to the upstream allowed.\n# TYPE perflab_upstream_pool_max gauge\n"
                 "perflab_upstream_pool_max {}\n"
                 "# HELP perflab_upstream_pool_connections Pooled connections by state.\n"
                 "# TYPE perflab_upstream_pool_connections gauge\n"
                 "perflab_upstream_pool_connections{{state=\"in_use\"}} {}\n"
                 "perflab_upstream_pool_connections{{state=\"idle\"}} {}\n"
                 "# HELP perflab_upstream_pool_waiting Attempts waiting for a connection.\n"
                 "# TYPE perflab_upstream_pool_waiting gauge\nperflab_upstream_pool_waiting {}\n"
                 "# HELP perflab_upstream_pool_opened_total Connections opened.\n"
                 "# TYPE perflab_upstream_pool_opened_total counter\nperflab_upstream_pool_opened_total {}\n"
                 "# HELP perflab_upstream_pool_reused_total Attempts on a kept-alive connection.\n"
                 "# TYPE perflab_upstream_pool_reused_total counter\nperflab_upstream_pool_reused_total {}\n"
                 "# HELP perflab_upstream_pool_closed_total Connections closed, by reason.\n"
                 "# TYPE perflab_upstream_pool_closed_total counter\n"
                 "perflab_upstream_pool_closed_total{{reason=\"idle\"}} {}\n"
                 "perflab_upstream_pool_closed_total{{reason=\"stale\"}} {}\n"
                 "perflab_upstream_pool_closed_total{{reason=\"broken\"}} {}\n"
                 "# HELP perflab_upstream_pool_waits_total Attempts that waited for a connection.\n"
                 "# TYPE perflab_upstream_pool_waits_total counter\nperflab_upstream_pool_waits_total {}\n",
                 pool_.max_connections(), p.in_use, p.idle, p.waiting, p.opened, p.reused, p.closed_idle,
                 p.closed_stale, p.closed_broken, p.waits);
}

}  // namespace perflab::upstream
