// The report of a `loadgen ab` run (report.hpp, render_ab_report): the A/B verdict as its findings.
#include <fmt/format.h>

#include "perflab/analysis/ab.hpp"
#include "report_parts.hpp"

namespace perflab::analysis {
namespace {

std::string pct(double fraction) { return fmt::format("{:.1f}%", fraction * 100); }

void add_ab_findings(detail::document& doc, const ab_verdict& v, const ab_options& opt) {
  doc.heading(2, "Findings: A/B verdict");
  doc.para(fmt::format("**{}** (exit {}: {}). The baseline (A) and the candidate (B) ran interleaved, A B B A ..., "
                       "so drift on the machine hit both alike; each row compares the medians of {}'s repeats.",
                       v.headline, v.exit_code, ab_exit_meaning(v.exit_code), "each side"));
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < v.cmp.changes.size(); ++i) {
    const auto& c = v.cmp.changes[i];
    const auto& d = v.detect[i];
    rows.push_back({"`" + c.variant + "`", c.metric, format_metric_value(c.unit, c.baseline_median),
                    format_metric_value(c.unit, c.candidate_median), format_change(c),
                    c.ratio_ci_low ? fmt::format("{:.3f} to {:.3f}", *c.ratio_ci_low, *c.ratio_ci_high) : "-",
                    c.p_value ? fmt::format("{:.3g}", *c.p_value) : "-",
                    !d.noise ? "-" : d.smallest_change ? pct(*d.smallest_change) : "> 200%",
                    c.result == verdict::regressed ? "**REGRESSED**" : to_string(c.result)});
  }
  doc.table({"variant", "metric", "baseline", "candidate", "change", "ratio 95% CI", "p", "detectable", "verdict"},
            std::move(rows));
  doc.para(fmt::format(
      "How to read it: a change within the noise floor is never a regression: the tolerance ({}) or {:g} x the "
      "metric's own noise in this run (its spread over the repeats), whichever is larger. Beyond it, "
      "the change counts when a two-sided Mann-Whitney U test over the repeats gives p < {}, or when every candidate "
      "repeat is on its side of every baseline repeat. The ratio's interval is a 95% percentile bootstrap of "
      "median(B) / median(A). *detectable* is the smallest change this run's own noise lets it flag {:.0f}% of the "
      "time (simulated from its repeats); a regression smaller than that can pass unseen. docs/ci.md has the "
      "false-positive rate of these settings, measured with A/A runs.",
      pct(opt.compare.tolerance), opt.noise_floor_sigmas, opt.compare.alpha, opt.power * 100));
  std::vector<std::string> notes;
  for (const auto& n : v.cmp.notes) notes.push_back(n);
  for (const auto& n : v.notes) notes.push_back(n);
  if (!notes.empty()) doc.bullets(std::move(notes));
  for (const auto& s : v.suspect) doc.alert(s);
  for (const auto& w : v.cmp.warnings) doc.alert(w);
}

}  // namespace

tl::expected<report_paths, std::string> render_ab_report(const std::filesystem::path& baseline_dir,
                                                         const std::filesystem::path& candidate_dir,
                                                         const std::filesystem::path& out_dir, const ab_verdict& v,
                                                         const ab_options& opt) {
  return detail::render_report_with({baseline_dir, candidate_dir}, out_dir, "perflab A/B report: ",
                                    [&](detail::document& doc, const auto&, const auto&) { add_ab_findings(doc, v, opt); });
}

}  // namespace perflab::analysis
