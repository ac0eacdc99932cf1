// loadgen: perflab's load generator and lab runner.
//   loadgen attack URL ...       ad-hoc open- or closed-loop load
//   loadgen run SCENARIO ...     run a scenario file (spawns targets), write results and report
//   loadgen report RESULTS...    render report.md and report.html
//   loadgen compare BASE CAND    compare two runs, verdict in the exit code
//   loadgen ab SCENARIO ...      interleaved A/B run of two builds or services, verdict in the exit code
//   loadgen subscribe URL ...    push delivery (SSE, long or short polling) with a built-in publisher
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "perflab/core/build_info.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/loadgen/commands.hpp"
#include "perflab/loadgen/engine.hpp"

namespace {
// What the first stop signal prints. Under mpirun (Open MPI's variables) only rank 0 says
// anything: it stops the other ranks, gathers their counts and writes (no second Ctrl-C to wait
// for: Open MPI may be ending the job, and kills it a second later).
std::string_view stop_hint = "\nloadgen: stopping; waiting for responses in flight (Ctrl-C again to stop waiting)\n";

// Under mpirun: Open MPI's SIGCONT comes before its SIGTERM when it ends the job.
extern "C" void on_continue_signal(int) { perflab::loadgen::note_continue_signal(); }

extern "C" void on_stop_signal(int) {
  if (perflab::loadgen::note_interrupt_signal() == 1 && !stop_hint.empty()) {
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, stop_hint.data(), stop_hint.size());
  }
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"perflab loadgen: open- and closed-loop HTTP load with honest latency", "loadgen"};
  app.set_version_flag("--version", std::string(perflab::build_info::version()) + " (" + perflab::build_info::commit() + ")");
  app.require_subcommand(1);
  int exit_code = perflab::exit_code::ok;
  perflab::loadgen::add_attack_command(app, exit_code);
  perflab::loadgen::add_run_command(app, exit_code);
  perflab::loadgen::add_report_command(app, exit_code);
  perflab::loadgen::add_compare_command(app, exit_code);
  perflab::loadgen::add_ab_command(app, exit_code);
  perflab::loadgen::add_subscribe_command(app, exit_code);

  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  if (const char* ranks = std::getenv("OMPI_COMM_WORLD_SIZE"); ranks != nullptr && std::atoi(ranks) > 1) {
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    stop_hint = rank != nullptr && std::atoi(rank) == 0
                    ? "\nloadgen: stopped by a signal; asking the other ranks for their counts and writing what was "
                      "measured\n"
                    : "";
    sa.sa_handler = on_continue_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCONT, &sa, nullptr);
    sa.sa_flags = 0;
  }
  sa.sa_handler = on_stop_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints help/version with exit 0; every other parse error is a usage error.
    int rc = app.exit(e);
    return rc == 0 ? 0 : perflab::exit_code::usage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loadgen: %s\n", e.what());
    return perflab::exit_code::runtime_error;
  }
  return exit_code;
}
