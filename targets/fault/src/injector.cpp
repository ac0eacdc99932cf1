#include <perflab/fault/injector.hpp>

#include <iterator>

#include <fmt/format.h>

namespace perflab::fault {

namespace {

// splitmix64: a good 64-bit mix of (seed, n), so decisions need no shared generator state.
std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform in [0, 1) from the top 53 bits.
double unit(std::uint64_t x) noexcept { return static_cast<double>(x >> 11) * 0x1.0p-53; }

// Label values in the exposition format escape \, " and newlines.
std::string escape_label(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

decision decide(const profile& p, std::uint64_t n) noexcept {
  decision d;
  const std::uint64_t base = mix(p.seed ^ mix(n));
  const double u_latency1 = unit(mix(base + 1)), u_latency2 = unit(mix(base + 2)), u_outcome = unit(mix(base + 3));
  d.delay = p.latency.sample(u_latency1, u_latency2);
  // One draw splits [0, 1) into reset | reset after | error | served, so the rates are exact fractions.
  if (u_outcome < p.reset_rate) {
    d.reset = true;
  } else if (u_outcome < p.reset_rate + p.reset_after_rate) {
    d.reset_after = true;
  } else if (u_outcome < p.reset_rate + p.reset_after_rate + p.error_rate) {
    d.status = p.error_status;
  } else if (p.drip_bytes > 0) {
    d.drip_bytes = p.drip_bytes;
    d.drip_interval = p.drip_interval;
  }
  return d;
}

injector::injector(profile initial) {
  if (initial.spec.empty()) initial.spec = "none";
  kept_.push_back(std::make_unique<const profile>(std::move(initial)));
  current_.store(kept_.back().get(), std::memory_order_release);
}

decision injector::next() noexcept {
  const profile& p = current();
  if (!p.active()) return {};
  return decide(p, n_.fetch_add(1, std::memory_order_relaxed));
}

void injector::count(applied what) noexcept {
  switch (what) {
    case applied::delay: delayed_.fetch_add(1, std::memory_order_relaxed); return;
    case applied::error: errors_.fetch_add(1, std::memory_order_relaxed); return;
    case applied::reset: resets_.fetch_add(1, std::memory_order_relaxed); return;
    case applied::reset_after: resets_after_.fetch_add(1, std::memory_order_relaxed); return;
    case applied::drip: dripped_.fetch_add(1, std::memory_order_relaxed); return;
  }
}

void injector::set(profile p) {
  if (p.spec.empty()) p.spec = "none";
  std::lock_guard lock(mutex_);
  kept_.push_back(std::make_unique<const profile>(std::move(p)));
  current_.store(kept_.back().get(), std::memory_order_release);
  changes_.fetch_add(1, std::memory_order_relaxed);
}

injector_stats injector::stats() const noexcept {
  injector_stats s;
  s.decided = n_.load(std::memory_order_relaxed);
  s.delayed = delayed_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  s.resets = resets_.load(std::memory_order_relaxed);
  s.resets_after = resets_after_.load(std::memory_order_relaxed);
  s.dripped = dripped_.load(std::memory_order_relaxed);
  s.profile_changes = changes_.load(std::memory_order_relaxed);
  return s;
}

void injector::write_prometheus(std::string& out) const {
  const auto s = stats();
  fmt::format_to(std::back_inserter(out),
                 "# HELP perflab_fault_profile_info The current fault profile (--fault-profile, POST /admin/fault).\n"
                 "# TYPE perflab_fault_profile_info gauge\n"
                 "perflab_fault_profile_info{{spec=\"{}\"}} 1\n"
                 "# HELP perflab_fault_requests_total Requests decided under an active fault profile (all but "
                 "/metrics, /health, /admin/* and those the rate limiter or waiting room refused).\n"
                 "# TYPE perflab_fault_requests_total counter\n"
                 "perflab_fault_requests_total {}\n"
                 "# HELP perflab_fault_delayed_total Latency waits started (faults applied, as below).\n"
                 "# TYPE perflab_fault_delayed_total counter\n"
                 "perflab_fault_delayed_total {}\n"
                 "# HELP perflab_fault_errors_total Requests answered with the profile's error status.\n"
                 "# TYPE perflab_fault_errors_total counter\n"
                 "perflab_fault_errors_total {}\n"
                 "# HELP perflab_fault_resets_total Connections aborted (TCP reset) without a response.\n"
                 "# TYPE perflab_fault_resets_total counter\n"
                 "perflab_fault_resets_total {}\n"
                 "# HELP perflab_fault_resets_after_total Connections aborted (TCP reset) after the handler ran, "
                 "its response dropped (reset-after).\n"
                 "# TYPE perflab_fault_resets_after_total counter\n"
                 "perflab_fault_resets_after_total {}\n"
                 "# HELP perflab_fault_dripped_total Response bodies held back and written slowly (drip).\n"
                 "# TYPE perflab_fault_dripped_total counter\n"
                 "perflab_fault_dripped_total {}\n"
                 "# HELP perflab_fault_profile_changes_total Profile changes through POST /admin/fault.\n"
                 "# TYPE perflab_fault_profile_changes_total counter\n"
                 "perflab_fault_profile_changes_total {}\n",
                 escape_label(current().spec), s.decided, s.delayed, s.errors, s.resets, s.resets_after, s.dripped, s.profile_changes);
}

}  // namespace perflab::fault
