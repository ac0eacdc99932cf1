#include "perflab/analysis/report.hpp"

#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "describe.hpp"
#include "perflab/analysis/ci_formats.hpp"
#include "document.hpp"
#include "perflab/core/hdr_log.hpp"
#include "perflab/core/result_io.hpp"
#include "report_parts.hpp"

namespace perflab::analysis {
namespace {

namespace fs = std::filesystem;
using detail::block;
using detail::document;
using detail::loaded_run;
using detail::loaded_variant;

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

}  // namespace

tl::expected<report_paths, std::string> render_report(const std::vector<fs::path>& run_dirs, const fs::path& out_dir) {
  return detail::render_report_with(run_dirs, out_dir, "perflab report: ", detail::add_findings);
}

tl::expected<report_paths, std::string> detail::render_report_with(const std::vector<fs::path>& run_dirs,
                                                                   const fs::path& out_dir, const std::string& title_prefix,
                                                                   const findings_section& findings) {
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
    title = title_prefix + detail::join(std::vector<std::string>(names.begin(), names.end()), ", ");
  }
  doc.heading(1, title);
  // Findings first, then what may make them wrong, then the evidence.
  findings(doc, *runs, vars);
  add_capacity(doc, *runs);
  add_warnings(doc, *runs, vars);
  add_run_context(doc, *runs);
  add_tables(doc, vars);
  add_events(doc, vars);
  add_pool(doc, vars);
  add_outbox(doc, vars);
  add_plots(doc, vars);

  report_paths paths{out / "report.md", out / "report.html"};
  // The SVG files the Markdown links to; the HTML embeds the same plots.
  for (const auto& b : doc.blocks) {
    if (b.k != block::kind::plot || b.svg_file.empty()) continue;
    if (auto w = write_text_file(out / b.svg_file, b.svg); !w) return tl::make_unexpected(w.error());
  }
  if (auto w = write_text_file(paths.markdown, render_markdown(doc)); !w) return tl::make_unexpected(w.error());
  if (auto w = write_text_file(paths.html, render_html(doc, title)); !w) return tl::make_unexpected(w.error());
  return paths;
}

}  // namespace perflab::analysis
