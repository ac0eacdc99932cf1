#include "perflab/analysis/report.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include <fmt/format.h>

#include "format.hpp"
#include "perflab/analysis/stats.hpp"
#include "perflab/core/hdr_log.hpp"
#include "perflab/core/result_io.hpp"
#include "plot.hpp"

namespace perflab::analysis {
namespace {

namespace fs = std::filesystem;
using detail::format_ms_plain;
using detail::format_percent;
using detail::format_rate;
using detail::format_us;

// ---- document model: built once, rendered to Markdown and to HTML ------------------------------

struct block {
  enum class kind { heading, paragraph, bullets, table, plot, alert };
  kind k = kind::paragraph;
  int level = 2;                                 // heading level
  std::string text;                              // heading/paragraph/alert text; plot title
  std::vector<std::string> items;                // bullets
  std::vector<std::string> header;               // table
  std::vector<std::vector<std::string>> rows;    // table
  std::string svg;                               // plot: gnuplot's standalone SVG
  std::string svg_file;                          // plot: file name next to report.md
  std::string caption;                           // plot: how to read it
};

struct document {
  std::vector<block> blocks;
  void heading(int level, std::string t) { blocks.push_back({block::kind::heading, level, std::move(t), {}, {}, {}, {}, {}, {}}); }
  void para(std::string t) { blocks.push_back({block::kind::paragraph, 0, std::move(t), {}, {}, {}, {}, {}, {}}); }
  void alert(std::string t) { blocks.push_back({block::kind::alert, 0, std::move(t), {}, {}, {}, {}, {}, {}}); }
  void bullets(std::vector<std::string> items) {
    blocks.push_back({block::kind::bullets, 0, {}, std::move(items), {}, {}, {}, {}, {}});
  }
  void table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows) {
    blocks.push_back({block::kind::table, 0, {}, {}, std::move(header), std::move(rows), {}, {}, {}});
  }
  void plot(std::string title, std::string svg, std::string file, std::string caption) {
    blocks.push_back({block::kind::plot, 0, std::move(title), {}, {}, {}, std::move(svg), std::move(file),
                      std::move(caption)});
  }
};

// A column is right-aligned when every non-empty cell is a number (maybe with a unit or in bold).
bool looks_numeric(std::string_view c) {
  while (c.size() >= 2 && c.substr(0, 2) == "**") c.remove_prefix(2);
  if (c.empty() || c == "-") return true;
  std::size_t i = (c[0] == '-' || c[0] == '+') ? 1 : 0;
  return i < c.size() && std::isdigit(static_cast<unsigned char>(c[i]));
}

std::vector<bool> numeric_columns(const block& b) {
  std::vector<bool> num(b.header.size(), true);
  for (const auto& r : b.rows) {
    for (std::size_t i = 0; i < r.size() && i < num.size(); ++i) num[i] = num[i] && looks_numeric(r[i]);
  }
  if (!num.empty()) num[0] = false;  // the row label
  return num;
}

std::string md_escape_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string render_markdown(const document& d) {
  std::string out;
  for (const auto& b : d.blocks) {
    switch (b.k) {
      case block::kind::heading:
        out += std::string(static_cast<std::size_t>(b.level), '#') + " " + b.text + "\n\n";
        break;
      case block::kind::paragraph:
        out += b.text + "\n\n";
        break;
      case block::kind::alert:
        out += "> **WARNING:** " + b.text + "\n\n";
        break;
      case block::kind::bullets:
        for (const auto& i : b.items) out += "- " + i + "\n";
        out += "\n";
        break;
      case block::kind::table: {
        out += "|";
        for (const auto& h : b.header) out += " " + md_escape_cell(h) + " |";
        out += "\n|";
        auto num = numeric_columns(b);
        for (std::size_t i = 0; i < b.header.size(); ++i) out += num[i] ? "---:|" : "---|";
        out += "\n";
        for (const auto& r : b.rows) {
          out += "|";
          for (const auto& c : r) out += " " + md_escape_cell(c) + " |";
          out += "\n";
        }
        out += "\n";
        break;
      }
      case block::kind::plot:
        out += "**" + b.text + "**\n\n";
        if (!b.svg_file.empty()) out += "![" + b.text + "](" + b.svg_file + ")\n\n";
        if (!b.caption.empty()) out += "*" + b.caption + "*\n\n";
        break;
    }
  }
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Markdown's `code` and **bold** in our own texts, rendered for HTML (after escaping).
std::string html_inline(const std::string& s) {
  std::string e = html_escape(s);
  std::string out;
  bool code = false, bold = false;
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (e[i] == '`') {
      out += code ? "</code>" : "<code>";
      code = !code;
    } else if (!code && e[i] == '*' && i + 1 < e.size() && e[i + 1] == '*') {
      out += bold ? "</strong>" : "<strong>";
      bold = !bold;
      ++i;
    } else {
      out += e[i];
    }
  }
  if (code) out += "</code>";
  if (bold) out += "</strong>";
  return out;
}

std::string render_html(const document& d, const std::string& title) {
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<title>" + html_escape(title) + "</title>\n";
  out += R"(<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { border-bottom: 2px solid #0072B2; padding-bottom: .2em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #f0f4f8; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td.text { text-align: left; }
.alert { background: #fff0e6; border-left: 6px solid #D55E00; padding: .6em 1em; margin: .6em 0; font-weight: 600; }
figure { margin: 1em 0 2em; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: .9em; }
code { background: #f4f4f4; padding: 0 .2em; }
</style>
</head>
<body>
)";
  int plot_id = 0;
  for (const auto& b : d.blocks) {
    switch (b.k) {
      case block::kind::heading: {
        int l = std::clamp(b.level, 1, 6);
        out += fmt::format("<h{0}>{1}</h{0}>\n", l, html_inline(b.text));
        break;
      }
      case block::kind::paragraph:
        out += "<p>" + html_inline(b.text) + "</p>\n";
        break;
      case block::kind::alert:
        out += "<div class=\"alert\">WARNING: " + html_inline(b.text) + "</div>\n";
        break;
      case block::kind::bullets:
        out += "<ul>\n";
        for (const auto& i : b.items) out += "<li>" + html_inline(i) + "</li>\n";
        out += "</ul>\n";
        break;
      case block::kind::table: {
        out += "<table>\n<thead><tr>";
        for (const auto& h : b.header) out += "<th>" + html_escape(h) + "</th>";
        out += "</tr></thead>\n<tbody>\n";
        auto num = numeric_columns(b);
        for (const auto& r : b.rows) {
          out += "<tr>";
          for (std::size_t i = 0; i < r.size(); ++i) {
            out += (i < num.size() && num[i] ? "<td>" : "<td class=\"text\">") + html_inline(r[i]) + "</td>";
          }
          out += "</tr>\n";
        }
        out += "</tbody>\n</table>\n";
        break;
      }
      case block::kind::plot:
        out += "<figure>\n";
        out += detail::inline_svg(b.svg, fmt::format("p{}_", plot_id++));
        out += "\n<figcaption><strong>" + html_escape(b.text) + "</strong>";
        if (!b.caption.empty()) out += " " + html_inline(b.caption);
        out += "</figcaption>\n</figure>\n";
        break;
    }
  }
  out += "</body>\n</html>\n";
  return out;
}

// ---- loaded data ---------------------------------------------------------------------------------

struct loaded_run {
  fs::path dir;       // run directory (interval logs are relative to it)
  std::string label;  // prefix of variant labels when several runs share a report ("" for one run)
  result::run run;
};

struct loaded_variant {
  const loaded_run* run = nullptr;
  const result::variant* v = nullptr;
  std::string label;                          // "<run label>: <variant name> #<repeat>"
  std::map<std::string, histogram> merged;    // tag -> all intervals merged
  std::string log_note;                       // why spectra are missing, if they are
};

std::string variant_label(const loaded_run& r, const result::variant& v, bool show_repeat) {
  std::string name = v.name.empty() ? "(unnamed)" : v.name;
  if (show_repeat) name += fmt::format(" #{}", v.repeat);
  return r.label.empty() ? name : r.label + ": " + name;
}

void load_interval_log(loaded_variant& lv) {
  if (lv.v->interval_log.empty()) {
    lv.log_note = "no interval log recorded";
    return;
  }
  auto path = lv.run->dir / lv.v->interval_log;
  std::ifstream in(path);
  if (!in) {
    lv.log_note = fmt::format("interval log {} not found", path.string());
    return;
  }
  auto log = hdr::read_log(in);
  if (!log) {
    lv.log_note = fmt::format("{}:{}: {}", path.string(), log.error().line, log.error().message);
    return;
  }
  for (auto& iv : log->intervals) {
    std::string tag = iv.tag.value_or("");
    auto it = lv.merged.find(tag);
    if (it == lv.merged.end()) lv.merged.emplace(tag, std::move(iv.hist));
    else it->second.add(iv.hist);
  }
}

// ---- text helpers --------------------------------------------------------------------------------

std::string join_ints(const std::vector<int>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

std::string seconds(double s) {
  if (s == std::floor(s)) return fmt::format("{:.0f} s", s);
  return fmt::format("{:.3g} s", s);
}

std::string describe_load(const result::load_model& l) {
  std::string s;
  if (l.kind == "open") {
    s = fmt::format("open loop ({} arrivals", l.arrival.empty() ? "constant" : l.arrival);
    if (!l.stages.empty()) {
      s += ", stages";
      for (const auto& st : l.stages) s += fmt::format(" {}->{}/s", seconds(st.duration_s), format_rate(st.target_rate));
    } else {
      s += fmt::format(", {} req/s", format_rate(l.rate));
    }
    s += l.connections > 0 ? fmt::format(", up to {} connections)", l.connections) : ", connections on demand)";
  } else if (l.kind == "closed") {
    s = fmt::format("closed loop ({} connections", l.connections);
    if (l.think_time_s > 0) s += fmt::format(", think time {}", format_us(l.think_time_s * 1e6));
    s += ")";
  } else {
    s = l.kind.empty() ? "unknown load model" : l.kind;
  }
  return s;
}

std::string describe_measurement(const result::load_model& l) {
  std::string s = fmt::format("duration {}, warm-up {}", seconds(l.duration_s), seconds(l.warmup_s));
  if (l.max_requests > 0) s += fmt::format(", at most {} requests", l.max_requests);
  if (!l.keepalive.empty()) s += ", " + l.keepalive;
  return s;
}

std::string describe_pinning(const result::variant& v) {
  std::string s = fmt::format("loadgen {} thread{}, ", v.load.threads, v.load.threads == 1 ? "" : "s");
  s += v.load.cpus.empty() ? "not pinned" : "pinned to CPU " + join_ints(v.load.cpus);
  s += "; target ";
  if (!v.target.spawned) s += "external";
  else s += v.target.cpus.empty() ? "not pinned" : "pinned to CPU " + join_ints(v.target.cpus);
  return s;
}

std::string error_classes(const result::error_counts& e) {
  std::string s;
  result::for_each_error_class(e, [&](const char* name, std::int64_t n) {
    if (n > 0) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", name, n);
  });
  return s.empty() ? "-" : s;
}

// Threshold values are in the expression's base unit: microseconds for latencies, fractions for
// rates, requests/s for TPS. The expression's left side tells which.
std::string threshold_value(const std::string& expr, double v) {
  if (expr.rfind("tps", 0) == 0) return format_rate(v) + " req/s";
  if (expr.find("rate") != std::string::npos) return format_percent(v);
  return format_us(v);
}

bool any_threshold_failed(const result::variant& v) {
  return std::any_of(v.thresholds.begin(), v.thresholds.end(), [](const auto& t) { return !t.passed; });
}

std::vector<std::string> flags_of(const result::variant& v) {
  std::vector<std::string> f;
  if (v.loadgen.saturated) f.push_back("SATURATED");
  if (!v.complete) f.push_back("INCOMPLETE");
  if (any_threshold_failed(v)) f.push_back("THRESHOLD FAILED");
  if (v.target.crashed) f.push_back("TARGET CRASHED");
  return f;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

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

// ---- plots -------------------------------------------------------------------------------------

struct plot_maker {
  document& doc;
  std::vector<std::string>& notes;  // plot failures, reported once
  bool enabled = true;
  int count = 0;

  void add(detail::plot_spec spec, const std::string& file_stem, std::string caption) {
    if (!enabled) return;
    auto svg = detail::render_svg(spec);
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
    detail::plot_spec spec;
    spec.title = k.title;
    spec.xlabel = "percentile";
    spec.ylabel = "latency (ms)";
    spec.percentile_axis = true;
    double xmax = 10;
    int color = 0;
    bool any_dashed = false;
    for (const auto& lv : vars) {
      auto it = lv.merged.find(k.tag);
      if (it != lv.merged.end() && !it->second.empty()) {
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
    std::string caption =
        "x axis: percentile on a log scale of 1/(1-p), so each step right is ten times rarer; y: latency at that "
        "percentile, merged over all intervals of the measured phase.";
    if (any_dashed) caption += " Dashed: uncorrected (from the actual write); the gap to the solid line is the "
                               "queueing a closed-loop tool would hide (coordinated omission).";
    pm.add(std::move(spec), std::string(k.tag) + "-spectrum", caption);
  }
}

void add_tps_plot(plot_maker& pm, const std::vector<loaded_variant>& vars) {
  detail::plot_spec spec;
  spec.title = "Throughput over time";
  spec.xlabel = "time in measured phase (s)";
  spec.ylabel = "responses per second";
  int color = 0;
  for (const auto& lv : vars) {
    detail::series s{lv.label, {}, false, color++};
    for (const auto& p : lv.v->series) s.points.emplace_back(p.t_s, static_cast<double>(p.completed));
    if (!s.points.empty()) spec.lines.push_back(std::move(s));
  }
  if (spec.lines.empty()) return;
  pm.add(std::move(spec), "tps-over-time",
         "One point per second of the measured phase (warm-up excluded). Dips show stalls; a steady line below "
         "the target rate in open loop means the target could not keep up.");
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
    // group -> x -> per-repeat values
    std::map<std::string, std::map<double, std::vector<double>>> tps, p99;
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
      tps[group][x].push_back(lv.v->tps_mean);
      p99[group][x].push_back(lv.v->ttlb.p99_us / 1e3);
    }
    const bool logx = *distinct.begin() > 0 && *distinct.rbegin() / *distinct.begin() >= 20;
    auto make = [&](const char* title, const char* ylabel, const auto& data, const std::string& stem) {
      detail::plot_spec spec;
      spec.title = fmt::format("{} vs {}", title, key);
      spec.xlabel = key;
      spec.ylabel = ylabel;
      spec.logx = logx;
      spec.points = true;
      int color = 0;
      for (const auto& [group, by_x] : data) {
        detail::series s{group, {}, false, color++};
        for (const auto& [x, vals] : by_x) s.points.emplace_back(x, stats::median(vals));
        spec.lines.push_back(std::move(s));
      }
      pm.add(std::move(spec), stem + "-" + slug(key),
             fmt::format("Swept parameter `{}`{}; one line per combination of the other parameters; repeats "
                         "reduced to their median.",
                         key, logx ? " (log scale)" : ""));
    };
    make("TPS", "responses per second", tps, "sweep-tps");
    make("TTLB p99", "TTLB p99 (ms)", p99, "sweep-p99");
  }
}

// ---- the report ----------------------------------------------------------------------------------

tl::expected<std::vector<loaded_run>, std::string> load_runs(const std::vector<fs::path>& inputs) {
  std::vector<loaded_run> runs;
  std::map<std::string, int> label_uses;
  for (const auto& in : inputs) {
    auto r = result::read_run_json(in);
    if (!r) return tl::make_unexpected(r.error());
    loaded_run lr;
    std::error_code ec;
    lr.dir = fs::is_directory(in, ec) ? in : in.parent_path();
    if (lr.dir.empty()) lr.dir = ".";
    lr.run = std::move(*r);
    auto name = fs::weakly_canonical(lr.dir, ec).filename().string();
    if (name.empty()) name = lr.run.scenario_name;
    lr.label = name;
    runs.push_back(std::move(lr));
  }
  if (runs.size() == 1) {
    runs[0].label.clear();
  } else {
    for (auto& r : runs) {
      int n = label_uses[r.label]++;
      if (n > 0) r.label += fmt::format("#{}", n + 1);
    }
  }
  return runs;
}

void add_warnings(document& doc, const std::vector<loaded_run>& runs, const std::vector<loaded_variant>& vars) {
  for (const auto& r : runs) {
    std::string who = r.label.empty() ? "This run" : "Run " + r.label;
    if (!r.run.complete) {
      doc.alert(who + " is INCOMPLETE (interrupted or a target died): numbers cover only part of the plan.");
    }
    if (r.run.tool.build_type.find("sanitized") != std::string::npos) {
      doc.alert(who + " was measured with a sanitizer build (" + r.run.tool.build_type +
                "): its numbers are not representative.");
    }
  }
  for (const auto& lv : vars) {
    const auto& v = *lv.v;
    if (v.loadgen.saturated) {
      doc.alert(fmt::format("SATURATED: `{}`: the load generator could not keep its schedule (send lag p99 {}, "
                            "bound {}{}); its TPS and latencies describe the load generator, not the target.",
                            lv.label, format_us(v.send_lag.p99_us), format_us(v.loadgen.send_lag_bound_us),
                            v.unsent > 0 ? fmt::format("; {} due requests never sent", v.unsent) : ""));
    }
    if (v.abandoned > 0)
      doc.alert(fmt::format("UNANSWERED: `{}`: {} requests were still unanswered when the run stopped; their latency "
                            "is not in the percentiles.",
                            lv.label, v.abandoned));
    if (v.retries > 0)
      doc.alert(fmt::format("RETRIED: `{}`: {} requests were resent once on a new connection because the server had "
                            "closed their idle keep-alive connection; their latency includes the reconnect.",
                            lv.label, v.retries));
    for (const auto& t : v.thresholds) {
      if (!t.passed) {
        doc.alert(fmt::format("THRESHOLD FAILED: `{}`: `{}` (actual {}, limit {}).", lv.label, t.expression,
                              threshold_value(t.expression, t.actual), threshold_value(t.expression, t.limit)));
      }
    }
    if (!v.complete) {
      doc.alert(fmt::format("INCOMPLETE variant `{}`{}.", lv.label,
                            v.incomplete_reason.empty() ? "" : ": " + v.incomplete_reason));
    }
    if (v.target.crashed) doc.alert(fmt::format("TARGET CRASHED in `{}` ({}).", lv.label, v.target.exit_status));
  }
}

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
        rows.push_back({variant_label(r, v, false) + fmt::format(" #{}", v.repeat), describe_load(v.load),
                        describe_measurement(v.load), describe_pinning(v)});
      }
      doc.table({"variant", "load model", "measurement", "CPU pinning"}, std::move(rows));
    }
  }
}

void add_tables(document& doc, const std::vector<loaded_variant>& vars) {
  doc.heading(2, "Throughput and errors");
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& lv : vars) {
      const auto& v = *lv.v;
      auto flags = flags_of(v);
      rows.push_back({lv.label, format_rate(v.tps_mean), std::to_string(v.completed), std::to_string(v.sent),
                      std::to_string(v.errors.total()), format_percent(v.error_rate), error_classes(v.errors),
                      fmt::format("{:.2f} s", v.measured_s), flags.empty() ? "ok" : "**" + join(flags, ", ") + "**"});
    }
    doc.table({"variant", "TPS (mean)", "completed", "sent", "errors", "error rate", "error classes", "measured",
               "status"},
              std::move(rows));
  }
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
  };
  doc.heading(2, "Latency");
  for (const auto& t : tables) {
    doc.heading(3, t.title);
    doc.para(t.note);
    std::vector<std::vector<std::string>> rows;
    for (const auto& lv : vars) rows.push_back(lat_row(lv.label, (*lv.v).*(t.member)));
    doc.table(lat_header, std::move(rows));
  }
  doc.heading(2, "Resources");
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& lv : vars) {
      const auto& v = *lv.v;
      double target_cpu = v.target.cpu_user_s + v.target.cpu_system_s;
      double loadgen_cpu = v.loadgen.cpu_user_s + v.loadgen.cpu_system_s;
      rows.push_back({lv.label, v.target.model.empty() ? (v.target.spawned ? "-" : "external") : v.target.model,
                      fmt::format("{:.2f} s", target_cpu),
                      v.measured_s > 0 ? fmt::format("{:.0f}%", 100 * target_cpu / v.measured_s) : "-",
                      v.target.peak_rss_bytes > 0 ? detail::format_bytes(static_cast<double>(v.target.peak_rss_bytes))
                                                  : "-",
                      v.target.threads > 0 ? std::to_string(v.target.threads) : "-",
                      std::to_string(v.connections_opened), fmt::format("{:.2f} s", loadgen_cpu),
                      fmt::format("{:.1f} us", v.loadgen.cpu_per_request_us),
                      v.loadgen.saturated ? "**SATURATED**" : "ok"});
    }
    doc.table({"variant", "model", "target CPU", "target CPU %", "target peak RSS", "target threads",
               "connections opened", "loadgen CPU", "loadgen CPU/request", "loadgen"},
              std::move(rows));
  }
  std::vector<std::vector<std::string>> th_rows;
  for (const auto& lv : vars) {
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

bool write_text(const fs::path& p, const std::string& text, std::string& err) {
  auto tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      err = fmt::format("{}: cannot write", tmp.string());
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec) {
    err = fmt::format("{}: {}", p.string(), ec.message());
    return false;
  }
  return true;
}

}  // namespace

tl::expected<report_paths, std::string> render_report(const std::vector<fs::path>& run_dirs, const fs::path& out_dir) {
  if (run_dirs.empty()) return tl::make_unexpected("no results given");
  auto runs = load_runs(run_dirs);
  if (!runs) return tl::make_unexpected(runs.error());

  std::vector<loaded_variant> vars;
  for (const auto& r : *runs) {
    std::map<std::string, int> name_count;
    for (const auto& v : r.run.variants) ++name_count[v.name];
    for (const auto& v : r.run.variants) {
      loaded_variant lv;
      lv.run = &r;
      lv.v = &v;
      lv.label = variant_label(r, v, name_count[v.name] > 1);
      load_interval_log(lv);
      vars.push_back(std::move(lv));
    }
  }

  fs::path out = out_dir.empty() ? (*runs)[0].dir : out_dir;
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return tl::make_unexpected(fmt::format("{}: cannot create: {}", out.string(), ec.message()));

  document doc;
  std::string title;
  {
    std::set<std::string> names;
    for (const auto& r : *runs) names.insert(r.run.scenario_name.empty() ? "ad-hoc" : r.run.scenario_name);
    title = "perflab report: " + join(std::vector<std::string>(names.begin(), names.end()), ", ");
  }
  doc.heading(1, title);
  add_warnings(doc, *runs, vars);
  add_run_context(doc, *runs);
  add_tables(doc, vars);

  std::vector<std::string> notes;
  doc.heading(2, "Plots");
  plot_maker pm{doc, notes, detail::gnuplot_available(), 0};
  if (!pm.enabled) notes.push_back("plots not drawn: gnuplot not found on PATH (apt-get install gnuplot-nox)");
  add_spectrum_plots(pm, vars);
  add_tps_plot(pm, vars);
  add_sweep_plots(pm, vars);
  for (const auto& lv : vars) {
    if (!lv.log_note.empty()) notes.push_back(fmt::format("`{}`: no percentile spectrum ({})", lv.label, lv.log_note));
  }
  if (!notes.empty()) doc.bullets(notes);

  report_paths paths{out / "report.md", out / "report.html"};
  std::string err;
  // The SVG files the Markdown links to; the HTML embeds the same plots.
  for (const auto& b : doc.blocks) {
    if (b.k == block::kind::plot && !b.svg_file.empty() && !write_text(out / b.svg_file, b.svg, err)) {
      return tl::make_unexpected(err);
    }
  }
  if (!write_text(paths.markdown, render_markdown(doc), err)) return tl::make_unexpected(err);
  if (!write_text(paths.html, render_html(doc, title), err)) return tl::make_unexpected(err);
  return paths;
}

std::string comparison_table(const result::run& r) {
  std::map<std::string, int> name_count;
  for (const auto& v : r.variants) ++name_count[v.name];
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : r.variants) {
    std::string name = v.name.empty() ? "(unnamed)" : v.name;
    if (name_count[v.name] > 1) name += fmt::format(" #{}", v.repeat);
    auto flags = flags_of(v);
    rows.push_back({name, format_rate(v.tps_mean), format_ms_plain(v.ttfb.p50_us), format_ms_plain(v.ttfb.p99_us),
                    format_ms_plain(v.ttlb.p50_us), format_ms_plain(v.ttlb.p99_us),
                    v.errors.total() ? fmt::format("{} ({})", v.errors.total(), format_percent(v.error_rate)) : "0",
                    flags.empty() ? "ok" : join(flags, ",")});
  }
  // Every table says which load model produced its numbers (one line per distinct setting).
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
  return head + detail::text_table({"variant", "TPS", "TTFB p50 ms", "TTFB p99 ms", "TTLB p50 ms", "TTLB p99 ms",
                                    "errors", "status"},
                                   rows);
}

}  // namespace perflab::analysis
