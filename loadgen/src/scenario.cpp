// Scenario parsing and validation. toml++ gives every parsed value a source region; values that
// the matrix or --set put into the document are copies (toml++ does not copy regions), so their
// places are remembered in a side table keyed by node address.
#include "perflab/loadgen/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "perflab/core/cpus.hpp"
#include "perflab/core/units.hpp"
#include "perflab/core/verdict.hpp"

namespace perflab::loadgen {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Config-time failure, caught once in parse_scenario and turned into a value.
struct scenario_failure : std::runtime_error {
  scenario_error err;
  explicit scenario_failure(scenario_error e) : std::runtime_error(e.message), err(std::move(e)) {}
};

[[noreturn]] void fail(std::string where, std::string message) {
  throw scenario_failure(scenario_error{std::move(where), std::move(message)});
}

const std::vector<std::string> k_models = {"thread-per-request", "thread-pool", "reactor", "coroutine"};
const std::vector<std::string> k_top_keys = {"name",   "description", "target",     "load",
                                             "request", "keys",       "matrix",     "repeats",
                                             "thresholds"};
const std::vector<std::string> k_load_keys = {
    "model",   "rate",      "stages", "arrival", "connections", "duration", "warmup",        "connect_timeout",
    "timeout", "think_time", "keepalive", "threads", "cpu",     "seed",     "send_lag_bound", "max_requests",
    "drain_timeout", "success", "max_error_rate"};
const std::vector<std::string> k_target_own_keys = {"url",           "model",        "threads", "cpu",
                                                    "start_timeout", "stop_timeout", "health"};
const std::vector<std::string> k_request_keys = {"method", "path", "headers", "body", "body_file", "weight"};
const std::vector<std::string> k_keys_keys = {"distribution", "count", "zipf_s"};
const std::vector<std::string> k_stage_keys = {"duration", "rate"};

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
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

class parser {
 public:
  parser(std::string file, fs::path base_dir) : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  std::string where(const toml::node& n) const {
    if (n.source().begin.line != 0) return format_region(n.source(), file_);
    if (auto it = places_.find(&n); it != places_.end()) return it->second;
    return file_;
  }
  std::string where(const toml::key& k, const toml::node& v) const {
    if (k.source().begin.line != 0) return format_region(k.source(), file_);
    return where(v);
  }
  const std::string& file() const { return file_; }

  // Records where a copied node (and everything under it) came from.
  void remember(const toml::node& copy, const toml::node& original, const std::string& fallback) {
    std::string w = original.source().begin.line != 0 ? format_region(original.source(), file_) : fallback;
    if (auto it = places_.find(&original); original.source().begin.line == 0 && it != places_.end()) w = it->second;
    places_[&copy] = w;
    if (auto ca = copy.as_array()) {
      auto oa = original.as_array();
      for (std::size_t i = 0; i < ca->size() && oa && i < oa->size(); ++i) remember(*ca->get(i), *oa->get(i), w);
    } else if (auto ct = copy.as_table()) {
      auto ot = original.as_table();
      for (auto&& [k, v] : *ct) {
        if (const toml::node* o = ot ? ot->get(k.str()) : nullptr) remember(v, *o, w);
      }
    }
  }
  void remember_place(const toml::node& n, std::string w) { places_[&n] = std::move(w); }

  // ---- typed readers ------------------------------------------------------------------------

  [[noreturn]] void type_error(const toml::node& n, std::string_view name, std::string_view expected) const {
    fail(where(n), fmt::format("{}: expected {}, found {}", name, expected, describe(n)));
  }

  std::string as_string(const toml::node& n, std::string_view name) const {
    if (auto s = n.as_string()) return s->get();
    type_error(n, name, "a string");
  }

  std::int64_t as_int(const toml::node& n, std::string_view name, std::int64_t lo, std::int64_t hi) const {
    auto i = n.as_integer();
    if (!i) type_error(n, name, fmt::format("an integer from {} to {}", lo, hi));
    if (i->get() < lo || i->get() > hi)
      fail(where(n), fmt::format("{}: expected an integer from {} to {}, found {}", name, lo, hi, i->get()));
    return i->get();
  }

  // An integer, or a count string such as "10k".
  std::int64_t as_count(const toml::node& n, std::string_view name, std::int64_t lo) const {
    double v = 0;
    if (auto i = n.as_integer()) {
      v = static_cast<double>(i->get());
    } else if (auto s = n.as_string()) {
      auto c = units::parse_count(s->get());
      if (!c) fail(where(n), fmt::format("{}: {}", name, c.error()));
      v = *c;
    } else {
      type_error(n, name, "an integer or a count such as \"10k\"");
    }
    if (v != std::floor(v) || v < static_cast<double>(lo) || v > 1e12)
      fail(where(n), fmt::format("{}: expected a whole number >= {}, found {}", name, lo, value_text(n)));
    return static_cast<std::int64_t>(v);
  }

  double as_number(const toml::node& n, std::string_view name) const {
    if (auto i = n.as_integer()) return static_cast<double>(i->get());
    if (auto f = n.as_floating_point()) return f->get();
    type_error(n, name, "a number");
  }

  std::chrono::nanoseconds as_duration(const toml::node& n, std::string_view name) const {
    auto s = n.as_string();
    if (!s) type_error(n, name, "a duration string with a unit, such as \"10s\", \"250ms\" or \"2m\"");
    auto d = units::parse_duration(s->get());
    if (!d) fail(where(n), fmt::format("{}: {}", name, d.error()));
    return *d;
  }

  // Requests per second: a number, or a rate string such as "5k/s" or "300/m".
  double as_rate(const toml::node& n, std::string_view name) const {
    double r = 0;
    if (n.is_integer() || n.is_floating_point()) {
      r = as_number(n, name);
    } else if (auto s = n.as_string()) {
      auto p = units::parse_rate(s->get());
      if (!p) fail(where(n), fmt::format("{}: {}", name, p.error()));
      r = *p;
    } else {
      type_error(n, name, "a rate such as 5000 or \"5k/s\"");
    }
    if (!(r >= 0) || !std::isfinite(r)) fail(where(n), fmt::format("{}: expected a rate >= 0, found {}", name, r));
    return r;
  }

  // One CPU number, an array of them ([] = do not pin), or a Linux cpulist string such as "0-1,3".
  std::vector<int> as_cpus(const toml::node& n, std::string_view name) const {
    std::vector<int> out;
    if (n.is_integer()) {
      out.push_back(static_cast<int>(as_int(n, name, 0, cpus::max_cpu)));
    } else if (auto a = n.as_array()) {
      for (const auto& e : *a) out.push_back(static_cast<int>(as_int(e, name, 0, cpus::max_cpu)));
    } else if (auto s = n.as_string()) {
      auto list = cpus::parse_list(s->get());
      if (!list) fail(where(n), fmt::format("{}: {}", name, list.error()));
      out = *list;
    } else {
      type_error(n, name, "a CPU number, an array of CPU numbers or a CPU list string such as \"0-1,3\"");
    }
    return out;
  }

  const toml::table& as_table(const toml::node& n, std::string_view name) const {
    if (auto t = n.as_table()) return *t;
    type_error(n, name, "a table");
  }

  // A top-level key written after a [table] header lands in that table; say so.
  static std::string top_level_hint(std::string_view prefix, std::string_view key) {
    if (prefix.empty() || !contains(k_top_keys, key)) return "";
    return fmt::format("; '{}' is a top-level key: put it before the first [table] header", key);
  }

  // Unknown keys are errors listing what is accepted.
  void check_keys(const toml::table& t, std::string_view prefix, const std::vector<std::string>& known) const {
    for (auto&& [k, v] : t) {
      if (!contains(known, k.str()))
        fail(where(k, v), fmt::format("unknown key '{}{}' (expected one of: {}){}", prefix, k.str(), join(known),
                                      top_level_hint(prefix, k.str())));
    }
  }

  // ---- sections -------------------------------------------------------------------------------

  target_spec parse_target(const toml::table& root) const {
    const toml::node* tn = root.get("target");
    if (!tn)
      fail(file_, "missing [target] table (expected url = \"http://host:port\" for an external target, or "
                  "model = \"reactor\" (or thread-per-request, thread-pool, coroutine) to spawn lab-target)");
    const toml::table& t = as_table(*tn, "target");
    target_spec ts;
    const toml::node* url = t.get("url");
    const toml::node* model = t.get("model");
    if (url && model)
      fail(where(*url), "both target.url and target.model are set (expected url for an external target or "
                        "model to spawn lab-target, not both)");
    if (!url && !model)
      fail(where(*tn), "[target] needs url = \"http://host:port\" (external) or model = \"...\" (spawn "
                       "lab-target; one of: " + join(k_models) + ")");
    if (url) {
      ts.url = as_string(*url, "target.url");
      if (ts.url.rfind("http://", 0) != 0 || ts.url.size() <= 7)
        fail(where(*url), fmt::format("target.url: expected an http:// URL such as \"http://127.0.0.1:8080\", "
                                      "found \"{}\"", ts.url));
      while (ts.url.size() > 7 && ts.url.back() == '/') ts.url.pop_back();
      for (auto&& [k, v] : t) {
        if (k.str() != "url" && k.str() != "health")
          fail(where(k, v), fmt::format("target.{} applies to a spawned target (model = ...), not to an "
                                        "external url (expected only url and health with url)", k.str()));
      }
    } else {
      ts.spawn = true;
      ts.model = as_string(*model, "target.model");
      if (!contains(k_models, ts.model))
        fail(where(*model), fmt::format("target.model: unknown model \"{}\" (expected one of: {})", ts.model,
                                        join(k_models)));
    }
    if (auto n = t.get("threads")) ts.threads = static_cast<int>(as_int(*n, "target.threads", 1, 100000));
    if (auto n = t.get("cpu")) {
      ts.cpus = as_cpus(*n, "target.cpu");
      ts.cpus_given = true;
    }
    if (auto n = t.get("start_timeout")) ts.start_timeout = positive(as_duration(*n, "target.start_timeout"), *n, "target.start_timeout");
    if (auto n = t.get("stop_timeout")) ts.stop_timeout = positive(as_duration(*n, "target.stop_timeout"), *n, "target.stop_timeout");
    if (auto n = t.get("health")) {
      ts.health_path = as_string(*n, "target.health");
      if (ts.health_path.empty() || ts.health_path[0] != '/')
        fail(where(*n), fmt::format("target.health: expected a path starting with '/', found \"{}\"", ts.health_path));
    }
    if (ts.spawn) {
      for (auto&& [k, v] : t) {
        if (contains(k_target_own_keys, k.str())) continue;
        const std::string key(k.str());
        if (contains(k_top_keys, key))
          fail(where(k, v), fmt::format("target.{}: not a target option{}", key, top_level_hint("target.", key)));
        bool ok_name = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        });
        if (!ok_name)
          fail(where(k, v), fmt::format("target.{}: expected an option name of letters, digits, '-' or '_'", key));
        if (v.is_table() || v.is_array())
          fail(where(v), fmt::format("target.{}: expected a string, number or boolean (passed to lab-target as "
                                     "--{}=value), found {}", key, key, describe(v)));
        ts.params[key] = value_text(v);
        ts.param_where[key] = where(k, v);
      }
    }
    return ts;
  }

  std::chrono::nanoseconds positive(std::chrono::nanoseconds d, const toml::node& n, std::string_view name) const {
    if (d <= 0ns) fail(where(n), fmt::format("{}: expected a duration above zero, found \"{}\"", name, value_text(n)));
    return d;
  }

  void parse_load(const toml::table& root, run_config& cfg, bool& cpus_given) const {
    cfg.kind = "closed";
    cfg.connections = 10;
    const toml::node* ln = root.get("load");
    if (!ln) return;
    const toml::table& t = as_table(*ln, "load");
    check_keys(t, "load.", k_load_keys);

    const toml::node* model = t.get("model");
    const toml::node* rate = t.get("rate");
    const toml::node* stages = t.get("stages");
    if (model) {
      cfg.kind = as_string(*model, "load.model");
      if (cfg.kind != "open" && cfg.kind != "closed")
        fail(where(*model), fmt::format("load.model: expected \"open\" or \"closed\", found \"{}\"", cfg.kind));
    } else {
      cfg.kind = (rate || stages) ? "open" : "closed";
    }
    const bool open = cfg.kind == "open";
    if (open && !rate && !stages)
      fail(where(model ? *model : *ln), "load.model = \"open\" needs load.rate (e.g. rate = \"1k/s\") or "
                                        "[[load.stages]] (open loop sends on a schedule)");
    if (!open) {
      for (const char* k : {"rate", "stages", "arrival", "send_lag_bound"}) {
        if (auto n = t.get(k))
          fail(where(*n), fmt::format("load.{} applies to model = \"open\" only (a closed loop sends as soon as "
                                      "each connection gets its response); remove it or set model = \"open\"", k));
      }
    } else if (auto n = t.get("think_time")) {
      fail(where(*n), "load.think_time applies to model = \"closed\" only (an open loop follows its schedule)");
    }
    if (rate && stages)
      fail(where(*stages), "load.rate and [[load.stages]] both given (expected one: a constant rate or stages)");
    if (rate) {
      cfg.rate = as_rate(*rate, "load.rate");
      if (cfg.rate <= 0) fail(where(*rate), "load.rate: expected a rate above zero, found " + value_text(*rate));
    }
    std::chrono::nanoseconds stages_total{0};
    if (stages) {
      auto a = stages->as_array();
      if (!a || a->empty()) type_error(*stages, "load.stages", "a non-empty array of tables {duration, rate}");
      for (std::size_t i = 0; i < a->size(); ++i) {
        const toml::node& e = *a->get(i);
        std::string nm = fmt::format("load.stages[{}]", i);
        const toml::table& st = as_table(e, nm);
        check_keys(st, nm + ".", k_stage_keys);
        auto dn = st.get("duration");
        auto rn = st.get("rate");
        if (!dn || !rn) fail(where(e), nm + ": expected both duration and rate, e.g. { duration = \"10s\", rate = \"1k/s\" }");
        auto d = positive(as_duration(*dn, nm + ".duration"), *dn, nm + ".duration");
        stages_total += d;
        cfg.stages.push_back(result::stage{std::chrono::duration<double>(d).count(), as_rate(*rn, nm + ".rate")});
      }
    }
    if (auto n = t.get("arrival")) {
      cfg.arrival = as_string(*n, "load.arrival");
      if (cfg.arrival != "constant" && cfg.arrival != "poisson")
        fail(where(*n), fmt::format("load.arrival: expected \"constant\" or \"poisson\", found \"{}\"", cfg.arrival));
    }
    if (auto n = t.get("connections")) {
      cfg.connections = as_count(*n, "load.connections", 1);
    } else if (open) {
      cfg.connections = 0;  // automatic cap
    }
    if (auto n = t.get("duration")) {
      cfg.duration = positive(as_duration(*n, "load.duration"), *n, "load.duration");
      if (stages && cfg.duration != stages_total)
        fail(where(*n), fmt::format("load.duration ({}) differs from the stages' total ({}); give one or make them agree",
                                    units::format_duration(cfg.duration), units::format_duration(stages_total)));
    } else if (stages) {
      cfg.duration = stages_total;
    }
    if (auto n = t.get("warmup")) cfg.warmup = as_duration(*n, "load.warmup");
    if (auto n = t.get("connect_timeout")) cfg.connect_timeout = positive(as_duration(*n, "load.connect_timeout"), *n, "load.connect_timeout");
    if (auto n = t.get("timeout")) cfg.request_timeout = positive(as_duration(*n, "load.timeout"), *n, "load.timeout");
    if (auto n = t.get("drain_timeout")) cfg.drain_timeout = as_duration(*n, "load.drain_timeout");
    if (auto n = t.get("think_time")) cfg.think_time = as_duration(*n, "load.think_time");
    if (auto n = t.get("keepalive")) {
      std::string k = as_string(*n, "load.keepalive");
      if (k == "keep-alive") {
        cfg.keepalive = keepalive_policy::keep_alive;
      } else if (k == "new-connection") {
        cfg.keepalive = keepalive_policy::new_connection;
      } else if (k.rfind("max:", 0) == 0 && k.size() > 4 &&
                 std::all_of(k.begin() + 4, k.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                 k.size() < 14 && std::stoll(k.substr(4)) >= 1) {
        cfg.keepalive = keepalive_policy::max_requests;
        cfg.max_requests_per_connection = std::stoll(k.substr(4));
      } else {
        fail(where(*n), fmt::format("load.keepalive: expected \"keep-alive\", \"new-connection\" or \"max:K\" "
                                    "(K requests per connection, K >= 1), found \"{}\"", k));
      }
    }
    if (auto n = t.get("threads")) cfg.threads = static_cast<int>(as_int(*n, "load.threads", 1, 1024));
    if (auto n = t.get("cpu")) {
      cfg.cpus = as_cpus(*n, "load.cpu");
      cpus_given = true;
    }
    if (auto n = t.get("seed")) cfg.seed = static_cast<std::uint64_t>(as_int(*n, "load.seed", 0, INT64_MAX));
    if (auto n = t.get("send_lag_bound")) {
      cfg.send_lag_bound_us = std::chrono::duration<double, std::micro>(
          positive(as_duration(*n, "load.send_lag_bound"), *n, "load.send_lag_bound")).count();
    }
    if (auto n = t.get("max_requests")) cfg.max_requests = as_count(*n, "load.max_requests", 1);
    if (auto n = t.get("success")) {
      // A list of status classes and codes: ["2xx", "3xx", 404] or one string "2xx,3xx,404".
      std::string list;
      if (auto a = n->as_array()) {
        for (const auto& e : *a) list += (list.empty() ? "" : ",") + value_text(e);
      } else {
        list = as_string(*n, "load.success");
      }
      auto ok = result::success_statuses::parse(list);
      if (!ok) fail(where(*n), "load.success: " + ok.error());
      cfg.success = ok->text();
    }
    if (auto n = t.get("max_error_rate")) {
      const std::string text = n->is_number() ? value_text(*n) : as_string(*n, "load.max_error_rate");
      auto f = units::parse_fraction(text);
      if (!f) fail(where(*n), "load.max_error_rate: " + f.error());
      cfg.max_error_rate = *f;
    }
  }

  void parse_keys(const toml::table& root, run_config& cfg) const {
    const toml::node* kn = root.get("keys");
    if (!kn) return;
    const toml::table& t = as_table(*kn, "keys");
    check_keys(t, "keys.", k_keys_keys);
    if (auto n = t.get("distribution")) {
      cfg.keys.kind = as_string(*n, "keys.distribution");
      if (cfg.keys.kind != "uniform" && cfg.keys.kind != "zipf")
        fail(where(*n), fmt::format("keys.distribution: expected \"uniform\" or \"zipf\", found \"{}\"", cfg.keys.kind));
    }
    const toml::node* count = t.get("count");
    if (!count) fail(where(*kn), "[keys] needs count (the number of distinct keys {key} is drawn from)");
    cfg.keys.keys = static_cast<std::uint64_t>(as_count(*count, "keys.count", 1));
    if (auto n = t.get("zipf_s")) {
      if (cfg.keys.kind != "zipf")
        fail(where(*n), "keys.zipf_s applies to distribution = \"zipf\" only");
      cfg.keys.zipf_s = as_number(*n, "keys.zipf_s");
      if (!(cfg.keys.zipf_s > 0) || cfg.keys.zipf_s > 10)
        fail(where(*n), fmt::format("keys.zipf_s: expected a number above 0 (typically 0.99), found {}", cfg.keys.zipf_s));
    }
  }

  void parse_requests(const toml::table& root, run_config& cfg) const {
    const toml::node* rn = root.get("request");
    if (!rn) return;
    auto a = rn->as_array();
    if (!a || a->empty()) type_error(*rn, "request", "[[request]] tables (an array of tables)");
    for (std::size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      std::string nm = fmt::format("request[{}]", i);
      const toml::table& t = as_table(e, nm);
      check_keys(t, nm + ".", k_request_keys);
      request_spec r;
      if (auto n = t.get("method")) {
        r.method = as_string(*n, nm + ".method");
        if (r.method.empty() || !std::all_of(r.method.begin(), r.method.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
          fail(where(*n), fmt::format("{}.method: expected an upper-case HTTP method such as \"GET\" or \"POST\", "
                                      "found \"{}\"", nm, r.method));
      }
      if (auto n = t.get("path")) {
        r.path = as_string(*n, nm + ".path");
        if (r.path.empty() || r.path[0] != '/' ||
            std::any_of(r.path.begin(), r.path.end(), [](char c) { return c == ' ' || c == '\r' || c == '\n'; }))
          fail(where(*n), fmt::format("{}.path: expected a path starting with '/' without spaces, found \"{}\"", nm, r.path));
        check_key_use(r.path, *n, nm + ".path", cfg);
      }
      if (auto n = t.get("headers")) {
        const toml::table& h = as_table(*n, nm + ".headers");
        for (auto&& [k, v] : h) {
          std::string hn = fmt::format("{}.headers.{}", nm, k.str());
          std::string val = as_string(v, hn);
          if (k.str().empty() || val.find_first_of("\r\n") != std::string::npos)
            fail(where(k, v), hn + ": expected a header name and a one-line value");
          check_key_use(val, v, hn, cfg);
          r.headers.emplace_back(std::string(k.str()), std::move(val));
        }
      }
      const toml::node* body = t.get("body");
      const toml::node* body_file = t.get("body_file");
      if (body && body_file)
        fail(where(*body_file), nm + ": body and body_file both given (expected one)");
      if (body) {
        r.body = as_string(*body, nm + ".body");
        check_key_use(r.body, *body, nm + ".body", cfg);
      }
      if (body_file) {
        fs::path p = as_string(*body_file, nm + ".body_file");
        if (p.is_relative()) p = base_dir_ / p;
        std::ifstream in(p, std::ios::binary);
        if (!in)
          fail(where(*body_file), fmt::format("{}.body_file: cannot read \"{}\" (paths are relative to the scenario "
                                              "file's folder)", nm, p.string()));
        std::ostringstream os;
        os << in.rdbuf();
        r.body = os.str();
      }
      if (auto n = t.get("weight")) {
        r.weight = as_number(*n, nm + ".weight");
        if (!(r.weight > 0) || !std::isfinite(r.weight))
          fail(where(*n), fmt::format("{}.weight: expected a number above 0, found {}", nm, value_text(*n)));
      }
      cfg.requests.push_back(std::move(r));
    }
  }

  void check_key_use(const std::string& text, const toml::node& n, const std::string& name, const run_config& cfg) const {
    if (text.find("{key}") != std::string::npos && cfg.keys.keys == 0)
      fail(where(n), name + " uses {key} but no keys are defined (expected a [keys] table with count = N)");
  }

  std::vector<threshold> parse_thresholds(const toml::table& root) const {
    std::vector<threshold> out;
    const toml::node* tn = root.get("thresholds");
    if (!tn) return out;
    auto add = [&](const toml::node& n, const std::string& expr) {
      auto th = parse_threshold(expr);
      if (!th) fail(where(n), th.error());
      out.push_back(std::move(*th));
    };
    if (auto a = tn->as_array()) {
      for (const auto& e : *a) add(e, as_string(e, "thresholds[]"));
    } else if (auto t = tn->as_table()) {
      // k6-like form: "ttlb.p99" = "< 50ms" or = ["< 50ms", "> 1ms"].
      for (auto&& [k, v] : *t) {
        std::string metric(k.str());
        if (auto va = v.as_array()) {
          for (const auto& e : *va) add(e, metric + " " + as_string(e, "thresholds." + metric));
        } else {
          add(v, metric + " " + as_string(v, "thresholds." + metric));
        }
      }
    } else {
      type_error(*tn, "thresholds", "an array of strings such as [\"ttlb.p99 < 50ms\", \"errors.rate < 0.1%\"]");
    }
    return out;
  }

  // One variant from the (matrix-applied) document.
  variant_spec build_variant(const toml::table& root) const {
    check_keys(root, "", k_top_keys);
    variant_spec v;
    v.target = parse_target(root);
    parse_load(root, v.load, v.loadgen_cpus_given);
    parse_keys(root, v.load);
    parse_requests(root, v.load);
    v.thresholds = parse_thresholds(root);
    return v;
  }

 private:
  std::string file_;
  fs::path base_dir_;
  std::unordered_map<const toml::node*, std::string> places_;
};

// Splits a dotted key ("load.connections", "request.0.path"). Keys under matrix take the rest
// as one key, since matrix keys are themselves dotted ("matrix.target.model").
std::vector<std::string> split_dotted(std::string_view key) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto dot = key.find('.', start);
    parts.emplace_back(key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
    if (parts.size() == 1 && parts[0] == "matrix") {
      parts.emplace_back(key.substr(start));
      break;
    }
  }
  return parts;
}

// Puts a copy of `value` at the dotted key, creating tables on the way; numeric parts index
// arrays. Returns the inserted node or an error message.
tl::expected<toml::node*, std::string> set_dotted(toml::table& root, std::string_view key, const toml::node& value) {
  auto parts = split_dotted(key);
  for (const auto& p : parts)
    if (p.empty()) return tl::unexpected(fmt::format("'{}': empty part in dotted key", key));
  toml::node* cur = &root;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (auto t = cur->as_table()) {
      toml::node* next = t->get(p);
      if (!next) {
        t->insert_or_assign(p, toml::table{});
        next = t->get(p);
      }
      cur = next;
    } else if (auto a = cur->as_array()) {
      char* end = nullptr;
      unsigned long idx = std::strtoul(p.c_str(), &end, 10);
      if (*end != '\0' || idx >= a->size())
        return tl::unexpected(fmt::format("'{}': '{}' is not an index of the {} entries there", key, p, a->size()));
      cur = a->get(idx);
    } else {
      return tl::unexpected(fmt::format("'{}': '{}' is not a table", key, p));
    }
  }
  const std::string& last = parts.back();
  toml::node* placed = nullptr;
  auto put_into_table = [&](toml::table& t) {
    value.visit([&](auto&& v) { t.insert_or_assign(last, v); });
    placed = t.get(last);
  };
  if (auto t = cur->as_table()) {
    put_into_table(*t);
  } else if (auto a = cur->as_array()) {
    char* end = nullptr;
    unsigned long idx = std::strtoul(last.c_str(), &end, 10);
    if (*end != '\0' || idx >= a->size())
      return tl::unexpected(fmt::format("'{}': '{}' is not an index of the {} entries there", key, last, a->size()));
    value.visit([&](auto&& v) { a->replace(a->cbegin() + static_cast<std::ptrdiff_t>(idx), v); });
    placed = a->get(idx);
  } else {
    return tl::unexpected(fmt::format("'{}': its parent is not a table", key));
  }
  return placed;
}

// File-system safe: letters, digits, '.', '_' and '-'; '=' becomes '-', ',' becomes '_'.
std::string safe_name(std::string_view s) {
  std::string out;
  for (char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
      out += c;
    else if (c == '=')
      out += '-';
    else
      out += '_';
  }
  if (out.empty()) out = "variant";
  return out;
}

const std::vector<std::string> k_latency_families = {"connect", "ttfb", "ttlb", "send_lag", "ttfb_uncorrected",
                                                      "ttlb_uncorrected"};
const std::vector<std::string> k_latency_stats = {"p50", "p90", "p99", "p99.9", "max", "mean"};

}  // namespace

const std::vector<std::string>& threshold_metrics() {
  static const std::vector<std::string> metrics = [] {
    std::vector<std::string> m;
    for (const auto& f : k_latency_families)
      for (const auto& s : k_latency_stats) m.push_back(f + "." + s);
    m.push_back("tps.mean");
    m.push_back("errors.rate");
    m.push_back("errors.count");
    return m;
  }();
  return metrics;
}

tl::expected<threshold, std::string> parse_threshold(std::string_view expression) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  const std::string expected_form =
      "expected \"<metric> <op> <value>\" with op one of <, <=, >, >=, e.g. \"ttlb.p99 < 50ms\", "
      "\"errors.rate < 0.1%\", \"tps.mean > 1000\"";
  auto op_pos = expression.find_first_of("<>");
  if (op_pos == std::string_view::npos)
    return tl::unexpected(fmt::format("threshold \"{}\": no comparison found ({})", expression, expected_form));
  threshold th;
  th.expression = std::string(trim(expression));
  th.metric = std::string(trim(expression.substr(0, op_pos)));
  std::size_t op_len = (op_pos + 1 < expression.size() && expression[op_pos + 1] == '=') ? 2 : 1;
  th.op = std::string(expression.substr(op_pos, op_len));
  std::string_view value = trim(expression.substr(op_pos + op_len));
  if (th.metric.empty() || value.empty() || value.find_first_of("<>=") != std::string_view::npos)
    return tl::unexpected(fmt::format("threshold \"{}\": {}", expression, expected_form));
  if (!contains(threshold_metrics(), th.metric))
    return tl::unexpected(fmt::format(
        "threshold \"{}\": unknown metric '{}' (expected <connect|ttfb|ttlb|send_lag|ttfb_uncorrected|"
        "ttlb_uncorrected>.<p50|p90|p99|p99.9|max|mean>, tps.mean, errors.rate or errors.count)",
        expression, th.metric));
  if (th.metric == "errors.rate") {
    std::string v(value);
    bool percent = !v.empty() && v.back() == '%';
    if (percent) v.pop_back();
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(x >= 0) || (percent ? x > 100 : x > 1))
      return tl::unexpected(fmt::format("threshold \"{}\": errors.rate: expected a percentage such as \"0.1%\" or a "
                                        "fraction from 0 to 1, found \"{}\"", expression, value));
    th.limit = percent ? x / 100.0 : x;
  } else if (th.metric == "errors.count") {
    auto c = units::parse_count(value);
    if (!c || *c != std::floor(*c))
      return tl::unexpected(fmt::format("threshold \"{}\": errors.count: expected a whole number, found \"{}\"",
                                        expression, value));
    th.limit = *c;
  } else if (th.metric == "tps.mean") {
    auto r = units::parse_rate(value);
    if (!r)
      return tl::unexpected(fmt::format("threshold \"{}\": tps.mean: {}", expression, r.error()));
    th.limit = *r;
  } else {
    auto d = units::parse_duration(value);
    if (!d)
      return tl::unexpected(fmt::format("threshold \"{}\": {}: {}", expression, th.metric, d.error()));
    th.limit = std::chrono::duration<double, std::micro>(*d).count();
  }
  return th;
}

std::vector<result::threshold_verdict> evaluate_thresholds(const std::vector<threshold>& thresholds,
                                                           const result::variant& v) {
  std::vector<result::threshold_verdict> out;
  for (const auto& th : thresholds) {
    result::threshold_verdict verdict;
    verdict.expression = th.expression;
    verdict.limit = th.limit;
    bool has_data = true;
    if (th.metric == "tps.mean") {
      verdict.actual = v.tps_mean;
    } else if (th.metric == "errors.rate") {
      verdict.actual = v.error_rate;
      has_data = v.completed + v.errors.transport() > 0;
    } else if (th.metric == "errors.count") {
      verdict.actual = static_cast<double>(v.errors.total());
    } else {
      auto dot = th.metric.find('.');
      std::string family = th.metric.substr(0, dot);
      std::string stat = th.metric.substr(dot + 1);
      const result::latency_summary* s = family == "connect"            ? &v.connect
                                         : family == "ttfb"             ? &v.ttfb
                                         : family == "ttlb"             ? &v.ttlb
                                         : family == "send_lag"         ? &v.send_lag
                                         : family == "ttfb_uncorrected" ? &v.ttfb_uncorrected
                                                                        : &v.ttlb_uncorrected;
      verdict.actual = stat == "p50"    ? s->p50_us
                       : stat == "p90"  ? s->p90_us
                       : stat == "p99"  ? s->p99_us
                       : stat == "p99.9" ? s->p999_us
                       : stat == "max"  ? s->max_us
                                        : s->mean_us;
      has_data = s->count > 0;
    }
    // A metric without samples proves nothing: the check fails rather than passing vacuously.
    if (!has_data) {
      verdict.passed = false;
    } else if (th.op == "<") {
      verdict.passed = verdict.actual < th.limit;
    } else if (th.op == "<=") {
      verdict.passed = verdict.actual <= th.limit;
    } else if (th.op == ">") {
      verdict.passed = verdict.actual > th.limit;
    } else {
      verdict.passed = verdict.actual >= th.limit;
    }
    out.push_back(std::move(verdict));
  }
  return out;
}

tl::expected<scenario, scenario_error> parse_scenario(std::string_view text, const std::string& source_name,
                                                      const fs::path& base_dir,
                                                      const std::vector<std::string>& overrides) {
  parser p(source_name, base_dir);
  scenario sc;
  sc.text = std::string(text);
  sc.overrides = overrides;
  try {
    toml::table root;
    try {
      root = toml::parse(text, source_name);
    } catch (const toml::parse_error& e) {
      fail(format_region(e.source(), source_name), fmt::format("TOML syntax error: {}", e.description()));
    }
    // Keeps the --set documents alive only while their values are copied.
    for (const auto& kv : overrides) {
      const std::string where = "--set " + kv;
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        fail(where, "expected key=value with a dotted key, e.g. --set load.rate=2k/s or --set target.model=reactor");
      std::string key = kv.substr(0, eq);
      std::string value = kv.substr(eq + 1);
      toml::table doc;
      try {
        doc = toml::parse("v = " + value, where);
      } catch (const toml::parse_error&) {
        // Not a TOML value: take the text as a string, so --set target.model=reactor works unquoted.
        doc = toml::table{};
        doc.insert_or_assign("v", value);
      }
      const toml::node* v = doc.get("v");
      auto placed = set_dotted(root, key, *v);
      if (!placed) fail(where, placed.error());
      p.remember(**placed, *v, where);
      p.remember_place(**placed, where);
    }

    if (auto n = root.get("name")) {
      sc.name = p.as_string(*n, "name");
      if (sc.name.empty()) fail(p.where(*n), "name: expected a non-empty string");
    } else {
      fail(source_name, "missing key 'name' (expected name = \"...\", used in the results folder name)");
    }
    if (auto n = root.get("description")) sc.description = p.as_string(*n, "description");
    if (auto n = root.get("repeats")) sc.repeats = static_cast<int>(p.as_int(*n, "repeats", 1, 1000));

    // Matrix: every combination is a variant; all are validated before any runs.
    struct axis {
      std::string key;
      std::string label;
      const toml::array* values;
      const toml::node* key_node;
    };
    std::vector<axis> axes;
    toml::table matrix;  // moved out of the document: variants must not see it (nodes keep their places)
    if (toml::node* mn = root.get("matrix")) {
      matrix = std::move(const_cast<toml::table&>(p.as_table(*mn, "matrix")));
      root.erase("matrix");
      const toml::table& m = matrix;
      for (auto&& [k, v] : m) {
        std::string key(k.str());
        auto parts = split_dotted(key);
        const std::string& head = parts[0];
        bool ok = parts.size() >= 2 && !parts.back().empty();
        if (ok && head == "load") ok = parts.size() == 2 && contains(k_load_keys, parts[1]);
        else if (ok && head == "keys") ok = parts.size() == 2 && contains(k_keys_keys, parts[1]);
        else if (ok && head == "target") ok = parts.size() == 2;
        else if (ok && head == "request") ok = parts.size() == 3 && contains(k_request_keys, parts[2]);
        else ok = false;
        if (!ok)
          fail(p.where(k, v), fmt::format("matrix: unknown parameter '{}' (expected target.<key>, load.<{}>, "
                                          "keys.<{}> or request.<index>.<{}>){}",
                                          key, join(k_load_keys, "|"), join(k_keys_keys, "|"),
                                          join(k_request_keys, "|"),
                                          contains(k_top_keys, key)
                                              ? fmt::format("; '{}' is a top-level key: put it before the first "
                                                            "[table] header", key)
                                              : std::string()));
        auto arr = v.as_array();
        if (!arr || arr->empty()) p.type_error(v, "matrix." + key, "a non-empty array of values");
        axes.push_back(axis{key, "", arr, &v});
      }
      // toml++ tables are sorted by key; the file's order reads better in variant names.
      auto pos = [](const axis& ax) {
        const auto& b = ax.key_node->source().begin;
        return b.line == 0 ? std::pair<std::uint32_t, std::uint32_t>{UINT32_MAX, 0} : std::pair{b.line, b.column};
      };
      std::stable_sort(axes.begin(), axes.end(), [&](const axis& x, const axis& y) { return pos(x) < pos(y); });
      for (auto& ax : axes) {
        std::string last = split_dotted(ax.key).back();
        int same = 0;
        for (const auto& o : axes) same += split_dotted(o.key).back() == last;
        ax.label = same > 1 ? ax.key : last;
      }
    }

    std::size_t combos = 1;
    for (const auto& ax : axes) {
      combos *= ax.values->size();
      if (combos > 10000) fail(p.where(*ax.key_node), "matrix: more than 10000 combinations");
    }
    std::vector<std::size_t> idx(axes.size(), 0);
    for (std::size_t c = 0; c < combos; ++c) {
      std::map<std::string, std::string> params;
      std::string name;
      for (std::size_t a = 0; a < axes.size(); ++a) {
        const toml::node& val = *axes[a].values->get(idx[a]);
        auto placed = set_dotted(root, axes[a].key, val);
        if (!placed) fail(p.where(*axes[a].key_node), "matrix: " + placed.error());
        p.remember(**placed, val, p.where(val));
        params[axes[a].key] = value_text(val);
        if (!name.empty()) name += ',';
        name += axes[a].label + "=" + value_text(val);
      }
      variant_spec v = p.build_variant(root);
      v.name = name.empty() ? sc.name : name;
      v.params = std::move(params);
      v.file_prefix = safe_name(v.name);
      sc.variants.push_back(std::move(v));
      // Next combination: the last axis varies fastest.
      for (std::size_t a = axes.size(); a-- > 0;) {
        if (++idx[a] < axes[a].values->size()) break;
        idx[a] = 0;
      }
    }
    // Distinct file prefixes even if two names sanitize alike.
    std::unordered_set<std::string> seen;
    for (auto& v : sc.variants) {
      std::string base = v.file_prefix;
      for (int n = 2; !seen.insert(v.file_prefix).second; ++n) v.file_prefix = base + "-" + std::to_string(n);
    }
  } catch (const scenario_failure& f) {
    return tl::unexpected(f.err);
  }
  return sc;
}

tl::expected<scenario, scenario_error> load_scenario(const fs::path& file, const std::vector<std::string>& overrides) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return tl::unexpected(scenario_error{file.string(), "cannot open the scenario file"});
  std::ostringstream os;
  os << in.rdbuf();
  auto sc = parse_scenario(os.str(), file.string(), file.parent_path(), overrides);
  if (sc) sc->path = file;
  return sc;
}

}  // namespace perflab::loadgen
