#include "dependencies.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "variant_executor.hpp"

namespace perflab::loadgen::detail {

std::string substitute_urls(const std::string& s, const std::map<std::string, std::string>& urls) {
  std::string out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    const auto open = s.find('{', pos);
    if (open == std::string::npos) break;
    const auto close = s.find('}', open);
    if (close == std::string::npos) break;
    out.append(s, pos, open - pos);
    const auto it = urls.find(s.substr(open + 1, close - open - 1));
    if (it != urls.end()) out += it->second;
    else out.append(s, open, close - open + 1);
    pos = close + 1;
  }
  out.append(s, std::min(pos, s.size()), std::string::npos);
  return out;
}

target_spec with_urls(target_spec t, const std::map<std::string, std::string>& urls) {
  for (auto& [key, value] : t.params) value = substitute_urls(value, urls);
  return t;
}

dependency_set::~dependency_set() { stop(); }

tl::expected<void, std::string> dependency_set::start(const std::vector<target_spec>& deps,
                                                       const std::filesystem::path& bin,
                                                       const std::filesystem::path& dir, const std::string& prefix) {
  for (const auto& d : deps) {
    running r;
    r.spec = with_urls(d, urls_);
    r.info.name = d.name;
    r.info.spawned = d.spawn;
    r.info.model = d.model;
    r.info.params = r.spec.params;
    r.info.cpus = d.cpus;
    if (!d.spawn) {
      r.info.url = d.url;
      urls_[d.name] = d.url;
      deps_.push_back(std::move(r));
      continue;
    }
    const auto log = dir / (prefix + "." + d.name + ".log");
    auto started = start_target(bin, r.spec, log, r.child, r.info.url);
    deps_.push_back(std::move(r));
    if (!started) return tl::unexpected(fmt::format("dependency \"{}\": {}", d.name, started.error()));
    urls_[d.name] = deps_.back().info.url;
  }
  return {};
}

void dependency_set::sample_start() {
  for (auto& d : deps_)
    if (d.child) d.at_start = d.child->sample(true);
}

void dependency_set::sample_end() {
  for (auto& d : deps_)
    if (d.child) d.at_end = d.child->sample(true);
}

std::optional<std::string> dependency_set::dead() {
  for (auto& d : deps_)
    if (d.child)
      if (auto e = d.child->poll_exit()) return fmt::format("dependency \"{}\": {}", d.spec.name, e->text());
  return std::nullopt;
}

std::vector<result::target_info> dependency_set::stop() {
  std::vector<result::target_info> out;
  for (auto it = deps_.rbegin(); it != deps_.rend(); ++it) {
    auto& d = *it;
    if (d.child) {
      if (auto s = d.child->sample()) {
        d.info.peak_rss_bytes = s->peak_rss_bytes;  // VmHWM: the process's own high-water mark
        d.info.threads = s->threads;
      }
      const bool died = d.child->poll_exit().has_value();
      const exit_info e = d.child->stop(d.spec.stop_timeout);
      d.info.exit_status = e.text();
      d.info.crashed = died;
      if (d.at_start && d.at_end) {
        const auto spent = cpu_delta(*d.at_start, *d.at_end);
        d.info.cpu_user_s = spent.user_s;
        d.info.cpu_system_s = spent.system_s;
      }
      d.child.reset();
    }
  }
  for (auto& d : deps_) out.push_back(d.info);
  deps_.clear();
  return out;
}

}  // namespace perflab::loadgen::detail
