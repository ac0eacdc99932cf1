#pragma once
// Internal to `loadgen run` and `loadgen ab`: one run of one variant, the way both commands measure
// it. Spawns lab-target pinned to its CPUs (or uses the external URL), waits for its address and
// health check, runs the engine, watches the target (a dead target stops the load), records what
// the target spent over the measured phase, stops it and checks thresholds; a capacity search runs
// its steps through the same path (search_runner.hpp). Also the checks both commands make before
// their first variant: target options against the binary's --help, CPUs, default pinning.
// docs/scenarios.md, "What the runner does per variant", is the contract.
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/core/result.hpp"
#include "perflab/loadgen/scenario.hpp"
#include "perflab/loadgen/spawn.hpp"

namespace perflab::loadgen::detail {

class rank_link;  // distributed.hpp

// What one run of a variant (or one capacity search) produced.
struct variant_outcome {
  result::variant v;
  int exit_code = 0;         // exit_codes.hpp: the variant's verdict, plus 1 (target failed) or 6 (interrupted)
  bool interrupted = false;  // Ctrl-C during the run
};

// Options lab-target accepts, from its --help (CLI11 lists them as "--name"). Empty when the help
// cannot be read or does not list --model (not a lab-target): then options cannot be checked.
std::set<std::string> target_options(const std::filesystem::path& bin);

// Before the first variant: every target option must be one `known` lists (unless `known` is
// empty), every CPU must be usable here; then default pinning is filled in (target on the upper
// half of the CPUs, the loadgen on the rest). `who` prefixes messages ("loadgen run"), `bin` is
// named in them. Returns exit_code::ok or exit_code::usage (the message is on `err`).
int prepare_variants(std::vector<variant_spec>& variants, const std::filesystem::path& scenario_file,
                     const std::set<std::string>& known, const std::filesystem::path& bin, const std::string& who,
                     std::ostream& err);

// Spawns lab-target for t (with --admin when t.admin), reads its address into url, waits for its
// health check. child is set as soon as the process exists (so a failure can stop it). grpc_url
// (a gRPC load): lab-target also serves gRPC (--grpc-port=any unless t sets grpc-port) and its
// gRPC address goes there; no gRPC address on its line is then a start-up failure.
tl::expected<void, std::string> start_target(const std::filesystem::path& bin, const target_spec& t,
                                             const std::filesystem::path& log, std::optional<child_process>& child,
                                             std::string& url, std::string* grpc_url = nullptr);

// A new results folder <root>/<UTC stamp>-<name> (name made file-system safe), never an existing
// one (-2, -3, ... appended). Error: the folder and why it cannot be created.
tl::expected<std::filesystem::path, std::string> create_run_dir(const std::filesystem::path& root,
                                                                const std::string& name);

// run.json's header for a scenario about to run: tool, host, start time, scenario name, path,
// text and overrides; complete = false until the caller says otherwise.
result::run new_run(const scenario& sc, const std::filesystem::path& scenario_file);

class variant_executor {
 public:
  // target_bin: lab-target for spawned variants (unused for external URLs); dir: where the
  // variant's interval log, CSV and target log go; progress: the engine's live line on stderr.
  variant_executor(std::filesystem::path target_bin, std::filesystem::path dir, bool progress, std::ostream& out,
                   std::ostream& err);

  // One run of spec (no search), its files named <prefix>.*.
  variant_outcome run(const variant_spec& spec, int repeat, const std::string& prefix);

  // spec's capacity search, one run() per step (<prefix>-sNN.*). `search` is filled as it goes
  // and on_step is called after every step, so the caller can save it; the outcome's variant is
  // the search's representative step, its exit code the representative's verdict.
  variant_outcome run_search(const variant_spec& spec, int repeat, const std::string& prefix,
                             result::search_result& search, const std::function<void()>& on_step);

  // A distributed scenario run (`mpirun -np N loadgen run`, rank 0): each load run is broadcast
  // to the other ranks (follow_runs) and this process runs rank 0's share. Null: a single process.
  void set_link(rank_link* link) noexcept { link_ = link; }
  // A rank was lost in a load run: the job cannot run another (the lost rank would never reach
  // its start), so later runs fail at once and the runner stops after the current variant.
  bool rank_lost() const noexcept { return rank_lost_; }
  // The one-line summary of a measured variant (and its threshold checks) on `out`.
  void print(const result::variant& v);

 private:
  std::filesystem::path target_bin_;
  std::filesystem::path dir_;
  bool progress_ = false;
  std::ostream& out_;
  std::ostream& err_;
  rank_link* link_ = nullptr;
  bool rank_lost_ = false;
};

}  // namespace perflab::loadgen::detail
