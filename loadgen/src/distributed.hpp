#pragma once
// Distributed runs (`mpirun -np N loadgen attack ...`, docs/distributed.md): one run over N
// loadgen processes (ranks), one schedule, one start, one result written by rank 0.
//
// What is split: rank_share_config gives rank r its share of the connections (closed loop), of the
// connection cap (open loop, when one is given) and of a --requests count, and its own seed (rank
// 0 keeps the run's, so its request mix is a single process's); the open-loop schedule is split
// by the workers themselves (arrival_schedule with rank/ranks: rank r of R takes every R-th
// arrival from the r-th, so the merged arrivals are the single-process schedule).
//
// How ranks talk: through rank_link, implemented once with Open MPI (mpi/mpi_link.hpp; the
// only header that includes mpi.h) and once for a single process (mpi/distributed_single.cpp, built
// when PERFLAB_MPI is OFF). run_load calls it at three points: agree_start (a check-in, a ping-pong
// clock-offset estimate and a common start instant), once a second with the rank's merged interval
// (ranks other than 0 send it; rank 0 receives them in a receiver worker that hands them to its
// collector as extra worker slots, so the interval log, CSV, series and totals are merged by the
// same code as a single process's threads), and at the end (finish: totals and per-rank figures).
//
// The wire form of a sample set keeps every histogram encoded (HdrHistogram V2 compressed, as
// the interval log holds them): decoding and adding is lossless.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "engine_internal.hpp"
#include "perflab/core/result.hpp"
#include "perflab/loadgen/engine.hpp"
#include "perflab/loadgen/recorder.hpp"

namespace perflab::loadgen::detail {

// ---- the split (pure functions, unit-tested) ----

// What mpirun told this process before MPI starts (Open MPI's OMPI_COMM_WORLD_SIZE / _RANK): the
// number of ranks (1 when not started by mpirun) and this one's rank (0 then). Lets every rank
// validate the options the same way, and only rank 0 print what was wrong, without MPI.
int launched_ranks() noexcept;
int launched_rank() noexcept;

// Rank r's share of n things over `ranks`: n/ranks, plus one for the first n%ranks ranks.
std::int64_t rank_share(std::int64_t n, int rank, int ranks) noexcept;
// Rank r's seed: rank 0 keeps the run's seed; every other rank gets a distinct one derived from it.
std::uint64_t rank_seed(std::uint64_t seed, int rank) noexcept;
// Whether a run can be split over `ranks` (every rank needs a connection and a request to send):
// an error naming the option otherwise.
tl::expected<void, std::string> check_rank_split(const run_config& cfg, int ranks);
// Rank r's configuration: its shares and seed; ranks other than 0 write no files and print no
// progress (rank 0 writes the merged ones).
run_config rank_share_config(const run_config& cfg, int rank, int ranks);

// ---- when Open MPI ends the job ----

// Open MPI ends a job (a rank exited, e.g. killed; or mpirun got Ctrl-C or SIGTERM) by sending
// every remaining rank SIGCONT, then SIGTERM odls_base_sigkill_timeout seconds later, then SIGKILL
// as long after that (checked with Open MPI 4.1). The time between SIGTERM and SIGKILL is this
// budget: the MCA parameter as mpirun exports it to its ranks (OMPI_MCA_odls_base_sigkill_timeout,
// whole seconds, when set on its command line or environment), else its default, 1 s. A signal
// stops a rank's load and its drain takes at most teardown_drain_ns (shared_setup::
// signal_drain_ns); rank 0 waits for the other ranks' final reports for teardown_wait_ns from
// when it sees the signal, declares the silent ones lost, and has the rest of the budget to write
// (measured on a busy 2-core machine: 0.1-0.4 s from the end of the wait to run.json).
std::int64_t teardown_budget_ns() noexcept;
std::int64_t teardown_budget_ns(const char* sigkill_timeout_s) noexcept;  // the variable's value (null: unset)
inline std::int64_t teardown_drain_ns(std::int64_t budget_ns) noexcept { return budget_ns / 10; }
inline std::int64_t teardown_wait_ns(std::int64_t budget_ns) noexcept { return budget_ns * 2 / 5; }

// ---- the wire form ----

// A sample set as bytes: counts, then each histogram as its V2 compressed encoding. end_ns is
// sent relative to time_base_ns (steady clocks of two hosts are not comparable) and restored
// relative to the receiver's base by decode_sample_set.
std::string encode_sample_set(const sample_set& s, std::int64_t time_base_ns);
tl::expected<void, std::string> decode_sample_set(std::string_view bytes, std::int64_t time_base_ns, sample_set& out);

// What a rank reports at the end of its run besides its totals.
struct rank_final {
  std::string host;                   // hostname
  int threads = 0;                    // worker threads
  std::int64_t connections = 0;       // connections (closed) or connection cap (open)
  double cpu_user_s = 0, cpu_system_s = 0;  // over the measured phase
  bool saturated = false;             // its own verdict (send lag p99, unsent, loadgen resources)
  bool interrupted = false;
  bool quota_reached = false;         // its share of --requests was sent
  std::int64_t stop_rel_ns = 0;       // when its load stopped, from the measured phase start
  std::int64_t last_measured_rel_ns = 0;  // its last measured response, from the measured phase start
};
// This process's figures at the end of run_load: its local workers are the first `threads`
// (rank 0's receiver comes after them), own_totals their totals, v the result built so far.
rank_final own_rank_final(const std::vector<std::unique_ptr<load_worker>>& workers, int threads,
                          const sample_set& own_totals, const shared_setup& s, const result::variant& v);
std::string encode_rank_final(const rank_final& f, const sample_set& totals, std::int64_t time_base_ns);
tl::expected<void, std::string> decode_rank_final(std::string_view bytes, rank_final& f, sample_set& totals);

// One rank's line of run.json's per-rank breakdown, from its totals and final report.
result::rank_summary summarize_rank(int rank, const rank_final& f, const sample_set& totals, double rate_share);

// ---- a scenario run (`mpirun -np N loadgen run`) ----

// The version of the distributed wire formats (the run configuration, a sample set, a final
// report). Every rank of a job must speak the same one: agree_start refuses a job whose ranks
// differ (loadgen binaries of different builds), and a run configuration carries it after a magic
// word. Bump it whenever one of the three formats changes.
inline constexpr std::uint32_t dist_wire_version = 9;
inline constexpr std::uint32_t run_config_magic = 0x63726c70;  // "plrc" in little-endian bytes

// A load run's configuration as bytes, for rank 0 to broadcast at each load run of a scenario
// (every variant, repeat and search step): the magic word, the wire version, then the whole
// run_config but what stays with rank 0 (output files, progress, the callbacks, the link). The
// receivers take their share of it; a message with another magic word or version is refused with
// an error that says so.
std::string encode_run_config(const run_config& c);
tl::expected<run_config, std::string> decode_run_config(std::string_view bytes);

class rank_link;
// Ranks other than 0 of a scenario run: receive a configuration, run their share of it (run_load
// with the link), until rank 0 says done; then leave the job. Returns the exit code.
int follow_runs(rank_link& link);

// ---- the link ----

class rank_link {
 public:
  virtual ~rank_link() = default;
  virtual int rank() const noexcept = 0;
  virtual int ranks() const noexcept = 0;
  // Every rank, once its set-up is done: waits for all, estimates the clock offsets (rank 0),
  // agrees on a start instant ahead and returns it as this process's steady ns. Nothing when
  // there is no start: rank 0 gave up on a rank that did not check in within rank_timeout_ns (or
  // broke off in the ping-pong), or a stop signal came (to this rank, or to rank 0, which then
  // tells the others). Rank 0 then has the lost ranks for finish, which marks the run incomplete;
  // the others send nothing more.
  virtual std::optional<std::int64_t> agree_start(std::int64_t rank_timeout_ns) = 0;
  // Ranks other than 0: hand one merged interval (or the drain) to rank 0.
  virtual void send_interval(const sample_set& merged, std::int64_t measure_start_ns) = 0;
  // Rank 0: a worker that stands for every other rank, handing their intervals to `coll`'s slots
  // first_slot .. first_slot + ranks - 2 and declaring a rank lost when it is silent for longer
  // than the heartbeat deadline.
  virtual std::unique_ptr<load_worker> make_receiver(const shared_setup& s, int first_slot) = 0;
  // Every rank at the end: ranks other than 0 send their totals and figures (not when there was
  // no start); rank 0 adds the others' CPU, threads and connections to v, ORs their saturation,
  // fills v.ranks and marks the run incomplete when a rank was lost (naming it and the phase it
  // was lost in) or there was no start.
  virtual void finish(result::variant& v, const rank_final& own, const sample_set& own_totals,
                      std::int64_t measure_start_ns) = 0;
  // Scenario runs: rank 0 hands `bytes` to every other rank, which receive them (their argument
  // is ignored); empty bytes mean "done". Every rank calls it, rank 0 returns what it gave.
  virtual std::string broadcast_work(std::string bytes) = 0;
  // A rank that cannot take part (set-up failed) ends the whole job with this exit code.
  [[noreturn]] virtual void abort_all(int exit_code) = 0;
  // After rank 0 wrote its outputs: ends the job (MPI_Finalize; MPI_Abort when a rank was lost,
  // so a stalled one does not keep mpirun waiting).
  virtual void close(int exit_code) = 0;
};

// This process's link: an Open MPI one when started by mpirun with 2 or more processes (and
// built with PERFLAB_MPI), otherwise null (a single process, exactly as without MPI).
std::unique_ptr<rank_link> join_ranks();

}  // namespace perflab::loadgen::detail
