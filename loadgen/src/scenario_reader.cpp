// The scenario reader's free functions (scenario_reader.hpp).
#include "scenario_reader.hpp"

#include <algorithm>
#include <sstream>

namespace perflab::loadgen::detail {

const std::vector<std::string>& top_level_keys() {
  static const std::vector<std::string> keys = {"name", "description", "target",     "load",   "request",
                                                "keys", "matrix",      "repeats",    "search", "thresholds",
                                                "fault", "action", "service", "report"};
  return keys;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string format_region(const toml::source_region& r, const std::string& fallback) {
  if (r.begin.line == 0) return fallback;
  std::string file = r.path ? *r.path : fallback;
  return fmt::format("{}:{}:{}", file, r.begin.line, r.begin.column);
}

// How a node looks in an error message: its type and, for scalars, its value.
std::string describe(const toml::node& n) {
  if (auto s = n.as_string()) return fmt::format("string \"{}\"", s->get());
  if (auto i = n.as_integer()) return fmt::format("integer {}", i->get());
  if (auto f = n.as_floating_point()) return fmt::format("float {}", f->get());
  if (auto b = n.as_boolean()) return fmt::format("boolean {}", b->get() ? "true" : "false");
  if (n.is_array()) return "an array";
  if (n.is_table()) return "a table";
  return "a date/time";
}

// A node's value as plain text (matrix parameters, target options).
std::string value_text(const toml::node& n) {
  if (auto s = n.as_string()) return s->get();
  if (auto i = n.as_integer()) return std::to_string(i->get());
  if (auto f = n.as_floating_point()) return fmt::format("{}", f->get());
  if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
  std::ostringstream os;
  if (auto a = n.as_array()) os << *a;
  else if (auto t = n.as_table()) os << *t;
  else os << "?";
  return os.str();
}

}  // namespace perflab::loadgen::detail
