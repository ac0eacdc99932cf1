// Scenario parsing and validation: the sections, the matrix (with [[matrix.include]]) and --set.
// Typed values and their places come from toml_reader (scenario_reader.hpp); [search] and
// [load] stop_when are read in scenario_search.cpp, [load] retry and
// [load] engine in scenario_retry.cpp.
#include "perflab/loadgen/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "perflab/core/cpus.hpp"
#include "perflab/core/units.hpp"
#include "perflab/core/verdict.hpp"
#include "perflab/loadgen/spawn.hpp"
#include "scenario_reader.hpp"

namespace perflab::loadgen {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::vector<std::string> k_models = {"thread-per-request", "thread-pool", "reactor", "coroutine", "fiber", "io-uring"};
const std::vector<std::string> k_load_keys = {
    "model",   "rate",      "stages", "arrival", "connections", "duration", "warmup",        "connect_timeout",
    "timeout", "think_time", "keepalive", "threads", "cpu",     "seed",     "send_lag_bound", "max_requests",
    "drain_timeout", "success", "max_error_rate", "stop_when", "retry", "engine", "http2", "max_streams",
    "insecure", "cacert", "tls_resume", "rank_timeout", "auth", "follow", "cors",
    // model = "subscribe" (scenario_subscribe.cpp)
    "style", "subscribers", "topics", "publish_rate", "message_size", "connect_rate", "poll_interval", "poll_timeout"};
const std::vector<std::string> k_target_own_keys = {"url",           "model",        "threads", "cpu",
                                                    "start_timeout", "stop_timeout", "health"};
const std::vector<std::string> k_request_keys = {"method", "path", "headers", "body", "body_file", "weight", "grpc",
                                                 "grpc_fields"};
const std::vector<std::string> k_keys_keys = {"distribution", "count", "zipf_s"};
const std::vector<std::string> k_stage_keys = {"duration", "rate"};

using namespace detail;

// The sections of a scenario, read with the typed readers of toml_reader (scenario_reader.hpp).
class parser : public toml_reader {
 public:
  parser(std::string file, fs::path base_dir) : toml_reader(std::move(file)), base_dir_(std::move(base_dir)) {}

  std::set<std::string> services_;  // [[service]] names: a target.url may be "{name}" of one

  // ---- sections -------------------------------------------------------------------------------

  target_spec parse_target(const toml::table& root) const {
    const toml::node* tn = root.get("target");
    if (!tn)
      fail(file_, "missing [target] table (expected url = \"http://host:port\" for an external target, or "
                  "model = \"reactor\" (or thread-per-request, thread-pool, coroutine, fiber) to spawn lab-target)");
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
      if (ts.url.size() > 2 && ts.url.front() == '{' && ts.url.back() == '}' &&
          services_.count(ts.url.substr(1, ts.url.size() - 2)))
        ts.service = ts.url.substr(1, ts.url.size() - 2);  // its URL once the run has started it
      const std::size_t scheme = ts.url.rfind("http://", 0) == 0 ? 7 : ts.url.rfind("https://", 0) == 0 ? 8 : 0;
      if (ts.service.empty() && (scheme == 0 || ts.url.size() <= scheme))
        fail(where(*url), fmt::format("target.url: expected an http:// or https:// URL such as "
                                      "\"http://127.0.0.1:8080\", or \"{{name}}\" of a [[service]], found \"{}\"",
                                      ts.url));
      while (ts.url.size() > scheme && ts.url.back() == '/') ts.url.pop_back();
      for (auto&& [k, v] : t) {
        if (k.str() != "url" && k.str() != "health" && k.str() != "pid_file")
          fail(where(k, v), fmt::format("target.{} applies to a spawned target (model = ...), not to an "
                                        "external url (expected only url, health and pid_file with url)", k.str()));
      }
      if (auto n = t.get("pid_file")) {
        ts.pid_file = as_string(*n, "target.pid_file");
        if (!read_pid_file(ts.pid_file))
          fail(where(*n), fmt::format("target.pid_file: expected a file holding the pid of a running process, "
                                      "found {}", std::filesystem::exists(ts.pid_file)
                                                      ? "'" + ts.pid_file + "' without a live process's pid"
                                                      : "no file '" + ts.pid_file + "'"));
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
        if (contains(top_level_keys(), key))
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
      if (cfg.kind != "open" && cfg.kind != "closed" && cfg.kind != "subscribe")
        fail(where(*model), fmt::format("load.model: expected \"open\", \"closed\" or \"subscribe\", found \"{}\"",
                                        cfg.kind));
    } else {
      cfg.kind = (rate || stages) ? "open" : "closed";
    }
    if (cfg.kind == "subscribe") {  // its keys: read_subscribe; the shared ones here
      if (auto n = t.get("duration")) cfg.duration = positive(as_duration(*n, "load.duration"), *n, "load.duration");
      if (auto n = t.get("drain_timeout")) cfg.drain_timeout = as_duration(*n, "load.drain_timeout");
      if (auto n = t.get("connect_timeout"))
        cfg.connect_timeout = positive(as_duration(*n, "load.connect_timeout"), *n, "load.connect_timeout");
      if (auto n = t.get("cpu")) {
        cfg.cpus = as_cpus(*n, "load.cpu");
        cpus_given = true;
      }
      return;
    }
    for (const auto& k : subscribe_only_load_keys())
      if (auto n = t.get(k))
        fail(where(*n), fmt::format("load.{} applies to model = \"subscribe\" only", k));
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
    if (auto n = t.get("rank_timeout")) {
      cfg.rank_timeout = as_duration(*n, "load.rank_timeout");
      if (cfg.rank_timeout <= 1s) fail(where(*n), "load.rank_timeout must be above 1s (ranks send a second each second)");
    }
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
      read_grpc_request(*this, t, nm, cfg, r);
      cfg.requests.push_back(std::move(r));
    }
    check_grpc_mix(*this, root, cfg);
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
    check_keys(root, "", top_level_keys());
    variant_spec v;
    v.target = parse_target(root);
    parse_load(root, v.load, v.loadgen_cpus_given);
    v.report_metrics = read_report(*this, root);
    if (v.load.kind == "subscribe") {  // a push run: no request mix, retries, engine or search
      v.subscribe = read_subscribe(*this, root, v.load);
      v.thresholds = parse_thresholds(root);
      return v;
    }
    v.load.retry = read_retry(*this, root);
    read_engine(*this, root, v.load);
    v.load.auth = read_auth(*this, root);
    v.load.follow = read_follow(*this, root);
    v.load.cors = read_cors(*this, root, v.load);
    parse_keys(root, v.load);
    parse_requests(root, v.load);
    v.thresholds = parse_thresholds(root);
    v.stop_when = read_stop_when(*this, root);
    v.search = read_search(*this, root, v.load);
    return v;
  }

 private:
  fs::path base_dir_;
};

// A matrix parameter (an axis or an include key): target.<key>, load.<key>, keys.<key> or
// request.<index>.<key>.
void check_matrix_parameter(const std::string& key, const std::string& where) {
  auto parts = split_dotted(key);
  const std::string& head = parts[0];
  bool ok = parts.size() >= 2 && !parts.back().empty();
  if (ok && head == "load")  // "load.rate", or a key of load.retry ("load.retry.max")
    ok = (parts.size() == 2 && contains(k_load_keys, parts[1])) ||
         (parts.size() == 3 && parts[1] == "retry" && contains(retry_keys(), parts[2]));
  else if (ok && head == "keys") ok = parts.size() == 2 && contains(k_keys_keys, parts[1]);
  else if (ok && head == "target") ok = parts.size() == 2;
  else if (head == "request")  // a key of one request, or (in an include) the whole request
    ok = parts.size() >= 2 && !parts[1].empty() && parts[1].find_first_not_of("0123456789") == std::string::npos &&
         (parts.size() == 2 || (parts.size() == 3 && contains(k_request_keys, parts[2])));
  else ok = false;
  if (!ok)
    fail(where, fmt::format("matrix: unknown parameter '{}' (expected target.<key>, load.<{}>, keys.<{}> or "
                            "request.<index>[.<{}>]){}",
                            key, join(k_load_keys, "|"), join(k_keys_keys, "|"), join(k_request_keys, "|"),
                            contains(top_level_keys(), key)
                                ? fmt::format("; '{}' is a top-level key: put it before the first [table] header", key)
                                : std::string()));
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

}  // namespace

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
    // [[target]]: the measured one becomes [target] (so --set and the matrix reach it), the
    // named ones are read once for every variant (scenario_schedule.cpp).
    // [[service]] first: a target's url or options may name one.
    sc.services = read_services(p, root);
    for (const auto& s : sc.services) p.services_.insert(s.name);
    std::vector<target_spec> dependencies;
    for (auto& nt : split_targets(p, root)) {
      if (p.services_.count(nt.name))
        fail(nt.where, fmt::format("target.name: \"{}\" is also a [[service]] name (expected distinct names)", nt.name));
      toml::table alone;
      alone.insert_or_assign("target", std::move(nt.table));
      target_spec d = p.parse_target(alone);
      d.name = nt.name;
      dependencies.push_back(std::move(d));
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
    // After --set, so `--set action=[]` runs a scenario without its timed actions.
    const std::vector<timed_event_spec> schedule = read_schedule(p, root);

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
        if (key == "include") continue;  // [[matrix.include]], below
        check_matrix_parameter(key, p.where(k, v));
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

    // [[matrix.include]] (as in GitHub Actions' matrix.include): keys added to the combinations whose
    // axis values match an entry, e.g. threads = 32 for the thread pool alone. Not part of the name.
    struct include_entry {
      const toml::node* node;
      std::vector<std::pair<std::string, const toml::node*>> match;  // axis key -> value to match
      std::vector<std::pair<std::string, const toml::node*>> extra;  // other keys -> value to set
      bool used = false;
    };
    std::vector<include_entry> includes;
    if (const toml::node* in = matrix.get("include")) {
      const toml::array* arr = in->as_array();
      if (!arr || arr->empty() || !arr->is_array_of_tables())
        p.type_error(*in, "matrix.include", "[[matrix.include]] tables of axis values to match and keys to add");
      for (const auto& e : *arr) {
        include_entry ie{&e, {}, {}, false};
        for (auto&& [k, v] : *e.as_table()) {
          std::string key(k.str());
          check_matrix_parameter(key, p.where(k, v));
          const bool is_axis = std::any_of(axes.begin(), axes.end(), [&](const axis& ax) { return ax.key == key; });
          (is_axis ? ie.match : ie.extra).emplace_back(key, &v);
        }
        if (ie.match.empty() || ie.extra.empty())
          fail(p.where(e), "matrix.include: an entry needs a matrix axis value to match and a key to add, e.g. "
                           "\"target.model\" = \"thread-pool\" and \"target.threads\" = 32");
        includes.push_back(std::move(ie));
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
      // Include entries set their keys for this combination only; what they replaced comes back after.
      std::vector<std::pair<std::string, toml::table>> saved;  // key -> {"v": previous value}, or empty
      for (auto& ie : includes) {
        const bool match = std::all_of(ie.match.begin(), ie.match.end(),
                                       [&](const auto& m) { return params[m.first] == value_text(*m.second); });
        if (!match) continue;
        ie.used = true;
        for (const auto& [key, val] : ie.extra) {
          toml::table before;
          if (const toml::node* old_value = find_dotted(root, key)) {
            old_value->visit([&](auto&& x) { before.insert_or_assign("v", x); });
            p.remember(*before.get("v"), *old_value, p.where(*old_value));
          }
          saved.emplace_back(key, std::move(before));
          auto placed = set_dotted(root, key, *val);
          if (!placed) fail(p.where(*val), "matrix.include: " + placed.error());
          p.remember(**placed, *val, p.where(*val));
        }
      }
      variant_spec v = p.build_variant(root);
      for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
        if (const toml::node* before = it->second.get("v")) {
          auto placed = set_dotted(root, it->first, *before);
          if (placed) p.remember(**placed, *before, p.where(*before));
        } else {
          erase_dotted(root, it->first);
        }
      }
      // The search sets its variable at every step: a matrix axis on it would be overwritten.
      if (v.search) {
        for (const auto& ax : axes)
          if (ax.key == v.search->variable)
            fail(p.where(*ax.key_node), fmt::format("matrix: '{}' is the variable [search] sets at every step "
                                                    "(expected no matrix axis on it)", ax.key));
      }
      v.dependencies = dependencies;
      v.schedule = schedule;
      check_wiring(v, p.services_);
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
    for (const auto& ie : includes)
      if (!ie.used)
        fail(p.where(*ie.node), "matrix.include: the entry matches no combination of the matrix (check the axis "
                                "values it names)");
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
