#include <perflab/targets/metrics.hpp>

#include <perflab/targets/buffer_pool.hpp>

#include <cstdio>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

namespace perflab::targets {

namespace {

std::size_t status_slot(int status) noexcept {
  for (std::size_t i = 0; i < tracked_statuses.size(); ++i)
    if (tracked_statuses[i] == status) return i;
  return tracked_statuses.size();
}

std::size_t latency_slot(std::chrono::nanoseconds d) noexcept {
  const double s = std::chrono::duration<double>(d).count();
  for (std::size_t i = 0; i < latency_bounds_s.size(); ++i)
    if (s <= latency_bounds_s[i]) return i;
  return latency_bounds_s.size();
}

// A thread's shard index, fixed at its first request (threads of all servers share the numbering).
std::atomic<std::uint32_t> g_next_thread{0};
thread_local std::uint32_t t_thread_index = g_next_thread.fetch_add(1, std::memory_order_relaxed);

std::uint64_t proc_status_field(const char* key) noexcept {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  std::uint64_t v = 0;
  const std::size_t klen = std::strlen(key);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, key, klen) == 0 && line[klen] == ':') {
      v = std::strtoull(line + klen + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return v;
}

}  // namespace

std::string_view to_string(endpoint e) noexcept {
  switch (e) {
    case endpoint::hello: return "hello";
    case endpoint::bytes: return "bytes";
    case endpoint::json: return "json";
    case endpoint::cpu: return "cpu";
    case endpoint::sleep: return "sleep";
    case endpoint::health: return "health";
    case endpoint::metrics: return "metrics";
    case endpoint::echo: return "echo";
    case endpoint::cache: return "cache";
    case endpoint::cache_delete: return "cache_delete";
    case endpoint::cache_purge: return "cache_purge";
    case endpoint::db_query: return "db_query";
    case endpoint::items: return "items";
    case endpoint::db_terminate: return "db_terminate";
    case endpoint::proxy: return "proxy";
    case endpoint::stock: return "stock";
    case endpoint::stock_buy: return "stock_buy";
    case endpoint::orders: return "orders";
    case endpoint::jobs: return "jobs";
    case endpoint::job: return "job";
    case endpoint::admin: return "admin";
    case endpoint::login: return "login";
    case endpoint::publish: return "publish";
    case endpoint::messages: return "messages";
    case endpoint::poll: return "poll";
    case endpoint::events: return "events";
    case endpoint::ws: return "ws";
    case endpoint::api_order: return "api_order";
    case endpoint::graphql: return "graphql";
    case endpoint::options: return "options";
    case endpoint::not_found: return "not_found";
    case endpoint::invalid: return "invalid";
    case endpoint::count_: break;
  }
  return "unknown";
}

metrics::shard& metrics::local() noexcept { return shards_[t_thread_index % shard_count]; }

void metrics::record(endpoint e, int status, std::chrono::nanoseconds latency) noexcept {
  auto& s = local();
  const auto ei = static_cast<std::size_t>(e);
  s.requests[ei][status_slot(status)].fetch_add(1, std::memory_order_relaxed);
  s.latency[ei][latency_slot(latency)].fetch_add(1, std::memory_order_relaxed);
  s.latency_sum_ns[ei].fetch_add(static_cast<std::uint64_t>(latency.count()), std::memory_order_relaxed);
}

void metrics::request_started() noexcept { local().in_flight.fetch_add(1, std::memory_order_relaxed); }
void metrics::request_finished() noexcept { local().in_flight.fetch_sub(1, std::memory_order_relaxed); }

std::int64_t metrics::in_flight() const noexcept {
  std::int64_t n = 0;
  for (const auto& s : shards_) n += s.in_flight.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t metrics::requests(endpoint e, int status) const noexcept {
  std::uint64_t n = 0;
  const auto ei = static_cast<std::size_t>(e);
  const auto si = status_slot(status);
  for (const auto& s : shards_) n += s.requests[ei][si].load(std::memory_order_relaxed);
  return n;
}

std::uint64_t metrics::bytes_read_total() const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s.read.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t metrics::bytes_written_total() const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s.written.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t metrics::requests_total() const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_)
    for (const auto& row : s.requests)
      for (const auto& c : row) n += c.load(std::memory_order_relaxed);
  return n;
}

void metrics::write_prometheus(std::string& out, std::string_view model) const {
  auto it = std::back_inserter(out);
  // Sum the shards once.
  std::uint64_t req[endpoint_count][status_slots] = {};
  std::uint64_t lat[endpoint_count][latency_slots] = {};
  std::uint64_t lat_sum[endpoint_count] = {};
  for (const auto& s : shards_) {
    for (std::size_t e = 0; e < endpoint_count; ++e) {
      for (std::size_t i = 0; i < status_slots; ++i) req[e][i] += s.requests[e][i].load(std::memory_order_relaxed);
      for (std::size_t i = 0; i < latency_slots; ++i) lat[e][i] += s.latency[e][i].load(std::memory_order_relaxed);
      lat_sum[e] += s.latency_sum_ns[e].load(std::memory_order_relaxed);
    }
  }

  fmt::format_to(it, "# HELP perflab_target_info The server's concurrency model.\n"
                     "# TYPE perflab_target_info gauge\n"
                     "perflab_target_info{{model=\"{}\"}} 1\n", model);
  fmt::format_to(it, "# HELP perflab_target_requests_total Requests answered, by endpoint and status.\n"
                     "# TYPE perflab_target_requests_total counter\n");
  for (std::size_t e = 0; e < endpoint_count; ++e) {
    for (std::size_t i = 0; i < status_slots; ++i) {
      if (req[e][i] == 0) continue;
      const auto name = to_string(static_cast<endpoint>(e));
      if (i < tracked_statuses.size())
        fmt::format_to(it, "perflab_target_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", name,
                       tracked_statuses[i], req[e][i]);
      else
        fmt::format_to(it, "perflab_target_requests_total{{endpoint=\"{}\",status=\"other\"}} {}\n", name,
                       req[e][i]);
    }
  }
  fmt::format_to(it, "# HELP perflab_target_in_flight_requests Requests being handled now.\n"
                     "# TYPE perflab_target_in_flight_requests gauge\n"
                     "perflab_target_in_flight_requests {}\n", in_flight());
  fmt::format_to(it, "# HELP perflab_target_open_connections Connections open now.\n"
                     "# TYPE perflab_target_open_connections gauge\n"
                     "perflab_target_open_connections {}\n", open_connections());
  fmt::format_to(it, "# HELP perflab_target_pooled_buffers_in_use Read and response buffers connections hold now "
                     "(lent by the per-thread buffer pool while a request or response is in flight; none while idle).\n"
                     "# TYPE perflab_target_pooled_buffers_in_use gauge\n"
                     "perflab_target_pooled_buffers_in_use {}\n", buffer_pool::in_use());
  fmt::format_to(it, "# HELP perflab_target_connections_accepted_total Connections accepted.\n"
                     "# TYPE perflab_target_connections_accepted_total counter\n"
                     "perflab_target_connections_accepted_total {}\n", accepted_connections());
  fmt::format_to(it, "# HELP perflab_target_connections_refused_total Connections refused (connection cap or full queue).\n"
                     "# TYPE perflab_target_connections_refused_total counter\n"
                     "perflab_target_connections_refused_total {}\n", refused_connections());
  fmt::format_to(it, "# HELP perflab_target_send_timeouts_total Connections closed because the client took no byte of a response for the send timeout.\n"
                     "# TYPE perflab_target_send_timeouts_total counter\n"
                     "perflab_target_send_timeouts_total {}\n", send_timeouts());
  fmt::format_to(it, "# HELP perflab_target_bytes_read_total Bytes received on client connections (requests as sent).\n"
                     "# TYPE perflab_target_bytes_read_total counter\n"
                     "perflab_target_bytes_read_total {}\n"
                     "# HELP perflab_target_bytes_written_total Bytes written to client connections (responses: "
                     "heads and bodies, encoded as sent).\n"
                     "# TYPE perflab_target_bytes_written_total counter\n"
                     "perflab_target_bytes_written_total {}\n", bytes_read_total(), bytes_written_total());
  fmt::format_to(it, "# HELP perflab_target_allocation_failures_total Allocations that failed, answered with 503 or a close.\n"
                     "# TYPE perflab_target_allocation_failures_total counter\n"
                     "perflab_target_allocation_failures_total {}\n", allocation_failures());
  fmt::format_to(it, "# HELP perflab_target_threads OS threads of the process.\n"
                     "# TYPE perflab_target_threads gauge\n"
                     "perflab_target_threads {}\n", thread_count());
  fmt::format_to(it, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                     "# TYPE process_resident_memory_bytes gauge\n"
                     "process_resident_memory_bytes {}\n", resident_memory_bytes());
  fmt::format_to(it, "# HELP perflab_target_request_duration_seconds Time from a parsed request to its response being ready.\n"
                     "# TYPE perflab_target_request_duration_seconds histogram\n");
  for (std::size_t e = 0; e < endpoint_count; ++e) {
    std::uint64_t count = 0;
    for (auto c : lat[e]) count += c;
    if (count == 0) continue;
    const auto name = to_string(static_cast<endpoint>(e));
    std::uint64_t cum = 0;
    for (std::size_t i = 0; i < latency_bounds_s.size(); ++i) {
      cum += lat[e][i];
      fmt::format_to(it, "perflab_target_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"{}\"}} {}\n", name,
                     latency_bounds_s[i], cum);
    }
    fmt::format_to(it, "perflab_target_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"+Inf\"}} {}\n", name, count);
    fmt::format_to(it, "perflab_target_request_duration_seconds_sum{{endpoint=\"{}\"}} {:.9f}\n", name,
                   static_cast<double>(lat_sum[e]) / 1e9);
    fmt::format_to(it, "perflab_target_request_duration_seconds_count{{endpoint=\"{}\"}} {}\n", name, count);
  }
}

std::uint64_t resident_memory_bytes() noexcept { return proc_status_field("VmRSS") * 1024; }
std::uint64_t thread_count() noexcept { return proc_status_field("Threads"); }

}  // namespace perflab::targets
