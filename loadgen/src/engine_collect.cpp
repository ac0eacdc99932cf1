// The collecting thread's side of a load run (engine_collect.hpp): the collector's hand-offs and
// the per-second output of merged intervals (interval log, CSV, series, progress line).
#include "engine_collect.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "perflab/core/clock.hpp"
#include "perflab/core/units.hpp"

namespace perflab::loadgen::detail {

collector::collector(int workers)
    : queues(static_cast<std::size_t>(workers)), finished(static_cast<std::size_t>(workers), false) {
  spare.reserve(static_cast<std::size_t>(workers) * (spares_per_worker + 2));
  for (int i = 0; i < workers * spares_per_worker; ++i) spare.push_back(std::make_unique<sample_set>());
}

bool collector::all_finished() const noexcept {
  return std::all_of(finished.begin(), finished.end(), [](bool f) { return f; });
}

std::unique_ptr<sample_set> collector::hand_off(int w, std::unique_ptr<sample_set> full, bool last) {
  std::unique_ptr<sample_set> fresh;
  {
    std::lock_guard lock(mutex);
    queues[static_cast<std::size_t>(w)].push_back(std::move(full));
    if (last) finished[static_cast<std::size_t>(w)] = true;
    if (!spare.empty()) {
      fresh = std::move(spare.back());
      spare.pop_back();
    }
  }
  cv.notify_one();
  if (!fresh) fresh = std::make_unique<sample_set>();  // only when the merge fell behind
  return fresh;
}

void collector::note_draining() {
  {
    std::lock_guard lock(mutex);
    ++draining;
  }
  cv.notify_one();
}

void collector::finish(int w) {
  {
    std::lock_guard lock(mutex);
    finished[static_cast<std::size_t>(w)] = true;
  }
  cv.notify_one();
}

bool collector::load_stopped(int local_workers) const noexcept {
  if (draining < local_workers) return false;
  for (std::size_t w = static_cast<std::size_t>(local_workers); w < finished.size(); ++w)
    if (!finished[w]) return false;
  return true;
}

std::map<std::string, std::int64_t> status_map(const std::array<std::int64_t, 600>& counts) {
  std::map<std::string, std::int64_t> m;
  for (std::size_t code = 100; code < counts.size(); ++code)
    if (counts[code] > 0) m[std::to_string(code)] = counts[code];
  return m;
}

namespace {

// The CSV's top_statuses: the three most frequent codes of a second, "503:120 200:80".
std::string collect_top_statuses(const std::map<std::string, std::int64_t>& statuses) {
  std::vector<std::pair<std::int64_t, std::string>> v;
  for (const auto& [code, n] : statuses) v.emplace_back(-n, code);
  std::sort(v.begin(), v.end());
  std::string out;
  for (std::size_t i = 0; i < v.size() && i < 3; ++i) out += fmt::format("{}{}:{}", i ? " " : "", v[i].second, -v[i].first);
  return out;
}

}  // namespace

void interval_merger::add(const sample_set& merged, bool discard) {
  if (discard) return;
  const bool drain = merged.index >= s_.intervals;
  result::second_point pt;
  pt.phase = drain ? "drain" : "measured";
  const std::int64_t start_ns = drain ? last_end_ns_ : s_.measure_start_ns + merged.index * second_ns;
  const std::int64_t end_ns = std::max(start_ns, merged.end_ns);
  if (!drain) last_end_ns_ = std::max(last_end_ns_, end_ns);
  if (drain && merged.sent + merged.completed + merged.errors.total() + merged.unsent + merged.abandoned == 0 &&
      merged.ttlb.total_count() == 0)
    return;  // nothing happened after the measured phase: no drain row
  pt.t_s = static_cast<double>(start_ns - s_.measure_start_ns) / 1e9;
  pt.length_s = static_cast<double>(end_ns - start_ns) / 1e9;
  const double length_s = std::max(0.001, pt.length_s);
  if (writer_) {
    writer_->write(std::string_view("connect"), pt.t_s, length_s, merged.connect);
    writer_->write(std::string_view("ttfb"), pt.t_s, length_s, merged.ttfb);
    writer_->write(std::string_view("ttlb"), pt.t_s, length_s, merged.ttlb);
    writer_->write(std::string_view("ttfb_uncorrected"), pt.t_s, length_s, merged.ttfb_uncorrected);
    writer_->write(std::string_view("ttlb_uncorrected"), pt.t_s, length_s, merged.ttlb_uncorrected);
    writer_->write(std::string_view("send_lag"), pt.t_s, length_s, merged.send_lag);
  }
  pt.sent = merged.sent;
  pt.completed = merged.completed;
  pt.succeeded = merged.succeeded;
  pt.errors = merged.errors.total();
  pt.ttlb_p50_us = static_cast<double>(merged.ttlb.value_at_percentile(50)) / 1e3;
  pt.ttlb_p99_us = static_cast<double>(merged.ttlb.value_at_percentile(99)) / 1e3;
  if (s_.open && !drain) {
    const std::int64_t a = cfg_.warmup.count() + merged.index * second_ns;
    pt.target_rate = profile_.arrivals_before(a + second_ns) - profile_.arrivals_before(a);
  }
  pt.in_flight = merged.in_flight;
  pt.retries = merged.retries;
  pt.client_retries = merged.client_retries;
  pt.attempts = merged.sent + merged.client_retries;
  pt.stalled = drain ? 0 : merged.stalled;
  pt.cache_hit = merged.cache.hit;
  pt.cache_miss = merged.cache.miss;
  pt.cache_stale = merged.cache.stale;
  pt.cache_other = merged.cache.other;
  pt.cache_hit_ratio = merged.cache.hit_ratio();
  pt.bytes_in = merged.bytes_in;
  pt.bytes_out = merged.bytes_out;
  pt.statuses = status_map(merged.statuses);
  for (const auto& [code, n] : pt.statuses) {
    if (code[0] == '2') pt.status_2xx += n;
    else if (code[0] == '3') pt.status_3xx += n;
    else if (code[0] == '4') pt.status_4xx += n;
    else if (code[0] == '5') pt.status_5xx += n;
  }
  pt.conn_errors = merged.errors.transport();
  if (!drain) {
    completed_in_window_ += merged.completed;
    succeeded_in_window_ += merged.succeeded;
  }
  if (csv_.is_open())
    csv_ << fmt::format("{:g},{:.3f},{},{},{},{},{},{:.1f},{:.1f},{:.1f},{},{},{},{},{},{},{},{:.4f},{},{},{},{},{},{},{},{},{},{}\n", pt.t_s,
                        pt.length_s, pt.phase, pt.sent, pt.completed, pt.succeeded, pt.errors, pt.ttlb_p50_us,
                        pt.ttlb_p99_us, pt.target_rate, pt.in_flight, pt.retries, pt.stalled, pt.cache_hit,
                        pt.cache_miss, pt.cache_stale, pt.cache_other, pt.cache_hit_ratio, pt.bytes_in, pt.bytes_out,
                        pt.status_2xx, pt.status_3xx, pt.status_4xx, pt.status_5xx, pt.conn_errors,
                        pt.attempts, pt.client_retries, collect_top_statuses(pt.statuses))
         << std::flush;
  if (progress_ && !drain)
    std::fprintf(stderr, "\r\033[K[%5.0fs] target %s  goodput %lld/s  ttlb p50 %s p99 %s  errors %lld  in flight %lld",
                 pt.t_s + 1, s_.open ? units::format_rate(pt.target_rate).c_str() : "closed",
                 static_cast<long long>(pt.succeeded),
                 units::format_duration(nanos(static_cast<std::int64_t>(pt.ttlb_p50_us * 1e3))).c_str(),
                 units::format_duration(nanos(static_cast<std::int64_t>(pt.ttlb_p99_us * 1e3))).c_str(),
                 static_cast<long long>(pt.errors), static_cast<long long>(pt.in_flight));
  series_.push_back(pt);
}

}  // namespace perflab::loadgen::detail
