#include "report_parts.hpp"

#include <cstdint>
#include <functional>
#include <set>

#include <fmt/format.h>

#include "describe.hpp"
#include "format.hpp"
#include "perflab/core/verdict.hpp"

namespace perflab::analysis::detail {

void add_run_context(document& doc, const std::vector<loaded_run>& runs) {
  doc.heading(2, runs.size() == 1 ? "Run" : "Runs");
  for (const auto& r : runs) {
    const auto& run = r.run;
    std::vector<std::string> items;
    if (!r.label.empty()) items.push_back("Run: **" + r.label + "** (" + r.dir.string() + ")");
    else items.push_back("Results: `" + r.dir.string() + "`");
    items.push_back(fmt::format("Scenario: **{}**{}", run.scenario_name.empty() ? "(ad-hoc)" : run.scenario_name,
                                run.scenario_path.empty() ? "" : " (`" + run.scenario_path + "`)"));
    if (!run.overrides.empty()) items.push_back("Overrides: `" + join(run.overrides, "`, `") + "`");
    items.push_back("Started: " + (run.started_at.empty() ? std::string("unknown") : run.started_at));
    items.push_back(fmt::format("Status: {}", run.complete ? "complete" : "**INCOMPLETE**"));
    items.push_back(fmt::format("Host: {} ({}, {} CPUs, {})", run.host.hostname.empty() ? "?" : run.host.hostname,
                                run.host.cpu_model.empty() ? "unknown CPU" : run.host.cpu_model, run.host.cpus,
                                run.host.kernel.empty() ? "unknown kernel" : run.host.kernel));
    items.push_back(fmt::format("Tool: {} {} (commit {}, {} build)", run.tool.name, run.tool.version,
                                run.tool.commit.empty() ? "unknown" : run.tool.commit,
                                run.tool.build_type.empty() ? "unknown" : run.tool.build_type));
    // The load model behind the numbers: once when every variant shares it, else per variant.
    std::set<std::string> models, measurements, pinnings;
    for (const auto& v : run.variants) {
      models.insert(describe_load(v.load));
      measurements.insert(describe_measurement(v.load));
      pinnings.insert(describe_pinning(v));
    }
    if (models.size() == 1) items.push_back("Load model: " + *models.begin());
    if (measurements.size() == 1) items.push_back("Measurement: " + *measurements.begin());
    if (pinnings.size() == 1) items.push_back("CPU pinning: " + *pinnings.begin());
    doc.bullets(std::move(items));
    if (models.size() > 1 || measurements.size() > 1 || pinnings.size() > 1) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& v : run.variants) {
        rows.push_back({(r.label.empty() ? "" : r.label + ": ") + (v.name.empty() ? std::string("(unnamed)") : v.name) + fmt::format(" #{}", v.repeat), describe_load(v.load),
                        describe_measurement(v.load), describe_pinning(v)});
      }
      doc.table({"variant", "load model", "measurement", "CPU pinning"}, std::move(rows));
    }
  }
}

namespace {

using variant_refs = std::vector<std::reference_wrapper<const loaded_variant>>;

bool is_subscribe_run(const loaded_variant& lv) { return lv.v->load.kind == "subscribe"; }

// "Delivery": push runs (`loadgen subscribe`): what reached the subscribers, what it cost, and
// how late. Their request/response tables would be empty rows, so they are left out of those.
void add_delivery(document& doc, const std::vector<const loaded_variant*>& subs) {
  doc.heading(2, "Delivery");
  std::vector<std::vector<std::string>> counts, latency, gaps;
  for (const loaded_variant* lv : subs) {
    const auto& v = *lv->v;
    counts.push_back({lv->label, v.load.style, std::to_string(v.published), std::to_string(v.expected),
                      std::to_string(v.received), v.lost > 0 ? "**" + std::to_string(v.lost) + "**" : "0",
                      std::to_string(v.duplicated), std::to_string(v.out_of_order), std::to_string(v.reconnects),
                      fmt::format("{:.3f}", v.requests_per_delivered), fmt::format("{:.1f}", v.bytes_per_delivered),
                      v.loadgen.saturated ? "**SATURATED**" : "ok"});
    const auto& d = v.delivery;
    if (d.count > 0)
      latency.push_back({lv->label, std::to_string(d.count), format_ms_plain(d.p50_us), format_ms_plain(d.p90_us),
                         format_ms_plain(d.p99_us), format_ms_plain(d.p999_us), format_ms_plain(d.max_us),
                         format_ms_plain(d.mean_us)});
    else
      latency.push_back({lv->label, "0", "-", "-", "-", "-", "-", "-"});
    if (const auto& g = v.reconnect_gap; g.count > 0)
      gaps.push_back({lv->label, std::to_string(g.count), format_ms_plain(g.p50_us), format_ms_plain(g.p99_us),
                      format_ms_plain(g.max_us)});
  }
  doc.table({"variant", "style", "published", "expected", "received", "lost", "duplicated", "out of order",
             "reconnects", "requests/delivered", "bytes/delivered", "publisher"},
            std::move(counts));
  doc.para("expected: per subscriber, the messages published to its topic during the run, summed; received: first "
           "copies of those; lost = expected - received (not received by the end of the drain). "
           "requests/delivered: subscriber HTTP requests (polls, stream opens) per message received; "
           "bytes/delivered: what the subscribers read (heads, bodies, heartbeats) per message received.");
  doc.heading(3, "Delivery latency, ms");
  doc.para("Receive time minus publish time, both on this host's steady clock (the hub stamps the publish), first "
           "copies only.");
  doc.table({"variant", "count", "p50", "p90", "p99", "p99.9", "max", "mean"}, std::move(latency));
  if (gaps.empty()) return;
  doc.heading(3, "Reconnect gap, ms");
  doc.para("SSE and WebSocket streams that ended (the server closed them, or a reset): the time from a stream's end "
           "to the subscriber's next stream head, the server's retry: delay included. The max is when the last "
           "subscriber was back: the recovery time of a forced reconnect.");
  doc.table({"variant", "reconnects", "p50", "p99", "max"}, std::move(gaps));
}

void add_request_tables(document& doc, const variant_refs& vars);
void add_resources(document& doc, const variant_refs& vars);

// [report] metrics: each named target counter's change over the variant next to the loadgen's
// successful requests, so effects per request (orders created per successful POST) read off.
void add_target_counters(document& doc, const variant_refs& vars) {
  std::vector<std::vector<std::string>> rows;
  for (const loaded_variant& lv : vars) {
    const auto& v = *lv.v;
    for (const auto& c : v.target_counters) {
      if (!c.found) {
        rows.push_back({lv.label, "`" + c.metric + "`", "not found", std::to_string(v.succeeded), "-", "-"});
        continue;
      }
      rows.push_back({lv.label, "`" + c.metric + "`", fmt::format("{:.0f}", c.delta), std::to_string(v.succeeded),
                      fmt::format("{:+.0f}", c.delta - static_cast<double>(v.succeeded)),
                      v.succeeded > 0 ? fmt::format("{:.4f}", c.delta / static_cast<double>(v.succeeded)) : "-"});
    }
  }
  if (rows.empty()) return;
  doc.heading(2, "Target counters");
  doc.table({"variant", "metric", "change", "succeeded", "change - succeeded", "per success"}, std::move(rows));
  doc.para("The scenario's `[report] metrics`, read from the target's /metrics before the load and after its drain "
           "(warm-up included: compare with succeeded when the warm-up is 0). A counter of effects (orders created) "
           "above the successful requests counts effects the clients were never told of, or duplicates.");
}

}  // namespace

void add_tables(document& doc, const std::vector<loaded_variant>& all_vars) {
  variant_refs vars, all;  // vars: request/response variants
  std::vector<const loaded_variant*> subs;
  for (const auto& lv : all_vars) {
    all.emplace_back(lv);
    if (is_subscribe_run(lv)) subs.push_back(&lv);
    else vars.emplace_back(lv);
  }
  if (!subs.empty()) add_delivery(doc, subs);
  if (!vars.empty()) add_request_tables(doc, vars);
  add_resources(doc, all);
}

namespace {

void add_request_tables(document& doc, const variant_refs& vars) {
  doc.heading(2, "Throughput and errors");
  {
    bool rps = false;
    for (const loaded_variant& lv : vars) rps = rps || rps_differs(*lv.v);
    std::vector<std::string> header{"variant", "goodput/s"};
    if (rps) header.push_back("responses/s");
    for (const char* h : {"succeeded", "completed", "sent", "carried-in", "stalled", "unanswered", "errors",
                          "error rate", "error classes", "measured", "status"})
      header.push_back(h);
    std::vector<std::vector<std::string>> rows;
    for (const loaded_variant& lv : vars) {
      const auto& v = *lv.v;
      const auto flags = result::status_flags(v);
      std::vector<std::string> row{lv.label, format_rate(v.tps_mean)};
      if (rps) row.push_back(format_rate(v.rps_mean));
      for (std::int64_t n : {v.succeeded, v.completed, v.sent, v.carried_in, v.stalled, v.abandoned, v.errors.total()})
        row.push_back(std::to_string(n));
      row.push_back(format_percent(v.error_rate));
      row.push_back(error_classes(v.errors));
      row.push_back(fmt::format("{:.2f} s", v.measured_s));
      row.push_back(flags.empty() ? "ok" : "**" + join(flags, ", ") + "**");
      rows.push_back(std::move(row));
    }
    doc.table(std::move(header), std::move(rows));
    doc.para("goodput/s: successful responses (`load.success`, default 2xx and 3xx) per second of the measured "
             "phase" + std::string(rps ? "; responses/s: all responses. " : ". ") +
             "Carried-in: sent in the warm-up, unanswered when the measured phase began; stalled: of those, still "
             "unanswered when it ended; unanswered: measured requests without an answer at the end of the drain "
             "(counted as errors).");
  }
  add_target_counters(doc, vars);
  auto lat_row = [](const std::string& label, const result::latency_summary& s) {
    return std::vector<std::string>{label,
                                    std::to_string(s.count),
                                    format_ms_plain(s.p50_us),
                                    format_ms_plain(s.p90_us),
                                    format_ms_plain(s.p99_us),
                                    format_ms_plain(s.p999_us),
                                    format_ms_plain(s.max_us),
                                    format_ms_plain(s.mean_us)};
  };
  const std::vector<std::string> lat_header = {"variant", "count", "p50", "p90", "p99", "p99.9", "max", "mean"};
  struct lat_table {
    const char* title;
    const char* note;
    const result::latency_summary result::variant::*member;
  };
  const lat_table tables[] = {
      {"TTFB, ms (corrected)", "Time to first byte from the intended send time (open loop); from the write in closed loop.",
       &result::variant::ttfb},
      {"TTLB, ms (corrected)", "Time to last byte from the intended send time (open loop); from the write in closed loop.",
       &result::variant::ttlb},
      {"TTFB, ms (uncorrected)", "From the actual write: what a tool without coordinated-omission correction reports.",
       &result::variant::ttfb_uncorrected},
      {"TTLB, ms (uncorrected)", "From the actual write.", &result::variant::ttlb_uncorrected},
      {"Connect, ms", "New connections only.", &result::variant::connect},
      {"Send lag, ms", "Actual write minus intended send time (open loop); large values mean the load generator or "
                       "a lack of free connections delayed requests.",
       &result::variant::send_lag},
      {"Accepted (202), ms", "[load] follow: from the intended send time to the last byte of the 202 Accepted; the "
                             "TTLB above is the completion, to the poll that found the work done.",
       &result::variant::accepted},
  };
  doc.heading(2, "Latency");
  bool any_followed = false;
  for (const loaded_variant& lv : vars) any_followed = any_followed || !lv.v->load.follow.empty();
  for (const auto& t : tables) {
    if (t.member == &result::variant::accepted && !any_followed) continue;  // only runs that followed 202s
    doc.heading(3, t.title);
    doc.para(t.note);
    // A row of zeros says why it is empty, in the table itself.
    bool any_empty = false;
    for (const loaded_variant& lv : vars) any_empty = any_empty || ((*lv.v).*(t.member)).count == 0;
    std::vector<std::vector<std::string>> rows;
    for (const loaded_variant& lv : vars) {
      const auto& s = (*lv.v).*(t.member);
      auto row = s.count > 0 ? lat_row(lv.label, s) : std::vector<std::string>{lv.label, "0", "-", "-", "-", "-", "-", "-"};
      if (any_empty) row.push_back(empty_latency_reason(*lv.v, s));
      rows.push_back(std::move(row));
    }
    auto header = lat_header;
    if (any_empty) header.push_back("note");
    doc.table(std::move(header), std::move(rows));
  }
}

void add_resources(document& doc, const variant_refs& vars) {
  doc.heading(2, "Resources");
  {
    bool any_spawned = false, any_sampled = false;
    std::vector<std::vector<std::string>> rows;
    for (const loaded_variant& lv : vars) {
      const auto& v = *lv.v;
      double target_cpu = v.target.cpu_user_s + v.target.cpu_system_s;
      double loadgen_cpu = v.loadgen.cpu_user_s + v.loadgen.cpu_system_s;
      rows.push_back({lv.label, v.target.model.empty() ? (v.target.spawned ? "-" : "external") : v.target.model,
                      fmt::format("{:.2f} s", target_cpu),
                      v.measured_s > 0 ? fmt::format("{:.0f}%", 100 * target_cpu / v.measured_s) : "-",
                      target_cpu > 0 && v.completed > 0
                          ? fmt::format("{:.1f} us", target_cpu * 1e6 / static_cast<double>(v.completed))
                          : "-",
                      v.target.peak_rss_bytes > 0 ? detail::format_bytes(static_cast<double>(v.target.peak_rss_bytes))
                                                  : "-",
                      v.target.threads > 0 ? std::to_string(v.target.threads) : "-",
                      v.streams_peak > 0 ? fmt::format("{} (HTTP/2: up to {} streams at once on one)", v.connections_opened,
                                                       v.streams_peak)
                                         : std::to_string(v.connections_opened),
                      fmt::format("{:.2f} s", loadgen_cpu),
                      fmt::format("{:.1f} us", v.loadgen.cpu_per_request_us),
                      v.loadgen.saturated ? "**SATURATED**" : "ok"});
      if (v.target.spawned) any_spawned = true;
      if (!v.target.spawned && target_cpu > 0) any_sampled = true;
    }
    doc.table({"variant", "model", "target CPU", "target CPU %", "target CPU/response", "target peak RSS", "target threads",
               "connections opened", "loadgen CPU", "loadgen CPU/request", "loadgen"},
              std::move(rows));
    if (any_spawned || any_sampled)
      doc.para("Target CPU is sampled at the measured phase's boundaries (each thread's own CPU time), so neither "
               "the warm-up nor the drain is charged to it; a target that died, or a run stopped in its warm-up, "
               "falls back to the target's start-to-stop CPU. An external target is sampled only with "
               "target.pid_file (or a [[service]]): the process and its descendants. Target CPU % divides it by the "
               "measured phase.");
  }
  std::vector<std::vector<std::string>> th_rows;
  for (const loaded_variant& lv : vars) {
    for (const auto& t : lv.v->thresholds) {
      th_rows.push_back({lv.label, "`" + t.expression + "`", threshold_value(t.expression, t.actual),
                         threshold_value(t.expression, t.limit), t.passed ? "passed" : "**FAILED**"});
    }
  }
  if (!th_rows.empty()) {
    doc.heading(2, "Thresholds");
    doc.table({"variant", "check", "actual", "limit", "verdict"}, std::move(th_rows));
  }
}

}  // namespace

}  // namespace perflab::analysis::detail
