// [search] and [load] stop_when: both are threshold expressions put to another use (the objective
// a capacity search keeps, the conditions that end a hopeless run), read with the one grammar of
// thresholds.hpp and checked against the variant's load model. Also [report] metrics (the target
// counters the runner reads around the load): one more small table, kept in a TU that already
// reads TOML.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "scenario_reader.hpp"

namespace perflab::loadgen::detail {
namespace {

const std::vector<std::string> k_search_keys = {"objective",     "variable", "range",  "step",
                                                "resolution",    "confirmations", "growth", "margin"};

// One expression or an array of them, each parsed by parse_threshold; errors point at the string.
std::vector<threshold> read_expressions(const toml_reader& r, const toml::node& n, const std::string& name,
                                        const char* example) {
  std::vector<threshold> out;
  auto add = [&](const toml::node& e) {
    auto th = parse_threshold(r.as_string(e, name));
    if (!th) fail(r.where(e), name + ": " + th.error());
    out.push_back(std::move(*th));
  };
  if (auto a = n.as_array()) {
    if (a->empty()) fail(r.where(n), fmt::format("{}: expected at least one expression, e.g. {}", name, example));
    for (const auto& e : *a) add(e);
  } else if (n.is_string()) {
    add(n);
  } else {
    r.type_error(n, name, fmt::format("an array of expressions such as {}", example));
  }
  return out;
}

}  // namespace

std::vector<threshold> read_stop_when(const toml_reader& r, const toml::table& root) {
  const toml::table* load = root.get_as<toml::table>("load");
  const toml::node* n = load ? load->get("stop_when") : nullptr;
  if (!n) return {};
  return read_expressions(r, *n, "load.stop_when", "[\"errors.count > 1000\", \"ttlb.p99 > 5s\"]");
}

std::vector<std::string> read_report(const toml_reader& r, const toml::table& root) {
  const toml::node* rn = root.get("report");
  if (!rn) return {};
  const toml::table& t = r.as_table(*rn, "report");
  r.check_keys(t, "report.", {"metrics"});
  const toml::node* mn = t.get("metrics");
  if (!mn) fail(r.where(*rn), "[report] needs metrics = [\"perflab_orders_created_total\", ...] (target counters)");
  const char* expected = "an array of metric names such as [\"perflab_orders_created_total\", "
                         "\"perflab_idempotency_requests_total{result=\\\"replay\\\"}\"]";
  const toml::array* a = mn->as_array();
  if (!a || a->empty()) r.type_error(*mn, "report.metrics", expected);
  std::vector<std::string> out;
  for (const auto& e : *a) {
    const auto s = e.value<std::string>();
    if (!s) r.type_error(e, "report.metrics", expected);
    // A Prometheus metric name, optionally with its labels exactly as the target writes them.
    const std::string_view name = std::string_view(*s).substr(0, s->find('{'));
    const bool name_ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                         std::all_of(name.begin(), name.end(), [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
                         });
    const bool labels_ok = name.size() == s->size() || (s->back() == '}' && s->size() > name.size() + 2);
    if (!name_ok || !labels_ok)
      fail(r.where(e), fmt::format("report.metrics: expected a metric name, optionally with labels as the target "
                                   "writes them (name{{label=\"value\"}}), found \"{}\"", *s));
    out.push_back(*s);
  }
  return out;
}

std::optional<search_spec> read_search(const toml_reader& r, const toml::table& root, const run_config& load) {
  const toml::node* sn = root.get("search");
  if (!sn) return std::nullopt;
  const toml::table& t = r.as_table(*sn, "search");
  r.check_keys(t, "search.", k_search_keys);
  search_spec s;

  const toml::node* on = t.get("objective");
  if (!on)
    fail(r.where(*sn), "[search] needs objective = [\"ttlb.p99 < 50ms\", \"errors.rate < 0.1%\"] (threshold "
                       "expressions that must all hold at the capacity)");
  s.objective = read_expressions(r, *on, "search.objective", "[\"ttlb.p99 < 50ms\", \"errors.rate < 0.1%\"]");

  const toml::node* vn = t.get("variable");
  if (!vn) fail(r.where(*sn), "[search] needs variable = \"load.rate\" (open loop) or \"load.connections\" (closed loop)");
  s.variable = r.as_string(*vn, "search.variable");
  if (s.variable != "load.rate" && s.variable != "load.connections")
    fail(r.where(*vn), fmt::format("search.variable: expected \"load.rate\" (open loop) or \"load.connections\" "
                                   "(closed loop), found \"{}\"", s.variable));
  if (s.variable == "load.rate" && load.kind != "open")
    fail(r.where(*vn), "search.variable = \"load.rate\" is not in this load model: the load is a closed loop "
                       "(expected load.model = \"open\", or search \"load.connections\")");
  if (s.variable == "load.rate" && !load.stages.empty())
    fail(r.where(*vn), "search.variable = \"load.rate\" runs each step at one constant rate: remove [[load.stages]]");
  if (s.variable == "load.connections" && load.kind != "closed")
    fail(r.where(*vn), "search.variable = \"load.connections\" is not in this load model: the load is an open "
                       "loop, where connections only cap the schedule (expected load.model = \"closed\", or search "
                       "\"load.rate\")");

  const toml::node* rn = t.get("range");
  if (!rn)
    fail(r.where(*sn), s.integer() ? "[search] needs range = [low, high] in connections, e.g. [10, 1000]"
                                   : "[search] needs range = [low, high] in requests/s, e.g. [\"50/s\", \"5k/s\"]");
  const toml::array* ra = rn->as_array();
  if (!ra || ra->size() != 2)
    r.type_error(*rn, "search.range", s.integer() ? "an array [low, high] of connection counts, e.g. [10, 1000]"
                                                  : "an array [low, high] of rates, e.g. [\"50/s\", \"5k/s\"]");
  auto bound = [&](const toml::node& n) {
    return s.integer() ? static_cast<double>(r.as_count(n, "search.range", 1)) : r.as_rate(n, "search.range");
  };
  s.low = bound(*ra->get(0));
  s.high = bound(*ra->get(1));
  if (!(s.low > 0)) fail(r.where(*ra->get(0)), "search.range: expected a low end above zero, found " + value_text(*ra->get(0)));
  if (!(s.high > s.low))
    fail(r.where(*rn), fmt::format("search.range: [{}, {}] is empty (expected low < high)", value_text(*ra->get(0)),
                                   value_text(*ra->get(1))));

  if (auto n = t.get("step")) s.step = r.positive(r.as_duration(*n, "search.step"), *n, "search.step");
  if (auto n = t.get("resolution")) {
    s.resolution = r.as_fraction(*n, "search.resolution");
    if (!(s.resolution > 0) || s.resolution >= 1)
      fail(r.where(*n), "search.resolution: expected a percentage above 0 and below 100%, e.g. \"2%\"");
  }
  if (auto n = t.get("confirmations")) s.confirmations = static_cast<int>(r.as_int(*n, "search.confirmations", 0, 10));
  if (auto n = t.get("growth")) {
    s.growth = r.as_number(*n, "search.growth");
    if (!(s.growth > 1) || s.growth > 100)
      fail(r.where(*n), fmt::format("search.growth: expected a factor above 1 (the ramp multiplies the load by it), "
                                    "found {}", value_text(*n)));
  }
  if (auto n = t.get("margin")) {
    s.margin = r.as_fraction(*n, "search.margin");
    if (s.margin >= 1) fail(r.where(*n), "search.margin: expected a percentage below 100%, e.g. \"10%\"");
  }
  if (s.resolution >= s.growth - 1)
    fail(r.where(t.get("resolution") ? *t.get("resolution") : *sn),
         fmt::format("search.resolution ({:g}%) must be finer than the ramp's growth (x{:g}), or there is nothing "
                     "to bisect", s.resolution * 100, s.growth));
  return s;
}

}  // namespace perflab::loadgen::detail
