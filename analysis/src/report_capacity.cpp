// The report's "Capacity" section: per capacity search its verdict, capacity, band and Little's law
// bound (capacity.hpp), every step in a table, and plots of the objective's metrics against the
// searched variable with the objective's limit drawn, so the boundary can be checked by eye.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "describe.hpp"
#include "format.hpp"
#include "perflab/analysis/capacity.hpp"
#include "perflab/analysis/compare.hpp"
#include "plot.hpp"
#include "report_parts.hpp"

namespace perflab::analysis::detail {
namespace {

// "ttlb.p99 < 50ms" -> "ttlb.p99".
std::string metric_of(const std::string& expression) {
  const auto op = expression.find_first_of("<>");
  std::string m = expression.substr(0, op);
  while (!m.empty() && m.back() == ' ') m.pop_back();
  while (!m.empty() && m.front() == ' ') m.erase(m.begin());
  return m;
}

struct plotted_metric {
  std::string name;              // "ttlb.p99", "errors.rate"
  std::optional<double> limit;   // the objective's limit, in the metric's unit (us, fraction)
  std::string expression;        // the objective it comes from ("" when plotted without one)
};

// What to draw: every latency and error-rate objective, and TTLB p99 and the error rate when the
// objective has neither.
std::vector<plotted_metric> metrics_to_plot(const result::search_result& s) {
  std::vector<plotted_metric> out;
  bool latency = false, errors = false;
  for (std::size_t i = 0; i < s.objective.size(); ++i) {
    const std::string m = metric_of(s.objective[i]);
    const bool is_latency = m.find('.') != std::string::npos && m.rfind("errors.", 0) != 0 && m != "tps.mean";
    if (!is_latency && m != "errors.rate") continue;
    std::optional<double> limit;
    for (const auto& st : s.steps)
      if (i < st.objective.size()) limit = st.objective[i].limit;
    out.push_back({m, limit, s.objective[i]});
    latency = latency || is_latency;
    errors = errors || m == "errors.rate";
  }
  if (!latency) out.insert(out.begin(), {"ttlb.p99", std::nullopt, ""});
  if (!errors) out.push_back({"errors.rate", std::nullopt, ""});
  return out;
}

double plotted_value(const result::variant& v, const std::string& metric_name) {
  auto m = parse_metric(metric_name);
  if (!m) return 0;
  const double x = metric_value(v, *m);
  return metric_name == "errors.rate" ? x * 100 : x / 1e3;  // percent; milliseconds
}

void add_steps_table(document& doc, const std::string& label, const result::search_result& s) {
  doc.heading(3, "Steps: `" + label + "`");
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const auto& st = s.steps[i];
    const auto& v = st.run;
    std::string note = st.reason;
    if (st.marginal) note = "marginal, repeated" + (note.empty() ? "" : "; " + note);
    rows.push_back({std::to_string(i + 1), format_capacity(s.unit, st.value), st.outcome, format_rate(v.tps_mean),
                    format_us(v.ttlb.p99_us), format_percent(v.error_rate),
                    v.send_lag.count > 0 ? format_us(v.send_lag.p99_us) : "-", v.series_csv.empty() ? "-" : v.series_csv,
                    note.empty() ? "-" : note});
  }
  doc.table({"step", s.variable, "outcome", "goodput/s", "TTLB p99", "errors", "send lag p99", "series", "why"},
            std::move(rows));
}

void add_search_plots(document& doc, const std::vector<std::pair<std::string, const result::search_result*>>& searches,
                      std::vector<std::string>& notes) {
  // One plot per searched variable and metric, every search of that variable a line.
  // Keyed by variable, then latencies before the error rate.
  using group_key = std::tuple<std::string, bool, std::string>;
  std::map<group_key, std::vector<std::pair<std::string, const result::search_result*>>> groups;
  std::map<group_key, plotted_metric> what;
  for (const auto& [label, s] : searches)
    for (const auto& m : metrics_to_plot(*s)) {
      const group_key k{s->variable, m.name == "errors.rate", m.name};
      groups[k].emplace_back(label, s);
      auto& w = what[k];
      if (w.name.empty() || (!w.limit && m.limit)) w = m;
    }
  for (const auto& [gk, members] : groups) {
    const std::string& variable = std::get<0>(gk);
    const plotted_metric& m = what[gk];
    plot_spec spec;
    const bool errors = m.name == "errors.rate";
    spec.title = fmt::format("{} vs {}", errors ? "error rate" : m.name, variable);
    spec.xlabel = fmt::format("{} ({})", variable, members.front().second->unit);
    spec.ylabel = errors ? "error rate (%)" : m.name + " (ms)";
    spec.points = true;
    double xmin = 0, xmax = 0;
    std::vector<double> ys;
    int color = 0;
    for (const auto& [label, s] : members) {
      std::vector<std::pair<double, double>> pts;
      for (const auto& st : s->steps) {
        if (st.outcome == "aborted") continue;
        pts.emplace_back(st.value, plotted_value(st.run, m.name));
        ys.push_back(pts.back().second);
      }
      std::sort(pts.begin(), pts.end());
      if (!pts.empty()) {
        xmin = xmin > 0 ? std::min(xmin, pts.front().first) : pts.front().first;
        xmax = std::max(xmax, pts.back().first);
      }
      spec.lines.push_back({label, std::move(pts), false, color++});
    }
    if (xmin <= 0) continue;
    spec.logx = xmax / xmin >= 20;
    if (m.limit) {
      const double y = errors ? *m.limit * 100 : *m.limit / 1e3;
      spec.lines.push_back({"objective: " + m.expression, {{xmin, y}, {xmax, y}}, true, 6});
      ys.push_back(y);
    }
    double lo = 0, hi = 0;
    for (double y : ys)
      if (y > 0) lo = lo > 0 ? std::min(lo, y) : y, hi = std::max(hi, y);
    spec.logy = !errors && lo > 0 && hi / lo > 10;
    std::string caption = fmt::format(
        "Every step of the search{}: {} against the searched {}, one line per variant{}. A step passes when every "
        "objective holds; the capacity is the highest level that passed stably.",
        members.size() > 1 ? "es" : "", errors ? "the error rate" : m.name + " (corrected: from the intended send time)",
        variable, m.limit ? ", the dashed line the objective's limit" : "");
    if (spec.logx) caption += " The x axis is logarithmic (the ramp doubles the load).";
    if (spec.logy) caption += fmt::format(" The y axis is logarithmic: the values span {}.", format_ratio(hi / lo));
    auto svg = render_svg(spec);
    if (!svg) {
      notes.push_back(fmt::format("plot '{}' not drawn: {}", spec.title, svg.error()));
      continue;
    }
    std::string stem = "capacity-" + variable + "-" + m.name;
    for (auto& c : stem)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
    doc.plot(spec.title, std::move(*svg), "report-" + stem + ".svg", std::move(caption));
  }
}

}  // namespace

void add_capacity(document& doc, const std::vector<loaded_run>& runs) {
  std::vector<std::pair<std::string, const result::search_result*>> searches;
  for (const auto& r : runs) {
    const auto checks = capacity_checks(r.run);
    for (std::size_t i = 0; i < checks.size(); ++i)
      searches.emplace_back((r.label.empty() ? "" : r.label + ": ") + checks[i].label, &r.run.searches[i]);
  }
  if (searches.empty()) return;
  doc.heading(2, "Capacity");
  std::set<std::string> objectives;
  for (const auto& [label, s] : searches) {
    std::string o;
    for (const auto& e : s->objective) o += (o.empty() ? "`" : " and `") + e + "`";
    objectives.insert(fmt::format("{} on `{}` from {} to {}, resolution {:g}%, {} confirmation{} of the final level",
                                  o, s->variable, format_capacity(s->unit, s->range_low),
                                  format_capacity(s->unit, s->range_high), s->resolution * 100, s->confirmations,
                                  s->confirmations == 1 ? "" : "s"));
  }
  doc.para("Capacity search: the highest load at which the objective holds. Objective: " +
           join(std::vector<std::string>(objectives.begin(), objectives.end()), "; ") +
           ". The search doubles the load until the objective fails, then bisects; a step that is marginal or "
           "limited by the load generator is repeated until two runs agree, the final level is confirmed, and a level "
           "whose runs disagree is reported as within noise. The band is where the boundary lies: the capacity passed, "
           "the band's top failed. Little's law bounds the capacity by workers / service time (a thread pool) and by "
           "cores / CPU per response, both measured in the search's own steps. Target CPU is the target's CPU time over "
           "the capacity step's measured phase as a share of its cores: well under 100 % with a CPU bound, the cores "
           "were not all the target's (other processes) or something else set the limit.");
  std::vector<std::vector<std::string>> rows;
  std::size_t at = 0;
  for (const auto& r : runs) {
    for (const auto& c : capacity_checks(r.run)) {
      const auto* s = searches[at++].second;
      std::string capacity = "-";
      if (c.capacity)
        capacity = c.verdict == "above_range" ? "≥ " + format_capacity(c.unit, *c.capacity)
                   : c.verdict == "below_range" ? "< " + format_capacity(c.unit, c.band_high)
                                                : "**" + format_capacity(c.unit, *c.capacity) + "**";
      rows.push_back({(r.label.empty() ? "" : r.label + ": ") + c.label, verdict_words(c.verdict), capacity,
                      c.band_high > 0 ? fmt::format("{} to {}", format_grouped(c.band_low), format_capacity(c.unit, c.band_high))
                                      : "-",
                      std::to_string(c.steps),
                      c.goodput_at_capacity > 0 ? format_grouped(c.goodput_at_capacity) + "/s" : "-",
                      c.predicted > 0 ? fmt::format("{}/s ({})", format_grouped(c.predicted), c.bound) : "-",
                      c.ratio > 0 ? fmt::format("{:.0f}%", c.ratio * 100) : "-",
                      c.cpu_share > 0 ? fmt::format("{:.0f}%", c.cpu_share * 100) : "-", s->reason});
    }
  }
  doc.table({"variant", "verdict", "capacity", "band", "steps", "goodput there", "Little's law bound", "capacity/bound",
             "target CPU", "why it ended"},
            std::move(rows));
  std::vector<std::string> notes;
  if (gnuplot_available())
    add_search_plots(doc, searches, notes);
  else
    notes.push_back("capacity plots not drawn: gnuplot not found on PATH (apt-get install gnuplot-nox)");
  if (!notes.empty()) doc.bullets(std::move(notes));
  for (const auto& [label, s] : searches) add_steps_table(doc, label, *s);
}

}  // namespace perflab::analysis::detail
