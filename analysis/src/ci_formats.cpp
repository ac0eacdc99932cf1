#include "perflab/analysis/ci_formats.hpp"

#include <algorithm>
#include <fstream>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "describe.hpp"
#include "document.hpp"
#include "format.hpp"
#include "perflab/analysis/ab.hpp"
#include "perflab/analysis/capacity.hpp"
#include "perflab/analysis/findings.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/core/verdict.hpp"
#include "variant_table.hpp"

namespace perflab::analysis {
namespace {

// XML 1.0 text and attribute values: the five predefined entities; newlines and tabs as character
// references (attributes would otherwise normalize them to spaces); other control characters,
// which XML 1.0 cannot carry at all, become '?'.
std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\n': out += "&#10;"; break;
      case '\t': out += "&#9;"; break;
      default: out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
    }
  }
  return out;
}

// Markdown's `code` marks mean nothing in a CI server's failure message.
std::string plain(std::string s) {
  std::erase(s, '`');
  return s;
}

const char* exit_meaning(int code) {
  switch (code) {
    case exit_code::ok: return "ok";
    case exit_code::runtime_error: return "a target failed to start or died";
    case exit_code::thresholds_failed: return "a threshold failed";
    case exit_code::saturated: return "the load generator was saturated: numbers suspect";
    case exit_code::interrupted: return "interrupted: results incomplete";
    case exit_code::target_failing: return "the target is failing: errors over the bound or stalled requests";
    default: return "see the exit codes in README.md";
  }
}

struct testcase {
  std::string classname;
  std::string name;
  double time_s = 0;
  std::string failure_type;     // empty: passed
  std::string failure_message;
  std::string failure_body;
  std::string system_out;
};

std::string render(const testcase& t) {
  std::string s = fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\"", xml_escape(t.classname),
                              xml_escape(t.name), t.time_s);
  if (t.failure_type.empty() && t.system_out.empty()) return s + "/>\n";
  s += ">\n";
  if (!t.failure_type.empty())
    s += fmt::format("      <failure type=\"{}\" message=\"{}\">{}</failure>\n", xml_escape(t.failure_type),
                     xml_escape(t.failure_message), xml_escape(t.failure_body));
  if (!t.system_out.empty()) s += fmt::format("      <system-out>{}</system-out>\n", xml_escape(t.system_out));
  return s + "    </testcase>\n";
}

std::string one_line(const result::variant& v) {
  std::string s = fmt::format("goodput {}/s", detail::format_grouped(v.tps_mean));
  if (detail::rps_differs(v)) s += fmt::format(" ({}/s responses)", detail::format_grouped(v.rps_mean));
  s += fmt::format(", ttfb p99 {}, ttlb p50 {} p99 {}, errors {} ({}), measured {}", detail::format_us(v.ttfb.p99_us),
                   detail::format_us(v.ttlb.p50_us), detail::format_us(v.ttlb.p99_us), v.errors.total(),
                   detail::format_percent(v.error_rate), detail::seconds(v.measured_s));
  return s;
}

// "<label>: status": fails for what makes the variant's numbers wrong (THRESHOLD FAILED has its
// own testcases), carries its numbers and notes otherwise.
testcase status_case(const std::string& suite, const std::string& label, const result::variant& v) {
  testcase st{suite, label + ": status", v.measured_s, {}, {}, {}, one_line(v)};
  std::vector<std::string> failing, body;
  for (const auto& n : detail::variant_notes(v)) {
    body.push_back(n.word + ": " + plain(n.text));
    if (n.status && n.word != "THRESHOLD FAILED") failing.push_back(n.word + ": " + plain(n.text));
  }
  if (!failing.empty()) {
    std::vector<std::string> words;
    for (const auto& f : result::status_flags(v))
      if (f != "THRESHOLD FAILED") words.push_back(f);
    st.failure_type = detail::join(words, ",");
    st.failure_message = failing.front();
    st.failure_body = detail::join(body, "\n");
  } else if (!body.empty()) {
    st.system_out += "\n" + detail::join(body, "\n");
  }
  return st;
}

// "<label>: <threshold>", one per check, failing with actual and limit.
void add_threshold_cases(const std::string& suite, const std::string& label, const result::variant& v,
                         std::vector<testcase>& cases) {
  for (const auto& th : v.thresholds) {
    testcase t{suite, label + ": " + th.expression, 0, {}, {}, {}, {}};
    const std::string actual = detail::threshold_value(th.expression, th.actual);
    const std::string limit = detail::threshold_value(th.expression, th.limit);
    if (!th.passed) {
      t.failure_type = "THRESHOLD FAILED";
      t.failure_message = fmt::format("{}: actual {}, limit {}", th.expression, actual, limit);
      t.failure_body = t.failure_message;
    } else {
      t.system_out = fmt::format("actual {}, limit {}", actual, limit);
    }
    cases.push_back(std::move(t));
  }
}

// One <testsuites> document holding one <testsuite> of `cases`, with the run's stamp, host and
// properties (scenario, started_at, commit, build_type, exit_code).
std::string render_suite(const std::string& suite, const result::run& r, int exit_code_value,
                         const std::vector<testcase>& cases) {
  std::size_t failures = 0;
  double time_s = 0;
  for (const auto& t : cases) {
    failures += t.failure_type.empty() ? 0 : 1;
    time_s += t.time_s;
  }
  // JUnit's timestamp is an xs:dateTime without a zone; started_at is UTC, kept whole as a property.
  std::string stamp = r.started_at.substr(0, std::min<std::size_t>(r.started_at.size(), 19));
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"perflab {}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{:.3f}\">\n",
                     xml_escape(suite), cases.size(), failures, time_s);
  out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"{:.3f}\"",
                     xml_escape(suite), cases.size(), failures, time_s);
  if (!stamp.empty()) out += fmt::format(" timestamp=\"{}\"", xml_escape(stamp));
  if (!r.host.hostname.empty()) out += fmt::format(" hostname=\"{}\"", xml_escape(r.host.hostname));
  out += ">\n    <properties>\n";
  auto property = [&](const char* name, const std::string& value) {
    out += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", name, xml_escape(value));
  };
  property("scenario", r.scenario_path);
  property("started_at", r.started_at);
  property("commit", r.tool.commit);
  property("build_type", r.tool.build_type);
  property("exit_code", std::to_string(exit_code_value));
  out += "    </properties>\n";
  for (const auto& t : cases) out += render(t);
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

}  // namespace

int verdict_exit_code(const result::run& r) {
  int rc = exit_code::ok;
  bool variant_says_why = false;
  for (const auto& v : r.variants) {
    rc = exit_code::combine(rc, result::exit_code_of(v));
    variant_says_why = variant_says_why || !v.complete;
  }
  if (!r.complete && !variant_says_why) rc = exit_code::combine(rc, exit_code::interrupted);
  return rc;
}

std::string junit_xml(const result::run& r) {
  const std::string suite = r.scenario_name.empty() ? "perflab" : r.scenario_name;
  const auto labels = detail::variant_labels(r);
  std::vector<testcase> cases;
  {
    testcase t{suite, "run: complete", 0, {}, {}, {}, {}};
    if (!r.complete) {
      t.failure_type = "INCOMPLETE";
      t.failure_message = "the run did not finish: interrupted, or a target failed to start or died";
      t.failure_body = fmt::format("{} variant runs recorded", r.variants.size());
    }
    cases.push_back(std::move(t));
  }
  for (std::size_t i = 0; i < r.variants.size(); ++i) {
    cases.push_back(status_case(suite, labels[i], r.variants[i]));
    add_threshold_cases(suite, labels[i], r.variants[i], cases);
  }
  // One testcase per capacity search: it passes with the capacity, fails when the search found none.
  const auto checks = capacity_checks(r);  // one per search, in order
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const auto& c = checks[i];
    testcase t{suite, c.label + ": capacity", 0, {}, {}, {}, {}};
    const std::string& reason = r.searches[i].reason;
    if (c.verdict == "found" || c.verdict == "within_noise" || c.verdict == "above_range") {
      t.system_out = fmt::format("{}{} ({}, {} steps): {}", c.verdict == "above_range" ? "at least " : "",
                                 format_capacity(c.unit, c.capacity.value_or(0)), verdict_words(c.verdict), c.steps,
                                 reason);
    } else {
      t.failure_type = c.verdict == "loadgen_limited" ? "SATURATED" : c.verdict == "below_range" ? "BELOW RANGE"
                                                                                                 : "INCOMPLETE";
      t.failure_message = fmt::format("no capacity: {}", verdict_words(c.verdict));
      t.failure_body = reason;
    }
    cases.push_back(std::move(t));
  }
  return render_suite(suite, r, verdict_exit_code(r), cases);
}

std::string summary_markdown(const result::run& r) {
  const int rc = verdict_exit_code(r);
  std::string out = fmt::format("### perflab {}: {}\n\n", r.scenario_name.empty() ? "run" : r.scenario_name,
                                rc == exit_code::ok ? "PASSED"
                                                    : fmt::format("FAILED, exit {} ({})", rc, exit_meaning(rc)));
  // How many variants have each status word, most severe first (status_flags' order).
  const char* severity[] = {"INCOMPLETE", "TARGET CRASHED", "SATURATED", "ERRORS", "STALLED", "THRESHOLD FAILED"};
  std::vector<std::pair<std::string, int>> counts;
  for (const char* w : severity) counts.emplace_back(w, 0);
  int ok = 0;
  for (const auto& v : r.variants) {
    const auto flags = result::status_flags(v);
    if (flags.empty()) ++ok;
    for (const auto& f : flags) {
      auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == f; });
      if (it == counts.end()) counts.emplace_back(f, 1);  // a word this list does not know yet
      else ++it->second;
    }
  }
  std::string tally = fmt::format("{} ok", ok);
  for (const auto& [word, n] : counts)
    if (n > 0) tally += fmt::format(", {} {}", n, word);
  out += fmt::format("{} variant run{}: {}.{}\n\n", r.variants.size(), r.variants.size() == 1 ? "" : "s", tally,
                     r.complete ? "" : " **The run is incomplete.**");
  out += "```\n" + detail::load_context_lines(r) + "```\n\n";
  const auto g = detail::variant_grid(r);
  out += detail::markdown_table(g.header, g.rows) + "\n";
  if (const std::string capacity = capacity_text(r); !capacity.empty()) out += "```\n" + capacity + "```\n\n";
  const std::string findings = findings_text(r);
  if (!findings.empty()) {
    out += "**Findings**\n\n";
    std::size_t pos = 0;
    for (std::size_t nl; (nl = findings.find('\n', pos)) != std::string::npos; pos = nl + 1)
      out += "- " + findings.substr(pos, nl - pos) + "\n";
    out += "\n";
  }
  const auto labels = detail::variant_labels(r);
  std::string warnings;
  for (std::size_t i = 0; i < r.variants.size(); ++i)
    for (const auto& n : detail::variant_notes(r.variants[i]))
      warnings += fmt::format("- **{}** `{}`: {}\n", n.word, labels[i], n.text);
  if (!warnings.empty()) out += "**Warnings**\n\n" + warnings + "\n";
  return out;
}

namespace {

// One A/B change in a sentence, for JUnit messages.
std::string change_sentence(const metric_change& c, const detectability& d) {
  std::string s = fmt::format("{}: baseline {}, candidate {} ({})", c.metric, format_metric_value(c.unit, c.baseline_median),
                              format_metric_value(c.unit, c.candidate_median), format_change(c));
  if (c.ratio_ci_low) s += fmt::format(", ratio 95% CI {:.3f}-{:.3f}", *c.ratio_ci_low, *c.ratio_ci_high);
  if (c.p_value) s += fmt::format(", p {:.3g}", *c.p_value);
  if (d.noise)
    s += d.smallest_change ? fmt::format(", detectable {:.1f}%", *d.smallest_change * 100) : ", detectable > 200%";
  return s + fmt::format(": {} ({})", to_string(c.result), c.method);
}

// Labels of a side's variant runs, prefixed with the side.
std::vector<std::string> side_labels(const result::run& r, const char* side) {
  auto labels = detail::variant_labels(r);
  for (auto& l : labels) l = std::string(side) + ": " + l;
  return labels;
}

}  // namespace

std::string ab_junit_xml(const result::run& baseline, const result::run& candidate, const ab_verdict& v,
                         const ab_options& opt) {
  const std::string suite = "ab " + (candidate.scenario_name.empty() ? std::string("perflab") : candidate.scenario_name);
  std::vector<testcase> cases;
  {
    testcase t{suite, "ab: verdict", 0, {}, {}, {}, {}};
    const std::string line = fmt::format("{}: exit {} ({}); tolerance {:.1f}%, alpha {}", v.headline, v.exit_code,
                                         ab_exit_meaning(v.exit_code), opt.compare.tolerance * 100, opt.compare.alpha);
    if (v.exit_code != exit_code::ok) {
      t.failure_type = v.headline;
      t.failure_message = line;
      t.failure_body = detail::join(v.suspect, "\n");
    } else {
      t.system_out = line;
    }
    cases.push_back(std::move(t));
  }
  for (std::size_t i = 0; i < v.cmp.changes.size(); ++i) {
    const auto& c = v.cmp.changes[i];
    testcase t{suite, c.variant + ": " + c.metric, 0, {}, {}, {}, {}};
    const std::string sentence = change_sentence(c, v.detect[i]);
    if (c.result == verdict::regressed) {
      t.failure_type = "REGRESSION";
      t.failure_message = sentence;
      t.failure_body = fmt::format("baseline repeats: {}\ncandidate repeats: {}", fmt::join(c.baseline, ", "),
                                   fmt::join(c.candidate, ", "));
    } else {
      t.system_out = sentence;
    }
    cases.push_back(std::move(t));
  }
  for (const auto* side : {&baseline, &candidate}) {
    const bool is_base = side == &baseline;
    const auto labels = side_labels(*side, is_base ? "baseline" : "candidate");
    for (std::size_t i = 0; i < side->variants.size(); ++i) {
      cases.push_back(status_case(suite, labels[i], side->variants[i]));
      if (!is_base) add_threshold_cases(suite, labels[i], side->variants[i], cases);
    }
  }
  return render_suite(suite, candidate, v.exit_code, cases);
}

std::string ab_summary_markdown(const result::run& baseline, const result::run& candidate, const ab_verdict& v,
                                const ab_options& opt) {
  std::string out = fmt::format("### perflab ab {}: {}, exit {} ({})\n\n",
                                candidate.scenario_name.empty() ? "run" : candidate.scenario_name, v.headline,
                                v.exit_code, ab_exit_meaning(v.exit_code));
  std::size_t repeats = 0;
  for (const auto& c : v.cmp.changes) repeats = std::max(repeats, c.candidate.size());
  auto ok_runs = [](const result::run& r) {
    return std::count_if(r.variants.begin(), r.variants.end(),
                         [](const result::variant& x) { return result::status_flags(x).empty(); });
  };
  out += fmt::format("Baseline (A) and candidate (B) interleaved, A B B A ..., {} run{} per side and variant "
                     "(baseline {} of {} runs ok, candidate {} of {}); noise floor: tolerance {:.1f}% or {:g} x each metric's "
                     "own noise in this run, whichever is larger; alpha {}.\n\n",
                     repeats, repeats == 1 ? "" : "s", ok_runs(baseline), baseline.variants.size(), ok_runs(candidate),
                     candidate.variants.size(), opt.compare.tolerance * 100, opt.noise_floor_sigmas, opt.compare.alpha);
  out += "```\n" + detail::load_context_lines(candidate) + "```\n\n";
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < v.cmp.changes.size(); ++i) {
    const auto& c = v.cmp.changes[i];
    const auto& d = v.detect[i];
    rows.push_back({c.variant, c.metric, format_metric_value(c.unit, c.baseline_median),
                    format_metric_value(c.unit, c.candidate_median), format_change(c),
                    c.ratio_ci_low ? fmt::format("{:.3f}-{:.3f}", *c.ratio_ci_low, *c.ratio_ci_high) : "-",
                    c.p_value ? fmt::format("{:.3g}", *c.p_value) : "-",
                    !d.noise ? "-" : d.smallest_change ? fmt::format("{:.1f}%", *d.smallest_change * 100) : "> 200%",
                    c.result == verdict::regressed ? "**REGRESSED**" : to_string(c.result)});
  }
  out += detail::markdown_table(
             {"variant", "metric", "baseline", "candidate", "change", "ratio 95% CI", "p", "detectable", "verdict"},
             rows) +
         "\n";
  std::string notes;
  for (const auto& n : v.cmp.notes) notes += "- " + n + "\n";
  for (const auto& n : v.notes) notes += "- " + n + "\n";
  if (!notes.empty()) out += "**Notes**\n\n" + notes + "\n";
  std::string warnings;
  for (const auto& w : v.suspect) warnings += "- " + w + "\n";
  for (const auto& w : v.cmp.warnings) warnings += "- " + w + "\n";
  if (!warnings.empty()) out += "**Warnings**\n\n" + warnings + "\n";
  return out;
}

tl::expected<void, std::string> write_text_file(const std::filesystem::path& path, const std::string& text) {
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return tl::make_unexpected(fmt::format("{}: cannot write", tmp.string()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return tl::make_unexpected(fmt::format("{}: {}", path.string(), ec.message()));
  }
  return {};
}

}  // namespace perflab::analysis
