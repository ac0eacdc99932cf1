#include <perflab/encode/stats.hpp>

#include <iterator>

#include <fmt/format.h>

namespace perflab::encode {

namespace {

std::atomic<std::uint32_t> next_thread_index{0};
thread_local const std::uint32_t t_thread_index = next_thread_index.fetch_add(1, std::memory_order_relaxed);

std::size_t slot_of(std::chrono::nanoseconds took) noexcept {
  const double s = std::chrono::duration<double>(took).count();
  std::size_t i = 0;
  while (i < encode_bounds_s.size() && s > encode_bounds_s[i]) ++i;
  return i;
}

}  // namespace

std::string_view to_string(skip_reason r) noexcept {
  switch (r) {
    case skip_reason::identity: return "identity";
    case skip_reason::too_short: return "too_short";
    case skip_reason::failed: return "failed";
    case skip_reason::count_: break;
  }
  return "unknown";
}

stats::shard& stats::local() noexcept { return shards_[t_thread_index % shard_count]; }

void stats::encoded(coding c, std::size_t in, std::size_t out, std::chrono::nanoseconds took) noexcept {
  auto& s = local();
  const auto ci = static_cast<std::size_t>(c);
  s.responses[ci].fetch_add(1, std::memory_order_relaxed);
  s.in[ci].fetch_add(in, std::memory_order_relaxed);
  s.out[ci].fetch_add(out, std::memory_order_relaxed);
  s.took_ns[ci].fetch_add(static_cast<std::uint64_t>(took.count()), std::memory_order_relaxed);
  s.took[ci][slot_of(took)].fetch_add(1, std::memory_order_relaxed);
}

void stats::served_static(coding c, std::size_t in, std::size_t out) noexcept {
  auto& s = local();
  const auto ci = static_cast<std::size_t>(c);
  s.responses[ci].fetch_add(1, std::memory_order_relaxed);
  s.in[ci].fetch_add(in, std::memory_order_relaxed);
  s.out[ci].fetch_add(out, std::memory_order_relaxed);
}

void stats::skipped(skip_reason r) noexcept {
  local().skips[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t stats::responses(coding c) const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s.responses[static_cast<std::size_t>(c)].load(std::memory_order_relaxed);
  return n;
}
std::uint64_t stats::bytes_in(coding c) const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s.in[static_cast<std::size_t>(c)].load(std::memory_order_relaxed);
  return n;
}
std::uint64_t stats::bytes_out(coding c) const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s.out[static_cast<std::size_t>(c)].load(std::memory_order_relaxed);
  return n;
}
std::uint64_t stats::skips(skip_reason r) const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s.skips[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
  return n;
}

void stats::write_prometheus(std::string& out) const {
  auto it = std::back_inserter(out);
  const coding listed[] = {coding::gzip, coding::br, coding::zstd};
  auto shown = [&](coding c) { return c == coding::gzip || responses(c) > 0; };
  fmt::format_to(it, "# HELP perflab_encode_responses_total Responses sent with a content coding.\n"
                     "# TYPE perflab_encode_responses_total counter\n");
  for (const auto c : listed)
    if (shown(c)) fmt::format_to(it, "perflab_encode_responses_total{{coding=\"{}\"}} {}\n", to_string(c), responses(c));
  fmt::format_to(it, "# HELP perflab_encode_bytes_in_total Body bytes before encoding, of the encoded responses.\n"
                     "# TYPE perflab_encode_bytes_in_total counter\n");
  for (const auto c : listed)
    if (shown(c)) fmt::format_to(it, "perflab_encode_bytes_in_total{{coding=\"{}\"}} {}\n", to_string(c), bytes_in(c));
  fmt::format_to(it, "# HELP perflab_encode_bytes_out_total Body bytes after encoding (what went on the wire).\n"
                     "# TYPE perflab_encode_bytes_out_total counter\n");
  for (const auto c : listed)
    if (shown(c)) fmt::format_to(it, "perflab_encode_bytes_out_total{{coding=\"{}\"}} {}\n", to_string(c), bytes_out(c));
  fmt::format_to(it, "# HELP perflab_encode_duration_seconds Time spent encoding one response body (bodies "
                     "served from the static cache took none and are not counted here).\n"
                     "# TYPE perflab_encode_duration_seconds histogram\n");
  for (const auto c : listed) {
    if (!shown(c)) continue;
    const auto ci = static_cast<std::size_t>(c);
    std::array<std::uint64_t, slots> counts{};
    std::uint64_t sum_ns = 0;
    for (const auto& s : shards_) {
      for (std::size_t i = 0; i < slots; ++i) counts[i] += s.took[ci][i].load(std::memory_order_relaxed);
      sum_ns += s.took_ns[ci].load(std::memory_order_relaxed);
    }
    std::uint64_t cum = 0;
    for (std::size_t i = 0; i < encode_bounds_s.size(); ++i) {
      cum += counts[i];
      fmt::format_to(it, "perflab_encode_duration_seconds_bucket{{coding=\"{}\",le=\"{}\"}} {}\n", to_string(c),
                     encode_bounds_s[i], cum);
    }
    cum += counts[slots - 1];
    fmt::format_to(it, "perflab_encode_duration_seconds_bucket{{coding=\"{}\",le=\"+Inf\"}} {}\n", to_string(c), cum);
    fmt::format_to(it, "perflab_encode_duration_seconds_sum{{coding=\"{}\"}} {:.9f}\n", to_string(c),
                   static_cast<double>(sum_ns) / 1e9);
    fmt::format_to(it, "perflab_encode_duration_seconds_count{{coding=\"{}\"}} {}\n", to_string(c), cum);
  }
  fmt::format_to(it, "# HELP perflab_encode_skipped_total Encodable responses sent unencoded, by reason.\n"
                     "# TYPE perflab_encode_skipped_total counter\n");
  for (std::size_t r = 0; r < skip_count; ++r)
    fmt::format_to(it, "perflab_encode_skipped_total{{reason=\"{}\"}} {}\n", to_string(static_cast<skip_reason>(r)),
                   skips(static_cast<skip_reason>(r)));
}

}  // namespace perflab::encode
