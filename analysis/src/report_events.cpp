// The report's part for runs with several targets and a timed schedule (schema 6): what each
// dependency cost and the requests it answered per request the loadgen sent (the load
// amplification), every [[fault]] and [[action]] with its scheduled and actual times, and the
// markers the time-series plots draw for them.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "perflab/core/units.hpp"
#include "plot.hpp"
#include "report_parts.hpp"

namespace perflab::analysis::detail {

namespace {

std::string event_what(const result::timed_event& e) {
  if (e.kind == "fault") return e.spec;
  return e.method + " " + e.path;
}

std::string target_name(const std::string& t) { return t.empty() ? "measured" : t; }

std::string time_or_dash(double s) { return s < 0 ? "-" : fmt::format("{:.2f}", s); }

}  // namespace

std::vector<marker> event_markers(const std::vector<loaded_variant>& vars) {
  // The first variant that recorded events: variants of one scenario share its schedule.
  for (const auto& lv : vars) {
    if (lv.v->events.empty()) continue;
    std::vector<marker> out;
    for (const auto& e : lv.v->events) {
      if (e.start_s < 0) continue;
      const std::string label = fmt::format("{} {}: {}", e.kind, target_name(e.target), event_what(e));
      if (e.kind == "fault") out.push_back({e.start_s, e.end_s > e.start_s ? e.end_s : e.start_s, label});
      else out.push_back({e.start_s, e.start_s, label});
    }
    return out;
  }
  return {};
}

std::vector<std::pair<plot_spec, titled_plot>> target_metric_plots(const std::vector<loaded_variant>& vars) {
  std::vector<std::pair<plot_spec, titled_plot>> out;
  const auto markers = event_markers(vars);
  auto make = [&](const std::string& metric, const std::string& title, const std::string& ylabel) {
    plot_spec spec;
    spec.title = title;
    spec.xlabel = "time in measured phase (s)";
    spec.ylabel = ylabel;
    spec.markers = markers;
    spec.points = true;  // a gap (no answer to the scrape) stays visible as missing points
    int color = 0;
    for (const auto& lv : vars) {
      for (const auto& m : lv.v->target_metrics) {
        if (m.metric != metric || m.points.empty()) continue;
        spec.lines.push_back({lv.label + ": " + target_name(m.target), m.points, false, color++});
      }
    }
    return spec;
  };
  const std::string shaded =
      markers.empty() ? "" : " Shaded: a fault from its start to its end; dashed red: a timed action.";
  struct kind {
    const char *metric, *title, *ylabel, *file_stem, *caption;
  };
  static constexpr kind kinds[] = {
      {"breaker_state", "Circuit breaker state over time", "state (0 closed, 1 open, 2 half-open)", "breaker-state",
       "The breaker's state in each target with --upstream-breaker, read from its /metrics "
       "(perflab_upstream_breaker_state) by the runner once a second of the measured phase: 0 closed, 1 open (calls "
       "refused at once), 2 half-open (trial calls)."},
      {"requests_per_s", "Requests answered per second by each target", "requests per second", "target-requests",
       "Requests each target answered per second (its perflab_target_requests_total without /metrics, /health and "
       "/admin/*), from its /metrics read by the runner once a second: a dependency's line is the load that reached "
       "it (retries multiply it, an open breaker or a full bulkhead cuts it). A missing point: the target did not "
       "answer the scrape within 800 ms."},
      {"pool_waiting", "Requests waiting for a database connection", "waiting requests", "pool-waiting",
       "Requests waiting in each target's database pool (its FIFO acquire queue, perflab_db_pool_waiting) at the "
       "runner's scrape once a second of the measured phase: above the pool's capacity (size / query time, Little's "
       "law) the queue grows until the acquire timeout caps it near rate x timeout."},
      {"outbox_backlog", "Outbox backlog", "events not yet marked sent", "outbox-backlog",
       "Events each target's outbox holds unsent (perflab_outbox_backlog, from the consumer's audit) at the runner's "
       "scrape once a second: it grows while the relay is down and drains after its restart."},
      {"pool_acquire_wait_ms", "Mean wait for a database connection, per second", "ms", "pool-acquire-wait",
       "The mean time the acquisitions served in each second waited for a connection "
       "(perflab_db_pool_acquire_wait_seconds sum / count between two scrapes); requests that timed out are not in "
       "it (they are the 503s)."},
  };
  for (const auto& k : kinds) {
    auto spec = make(k.metric, k.title, k.ylabel);
    if (!spec.lines.empty()) out.push_back({std::move(spec), {k.file_stem, k.caption + shaded}});
  }
  return out;
}

void add_pool(document& doc, const std::vector<loaded_variant>& vars) {
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? -1.0 : v[v.size() / 2];
  };
  std::vector<std::vector<std::string>> rows;
  for (const auto& lv : vars) {
    // One row per target whose pool was sampled: metric name -> values, per target.
    std::map<std::string, std::map<std::string, std::vector<double>>> by_target;
    for (const auto& m : lv.v->target_metrics) {
      if (m.metric.rfind("pool_", 0) != 0) continue;
      for (const auto& [t, value] : m.points) by_target[m.target][m.metric].push_back(value);
    }
    for (auto& [target, metrics] : by_target) {
      auto& peak = metrics["pool_waiting_peak"];
      auto& waiting = metrics["pool_waiting"];
      const double wait_ms = median(metrics["pool_acquire_wait_ms"]);
      rows.push_back({lv.label, target_name(target),
                      peak.empty() ? "-" : fmt::format("{:.0f}", *std::max_element(peak.begin(), peak.end())),
                      waiting.empty() ? "-" : fmt::format("{:.0f}", *std::max_element(waiting.begin(), waiting.end())),
                      waiting.empty() ? "-" : fmt::format("{:.0f}", waiting.back()),
                      wait_ms < 0 ? "-" : fmt::format("{:.1f}", wait_ms)});
    }
  }
  if (rows.empty()) return;
  doc.heading(2, "Database pool");
  doc.para("Each target's connection pool, from its /metrics read once a second of the measured phase: the most "
           "requests waiting for a connection at once since the target started (perflab_db_pool_waiting_peak, so "
           "the warm-up counts too), the most seen at a scrape and at the last one, and the median over the "
           "seconds of the mean acquire wait of the requests served in each (timeouts excluded).");
  doc.table({"variant", "target", "peak waiters", "most waiting at a scrape", "waiting at the end",
             "acquire wait ms (median second)"},
            std::move(rows));
}

void add_events(document& doc, const std::vector<loaded_variant>& vars) {
  bool any = false;
  for (const auto& lv : vars) any = any || !lv.v->events.empty() || !lv.v->dependencies.empty();
  if (!any) return;
  doc.heading(2, "Dependencies, faults and timed actions");
  std::vector<std::vector<std::string>> deps;
  for (const auto& lv : vars) {
    const auto& v = *lv.v;
    auto amplification = [&](std::int64_t requests) -> std::string {
      if (requests < 0 || v.sent <= 0) return "-";
      return fmt::format("{:.2f}", static_cast<double>(requests) / static_cast<double>(v.sent));
    };
    auto row = [&](const result::target_info& t, const std::string& name) {
      deps.push_back({lv.label, name, t.model.empty() ? t.url : t.model,
                      fmt::format("{:.2f}", t.cpu_user_s + t.cpu_system_s),
                      units::format_size(static_cast<std::uint64_t>(std::max<std::int64_t>(0, t.peak_rss_bytes))),
                      t.requests < 0 ? "-" : std::to_string(t.requests), std::to_string(v.sent),
                      amplification(t.requests)});
    };
    if (v.dependencies.empty() && v.target.requests < 0) continue;
    row(v.target, "measured");
    for (const auto& d : v.dependencies) row(d, d.name);
  }
  if (!deps.empty()) {
    doc.para("Each target over the measured phase: its CPU (user + system), peak RSS, the requests it answered "
                  "(from its /metrics: perflab_target_requests_total without /metrics, /health and /admin/*), and "
                  "those per request the loadgen sent. For a dependency that ratio is the load amplification: "
                  "above 1, retries (or fan-out) multiply what reaches it.");
    doc.table({"variant", "target", "model", "CPU s", "peak RSS", "requests answered", "loadgen sent",
               "per loadgen request"},
              std::move(deps));
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& lv : vars) {
    for (const auto& e : lv.v->events) {
      rows.push_back({lv.label, e.kind, target_name(e.target), event_what(e), fmt::format("{:.2f}", e.at_s),
                      e.kind == "fault" && e.duration_s > 0 ? fmt::format("{:.2f}", e.duration_s) : "-",
                      time_or_dash(e.start_s), time_or_dash(e.end_s), e.status ? std::to_string(e.status) : "-",
                      e.error.empty() ? (e.restored.empty() ? "" : "then " + e.restored) : e.error});
    }
  }
  if (!rows.empty()) {
    doc.para("Times in seconds from the start of the measured phase: as scheduled, then as they happened (a "
                  "fault from its POST /admin/fault to the restore of the profile before it, or the phase's end; an "
                  "action from its request to its response). The time-series plots shade each fault and mark each "
                  "action.");
    doc.table({"variant", "kind", "target", "what", "at", "duration", "start", "end", "status", "note"},
              std::move(rows));
  }
}

}  // namespace perflab::analysis::detail
