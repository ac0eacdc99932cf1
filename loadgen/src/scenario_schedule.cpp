// Several targets in one scenario and what the runner does to them during the measured phase
// (docs/scenarios.md, "Dependencies, faults and timed actions"):
//   [[target]] entries: the one without a name is the measured target (it becomes [target], so
//   the matrix and --set reach it as before); the named ones are its dependencies, started first,
//   their URLs substituted for "{name}" in the measured target's options.
//   [[fault]] at, target, spec, duration: POST /admin/fault with the spec, and the previous
//   profile back after the duration. [[action]] at, target, method, path, body: one request.
#include <algorithm>
#include <set>

#include <perflab/fault/profile.hpp>

#include "scenario_reader.hpp"

namespace perflab::loadgen::detail {

namespace {

const std::vector<std::string> k_fault_keys = {"at", "target", "spec", "duration"};
const std::vector<std::string> k_action_keys = {"at", "target", "method", "path", "body"};

bool valid_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

bool valid_method(std::string_view m) {
  return !m.empty() && std::all_of(m.begin(), m.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

}  // namespace

std::vector<named_target_table> split_targets(const toml_reader& r, toml::table& root) {
  std::vector<named_target_table> named;
  toml::node* tn = root.get("target");
  if (!tn || !tn->is_array()) return named;
  toml::array& arr = *tn->as_array();
  if (!arr.is_array_of_tables() || arr.empty())
    r.type_error(*tn, "target", "a [target] table, or [[target]] tables (one without a name: the measured target)");
  std::optional<toml::table> measured;
  std::string measured_where;
  std::set<std::string> names;
  for (auto& e : arr) {
    toml::table& t = *e.as_table();
    const toml::node* name = t.get("name");
    if (!name) {
      if (measured)
        fail(r.where(e), fmt::format("[[target]]: a second entry without a name (the first is at {}; expected "
                                          "one measured target without a name, and name = \"...\" on the others)",
                                          measured_where));
      measured_where = r.where(e);
      measured = std::move(t);
      continue;
    }
    const std::string n = r.as_string(*name, "target.name");
    if (!valid_name(n) || n == "main")
      fail(r.where(*name), fmt::format("target.name: expected letters, digits, '-' or '_' (not \"main\"), found "
                                            "\"{}\"", n));
    if (!names.insert(n).second) fail(r.where(*name), fmt::format("target.name: \"{}\" is used twice", n));
    named_target_table nt{n, r.where(e), std::move(t)};
    nt.table.erase("name");
    named.push_back(std::move(nt));
  }
  if (!measured)
    fail(r.where(*tn), "[[target]]: every entry has a name (expected one without a name: the measured target "
                            "the load goes to)");
  root.insert_or_assign("target", std::move(*measured));
  return named;
}

std::vector<timed_event_spec> read_schedule(const toml_reader& r, toml::table& root) {
  std::vector<timed_event_spec> out;
  for (const char* section : {"fault", "action"}) {
    const toml::node* n = root.get(section);
    if (!n) continue;
    const bool is_fault = std::string_view(section) == "fault";
    const std::string nm = is_fault ? "fault" : "action";
    const toml::array* arr = n->as_array();
    if (arr && arr->empty()) {  // e.g. --set action=[]: none
      root.erase(section);
      continue;
    }
    if (!arr || !arr->is_array_of_tables())
      r.type_error(*n, nm, is_fault ? "[[fault]] tables (at, target, spec, duration)"
                                    : "[[action]] tables (at, target, method, path, body)");
    for (const auto& e : *arr) {
      const toml::table& t = *e.as_table();
      r.check_keys(t, nm + ".", is_fault ? k_fault_keys : k_action_keys);
      timed_event_spec ev;
      ev.what = is_fault ? timed_event_spec::kind::fault : timed_event_spec::kind::action;
      ev.where = r.where(e);
      const toml::node* at = t.get("at");
      if (!at) fail(ev.where, fmt::format("{}: missing key 'at' (expected at = \"10s\": when, from the start of "
                                               "the measured phase)", nm));
      ev.at = r.as_duration(*at, nm + ".at");
      if (ev.at.count() < 0) fail(r.where(*at), nm + ".at: expected a duration >= 0");
      if (const toml::node* tg = t.get("target")) {
        ev.target = r.as_string(*tg, nm + ".target");
        if (ev.target == "main") ev.target.clear();
      }
      if (is_fault) {
        const toml::node* spec = t.get("spec");
        if (!spec)
          fail(ev.where, "fault: missing key 'spec' (expected a fault profile such as spec = \"error=1:503\")");
        ev.spec = r.as_string(*spec, "fault.spec");
        if (auto p = fault::parse_profile(ev.spec); !p) fail(r.where(*spec), "fault.spec: " + p.error());
        if (const toml::node* d = t.get("duration")) ev.duration = r.positive(r.as_duration(*d, "fault.duration"), *d, "fault.duration");
      } else {
        const toml::node* method = t.get("method");
        const toml::node* path = t.get("path");
        if (!method || !path)
          fail(ev.where, "action: expected method = \"PURGE\" and path = \"/cache\" (and optionally body)");
        ev.method = r.as_string(*method, "action.method");
        if (!valid_method(ev.method))
          fail(r.where(*method), fmt::format("action.method: expected an upper-case method such as \"DELETE\", "
                                                  "found \"{}\"", ev.method));
        ev.path = r.as_string(*path, "action.path");
        if (ev.path.empty() || ev.path[0] != '/' ||
            ev.path.find_first_of(" \r\n") != std::string::npos)
          fail(r.where(*path), fmt::format("action.path: expected a path starting with '/', found \"{}\"", ev.path));
        if (const toml::node* b = t.get("body")) ev.body = r.as_string(*b, "action.body");
      }
      out.push_back(std::move(ev));
    }
    root.erase(section);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  return out;
}

std::vector<service_spec> read_services(const toml_reader& r, toml::table& root) {
  std::vector<service_spec> out;
  toml::node* sn = root.get("service");
  if (!sn) return out;
  const toml::array* arr = sn->as_array();
  if (!arr || !arr->is_array_of_tables())
    r.type_error(*sn, "service", "[[service]] tables (name = \"...\", kind = \"postgres\" | \"redis\" | "
                                  "\"h2o-tls\" | \"nginx-tls\")");
  static const std::vector<std::string> kinds = {"postgres", "redis", "h2o-tls", "nginx-tls"};
  std::set<std::string> names;
  for (const auto& e : *arr) {
    const toml::table& t = *e.as_table();
    service_spec s;
    s.where = r.where(e);
    for (auto&& [k, v] : t)
      if (k.str() != "name" && k.str() != "kind" && k.str() != "access_log")
        fail(r.where(v), fmt::format("service.{}: unknown key (expected name, kind and access_log)", k.str()));
    const toml::node* name = t.get("name");
    const toml::node* kind = t.get("kind");
    if (!name || !kind) fail(s.where, "[[service]]: expected name = \"...\" and kind = \"postgres\" | \"redis\" | "
                                      "\"h2o-tls\" | \"nginx-tls\"");
    s.name = r.as_string(*name, "service.name");
    if (!valid_name(s.name) || s.name == "main")
      fail(r.where(*name), fmt::format("service.name: expected letters, digits, '-' or '_' (not \"main\"), found \"{}\"",
                                       s.name));
    if (!names.insert(s.name).second) fail(r.where(*name), fmt::format("service.name: \"{}\" is used twice", s.name));
    s.kind = r.as_string(*kind, "service.kind");
    if (std::find(kinds.begin(), kinds.end(), s.kind) == kinds.end())
      fail(r.where(*kind), fmt::format("service.kind: unknown service \"{}\" (expected one of: {})", s.kind, join(kinds)));
    if (const toml::node* a = t.get("access_log")) {
      auto b = a->as_boolean();
      if (!b) r.type_error(*a, "service.access_log", "true or false");
      s.access_log = b->get();
      if (s.access_log && (s.kind == "postgres" || s.kind == "redis"))
        fail(r.where(*a), "service.access_log: applies to h2o-tls and nginx-tls");
    }
    out.push_back(std::move(s));
  }
  root.erase("service");
  return out;
}

void check_wiring(variant_spec& v, const std::set<std::string>& services) {
  std::set<std::string> names(services);
  for (const auto& d : v.dependencies) names.insert(d.name);
  // "{name}" in an option: a dependency's URL. A target may only name the ones before it.
  auto check_refs = [&](const target_spec& t, const std::set<std::string>& allowed) {
    for (const auto& [key, value] : t.params) {
      for (std::size_t open = value.find('{'); open != std::string::npos; open = value.find('{', open + 1)) {
        const auto close = value.find('}', open);
        if (close == std::string::npos) break;
        const std::string ref = value.substr(open + 1, close - open - 1);
        if (!valid_name(ref)) continue;
        if (!allowed.count(ref)) {
          const auto w = t.param_where.count(key) ? t.param_where.at(key) : std::string();
          fail(w, fmt::format("target.{}: \"{{{}}}\" names no [[service]] or [[target]] before it (expected one of: {})", key, ref,
                              allowed.empty() ? std::string("none defined") : join({allowed.begin(), allowed.end()})));
        }
      }
    }
  };
  std::set<std::string> before(services);
  for (const auto& d : v.dependencies) {
    check_refs(d, before);
    before.insert(d.name);
  }
  check_refs(v.target, names);
  for (const auto& ev : v.schedule) {
    if (!ev.target.empty() && !names.count(ev.target))
      fail(ev.where, fmt::format("target \"{}\" is not a [[target]] name (expected one of: {}; or \"main\" or no "
                                 "target for the measured one)", ev.target,
                                 names.empty() ? std::string("none defined") : join({names.begin(), names.end()})));
    if (v.load.duration.count() > 0 && ev.at >= v.load.duration)
      fail(ev.where, fmt::format("at = \"{}\" is not within the measured phase of {} (load.duration)",
                                 units::format_duration(ev.at), units::format_duration(v.load.duration)));
    const bool is_main = ev.target.empty();
    // A fault, and an action on an admin endpoint (POST /admin/push/disconnect), need --admin.
    if (ev.what == timed_event_spec::kind::fault || ev.path.starts_with("/admin/")) {
      if (is_main) v.target.admin = true;
      for (auto& d : v.dependencies)
        if (d.name == ev.target) d.admin = true;
    }
    if (ev.what == timed_event_spec::kind::fault) {
      const target_spec& t = is_main ? v.target : *std::find_if(v.dependencies.begin(), v.dependencies.end(),
                                                                [&](const auto& d) { return d.name == ev.target; });
      if (!t.spawn && t.url.empty())
        fail(ev.where, "fault: the target has no URL to send POST /admin/fault to");
    }
  }
  // Faults on one target must not overlap: each puts back the profile it found, so overlapping
  // windows would put back a fault instead of the profile before them.
  for (std::size_t i = 0; i < v.schedule.size(); ++i) {
    const auto& a = v.schedule[i];
    if (a.what != timed_event_spec::kind::fault) continue;
    for (std::size_t j = 0; j < i; ++j) {
      const auto& b = v.schedule[j];
      if (b.what != timed_event_spec::kind::fault || b.target != a.target) continue;
      const auto end = [](const timed_event_spec& e) {
        return e.duration.count() > 0 ? e.at + e.duration : std::chrono::nanoseconds::max();
      };
      if (a.at < end(b) && b.at < end(a))
        fail(a.where, fmt::format("fault at = \"{}\" overlaps the fault at {} on the same target (expected one fault "
                                  "at a time per target: each one ends before the next begins)",
                                  units::format_duration(a.at), b.where));
    }
  }
}

}  // namespace perflab::loadgen::detail
