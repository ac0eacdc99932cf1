// `loadgen run`: the scenario runner. Start-up code, not a hot path: it may allocate, format and
// block; the engine does the measuring.
#include "perflab/loadgen/runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <ostream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "perflab/core/exit_codes.hpp"
#include "perflab/core/result_io.hpp"
#include "perflab/core/units.hpp"
#include "perflab/core/verdict.hpp"
#include "perflab/loadgen/engine.hpp"
#include "perflab/loadgen/plan.hpp"
#include "perflab/loadgen/scenario.hpp"
#include "perflab/loadgen/spawn.hpp"
#include "distributed.hpp"
#include "scenario_services.hpp"
#include "variant_executor.hpp"

#if __has_include("perflab/analysis/report.hpp")
#include "perflab/analysis/capacity.hpp"
#include "perflab/analysis/ci_formats.hpp"
#include "perflab/analysis/findings.hpp"
#include "perflab/analysis/report.hpp"
#define PERFLAB_HAVE_ANALYSIS 1
#endif

namespace perflab::loadgen {
namespace {

namespace fs = std::filesystem;
using detail::variant_outcome;

class scenario_runner {
 public:
  scenario_runner(const runner_options& opts, std::ostream& out, std::ostream& err,
                  detail::rank_link* link = nullptr)
      : opts_(opts), out_(out), err_(err), link_(link) {}

  runner_outcome run() {
    runner_outcome outcome;
    auto sc = load_scenario(opts_.scenario_file, opts_.overrides);
    if (!sc) {
      err_ << "loadgen run: " << sc.error().to_string() << "\n";
      outcome.exit_code = exit_code::usage;
      return outcome;
    }
    sc_ = std::move(*sc);
    if (auto rc = prepare(); rc != exit_code::ok) {
      outcome.exit_code = rc;
      return outcome;
    }
    if (opts_.dry_run) {
      // Everything a run checks before its first variant has been checked: say what it would do.
      out_ << format_plan(sc_);
      out_.flush();
      return outcome;
    }

    auto dir = detail::create_run_dir(opts_.output_root, sc_.name);
    if (!dir) {
      err_ << "loadgen run: " << dir.error() << "\n";
      outcome.exit_code = exit_code::runtime_error;
      return outcome;
    }
    dir_ = *dir;
    outcome.run_dir = dir_;
    exec_.emplace(target_bin_, dir_, opts_.progress, out_, err_);
    exec_->set_link(link_);
    run_ = detail::new_run(sc_, opts_.scenario_file);
    int rc = exit_code::ok;
    if (!save()) rc = exit_code::runtime_error;

    // [[service]]: the backing servers, before the first variant; stopped when this returns,
    // whatever ended the run.
    detail::service_set services;
    if (!sc_.services.empty()) {
      out_ << fmt::format("services: starting {} (scripts/services.sh; its output in {})\n", sc_.services.size(),
                          (dir_ / "services.log").string());
      out_.flush();
      if (auto started = services.start(sc_.services, sc_.name, dir_ / "services.log"); !started) {
        err_ << "loadgen run: " << started.error() << "\n";
        run_.complete = false;
        save();
        outcome.exit_code = exit_code::runtime_error;
        return outcome;
      }
      for (auto& v : sc_.variants) services.apply(v);
    }

    // [load] auth's jwt-* keys: made when missing, before a target is given their public half.
    for (const auto& v : sc_.variants) {
      if (auto made = ensure_auth_key(v.load.auth); !made) {
        err_ << "loadgen run: " << v.name << ": " << made.error() << "\n";
        run_.complete = false;
        save();
        outcome.exit_code = exit_code::runtime_error;
        return outcome;
      }
    }

    const std::size_t total = sc_.variants.size() * static_cast<std::size_t>(sc_.repeats);
    out_ << fmt::format("perflab run: {} ({} variant{}{}), results in {}\n", sc_.name, sc_.variants.size(),
                        sc_.variants.size() == 1 ? "" : "s",
                        sc_.repeats > 1 ? fmt::format(" x {} repeats", sc_.repeats) : "", dir_.string());
    out_.flush();
    bool interrupted = false;
    bool all_complete = true;
    std::size_t n = 0;
    for (const auto& spec : sc_.variants) {
      for (int r = 0; r < sc_.repeats && !interrupted; ++r) {
        if (interrupt_flag().load()) {
          interrupted = true;
          break;
        }
        ++n;
        out_ << fmt::format("[{}/{}] {}{}\n", n, total, spec.name, sc_.repeats > 1 ? fmt::format(" (repeat {})", r + 1) : "");
        out_.flush();
        variant_outcome vo = spec.search ? run_search_variant(spec, r) : exec_->run(spec, r, file_prefix(spec, r));
        rc = exit_code::combine(rc, vo.exit_code);
        interrupted = interrupted || vo.interrupted;
        all_complete = all_complete && vo.v.complete;
        if (!spec.search) exec_->print(vo.v);
        run_.variants.push_back(std::move(vo.v));
        if (!save()) rc = exit_code::combine(rc, exit_code::runtime_error);
        if (exec_->rank_lost()) break;  // mpirun: the job cannot start another load run
      }
      if (interrupted) break;
      if (exec_->rank_lost()) {
        err_ << "loadgen run: a rank was lost; no further variants run in this job (the run is marked incomplete)\n";
        break;
      }
    }
    run_.complete = !interrupted && all_complete && run_.variants.size() == total;
    if (!save()) rc = exit_code::combine(rc, exit_code::runtime_error);
    if (interrupted) {
      err_ << "loadgen run: interrupted; results so far are in " << dir_.string() << " (marked incomplete)\n";
      rc = exit_code::combine(rc, exit_code::interrupted);
    }
    rc = exit_code::combine(rc, finish());
    outcome.exit_code = rc;
    return outcome;
  }

 private:
  // Checks what only the machine can tell (CPUs, the target binary and its options) before any
  // variant runs, and fills in default pinning.
  int prepare() {
    // Under mpirun, only rank 0 would see a stop condition hold: its load would stop and the
    // other ranks' would not, so the merged phase would mean nothing.
    for (const auto& v : sc_.variants) {
      if (link_ != nullptr && !v.stop_when.empty()) {
        err_ << "loadgen run: " << v.name << ": [load] stop_when is not supported in a distributed run (mpirun -np "
             << link_->ranks() << "); expected a scenario without it, or a single process\n";
        return exit_code::usage;
      }
    }
    bool any_spawn = false;
    for (const auto& v : sc_.variants) any_spawn = any_spawn || v.target.spawn;
    std::set<std::string> known_opts;
    if (any_spawn) {
      auto bin = find_target_bin(opts_.target_bin);
      if (!bin) {
        err_ << "loadgen run: " << bin.error() << "\n";
        return exit_code::runtime_error;
      }
      target_bin_ = *bin;
      known_opts = detail::target_options(target_bin_);
    }
    return detail::prepare_variants(sc_.variants, opts_.scenario_file, known_opts, target_bin_, "loadgen run", err_);
  }

  bool save() {
    auto ok = result::write_run_json(dir_ / "run.json", run_);
    if (!ok) err_ << "loadgen run: " << ok.error() << "\n";
    return ok.has_value();
  }

  std::string file_prefix(const variant_spec& spec, int repeat) const {
    return spec.file_prefix + (sc_.repeats > 1 ? fmt::format("-r{}", repeat + 1) : "");
  }

  // A capacity search: one run per step (search_runner.cpp decides which), run.json rewritten
  // after each; the variant's entry is the search's representative step.
  variant_outcome run_search_variant(const variant_spec& spec, int repeat) {
    run_.searches.emplace_back();
    const std::size_t at = run_.searches.size() - 1;
    result::search_result search;
    variant_outcome vo = exec_->run_search(spec, repeat, file_prefix(spec, repeat), search, [&] {
      run_.searches[at] = search;
      save();
    });
    run_.searches[at] = std::move(search);
    return vo;
  }

  int finish() {
    int rc = exit_code::ok;
#ifdef PERFLAB_HAVE_ANALYSIS
    out_ << "\n" << analysis::comparison_table(run_);
    if (auto capacity = analysis::capacity_text(run_); !capacity.empty()) out_ << "\n" << capacity;
    if (auto findings = analysis::findings_text(run_); !findings.empty()) out_ << "\n" << findings;
    // The exit code says what the numbers amount to, as JUnit and the summary do.
    rc = exit_code::combine(rc, analysis::verdict_exit_code(run_));
    if (opts_.report) {
      auto paths = analysis::render_report({dir_}, dir_);
      if (paths) {
        out_ << "report: " << paths->markdown.string() << "\n";
        out_ << "report: " << paths->html.string() << "\n";
      } else {
        err_ << "loadgen run: report: " << paths.error() << "\n";
        rc = exit_code::runtime_error;
      }
    }
    rc = exit_code::combine(rc, write_ci_files());
#else
    out_ << "\n(report and comparison table: the analysis module is not in this build)\n";
    if (!opts_.junit_file.empty() || !opts_.summary_md_file.empty()) {
      err_ << "loadgen run: --junit and --summary-md need the analysis module, which is not in this build\n";
      rc = exit_code::runtime_error;
    }
#endif
    out_ << "results: " << (dir_ / "run.json").string() << "\n";
    out_.flush();
    return rc;
  }

#ifdef PERFLAB_HAVE_ANALYSIS
  // --junit and --summary-md, after the report; a file that cannot be written is a runtime error.
  int write_ci_files() {
    int rc = exit_code::ok;
    auto write = [&](const fs::path& file, const std::string& text, const char* what) {
      if (file.empty()) return;
      if (auto w = analysis::write_text_file(file, text); !w) {
        err_ << "loadgen run: " << what << ": " << w.error() << "\n";
        rc = exit_code::runtime_error;
      } else {
        out_ << what << ": " << file.string() << "\n";
      }
    };
    write(opts_.junit_file, analysis::junit_xml(run_), "junit");
    write(opts_.summary_md_file, analysis::summary_markdown(run_), "summary");
    return rc;
  }
#endif

  const runner_options& opts_;
  std::ostream& out_;
  std::ostream& err_;
  scenario sc_;
  fs::path dir_;
  fs::path target_bin_;
  detail::rank_link* link_ = nullptr;              // mpirun -np N: rank 0's link to the others
  std::optional<detail::variant_executor> exec_;  // once the run directory exists
  result::run run_;
};

}  // namespace

std::string listen_address::url() const {
  return host.find(':') != std::string::npos ? fmt::format("http://[{}]:{}", host, port)
                                             : fmt::format("http://{}:{}", host, port);
}

std::string listen_address::grpc_url() const {
  return host.find(':') != std::string::npos ? fmt::format("http://[{}]:{}", host, grpc_port)
                                             : fmt::format("http://{}:{}", host, grpc_port);
}

std::optional<listen_address> parse_listening_line(const std::string& line_in) {
  // lab-target --grpc-port: "listening http://H:P grpc http://H:Q"; the gRPC port is read from
  // the second address (same host).
  std::string line = line_in;
  int grpc_port = 0;
  if (const auto g = line.find(" grpc http://"); g != std::string::npos) {
    auto second = parse_listening_line("listening " + line.substr(g + 6));
    if (!second) return std::nullopt;
    grpc_port = second->port;
    line.resize(g);
  }
  const std::string prefix = "listening http://";
  if (line.rfind(prefix, 0) != 0) return std::nullopt;
  std::string rest = line.substr(prefix.size());
  while (!rest.empty() && (rest.back() == '/' || rest.back() == ' ')) rest.pop_back();
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= rest.size()) return std::nullopt;
  listen_address a;
  a.host = rest.substr(0, colon);
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  std::string port = rest.substr(colon + 1);
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) || port.size() > 5)
    return std::nullopt;
  a.port = std::stoi(port);
  if (a.port <= 0 || a.port > 65535) return std::nullopt;
  a.grpc_port = grpc_port;
  return a;
}

tl::expected<fs::path, std::string> find_target_bin(const fs::path& explicit_bin) {
  auto usable = [](const fs::path& p) { return !p.empty() && ::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p); };
  if (!explicit_bin.empty()) {
    if (usable(explicit_bin)) return explicit_bin;
    return tl::unexpected(fmt::format("--target-bin {}: not an executable file", explicit_bin.string()));
  }
  if (const char* env = std::getenv("PERFLAB_TARGET_BIN"); env && *env) {
    if (usable(env)) return fs::path(env);
    return tl::unexpected(fmt::format("PERFLAB_TARGET_BIN={}: not an executable file", env));
  }
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> tried;
  if (!ec) {
    tried.push_back(self.parent_path().parent_path() / "targets" / "lab-target");
    tried.push_back(self.parent_path() / "lab-target");
  }
  for (const auto& p : tried)
    if (usable(p)) return p.lexically_normal();
  std::string places;
  for (const auto& p : tried) places += (places.empty() ? "" : ", ") + p.lexically_normal().string();
  return tl::unexpected(fmt::format("lab-target not found (tried {}); build it (cmake --build ... --target lab-target), "
                                    "or pass --target-bin PATH or set PERFLAB_TARGET_BIN",
                                    places.empty() ? "nothing: /proc/self/exe unreadable" : places));
}

runner_outcome run_scenario(const runner_options& opts, std::ostream& out, std::ostream& err) {
  // `mpirun -np N loadgen run` (docs/distributed.md): rank 0 runs the scenario as a single process
  // would, and broadcasts each load run to the other ranks, which only follow.
  auto link = detail::join_ranks();
  if (!link) return scenario_runner(opts, out, err).run();
  runner_outcome outcome;
  if (link->rank() != 0) {
    outcome.exit_code = detail::follow_runs(*link);
    return outcome;
  }
  outcome = scenario_runner(opts, out, err, link.get()).run();
  link->broadcast_work({});  // done: the followers leave
  out.flush();
  link->close(outcome.exit_code);
  return outcome;
}

}  // namespace perflab::loadgen
