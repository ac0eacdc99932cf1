#include "perflab/api/api_stats.hpp"

#include <iterator>

#include <fmt/format.h>

namespace perflab::api {

namespace {

std::atomic<std::uint32_t> api_next_thread{0};
thread_local const std::uint32_t api_thread_index = api_next_thread.fetch_add(1, std::memory_order_relaxed);

constexpr style api_styles[] = {style::rest, style::graphql};
constexpr result api_results[] = {result::ok, result::not_found, result::bad_request};

}  // namespace

std::string_view to_string(style s) noexcept {
  switch (s) {
    case style::rest: return "rest";
    case style::graphql: return "graphql";
    case style::count_: break;
  }
  return "unknown";
}

std::string_view to_string(result r) noexcept {
  switch (r) {
    case result::ok: return "ok";
    case result::not_found: return "not_found";
    case result::bad_request: return "bad_request";
    case result::count_: break;
  }
  return "unknown";
}

api_stats::shard& api_stats::local() noexcept { return shards_[api_thread_index % shard_count]; }

void api_stats::answered(style s, result r, std::uint64_t fields_sent, std::uint64_t fields_available,
                         std::uint64_t body_bytes) noexcept {
  auto& sh = local();
  const auto si = static_cast<std::size_t>(s);
  sh.requests[si][static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  sh.sent[si].fetch_add(fields_sent, std::memory_order_relaxed);
  sh.available[si].fetch_add(fields_available, std::memory_order_relaxed);
  sh.bytes[si].fetch_add(body_bytes, std::memory_order_relaxed);
}

std::uint64_t api_stats::requests(style s, result r) const noexcept {
  std::uint64_t n = 0;
  for (const auto& sh : shards_)
    n += sh.requests[static_cast<std::size_t>(s)][static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
  return n;
}
std::uint64_t api_stats::fields_sent(style s) const noexcept {
  std::uint64_t n = 0;
  for (const auto& sh : shards_) n += sh.sent[static_cast<std::size_t>(s)].load(std::memory_order_relaxed);
  return n;
}
std::uint64_t api_stats::fields_available(style s) const noexcept {
  std::uint64_t n = 0;
  for (const auto& sh : shards_) n += sh.available[static_cast<std::size_t>(s)].load(std::memory_order_relaxed);
  return n;
}
std::uint64_t api_stats::body_bytes(style s) const noexcept {
  std::uint64_t n = 0;
  for (const auto& sh : shards_) n += sh.bytes[static_cast<std::size_t>(s)].load(std::memory_order_relaxed);
  return n;
}

void api_stats::write_prometheus(std::string& out) const {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "# HELP perflab_api_requests_total Order API requests (/api/orders/{{id}}, /graphql) by style and result.\n"
                     "# TYPE perflab_api_requests_total counter\n");
  for (auto s : api_styles)
    for (auto r : api_results)
      fmt::format_to(it, "perflab_api_requests_total{{api=\"{}\",result=\"{}\"}} {}\n", to_string(s), to_string(r),
                     requests(s, r));
  auto per_style = [&](std::string_view name, std::string_view help, auto&& get) {
    fmt::format_to(it, "# HELP {} {}\n# TYPE {} counter\n", name, help, name);
    for (auto s : api_styles) fmt::format_to(it, "{}{{api=\"{}\"}} {}\n", name, to_string(s), get(s));
  };
  per_style("perflab_api_fields_sent_total", "Leaf values written in order API responses (GraphQL: the selected ones).",
            [&](style s) { return fields_sent(s); });
  per_style("perflab_api_fields_available_total",
            "Leaf values the full documents of the answered orders hold (12 + 4 per line item each).",
            [&](style s) { return fields_available(s); });
  per_style("perflab_api_body_bytes_total", "Order API response body bytes, before any content coding.",
            [&](style s) { return body_bytes(s); });
}

}  // namespace perflab::api
