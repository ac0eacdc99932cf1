// --rate-limit's /metrics block (perflab_ratelimit_*), read from the limiter at scrape time.
#include <perflab/targets/metrics.hpp>

#include <iterator>

#include <fmt/format.h>

#include <perflab/resilience/limiter.hpp>

namespace perflab::targets {

void write_ratelimit_prometheus(const resilience::keyed_limiter& limiter, std::string& out) {
  const auto& c = limiter.config();
  const auto s = limiter.stats();
  std::string_view key = "global";
  if (c.key == resilience::limiter_config::key_kind::ip) key = "ip";
  if (c.key == resilience::limiter_config::key_kind::header) key = "header";
  fmt::format_to(std::back_inserter(out),
                 "# HELP perflab_ratelimit_info The --rate-limit algorithm, what keys it, and the limit per key "
                 "(X-RateLimit-Limit).\n"
                 "# TYPE perflab_ratelimit_info gauge\n"
                 "perflab_ratelimit_info{{algorithm=\"{}\",key=\"{}\",limit=\"{}\"}} 1\n"
                 "# HELP perflab_ratelimit_decisions_total Requests decided by --rate-limit: allowed at once, "
                 "allowed after a leaky-bucket delay, refused with 429.\n"
                 "# TYPE perflab_ratelimit_decisions_total counter\n"
                 "perflab_ratelimit_decisions_total{{result=\"allowed\"}} {}\n"
                 "perflab_ratelimit_decisions_total{{result=\"delayed\"}} {}\n"
                 "perflab_ratelimit_decisions_total{{result=\"refused\"}} {}\n"
                 "# HELP perflab_ratelimit_keys Keys (clients) the limiter holds state for now.\n"
                 "# TYPE perflab_ratelimit_keys gauge\n"
                 "perflab_ratelimit_keys {}\n",
                 resilience::to_string(c.algorithm), key, c.limit(), s.allowed - s.delayed, s.delayed, s.refused,
                 limiter.keys());
}

}  // namespace perflab::targets
