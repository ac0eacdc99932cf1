#include "variant_table.hpp"

#include <algorithm>

#include <map>
#include <set>

#include <fmt/format.h>

#include "describe.hpp"
#include "format.hpp"
#include "perflab/analysis/report.hpp"
#include "perflab/core/verdict.hpp"

namespace perflab::analysis {
namespace detail {

std::vector<std::string> variant_labels(const result::run& r) {
  std::map<std::string, int> name_count;
  for (const auto& v : r.variants) ++name_count[v.name];
  std::vector<std::string> labels;
  for (const auto& v : r.variants) {
    std::string name = v.name.empty() ? "(unnamed)" : v.name;
    if (name_count[v.name] > 1) name += fmt::format(" #{}", v.repeat);
    labels.push_back(std::move(name));
  }
  return labels;
}

namespace {

// Push runs (`loadgen subscribe`): what reached the subscribers, how late, and at what cost.
grid push_variant_grid(const result::run& r) {
  grid g;
  g.header = {"variant", "delivered/s", "delivery p50 ms", "delivery p99 ms", "expected", "lost", "duplicated",
              "requests/delivered", "threads", "peak RSS", "status"};
  const auto labels = variant_labels(r);
  for (std::size_t i = 0; i < r.variants.size(); ++i) {
    const auto& v = r.variants[i];
    g.rows.push_back({labels[i], format_rate(v.measured_s > 0 ? static_cast<double>(v.received) / v.measured_s : 0),
                      format_ms_plain(v.delivery.p50_us), format_ms_plain(v.delivery.p99_us),
                      std::to_string(v.expected), std::to_string(v.lost), std::to_string(v.duplicated),
                      fmt::format("{:.3f}", v.requests_per_delivered),
                      v.target.spawned ? std::to_string(v.target.threads) : "-",
                      v.target.spawned ? format_bytes(static_cast<double>(v.target.peak_rss_bytes)) : "-",
                      result::status_word(v, ",")});
  }
  return g;
}

}  // namespace

grid variant_grid(const result::run& r) {
  if (!r.variants.empty() && std::all_of(r.variants.begin(), r.variants.end(),
                                         [](const result::variant& v) { return v.load.kind == "subscribe"; }))
    return push_variant_grid(r);
  bool rps = false, carried = false, stalled = false, unanswered = false, spawned = false, cached = false;
  bool wire = false;  // bytes on the wire were counted (schema 5 and later)
  bool tcp = false;   // TCP bytes where they differ from the handed-over ones (TLS, HTTP/2)
  bool cors = false;  // [load] cors: preflights sent or requests refused by theirs
  for (const auto& v : r.variants) {
    cors = cors || v.preflights > 0 || v.errors.cors_refused > 0;
    wire = wire || v.bytes_in > 0;
    // TCP bytes (kernel-counted) only where they differ from what the engine handed over: TLS, HTTP/2.
    tcp = tcp || (v.tcp_bytes_in > 0 && (v.load.http == "2" || v.target.url.starts_with("https://")));
    spawned = spawned || v.target.spawned;
    cached = cached || v.cache.total() > 0;
    rps = rps || rps_differs(v);
    carried = carried || v.carried_in > 0;
    stalled = stalled || v.stalled > 0;
    unanswered = unanswered || v.abandoned > 0;
  }
  grid g;
  g.header = {"variant", "goodput/s"};
  if (rps) g.header.push_back("responses/s");
  if (wire) {  // next to the throughput: what it cost on the wire
    g.header.push_back("MB/s in");
    g.header.push_back("MB/s out");
  }
  if (tcp) g.header.push_back("TCP B/response");
  for (const char* h : {"TTFB p50 ms", "TTFB p99 ms", "TTLB p50 ms", "TTLB p99 ms", "errors"}) g.header.push_back(h);
  if (cors) {  // the browser mode: preflights per request sent, and the requests they refused
    g.header.push_back("preflights");
    g.header.push_back("CORS refused");
  }
  if (cached) g.header.push_back("hit ratio");  // from X-Cache: hits / responses with the header
  if (carried) g.header.push_back("carried-in");
  if (stalled) g.header.push_back("stalled");
  if (unanswered) g.header.push_back("unanswered");
  // What the model cost: the target's peak threads and memory (spawned targets only).
  if (spawned) {
    g.header.push_back("threads");
    g.header.push_back("peak RSS");
  }
  g.header.push_back("status");
  const auto labels = variant_labels(r);
  for (std::size_t i = 0; i < r.variants.size(); ++i) {
    const auto& v = r.variants[i];
    std::vector<std::string> row{labels[i], format_rate(v.tps_mean)};
    if (rps) row.push_back(format_rate(v.rps_mean));
    if (wire) {
      row.push_back(fmt::format("{:.2f}", v.mb_in_per_s));
      row.push_back(fmt::format("{:.2f}", v.mb_out_per_s));
    }
    if (tcp) row.push_back(v.tcp_bytes_in > 0 ? fmt::format("{:.0f}", v.tcp_bytes_per_response) : "-");
    row.push_back(format_ms_plain(v.ttfb.p50_us));
    row.push_back(format_ms_plain(v.ttfb.p99_us));
    row.push_back(format_ms_plain(v.ttlb.p50_us));
    row.push_back(format_ms_plain(v.ttlb.p99_us));
    row.push_back(v.errors.total() ? fmt::format("{} ({})", v.errors.total(), format_percent(v.error_rate)) : "0");
    if (cors) {
      row.push_back(v.sent > 0 ? fmt::format("{} ({:.2f}/request)", v.preflights,
                                             static_cast<double>(v.preflights) / static_cast<double>(v.sent))
                               : std::to_string(v.preflights));
      row.push_back(std::to_string(v.errors.cors_refused));
    }
    if (cached) row.push_back(v.cache.total() > 0 ? fmt::format("{:.3f}", v.cache_hit_ratio) : "-");
    if (carried) row.push_back(std::to_string(v.carried_in));
    if (stalled) row.push_back(std::to_string(v.stalled));
    if (unanswered) row.push_back(std::to_string(v.abandoned));
    if (spawned) {
      row.push_back(v.target.spawned ? std::to_string(v.target.threads) : "-");
      row.push_back(v.target.spawned ? format_bytes(static_cast<double>(v.target.peak_rss_bytes)) : "-");
    }
    // A run a stop condition ended says so next to its status (the fired condition is a failed check).
    row.push_back(result::status_word(v, ",") + (v.stopped_early ? ",STOPPED EARLY" : ""));
    g.rows.push_back(std::move(row));
  }
  return g;
}

std::string load_context_lines(const result::run& r) {
  std::set<std::string> models, measurements, pinnings;
  for (const auto& v : r.variants) {
    models.insert(describe_load(v.load));
    measurements.insert(describe_measurement(v.load));
    pinnings.insert(describe_pinning(v));
  }
  std::string head;
  for (const auto& m : models) head += "load: " + m + "\n";
  for (const auto& m : measurements) head += "measured: " + m + "\n";
  for (const auto& p : pinnings) head += "cpus: " + p + "\n";
  return head;
}

}  // namespace detail

std::string comparison_table(const result::run& r) {
  // Every table says which load model produced its numbers (one line per distinct setting).
  auto g = detail::variant_grid(r);
  return detail::load_context_lines(r) + detail::text_table(g.header, g.rows);
}

}  // namespace perflab::analysis
