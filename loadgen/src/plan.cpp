#include "perflab/loadgen/plan.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include <fmt/format.h>

namespace perflab::loadgen {
namespace {

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

std::string format_s(double s) {
  if (s == 0) return "0 s";
  if (s < 10) return fmt::format("{:.1f} s", s);
  if (s < 120) return fmt::format("{:.0f} s", s);
  const auto whole = static_cast<long>(std::lround(s));
  return whole < 3600 ? fmt::format("{}m{:02}s", whole / 60, whole % 60)
                      : fmt::format("{}h{:02}m", whole / 3600, (whole % 3600) / 60);
}

std::string format_rate(double r) {
  if (r >= 1000 && std::fmod(r, 1000) == 0) return fmt::format("{:.0f}k/s", r / 1000);
  return fmt::format("{:g}/s", r);
}

std::string describe_load(const variant_spec& v) {
  const run_config& c = v.load;
  if (v.search)
    return fmt::format("capacity search on {}, {} to {}, about {} steps", v.search->variable,
                       format_search_value(*v.search, v.search->low), format_search_value(*v.search, v.search->high),
                       expected_steps(*v.search));
  if (v.subscribe) {
    const auto& p = *v.subscribe;
    return fmt::format("subscribe: {} x {} subscribers on {} topics, {} per topic", p.style, p.subscribers, p.topics,
                       format_rate(p.publish_rate));
  }
  if (c.kind == "open") {
    std::string s = fmt::format("open loop, {} ", c.arrival);
    if (!c.stages.empty()) {
      s += "stages";
      for (const auto& st : c.stages) s += fmt::format(" {}->{}", format_s(st.duration_s), format_rate(st.target_rate));
    } else {
      s += format_rate(c.rate);
    }
    s += c.connections > 0 ? fmt::format(", up to {} connection{}", c.connections, c.connections == 1 ? "" : "s")
                           : ", automatic connection cap (at most 1024)";
    if (c.http2) s += fmt::format(" x {} HTTP/2 streams", c.max_streams);
    return s;
  }
  std::string s = fmt::format("closed loop, {} connections", c.connections);
  if (c.http2) s += fmt::format(" (HTTP/2, up to {} streams per connection)", c.max_streams);
  if (c.think_time.count() > 0) s += fmt::format(", think {}", format_s(seconds(c.think_time)));
  return s;
}

std::string describe_target(const target_spec& t) {
  if (!t.spawn) return t.url;
  std::string s = t.model;
  if (t.threads > 0) s += fmt::format(", {} threads", t.threads);
  if (!t.cpus.empty()) {
    s += ", CPU ";
    for (std::size_t i = 0; i < t.cpus.size(); ++i) s += (i ? "," : "") + std::to_string(t.cpus[i]);
  }
  return s;
}

// Aligned columns: variant, target and load left-aligned, the durations right-aligned.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (i) line += "  ";
      const std::string pad(width[i] - r[i].size(), ' ');
      line += i < 3 ? r[i] + pad : pad + r[i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

variant_estimate estimate(const variant_spec& v) {
  variant_estimate e;
  const run_config& c = v.load;
  e.warmup_s = seconds(c.warmup);
  if (!c.stages.empty()) {
    for (const auto& st : c.stages) e.measured_s += st.duration_s;
  } else if (c.duration.count() > 0) {
    e.measured_s = seconds(c.duration);
    // A request cap can end it sooner; at a known open-loop rate, when.
    if (c.max_requests > 0 && c.kind == "open" && c.rate > 0)
      e.measured_s = std::min(e.measured_s, static_cast<double>(c.max_requests) / c.rate);
  } else if (c.max_requests > 0 && c.kind == "open" && c.rate > 0) {
    e.measured_s = static_cast<double>(c.max_requests) / c.rate;
  } else {
    e.measured_known = false;  // closed loop until max_requests: as fast as the target answers
  }
  e.overhead_s = v.target.spawn ? spawned_target_overhead_s : external_target_overhead_s;
  e.drain_bound_s = seconds(c.drain_timeout);
  if (v.subscribe) {  // the subscribers connect (at connect_rate) before publishing starts
    if (v.subscribe->connect_rate > 0)
      e.overhead_s += static_cast<double>(v.subscribe->subscribers) / v.subscribe->connect_rate;
    e.drain_bound_s = seconds(v.subscribe->drain);
  }
  if (v.search) {
    // Every step is a run of its own: warm-up, search.step (or the duration), start and stop.
    e.steps = expected_steps(*v.search);
    if (v.search->step.count() > 0) e.measured_s = seconds(v.search->step);
    e.measured_known = true;
    e.drain_bound_s *= e.steps;
  }
  return e;
}

std::string format_plan(const scenario& sc) {
  std::vector<std::vector<std::string>> rows{{"variant", "target", "load", "warm-up", "measured", "estimate"}};
  // A search's warm-up and measured columns are per step; its estimate covers all its steps.
  double total = 0, drain = 0;
  bool unknown = false;
  for (const auto& v : sc.variants) {
    const auto e = estimate(v);
    unknown = unknown || !e.measured_known;
    total += e.total_s() * sc.repeats;
    drain += e.drain_bound_s * sc.repeats;
    rows.push_back({v.name, describe_target(v.target), describe_load(v), format_s(e.warmup_s),
                    e.measured_known ? format_s(e.measured_s) : fmt::format("{} requests", v.load.max_requests),
                    e.measured_known ? format_s(e.total_s()) : "?"});
  }
  const std::size_t runs = sc.variants.size() * static_cast<std::size_t>(sc.repeats);
  std::string out = fmt::format("perflab run: {} (dry run: {} variant{}{} checked, nothing started)\n", sc.name,
                                sc.variants.size(), sc.variants.size() == 1 ? "" : "s",
                                sc.repeats > 1 ? fmt::format(" x {} repeats", sc.repeats) : "");
  out += table(rows);
  out += fmt::format("total: {} run{}, about {}{}: warm-up + measured + ~{} per run to start and stop a spawned "
                     "target; a drain adds up to {} in all when responses are still in flight at the end\n",
                     runs, runs == 1 ? "" : "s", format_s(total),
                     unknown ? " plus the runs that end after a request count (\"?\")" : "",
                     format_s(spawned_target_overhead_s), format_s(drain));
  return out;
}

}  // namespace perflab::loadgen
