#include "perflab/analysis/findings.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "format.hpp"
#include "perflab/analysis/capacity.hpp"
#include "perflab/analysis/compare.hpp"
#include "perflab/analysis/stats.hpp"
#include "perflab/core/verdict.hpp"

namespace perflab::analysis {
namespace {

// In the order findings_text picks its lines: what the model delivers, then what it costs.
// A capacity search's capacity comes first: it is the one number such a run is for.
constexpr finding_metric all_metrics[] = {finding_metric::capacity, finding_metric::goodput, finding_metric::ttlb_p99,
                                          finding_metric::delivery_p99, finding_metric::threads, finding_metric::cpu_per_response,
                                          finding_metric::peak_rss};

bool higher_is_better(finding_metric m) { return m == finding_metric::goodput || m == finding_metric::capacity; }

// The metric's value for one run, or nothing when that run cannot say (no samples, no target).
std::optional<double> value_of(const result::variant& v, finding_metric m) {
  switch (m) {
    case finding_metric::capacity:
      return std::nullopt;  // from the subject's searches (values_of), not from a run
    case finding_metric::goodput:  // a push run (`loadgen subscribe`) has no responses to count
      return v.measured_s > 0 && v.load.kind != "subscribe" ? std::optional<double>(v.tps_mean) : std::nullopt;
    case finding_metric::delivery_p99:
      return v.delivery.count > 0 ? std::optional<double>(v.delivery.p99_us) : std::nullopt;
    case finding_metric::ttlb_p99:
      return v.ttlb.count > 0 ? std::optional<double>(v.ttlb.p99_us) : std::nullopt;
    case finding_metric::cpu_per_response:
      if (!v.target.spawned || v.completed <= 0) return std::nullopt;
      return (v.target.cpu_user_s + v.target.cpu_system_s) * 1e6 / static_cast<double>(v.completed);
    case finding_metric::threads:
      if (!v.target.spawned || v.target.threads <= 0) return std::nullopt;
      return static_cast<double>(v.target.threads);
    case finding_metric::peak_rss:
      if (!v.target.spawned || v.target.peak_rss_bytes <= 0) return std::nullopt;
      return static_cast<double>(v.target.peak_rss_bytes);
  }
  return std::nullopt;
}

// compare's metric for the same quantity: direction and noise floor for judge_change.
metric compare_metric(finding_metric m) {
  switch (m) {
    case finding_metric::capacity: return *parse_metric("capacity");
    case finding_metric::goodput: return *parse_metric("tps.mean");
    case finding_metric::ttlb_p99: return *parse_metric("ttlb.p99");
    case finding_metric::delivery_p99: return *parse_metric("delivery.p99");
    case finding_metric::cpu_per_response: return metric{"target.cpu_per_response", better::lower, "us", 0};
    case finding_metric::threads: return metric{"target.threads", better::lower, "", 0};
    case finding_metric::peak_rss: return *parse_metric("target.rss");
  }
  return *parse_metric("tps.mean");
}

std::string join_params(const std::map<std::string, std::string>& params, const std::string& skip) {
  std::string s;
  for (const auto& [k, v] : params) {
    if (k == skip) continue;
    s += (s.empty() ? "" : ",") + k + "=" + v;
  }
  return s;
}

struct measured_subject {
  const finding_subject* s;
  std::vector<double> values;  // one per repeat that has the metric
  double median = 0;
};

// A dimension's value as a name: "reactor", but "connections=100" (a bare number reads as a count).
std::string value_name(const std::string& dim, const std::string& value) {
  const bool numeric = !value.empty() && (std::isdigit(static_cast<unsigned char>(value[0])) || value[0] == '.');
  return numeric ? dim + "=" + value : value;
}

// The first status other than "ok" among a subject's repeats: one suspect repeat is enough to
// qualify its median.
std::string status_of(const finding_subject& s) {
  for (const auto* v : s.repeats)
    if (auto w = result::status_word(*v, ", "); w != "ok") return w;
  return "ok";
}

// A capacity's qualifier: the first search verdict other than "found" ("above range" says the
// value is a lower bound, "within noise" that its band is wide).
std::string search_status_of(const finding_subject& s) {
  for (const auto* r : s.searches)
    if (r->verdict != "found") return verdict_words(r->verdict);
  return "ok";
}

// A subject's values of a metric, one per repeat that has it.
std::vector<double> metric_values(const finding_subject& s, finding_metric m) {
  std::vector<double> out;
  if (m == finding_metric::capacity) {
    for (const auto* r : s.searches)
      if (auto c = capacity_value(*r)) out.push_back(*c);
    return out;
  }
  for (const auto* v : s.repeats)
    if (auto val = value_of(*v, m)) out.push_back(*val);
  return out;
}

contrast make_contrast(const std::string& dim, const std::string& context, finding_metric m,
                       const measured_subject& best, const measured_subject& worst, std::size_t candidates) {
  contrast c;
  c.dimension = dim;
  c.context = context;
  c.metric = m;
  if (m == finding_metric::capacity && !best.s->searches.empty()) c.unit = best.s->searches.front()->unit;
  c.best = value_name(dim, best.s->params.at(dim));
  c.worst = value_name(dim, worst.s->params.at(dim));
  c.best_label = best.s->label;
  c.worst_label = worst.s->label;
  c.best_value = best.median;
  c.worst_value = worst.median;
  const double hi = higher_is_better(m) ? c.best_value : c.worst_value;
  const double lo = higher_is_better(m) ? c.worst_value : c.best_value;
  c.ratio = lo > 0 ? hi / lo : (hi > 0 ? std::numeric_limits<double>::infinity() : 1.0);
  c.best_status = m == finding_metric::capacity ? search_status_of(*best.s) : status_of(*best.s);
  c.worst_status = m == finding_metric::capacity ? search_status_of(*worst.s) : status_of(*worst.s);
  c.best_repeats = best.values.size();
  c.worst_repeats = worst.values.size();
  c.candidates = candidates;
  if (c.best_repeats >= 2 && c.worst_repeats >= 2) {
    // The worst as baseline, the best as candidate: a difference that counts is an "improvement".
    const compare_options opt;
    const auto judged = judge_change(worst.values, best.values, compare_metric(m), opt);
    c.p_value = judged.p_value;
    c.method = judged.method;
    if (judged.result == verdict::improved)
      c.strength = judged.p_value && *judged.p_value < opt.alpha ? evidence::significant : evidence::repeats_agree;
    else
      c.strength = judged.beyond_tolerance ? evidence::not_significant : evidence::within_tolerance;
  } else {
    c.method = fmt::format("{} vs {} runs: no test", c.worst_repeats, c.best_repeats);
  }
  return c;
}

}  // namespace

std::string format_value(const contrast& c, double v) {
  if (c.metric == finding_metric::capacity) return format_capacity(c.unit, v);
  return format_value(c.metric, v);
}

std::string format_value(finding_metric m, double v) {
  switch (m) {
    case finding_metric::capacity:
    case finding_metric::goodput: return detail::format_grouped(v) + "/s";
    case finding_metric::ttlb_p99:
    case finding_metric::delivery_p99:
    case finding_metric::cpu_per_response: return detail::format_us(v);
    case finding_metric::threads: return fmt::format("{:.0f} threads", v);
    case finding_metric::peak_rss: return detail::format_bytes(v);
  }
  return detail::format_grouped(v);
}

const char* to_string(finding_metric m) noexcept {
  switch (m) {
    case finding_metric::capacity: return "capacity";
    case finding_metric::goodput: return "goodput";
    case finding_metric::ttlb_p99: return "ttlb p99";
    case finding_metric::delivery_p99: return "delivery p99";
    case finding_metric::cpu_per_response: return "cpu per response";
    case finding_metric::threads: return "threads";
    case finding_metric::peak_rss: return "peak rss";
  }
  return "?";
}

const char* to_string(evidence e) noexcept {
  switch (e) {
    case evidence::single_runs: return "single runs: not tested";
    case evidence::within_tolerance: return "within compare's tolerance";
    case evidence::not_significant: return "not significant: the repeats overlap";
    case evidence::repeats_agree: return "repeats agree, too few or too tied to confirm";
    case evidence::significant: return "significant";
  }
  return "?";
}

findings compute_findings(const std::vector<finding_subject>& subjects) {
  findings out;
  std::map<std::string, std::set<std::string>> values_of;
  for (const auto& s : subjects)
    for (const auto& [k, v] : s.params) values_of[k].insert(v);
  for (const auto& [k, vals] : values_of)
    if (vals.size() > 1) out.dimensions.push_back(k);

  for (const auto& dim : out.dimensions) {
    // Subjects that have this key, grouped by the values of all other keys (map: stable order).
    std::map<std::string, std::vector<const finding_subject*>> by_context;
    for (const auto& s : subjects)
      if (s.params.count(dim)) by_context[join_params(s.params, dim)].push_back(&s);
    for (const auto& [context, group] : by_context) {
      for (finding_metric m : all_metrics) {
        std::vector<measured_subject> ms;
        for (const auto* s : group) {
          measured_subject x{s, metric_values(*s, m), 0};
          if (x.values.empty()) continue;
          x.median = stats::median(x.values);
          ms.push_back(std::move(x));
        }
        std::set<std::string> distinct;
        for (const auto& x : ms) distinct.insert(x.s->params.at(dim));
        if (distinct.size() < 2) continue;
        auto better_than = [&](const measured_subject& a, const measured_subject& b) {
          return higher_is_better(m) ? a.median > b.median : a.median < b.median;
        };
        const auto best = std::min_element(ms.begin(), ms.end(), better_than);
        const auto worst = std::max_element(ms.begin(), ms.end(), better_than);
        if (best->median == worst->median) continue;  // all alike: nothing to contrast
        out.contrasts.push_back(make_contrast(dim, context, m, *best, *worst, ms.size()));
      }
    }
  }

  for (const auto& s : subjects) {
    const auto& v = *s.repeats.front();
    if (v.load.kind != "closed" || v.load.connections <= 0) continue;
    // The law's premise is that every client cycles; a STALLED variant says some did not (its
    // status already tells), and its mean TTLB is made of lower bounds: no check to print.
    if (std::any_of(s.repeats.begin(), s.repeats.end(), [](const auto* r) { return r->stalled > 0; })) continue;
    std::vector<double> ttlb, rate;
    for (const auto* r : s.repeats) {
      if (r->ttlb.count <= 0) continue;
      ttlb.push_back(r->ttlb.mean_us);
      rate.push_back(r->rps_mean > 0 ? r->rps_mean : r->tps_mean);
    }
    if (ttlb.empty()) continue;
    little_check l;
    l.label = s.label;
    l.connections = v.load.connections;
    l.think_time_s = v.load.think_time_s;
    l.mean_ttlb_us = stats::median(ttlb);
    l.measured_per_s = stats::median(rate);
    const double cycle_s = l.mean_ttlb_us / 1e6 + l.think_time_s;
    if (cycle_s <= 0) continue;
    l.predicted_per_s = static_cast<double>(l.connections) / cycle_s;
    l.ratio = l.measured_per_s / l.predicted_per_s;
    out.little.push_back(std::move(l));
  }
  return out;
}

findings compute_findings(const result::run& r) {
  std::vector<finding_subject> subjects;
  std::map<std::string, std::size_t> index;
  for (const auto& v : r.variants) {
    auto [it, fresh] = index.emplace(v.name, subjects.size());
    if (fresh) subjects.push_back({v.name.empty() ? "(unnamed)" : v.name, v.params, {}, {}});
    subjects[it->second].repeats.push_back(&v);
  }
  for (const auto& s : r.searches)
    if (auto it = index.find(s.variant); it != index.end()) subjects[it->second].searches.push_back(&s);
  return compute_findings(subjects);
}

std::string describe(const contrast& c) {
  auto who = [](const std::string& value, const std::string& status) {
    return status == "ok" ? value : fmt::format("{} [{}]", value, status);
  };
  std::string head = to_string(c.metric);
  if (!c.context.empty()) head += " (" + c.context + ")";
  std::string body;
  if (higher_is_better(c.metric)) {
    body = fmt::format("{} {} vs {} {} ({})", who(c.best, c.best_status), format_value(c, c.best_value),
                       who(c.worst, c.worst_status), format_value(c, c.worst_value),
                       c.worst_value > 0                          ? detail::format_ratio(c.ratio)
                       : c.metric == finding_metric::capacity ? "below the searched range"
                                                                  : "none succeeded");
  } else {
    body = fmt::format("{} {} is {} {}'s {}", who(c.worst, c.worst_status), format_value(c, c.worst_value),
                       detail::format_ratio(c.ratio), c.best, format_value(c, c.best_value));
  }
  if (c.best_repeats >= 2 && c.worst_repeats >= 2) {
    body += fmt::format("; {}", to_string(c.strength));
    if (c.p_value) body += fmt::format(" (p {:.3g}, {} vs {} repeats)", *c.p_value, c.worst_repeats, c.best_repeats);
  }
  return head + ": " + body;
}

std::string describe(const little_check& l) {
  std::string cycle = detail::format_us(l.mean_ttlb_us) + " mean TTLB";
  if (l.think_time_s > 0) cycle += " + " + detail::format_us(l.think_time_s * 1e6) + " think time";
  return fmt::format("little's law ({}): {} connections / {} = {}/s; measured {}/s ({:.0f}%)", l.label,
                     l.connections, cycle, detail::format_grouped(l.predicted_per_s),
                     detail::format_grouped(l.measured_per_s), 100 * l.ratio);
}

std::string findings_text(const result::run& r) { return findings_text(compute_findings(r)); }

std::string findings_text(const findings& f) {
  // Per metric, the contrast with the largest ratio; ties keep the first (dimension, context order).
  std::map<finding_metric, const contrast*> strongest;
  for (const auto& c : f.contrasts) {
    if (!(c.ratio >= 1.05)) continue;
    auto& s = strongest[c.metric];
    if (!s || c.ratio > s->ratio) s = &c;
  }
  std::string out;
  int lines = 0;
  for (finding_metric m : all_metrics) {
    if (lines == 3) break;
    auto it = strongest.find(m);
    if (it == strongest.end()) continue;
    out += describe(*it->second) + "\n";
    ++lines;
  }
  if (!f.little.empty()) {
    // The variant furthest from the law says most; when all are close, say so with one example.
    const auto worst = std::max_element(f.little.begin(), f.little.end(), [](const auto& a, const auto& b) {
      return std::fabs(std::log(a.ratio)) < std::fabs(std::log(b.ratio));
    });
    if (std::fabs(worst->ratio - 1) <= 0.1 && f.little.size() > 1) {
      out += fmt::format("little's law holds within 10% for all {} closed-loop variants, e.g. {}\n", f.little.size(),
                         describe(*worst));
    } else {
      out += describe(*worst) + "\n";
    }
  }
  return out;
}

}  // namespace perflab::analysis
