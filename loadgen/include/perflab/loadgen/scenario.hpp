#pragma once
// Scenario files (TOML): parsing, validation and matrix expansion. Thresholds, a capacity search's
// objective and stop conditions share one expression language (thresholds.hpp).
// docs/scenarios.md describes the format. Every variant of a scenario is validated before any of
// them runs, so a typo never leaves a half-run scenario behind. Errors name file:line:col (the
// toml++ source region of the offending value), what was found and what was expected.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/core/result.hpp"
#include "perflab/loadgen/engine.hpp"
#include "perflab/loadgen/search.hpp"
#include "perflab/loadgen/subscribe.hpp"
#include "perflab/loadgen/thresholds.hpp"

namespace perflab::loadgen {

// A scenario error with its place: `where` is "file:line:col" (or the file alone when the
// problem has no single place, e.g. a missing key).
struct scenario_error {
  std::string where;
  std::string message;
  // "where: message", the one line a user sees.
  std::string to_string() const { return where.empty() ? message : where + ": " + message; }
};

// The [target] table of one variant.
struct target_spec {
  bool spawn = false;                         // true: start lab-target; false: external url
  std::string url;                            // external target, "http://host:port"
  std::string model;                          // thread-per-request | thread-pool | reactor | coroutine | fiber
  int threads = 0;                            // lab-target --threads (0: lab-target's default)
  std::vector<int> cpus;                      // CPUs the target is pinned to (empty: not pinned)
  bool cpus_given = false;                    // false: the runner picks the default pinning
  std::map<std::string, std::string> params;  // other keys, passed on as --key=value
  std::map<std::string, std::string> param_where;  // key -> "file:line:col" (for option checks)
  std::chrono::nanoseconds start_timeout{std::chrono::seconds(10)};  // until "listening ..." and /health
  std::chrono::nanoseconds stop_timeout{std::chrono::seconds(5)};    // SIGTERM to SIGKILL
  std::string health_path = "/health";
  // External url: a file holding the server's pid (e.g. scripts/services.sh's build/services/NAME/pid),
  // so the runner samples its CPU and RSS as it does a spawned target's. Empty: not sampled.
  std::string pid_file;
  std::string service;                        // target.url = "{name}": the [[service]] it names (its URL at run time)
  std::string name;                           // [[target]] name = "dep" (empty: the measured target)
  bool admin = false;                         // the runner adds --admin (a [[fault]] names this target)
};

// A [[fault]] or [[action]] entry: a request the runner sends to a target at a time of the
// measured phase (docs/scenarios.md, "Dependencies, faults and timed actions").
struct timed_event_spec {
  enum class kind { fault, action };
  kind what = kind::action;
  std::string target;                         // a [[target]] name; empty: the measured target
  std::chrono::nanoseconds at{};              // from the start of the measured phase
  std::chrono::nanoseconds duration{};        // fault: then the previous profile is restored (0: it stays)
  std::string spec;                           // fault: the profile (POST /admin/fault's body)
  std::string method;                         // action: e.g. "PURGE", "DELETE", "POST"
  std::string path;                           // action: e.g. "/cache"
  std::string body;                           // action: the request body (may be empty)
  std::string where;                          // "file:line:col" of the entry
};

// One fully validated variant (one combination of the matrix; repeats share it).
struct variant_spec {
  std::string name;                           // "model=reactor,connections=100" (the scenario name if no matrix)
  std::string file_prefix;                    // file-system safe form of name
  std::map<std::string, std::string> params;  // matrix key -> value as text
  target_spec target;
  run_config load;                            // url, output_dir and file_prefix are set by the runner
  std::optional<subscribe_config> subscribe;  // [load] model = "subscribe": a push run instead (load.kind too)
  bool loadgen_cpus_given = false;            // false: the runner picks the default pinning
  std::vector<threshold> thresholds;
  std::vector<threshold> stop_when;           // [load] stop_when: any that holds ends the run early
  std::optional<search_spec> search;          // [search]: a capacity search instead of one run
  // [[target]] entries with a name: spawned (or reached) before the measured target, which sees
  // their URLs through "{name}" in its options; in the order written.
  std::vector<target_spec> dependencies;
  std::vector<timed_event_spec> schedule;     // [[fault]] and [[action]], sorted by `at`
  // [report] metrics: series of the measured target's /metrics read before the load and after its
  // drain; their change is recorded per variant (target_counters in run.json)
  std::vector<std::string> report_metrics;
};

// A [[service]] entry: a backing server scripts/services.sh starts for the run.
struct service_spec {
  std::string name;         // "{name}" in target options (or as target.url) becomes its URL
  std::string kind;         // postgres | redis | h2o-tls | nginx-tls
  bool access_log = false;  // h2o-tls, nginx-tls: services.sh --access-log
  std::string where;        // "file:line:col" of the entry
};

struct scenario {
  std::string name;
  std::string description;
  std::filesystem::path path;          // as given
  std::string text;                    // the file as read
  std::vector<std::string> overrides;  // --set key=value, in order
  int repeats = 1;
  std::vector<variant_spec> variants;  // the matrix, expanded and validated
  std::vector<service_spec> services;  // [[service]]: started before the first variant, stopped after the last
};

// Parses and validates a scenario. `source_name` is used in error locations; `base_dir` resolves
// body_file paths. overrides are "dotted.key=value" (value parsed as a TOML value, or taken as a
// string when it is not one).
tl::expected<scenario, scenario_error> parse_scenario(std::string_view text, const std::string& source_name,
                                                      const std::filesystem::path& base_dir,
                                                      const std::vector<std::string>& overrides = {});
// Reads `file` and parses it.
tl::expected<scenario, scenario_error> load_scenario(const std::filesystem::path& file,
                                                     const std::vector<std::string>& overrides = {});

}  // namespace perflab::loadgen
