#include "perflab/analysis/capacity.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "describe.hpp"
#include "format.hpp"

namespace perflab::analysis {
namespace {

// The step that measured the capacity: the last passing run at it.
const result::search_step* capacity_step(const result::search_result& s, double capacity) {
  const result::search_step* found = nullptr;
  for (const auto& st : s.steps)
    if (st.outcome == "pass" && st.value == capacity) found = &st;
  return found;
}

// The least-loaded passing step: its service time has the least queueing in it.
const result::search_step* lowest_pass(const result::search_result& s) {
  const result::search_step* low = nullptr;
  for (const auto& st : s.steps)
    if (st.outcome == "pass" && (!low || st.value < low->value)) low = &st;
  return low;
}

std::string label_of(const result::run& r, const result::search_result& s) {
  std::size_t same = 0;
  for (const auto& o : r.searches) same += o.variant == s.variant;
  std::string name = s.variant.empty() ? "(unnamed)" : s.variant;
  return same > 1 ? fmt::format("{} #{}", name, s.repeat) : name;
}

std::string objective_line(const result::search_result& s) {
  std::string objective;
  for (const auto& o : s.objective) objective += (objective.empty() ? "" : " and ") + o;
  return fmt::format("{} ({} from {} to {}, resolution {:g}%, {} confirmation{})", objective, s.variable,
                     format_capacity(s.unit, s.range_low), format_capacity(s.unit, s.range_high), s.resolution * 100,
                     s.confirmations, s.confirmations == 1 ? "" : "s");
}

}  // namespace

std::optional<double> capacity_value(const result::search_result& s) {
  if (s.verdict == "found" || s.verdict == "within_noise" || s.verdict == "above_range") return s.capacity;
  if (s.verdict == "below_range") return 0.0;
  return std::nullopt;
}

std::string format_capacity(const std::string& unit, double v) {
  if (unit == "connections") return fmt::format("{:.0f} connection{}", v, v == 1 ? "" : "s");
  return detail::format_grouped(v) + "/s";
}

std::string verdict_words(const std::string& verdict) {
  if (verdict == "within_noise") return "within noise";
  if (verdict == "above_range") return "above range";
  if (verdict == "below_range") return "below range";
  if (verdict == "loadgen_limited") return "loadgen-limited";
  return verdict;
}

std::vector<capacity_check> capacity_checks(const result::run& r) {
  std::vector<capacity_check> out;
  for (const auto& s : r.searches) {
    capacity_check c;
    c.label = label_of(r, s);
    c.unit = s.unit;
    c.verdict = s.verdict;
    c.capacity = capacity_value(s);
    c.band_low = s.band_low;
    c.band_high = s.band_high;
    c.steps = s.steps.size();
    const result::search_step* at = c.capacity && *c.capacity > 0 ? capacity_step(s, *c.capacity) : nullptr;
    // Limited by the loadgen: the bound still says how far the target could have gone.
    if (!at && s.verdict == "loadgen_limited" && s.band_low > 0) at = capacity_step(s, s.band_low);
    if (at) c.goodput_at_capacity = at->run.tps_mean;
    if (s.variable == "load.rate" && at) {
      const auto& t = at->run.target;
      // Workers: a thread pool's `threads` as the scenario gave them (the default is lab-target's to change).
      if (t.model == "thread-pool") {
        if (auto it = t.params.find("threads"); it != t.params.end()) c.workers = std::atoll(it->second.c_str());
      }
      if (const auto* low = lowest_pass(s)) c.service_time_us = low->run.ttlb_uncorrected.mean_us;
      c.cores = static_cast<int>(t.cpus.size());
      if ((t.model == "reactor" || t.model == "coroutine") && c.cores > 0) {
        if (auto it = t.params.find("threads"); it != t.params.end())
          c.cores = std::min(c.cores, std::max(1, std::atoi(it->second.c_str())));
      }
      if (t.spawned && at->run.completed > 0)
        c.cpu_per_response_us = (t.cpu_user_s + t.cpu_system_s) * 1e6 / static_cast<double>(at->run.completed);
      if (t.spawned && c.cores > 0 && at->run.measured_s > 0)
        c.cpu_share = (t.cpu_user_s + t.cpu_system_s) / at->run.measured_s / c.cores;
      auto consider = [&](double bound, std::string why) {
        if (bound > 0 && (c.predicted == 0 || bound < c.predicted)) {
          c.predicted = bound;
          c.bound = std::move(why);
        }
      };
      if (c.workers > 0 && c.service_time_us > 0)
        consider(static_cast<double>(c.workers) * 1e6 / c.service_time_us,
                 fmt::format("{} workers / {}", c.workers, detail::format_us(c.service_time_us)));
      if (c.cores > 0 && c.cpu_per_response_us > 0)
        consider(c.cores * 1e6 / c.cpu_per_response_us,
                 fmt::format("{} core{} / {} CPU", c.cores, c.cores == 1 ? "" : "s",
                             detail::format_us(c.cpu_per_response_us)));
      if (c.predicted > 0 && (s.verdict == "found" || s.verdict == "within_noise")) c.ratio = *c.capacity / c.predicted;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string capacity_text(const result::run& r) {
  if (r.searches.empty()) return {};
  const auto checks = capacity_checks(r);
  std::set<std::string> headings;
  for (const auto& s : r.searches) headings.insert(objective_line(s));
  std::string out;
  for (const auto& h : headings) out += "capacity: " + h + "\n";
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const auto& c = checks[i];
    std::string capacity = "-", band = "-";
    if (c.capacity) {
      capacity = c.verdict == "above_range" ? ">= " + format_capacity(c.unit, *c.capacity)
                 : c.verdict == "below_range" ? "< " + format_capacity(c.unit, c.band_high)
                                              : format_capacity(c.unit, *c.capacity);
    }
    if (c.verdict == "found" || c.verdict == "within_noise" || c.verdict == "loadgen_limited")
      band = fmt::format("{}-{}", detail::format_grouped(c.band_low), format_capacity(c.unit, c.band_high));
    rows.push_back({c.label, capacity, band, verdict_words(c.verdict), std::to_string(c.steps),
                    c.goodput_at_capacity > 0 ? detail::format_grouped(c.goodput_at_capacity) + "/s" : "-",
                    c.predicted > 0 ? fmt::format("{}/s ({})", detail::format_grouped(c.predicted), c.bound) : "-",
                    c.ratio > 0 ? fmt::format("{:.0f}%", c.ratio * 100) : "-",
                    c.cpu_share > 0 ? fmt::format("{:.0f}%", c.cpu_share * 100) : "-"});
  }
  out += detail::text_table({"variant", "capacity", "band", "verdict", "steps", "goodput there", "little's law bound",
                             "capacity/bound", "target cpu"},
                            rows);
  for (const auto& s : r.searches)
    if (s.verdict != "found") out += fmt::format("{}: {}: {}\n", label_of(r, s), verdict_words(s.verdict), s.reason);
  return out;
}

}  // namespace perflab::analysis
