#pragma once
// The scenario runner behind `loadgen run`: validates every variant of a scenario, then for each
// variant (and repeat) spawns the lab target pinned to its CPUs, waits for its health check, runs
// the engine (warm-up, then the measured phase), stops the target and records what it cost
// (CPU, peak RSS, threads). run.json is rewritten after every variant, so an interrupted run
// leaves valid files marked incomplete. At the end it prints the comparison table and the
// strongest findings, renders the report and writes the CI files asked for (JUnit XML, Markdown
// summary). With dry_run it stops after validation and prints the plan instead. docs/scenarios.md
// describes the results layout and exit codes, docs/reports.md the report and CI formats.
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace perflab::loadgen {

struct runner_options {
  std::filesystem::path scenario_file;
  std::vector<std::string> overrides;           // --set key=value
  std::filesystem::path output_root = "results";  // the run goes to <root>/<UTC stamp>-<name>/
  std::filesystem::path target_bin;             // --target-bin (empty: PERFLAB_TARGET_BIN, then next to loadgen)
  bool progress = false;                        // the engine's live line on stderr
  bool report = true;                           // render report.md / report.html at the end
  bool dry_run = false;                         // validate, print the variant plan (plan.hpp), start nothing
  std::filesystem::path junit_file;             // --junit: thresholds and statuses as JUnit XML (empty: none)
  std::filesystem::path summary_md_file;        // --summary-md: Markdown summary for CI job pages (empty: none)
};

struct runner_outcome {
  int exit_code = 0;                  // perflab/core/exit_codes.hpp, combined over all variants
  std::filesystem::path run_dir;      // empty when nothing was run (bad scenario, dry run)
};

// Runs the scenario; progress and results go to `out`, problems to `err`.
runner_outcome run_scenario(const runner_options& opts, std::ostream& out, std::ostream& err);

// Where lab-target is: `explicit_bin` if given, else $PERFLAB_TARGET_BIN, else
// <dir of /proc/self/exe>/../targets/lab-target (the build tree layout). Error: not found, with
// the places tried.
tl::expected<std::filesystem::path, std::string> find_target_bin(const std::filesystem::path& explicit_bin);

// Parses "listening http://HOST:PORT" into {host, port}; lab-target --grpc-port adds
// " grpc http://HOST:PORT" on the same line (its gRPC server's address).
struct listen_address {
  std::string host;
  int port = 0;
  int grpc_port = 0;        // 0: no gRPC address on the line
  std::string url() const;  // "http://HOST:PORT"
  std::string grpc_url() const;  // "http://HOST:GRPC_PORT" (gRPC over h2c)
};
std::optional<listen_address> parse_listening_line(const std::string& line);

}  // namespace perflab::loadgen
