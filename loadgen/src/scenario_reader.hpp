#pragma once
// Internal to the scenario parser: reading typed values out of a toml++ document with their
// places. toml++ gives every parsed value a source region; values that the matrix, --set or
// [[matrix.include]] put into the document are copies (toml++ does not copy regions), so their
// places are remembered in a side table keyed by node address. Every reader fails with
// "file:line:col: <name>: expected ..., found ..." (a scenario_failure, caught once in
// parse_scenario). scenario.cpp reads the sections with it, scenario_search.cpp [search] and
// [load] stop_when.
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <tl/expected.hpp>
#include <toml++/toml.h>

#include "perflab/core/cpus.hpp"
#include "perflab/core/units.hpp"
#include "perflab/loadgen/scenario.hpp"

namespace perflab::loadgen::detail {

using namespace std::chrono_literals;

// Config-time failure, caught once in parse_scenario and turned into a value.
struct scenario_failure : std::runtime_error {
  scenario_error err;
  explicit scenario_failure(scenario_error e) : std::runtime_error(e.message), err(std::move(e)) {}
};

[[noreturn]] inline void fail(std::string where, std::string message) {
  throw scenario_failure(scenario_error{std::move(where), std::move(message)});
}


// The keys of a scenario's top level ("name", "target", ...), for the hint about a top-level key
// written after a [table] header.
const std::vector<std::string>& top_level_keys();

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ");
bool contains(const std::vector<std::string>& v, std::string_view s);
// "file:line:col" of a region, or `fallback` when the node has none.
std::string format_region(const toml::source_region& r, const std::string& fallback);
// How a node looks in an error message: its type and, for scalars, its value.
std::string describe(const toml::node& n);
// A node's value as plain text (matrix parameters, target options).
std::string value_text(const toml::node& n);

class toml_reader {
 public:
  explicit toml_reader(std::string file) : file_(std::move(file)) {}

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
    if (prefix.empty() || !contains(top_level_keys(), key)) return "";
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

  std::chrono::nanoseconds positive(std::chrono::nanoseconds d, const toml::node& n, std::string_view name) const {
    if (d <= 0ns) fail(where(n), fmt::format("{}: expected a duration above zero, found \"{}\"", name, value_text(n)));
    return d;
  }

  // A fraction: a percentage string ("2%") or a number from 0 to 1 (0.02).
  double as_fraction(const toml::node& n, std::string_view name) const {
    if (!n.is_number() && !n.is_string()) type_error(n, name, "a percentage such as \"2%\" or a fraction such as 0.02");
    const std::string text = n.is_number() ? value_text(n) : as_string(n, name);
    auto f = units::parse_fraction(text);
    if (!f) fail(where(n), fmt::format("{}: {}", name, f.error()));
    return *f;
  }

 protected:
  std::string file_;
  std::unordered_map<const toml::node*, std::string> places_;
};

// Dotted keys on the document (scenario_dotted.cpp). Keys under "matrix" take the rest as one key,
// since matrix keys are themselves dotted ("matrix.target.model").
std::vector<std::string> split_dotted(std::string_view key);
// Puts a copy of `value` at the dotted key, creating tables on the way; numeric parts index arrays.
// Returns the inserted node or an error message.
tl::expected<toml::node*, std::string> set_dotted(toml::table& root, std::string_view key, const toml::node& value);
// The node at a dotted key, or null.
toml::node* find_dotted(toml::table& root, std::string_view key);
// Removes the key at a dotted path (its parent must be a table); nothing when it is not there.
void erase_dotted(toml::table& root, std::string_view key);

// [search] of a (matrix-applied) document, checked against the variant's parsed load; nullopt
// without one (scenario_search.cpp).
std::optional<search_spec> read_search(const toml_reader& r, const toml::table& root, const run_config& load);
// [report] metrics = ["perflab_orders_created_total", "name{label=\"v\"}"]: target counters whose
// change over each variant is recorded (scenario_search.cpp); empty without it.
std::vector<std::string> read_report(const toml_reader& r, const toml::table& root);
// [load] stop_when: one expression or an array of them (scenario_search.cpp).
std::vector<threshold> read_stop_when(const toml_reader& r, const toml::table& root);

// [load] retry = { on = [503, 429], max = 2, backoff = "exponential", base = "50ms", cap = "1s",
// jitter = "full", retry_after = true }: client retries, off without it (scenario_retry.cpp).
retry_policy read_retry(const toml_reader& r, const toml::table& root);
const std::vector<std::string>& retry_keys();  // the keys of load.retry (a matrix may set "load.retry.max")

// [load] engine = "asio" | "curl", http2, max_streams, insecure, cacert (scenario_retry.cpp).
void read_engine(const toml_reader& r, const toml::table& root, run_config& cfg);
// [load] auth = { scheme = "jwt-rs256", key_file = "...", tokens = 100, audience = "...", ttl = "1h",
// login_path = "/auth/login" } (scenario_retry.cpp).
auth_config read_auth(const toml_reader& r, const toml::table& root);
// [load] follow = { every = "10ms", until = '"state":"done"', timeout = "30s" }: 202s followed to
// the end of their work, off without it; either engine (scenario_retry.cpp).
follow_policy read_follow(const toml_reader& r, const toml::table& root);
// [load] cors: the browser mode, { origin = "https://app.example", preflight_cache = true }, or false
// (off: a matrix axis can compare with and without). Asio engine only; after read_engine.
cors_config read_cors(const toml_reader& r, const toml::table& root, const run_config& cfg);

// A [[request]]'s grpc = "/package.Service/Method" and grpc_fields = { 1 = "{key}" } (scenario_retry.cpp):
// fills out.grpc and out.grpc_fields; nothing without grpc. `nm` names the request ("request[0]").
void read_grpc_request(const toml_reader& r, const toml::table& t, const std::string& nm, const run_config& cfg,
                       request_spec& out);
// After the mix is read: a mix of gRPC and HTTP requests, or gRPC with engine = "asio", fails
// at the place it is written.
void check_grpc_mix(const toml_reader& r, const toml::table& root, const run_config& cfg);

// [load] model = "subscribe" (scenario_subscribe.cpp): the subscribers and the built-in publisher,
// from [load]; nothing for other models. Refuses request/response keys and tables.
std::optional<subscribe_config> read_subscribe(const toml_reader& r, const toml::table& root, const run_config& load);
const std::vector<std::string>& subscribe_only_load_keys();  // refused for open and closed loads

// scenario_schedule.cpp: [[target]] entries, [[fault]] and [[action]].
struct named_target_table {
  std::string name;   // its name = "..."
  std::string where;  // "file:line:col" of the entry
  toml::table table;  // the entry without its name (moved out of the document: places kept)
};
// With [[target]] tables: the named ones leave the document (returned in order), the one without
// a name becomes [target]. Nothing with a [target] table.
std::vector<named_target_table> split_targets(const toml_reader& r, toml::table& root);
// [[fault]] and [[action]], read, checked (a fault's spec is parsed) and removed from the
// document; sorted by `at`.
std::vector<timed_event_spec> read_schedule(const toml_reader& r, toml::table& root);
// A variant with its dependencies and schedule: every "{name}" in target options names a
// dependency before it, every entry's target exists and its `at` is within the measured phase;
// the targets that get faults are marked admin.
// "{name}" may also name a [[service]] (services: their names).
void check_wiring(variant_spec& v, const std::set<std::string>& services = {});
// [[service]] entries, read, checked and removed from the document.
std::vector<service_spec> read_services(const toml_reader& r, toml::table& root);

}  // namespace perflab::loadgen::detail
