#include "report_parts.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "describe.hpp"
#include "format.hpp"
#include "perflab/analysis/stats.hpp"
#include "plot.hpp"

namespace perflab::analysis::detail {
namespace {

std::optional<double> as_number(const std::string& s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string slug(std::string s) {
  for (auto& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
  }
  return s;
}

// Largest over smallest positive value: latency plots switch to a log y axis above 10, where a
// linear axis would flatten the fast variants into the floor.
double span_of(const std::vector<double>& values) {
  double lo = 0, hi = 0;
  for (double v : values) {
    if (!(v > 0)) continue;
    lo = lo > 0 ? std::min(lo, v) : v;
    hi = std::max(hi, v);
  }
  return lo > 0 ? hi / lo : 1;
}

struct plot_maker {
  document& doc;
  std::vector<std::string>& notes;  // plot failures, reported once
  bool enabled = true;
  int count = 0;

  void add(plot_spec spec, const std::string& file_stem, std::string caption) {
    if (!enabled) return;
    auto svg = render_svg(spec);
    if (!svg) {
      notes.push_back(fmt::format("plot '{}' not drawn: {}", spec.title, svg.error()));
      return;
    }
    doc.plot(spec.title, std::move(*svg), fmt::format("report-{}.svg", file_stem), std::move(caption));
    ++count;
  }
};

// Percentile spectrum points: x = 1 / (1 - p). The 100% point would be at infinity; it is drawn at
// x = 2 * count (just past the resolution of the data) so the maximum stays visible.
std::vector<std::pair<double, double>> spectrum_points(const histogram& h, double& xmax) {
  std::vector<std::pair<double, double>> pts;
  const double n = static_cast<double>(h.total_count());
  const double cap = std::max(10.0, 2 * n);
  for (const auto& p : h.percentile_spectrum(5)) {
    double frac = p.percentile / 100.0;
    double x = frac >= 1.0 ? cap : std::min(cap, 1.0 / (1.0 - frac));
    pts.emplace_back(x, static_cast<double>(p.value) / 1e6);  // ns -> ms
  }
  xmax = std::max(xmax, cap);
  return pts;
}

void add_spectrum_plots(plot_maker& pm, const std::vector<loaded_variant>& vars) {
  struct which {
    const char* tag;
    const char* uncorrected;
    const char* title;
  };
  const which kinds[] = {{"ttfb", "ttfb_uncorrected", "TTFB percentile spectrum"},
                         {"ttlb", "ttlb_uncorrected", "TTLB percentile spectrum"}};
  // Uncorrected curves next to the corrected ones show coordinated omission at a glance; with many
  // variants they would drown the picture.
  const bool with_uncorrected = vars.size() <= 4;
  for (const auto& k : kinds) {
    plot_spec spec;
    spec.title = k.title;
    spec.xlabel = "percentile";
    spec.ylabel = "latency (ms)";
    spec.percentile_axis = true;
    double xmax = 10;
    int color = 0;
    bool any_dashed = false;
    std::vector<double> medians;
    for (const auto& lv : vars) {
      auto it = lv.merged.find(k.tag);
      if (it != lv.merged.end() && !it->second.empty()) {
        medians.push_back(static_cast<double>(it->second.value_at_percentile(50)) / 1e6);
        spec.lines.push_back({lv.label, spectrum_points(it->second, xmax), false, color});
        auto un = lv.merged.find(k.uncorrected);
        if (with_uncorrected && lv.v->load.kind == "open" && un != lv.merged.end() && !un->second.empty()) {
          spec.lines.push_back({lv.label + " (uncorrected)", spectrum_points(un->second, xmax), true, color});
          any_dashed = true;
        }
      }
      ++color;
    }
    if (spec.lines.empty()) continue;
    spec.xmax = xmax;
    const double span = span_of(medians);
    spec.logy = span > 10;
    std::string caption =
        "x axis: percentile on a log scale of 1/(1-p), so each step right is ten times rarer; y: latency at that "
        "percentile, merged over all intervals of the measured phase.";
    if (spec.logy) caption += fmt::format(" The y axis is logarithmic: the variants' medians span {}.", format_ratio(span));
    if (any_dashed) caption += " Dashed: uncorrected (from the actual write); the gap to the solid line is the "
                               "queueing a closed-loop tool would hide (coordinated omission).";
    pm.add(std::move(spec), std::string(k.tag) + "-spectrum", caption);
  }
}

void add_tps_plot(plot_maker& pm, const std::vector<loaded_variant>& vars) {
  plot_spec spec;
  spec.title = "Throughput over time";
  spec.xlabel = "time in measured phase (s)";
  const bool all_push =
      std::all_of(vars.begin(), vars.end(), [](const loaded_variant& lv) { return lv.v->load.kind == "subscribe"; });
  spec.ylabel = all_push ? "messages delivered per second" : "responses per second";
  int color = 0;
  bool any_all = false, any_unknown = false;
  double longest_drain = -1;
  for (const auto& lv : vars) {
    const bool goodput_known = lv.run->run.schema >= 2;
    any_unknown = any_unknown || !goodput_known;
    auto t = throughput_of(*lv.v, goodput_known);
    longest_drain = std::max(longest_drain, t.drain_s);
    const int c = color++;
    if (t.goodput.empty()) continue;
    spec.lines.push_back({lv.label, std::move(t.goodput), false, c});
    if (t.differs) {
      spec.lines.push_back({lv.label + " (all responses)", std::move(t.all), true, c});
      any_all = true;
    }
  }
  if (spec.lines.empty()) return;
  spec.markers = event_markers(vars);
  std::string caption =
      "Successful responses (goodput) per second of the measured phase, warm-up excluded; each point is divided "
      "by its interval's length, so a short last second is not a dip. Dips show stalls; a steady line below the "
      "target rate in open loop means the target could not keep up.";
  if (any_all) caption += " Dashed: all responses, where some were not successes.";
  if (std::any_of(vars.begin(), vars.end(), [](const loaded_variant& lv) { return lv.v->load.kind == "subscribe"; }))
    caption += " Subscribe runs (`loadgen subscribe`): messages delivered to the subscribers per second.";
  if (any_unknown) caption += " Runs written with schema 1 recorded no successes per second: their lines are all responses.";
  if (longest_drain >= 0)
    caption += fmt::format(" The drain after the measured phase (up to {}) is not plotted: it is not a one-second "
                           "interval.",
                           seconds(longest_drain));
  if (!spec.markers.empty()) caption += " Shaded: a fault from its start to its end; dashed red: a timed action.";
  pm.add(std::move(spec), "tps-over-time", caption);
}

// Responses per second by error status (429, 503, ... each a line, per variant), and failures
// without a status: what a rate limiter, a waiting room or a fault answered, and when (schema 6).
void add_status_plot(plot_maker& pm, const std::vector<loaded_variant>& vars) {
  plot_spec spec;
  spec.title = "Error statuses over time";
  spec.xlabel = "time in measured phase (s)";
  spec.ylabel = "responses per second";
  spec.markers = event_markers(vars);
  int color = 0;
  for (const auto& lv : vars) {
    std::set<std::string> codes;
    bool conn = false;
    for (const auto& p : lv.v->series) {
      for (const auto& [code, n] : p.statuses)
        if (n > 0 && (code[0] == '4' || code[0] == '5')) codes.insert(code);
      conn = conn || p.conn_errors > 0;
    }
    for (const auto& code : codes) {
      series s{lv.label + ": " + code, {}, false, color++};
      for (const auto& p : lv.v->series) {
        if (p.phase == "drain" || p.length_s <= 0) continue;
        const auto it = p.statuses.find(code);
        s.points.emplace_back(p.t_s, static_cast<double>(it == p.statuses.end() ? 0 : it->second) / p.length_s);
      }
      spec.lines.push_back(std::move(s));
    }
    if (conn) {
      series s{lv.label + ": no status (connection errors)", {}, true, color++};
      for (const auto& p : lv.v->series)
        if (p.phase != "drain" && p.length_s > 0) s.points.emplace_back(p.t_s, static_cast<double>(p.conn_errors) / p.length_s);
      spec.lines.push_back(std::move(s));
    }
  }
  if (spec.lines.empty()) return;
  std::string caption =
      "Responses per second of the measured phase by error status (one line per status and variant: 429 from a rate "
      "limiter, 503 from a waiting room or a fault, ...), by when they arrived; dashed: failures without a status "
      "(connect errors, resets, timeouts).";
  if (!spec.markers.empty()) caption += " Shaded: a fault from its start to its end; dashed red: a timed action.";
  pm.add(std::move(spec), "statuses-over-time", caption);
}

// Errors per second (failed requests: error statuses, resets, timeouts) with the faults shaded:
// only for runs with timed events, where the question is what a fault did and when it stopped.
void add_errors_plot(plot_maker& pm, const std::vector<loaded_variant>& vars) {
  plot_spec spec;
  spec.markers = event_markers(vars);
  if (spec.markers.empty()) return;
  spec.title = "Errors over time";
  spec.xlabel = "time in measured phase (s)";
  spec.ylabel = "errors per second";
  int color = 0;
  for (const auto& lv : vars) {
    series s{lv.label, {}, false, color++};
    for (const auto& p : lv.v->series)
      if (p.phase != "drain" && p.length_s > 0) s.points.emplace_back(p.t_s, static_cast<double>(p.errors) / p.length_s);
    if (!s.points.empty()) spec.lines.push_back(std::move(s));
  }
  if (spec.lines.empty()) return;
  pm.add(std::move(spec), "errors-over-time",
         "Failed requests per second of the measured phase (error statuses such as 429 and 503, resets, timeouts), "
         "by when they started. Shaded: a fault from its start to its end; dashed red: a timed action.");
}

// The hit ratio per second (from X-Cache), for variants whose responses carried it: a cold start
// climbing, a TTL wave or an invalidation dipping.
void add_hit_ratio_plot(plot_maker& pm, const std::vector<loaded_variant>& vars) {
  plot_spec spec;
  spec.title = "Cache hit ratio over time";
  spec.xlabel = "time in measured phase (s)";
  spec.ylabel = "hit ratio (X-Cache: HIT / responses with X-Cache)";
  int color = 0;
  for (const auto& lv : vars) {
    const int c = color++;
    if (lv.v->cache.total() == 0) continue;
    series s{lv.label, {}, false, c};
    for (const auto& p : lv.v->series) {
      if (p.phase == "drain" || p.cache_hit + p.cache_miss + p.cache_stale + p.cache_other == 0) continue;
      s.points.emplace_back(p.t_s, p.cache_hit_ratio);
    }
    if (!s.points.empty()) spec.lines.push_back(std::move(s));
  }
  if (spec.lines.empty()) return;
  spec.markers = event_markers(vars);
  pm.add(std::move(spec), "hit-ratio-over-time",
         "Hits over responses with an X-Cache header, per second of the measured phase (warm-up excluded). A cold "
         "cache climbs; a TTL expiry or a purge shows as a dip.");
}

// For each matrix key whose values are all numeric with at least two distinct values: TPS and
// TTLB p99 against it, one line per combination of the other keys (and per run), repeats reduced
// to their median.
void add_sweep_plots(plot_maker& pm, const std::vector<loaded_variant>& vars) {
  std::set<std::string> keys;
  for (const auto& lv : vars)
    for (const auto& [k, val] : lv.v->params) keys.insert(k);
  for (const auto& key : keys) {
    std::set<double> distinct;
    bool numeric = true;
    for (const auto& lv : vars) {
      auto it = lv.v->params.find(key);
      if (it == lv.v->params.end()) continue;
      auto n = as_number(it->second);
      if (!n) {
        numeric = false;
        break;
      }
      distinct.insert(*n);
    }
    if (!numeric || distinct.size() < 2) continue;
    // group -> x -> per-repeat values. Push runs (`loadgen subscribe`) have no responses: their
    // lines are messages delivered per second, delivery p99 and the target's peak RSS.
    std::map<std::string, std::map<double, std::vector<double>>> tps, p99, hits, rss;
    bool push = false;
    for (const auto& lv : vars) {
      auto it = lv.v->params.find(key);
      if (it == lv.v->params.end()) continue;
      double x = *as_number(it->second);
      std::string group;
      for (const auto& [k, val] : lv.v->params) {
        if (k == key) continue;
        group += (group.empty() ? "" : ",") + k + "=" + val;
      }
      if (!lv.run->label.empty()) group = lv.run->label + (group.empty() ? "" : ": " + group);
      if (group.empty()) group = "all";
      if (lv.v->load.kind == "subscribe") {
        push = true;
        tps[group][x].push_back(lv.v->measured_s > 0 ? static_cast<double>(lv.v->received) / lv.v->measured_s : 0);
        p99[group][x].push_back(lv.v->delivery.p99_us / 1e3);
        if (lv.v->target.peak_rss_bytes > 0) rss[group][x].push_back(static_cast<double>(lv.v->target.peak_rss_bytes) / (1 << 20));
      } else {
        tps[group][x].push_back(lv.v->tps_mean);
        p99[group][x].push_back(lv.v->ttlb.p99_us / 1e3);
      }
      if (lv.v->cache.total() > 0) hits[group][x].push_back(lv.v->cache_hit_ratio);
    }
    const bool logx = *distinct.begin() > 0 && *distinct.rbegin() / *distinct.begin() >= 20;
    auto make = [&](const char* title, const char* ylabel, const auto& data, const std::string& stem, bool latency) {
      plot_spec spec;
      spec.title = fmt::format("{} vs {}", title, key);
      spec.xlabel = key;
      spec.ylabel = ylabel;
      spec.logx = logx;
      spec.points = true;
      int color = 0;
      std::vector<double> ys;
      for (const auto& [group, by_x] : data) {
        series s{group, {}, false, color++};
        for (const auto& [x, vals] : by_x) {
          s.points.emplace_back(x, stats::median(vals));
          ys.push_back(s.points.back().second);
        }
        spec.lines.push_back(std::move(s));
      }
      const double span = span_of(ys);
      spec.logy = latency && span > 10;
      // The caption before the move: argument evaluation order is unspecified.
      std::string caption = fmt::format(
          "Swept parameter `{}`{}; one line per combination of the other parameters; repeats reduced to their "
          "median.",
          key, logx ? " (log scale)" : "");
      if (spec.logy) caption += fmt::format(" The y axis is logarithmic: the values span {}.", format_ratio(span));
      pm.add(std::move(spec), stem + "-" + slug(key), caption);
    };
    if (push) {
      make("Delivered", "messages delivered per second", tps, "sweep-tps", false);
      make("Delivery p99", "delivery p99 (ms)", p99, "sweep-p99", true);
      if (!rss.empty()) make("Target peak RSS", "target peak RSS (MiB)", rss, "sweep-rss", false);
    } else {
      make("TPS", "goodput (successful responses per second)", tps, "sweep-tps", false);
      make("TTLB p99", "TTLB p99 (ms)", p99, "sweep-p99", true);
    }
    if (!hits.empty()) make("Cache hit ratio", "hit ratio (from X-Cache)", hits, "sweep-hit-ratio", false);
  }
}

}  // namespace

throughput_lines throughput_of(const result::variant& v, bool goodput_known) {
  throughput_lines t;
  for (const auto& p : v.series) {
    if (p.phase == "drain") {
      t.drain_s = p.length_s;
      continue;
    }
    if (p.length_s <= 0) continue;
    if (v.load.kind == "subscribe") {  // a push run: messages delivered (it has no responses to count)
      t.goodput.emplace_back(p.t_s, static_cast<double>(p.delivered) / p.length_s);
      continue;
    }
    const double n = static_cast<double>(goodput_known ? p.succeeded : p.completed);
    t.goodput.emplace_back(p.t_s, n / p.length_s);
    t.all.emplace_back(p.t_s, static_cast<double>(p.completed) / p.length_s);
    t.differs = t.differs || (goodput_known && p.completed != p.succeeded);
  }
  return t;
}

void add_plots(document& doc, const std::vector<loaded_variant>& vars) {
  std::vector<std::string> notes;
  doc.heading(2, "Plots");
  plot_maker pm{doc, notes, gnuplot_available(), 0};
  if (!pm.enabled) notes.push_back("plots not drawn: gnuplot not found on PATH (apt-get install gnuplot-nox)");
  add_spectrum_plots(pm, vars);
  add_tps_plot(pm, vars);
  add_errors_plot(pm, vars);
  add_status_plot(pm, vars);
  for (auto& [spec, t] : target_metric_plots(vars)) pm.add(std::move(spec), t.file_stem, std::move(t.caption));
  add_hit_ratio_plot(pm, vars);
  add_sweep_plots(pm, vars);
  for (const auto& lv : vars) {
    if (!lv.log_note.empty()) notes.push_back(fmt::format("`{}`: no percentile spectrum ({})", lv.label, lv.log_note));
  }
  if (!notes.empty()) doc.bullets(notes);
}

}  // namespace perflab::analysis::detail
