#include "report_parts.hpp"

#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "describe.hpp"
#include "format.hpp"
#include "perflab/analysis/findings.hpp"

namespace perflab::analysis::detail {
namespace {

std::string contrast_side(const contrast& c, bool best) {
  const std::string& value = best ? c.best : c.worst;
  const std::string& status = best ? c.best_status : c.worst_status;
  const double v = best ? c.best_value : c.worst_value;
  std::string s = "`" + value + "` " + format_value(c, v);
  if (status != "ok") s += " **" + status + "**";
  return s;
}

std::string evidence_cell(const contrast& c) {
  std::string s = to_string(c.strength);
  if (c.p_value) s += fmt::format(" (p {:.3g}, {} vs {} repeats)", *c.p_value, c.worst_repeats, c.best_repeats);
  return s;
}

}  // namespace

void add_findings(document& doc, const std::vector<loaded_run>& runs, const std::vector<loaded_variant>& vars) {
  doc.heading(2, "Findings");
  // Subjects: a run's variants by name, repeats together. With several runs the run is one more
  // dimension, so baseline vs candidate is compared like any matrix key.
  std::vector<finding_subject> subjects;
  std::map<std::pair<const loaded_run*, std::string>, std::size_t> index;
  for (const auto& lv : vars) {
    auto [it, fresh] = index.emplace(std::make_pair(lv.run, lv.v->name), subjects.size());
    if (fresh) {
      finding_subject s;
      s.label = (lv.run->label.empty() ? "" : lv.run->label + ": ") + (lv.v->name.empty() ? "(unnamed)" : lv.v->name);
      s.params = lv.v->params;
      if (runs.size() > 1) s.params["run"] = lv.run->label;
      subjects.push_back(std::move(s));
    }
    subjects[it->second].repeats.push_back(lv.v);
  }
  // Each subject's capacity searches (a searched variant's entry is its representative step).
  for (auto& [key, at] : index)
    for (const auto& s : key.first->run.searches)
      if (s.variant == key.second) subjects[at].searches.push_back(&s);
  const auto f = compute_findings(subjects);
  if (f.dimensions.empty()) {
    doc.para(subjects.size() <= 1 ? "One variant: nothing to compare."
                                  : "No matrix key takes more than one value: nothing to compare.");
  } else {
    std::vector<std::string> dims;
    for (const auto& d : f.dimensions) {
      std::set<std::string> values;
      for (const auto& s : subjects)
        if (auto it = s.params.find(d); it != s.params.end()) values.insert(it->second);
      dims.push_back(fmt::format("`{}` ({} values)", d, values.size()));
    }
    doc.para("Compared along " + join(dims, ", ") +
             ", the other keys held fixed. Values are medians over repeats; the ratio is how many times better the "
             "best is than the worst; with repeats on both sides, `loadgen compare`'s rule says whether the "
             "difference holds. CPU per response is the target's CPU seconds over the measured phase (sampled at its "
             "boundaries) divided "
             "by the measured responses.");
    const std::string strongest = findings_text(f);
    if (!strongest.empty()) {
      std::vector<std::string> lines;
      for (std::size_t pos = 0, nl; (nl = strongest.find('\n', pos)) != std::string::npos; pos = nl + 1)
        lines.push_back(strongest.substr(pos, nl - pos));
      doc.para("**Strongest:**");
      doc.bullets(std::move(lines));
    }
    for (const auto& d : f.dimensions) {
      doc.heading(3, "By `" + d + "`");
      bool any_context = false;
      for (const auto& c : f.contrasts) any_context = any_context || (c.dimension == d && !c.context.empty());
      std::vector<std::vector<std::string>> rows;
      for (const auto& c : f.contrasts) {
        if (c.dimension != d) continue;
        std::vector<std::string> row;
        if (any_context) row.push_back(c.context.empty() ? "-" : c.context);
        row.push_back(to_string(c.metric));
        row.push_back(contrast_side(c, true));
        row.push_back(contrast_side(c, false));
        row.push_back(c.worst_value > 0 ? format_ratio(c.ratio)
                      : c.metric == finding_metric::goodput ? "none succeeded"
                      : c.metric == finding_metric::capacity ? "below range"
                                                              : format_ratio(c.ratio));
        row.push_back(evidence_cell(c));
        rows.push_back(std::move(row));
      }
      std::vector<std::string> header;
      if (any_context) header.push_back("with");
      for (const char* h : {"metric", "best", "worst", "ratio", "evidence"}) header.push_back(h);
      doc.table(std::move(header), std::move(rows));
    }
  }
  if (!f.little.empty()) {
    std::vector<std::string> lines;
    for (const auto& l : f.little) lines.push_back(describe(l));
    doc.para("Little's law, closed loop: each connection cycles through one request (and its think time), so "
             "throughput should be close to connections / (mean TTLB + think time). Well below it, time goes "
             "somewhere outside the requests: connects, errors, or the load generator itself.");
    doc.bullets(std::move(lines));
  }
}

void add_warnings(document& doc, const std::vector<loaded_run>& runs, const std::vector<loaded_variant>& vars) {
  std::vector<std::string> alerts;
  for (const auto& r : runs) {
    std::string who = r.label.empty() ? "This run" : "Run " + r.label;
    if (!r.run.complete)
      alerts.push_back(who + " is INCOMPLETE (interrupted or a target died): numbers cover only part of the plan.");
    if (r.run.tool.build_type.find("sanitized") != std::string::npos)
      alerts.push_back(who + " was measured with a sanitizer build (" + r.run.tool.build_type +
                       "): its numbers are not representative.");
  }
  for (const auto& lv : vars)
    for (const auto& n : variant_notes(*lv.v)) alerts.push_back(fmt::format("{}: `{}`: {}", n.word, lv.label, n.text));
  if (alerts.empty()) return;
  doc.heading(2, "Warnings");
  for (auto& a : alerts) doc.alert(std::move(a));
}

}  // namespace perflab::analysis::detail
