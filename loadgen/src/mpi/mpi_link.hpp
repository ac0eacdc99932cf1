#pragma once
// rank_link on Open MPI (see ../distributed.hpp for the design), in two files: distributed_mpi.cpp
// (the link: start, stop, heartbeat, finish, end of the job) and distributed_mpi_receiver.cpp
// (rank 0's receiver of the other ranks' seconds). The only header that includes mpi.h.
//
// MPI is initialised only when the process was started by mpirun with 2 or more ranks
// (OMPI_COMM_WORLD_SIZE): a loadgen started on its own never calls MPI at all, exactly as a
// build without MPI. Threads: MPI_THREAD_SERIALIZED. The main thread calls MPI before the workers
// start and after they are joined; during the run, on rank 0 only the receiver worker does, on the
// others the collecting (main) thread, which sends its seconds, and the link's watcher thread
// (heartbeats, rank 0's stop message), serialized by a mutex.
//
// No call that can wait for another rank blocks without a deadline on rank 0: the start is a
// check-in message from every rank (rank 0 knows which one is missing, which a barrier would not
// tell), a ping-pong and a start message, all polled (MPI_Test) against --rank-timeout and the
// stop signals; the run's messages are received with MPI_Improbe / MPI_Imrecv and a deadline; MPI
// errors are returned, not fatal. The blocking calls left are the other ranks' sends to rank 0 (if
// rank 0 is gone, so is the result) and a scenario's broadcast of the next load run, which the
// other ranks wait in while rank 0 writes (rank 0's broadcast is skipped once a rank was lost or
// a stop signal came).
//
// When a rank dies (or mpirun is interrupted) Open MPI ends the job: SIGCONT, SIGTERM a second
// later, SIGKILL a second after that (teardown_budget_ns in ../distributed.hpp). The signal
// handlers (main.cpp) only note the signals; rank 0 sees the stop on its next poll, tells the
// other ranks to stop (a stop message: needed when the SIGTERM came to rank 0 alone), waits for
// their final reports, declares the silent ones lost and writes what was measured. It waits
// teardown_wait_ns of the budget when a SIGCONT came just before (Open MPI ending the job), and
// up to --rank-timeout otherwise (a signal to rank 0 alone: the others are there to report).
#define OMPI_SKIP_MPICXX 1  // the C API only: Open MPI's mpi.h would otherwise pull in its deprecated C++ bindings
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../distributed.hpp"

namespace perflab::loadgen::detail {

// The messages between rank 0 and another rank, by tag.
inline constexpr int dist_tag_ping = 1;       // rank 0 -> r: its wall clock (int64 ns), at the start
inline constexpr int dist_tag_pong = 2;       // r -> rank 0: r's wall clock, in answer
inline constexpr int dist_tag_interval = 3;   // r -> rank 0: a measured second (encode_sample_set)
inline constexpr int dist_tag_final = 4;      // r -> rank 0: its final report (encode_rank_final)
inline constexpr int dist_tag_ready = 5;      // r -> rank 0: its check-in at the start (dist_check_in)
inline constexpr int dist_tag_start = 6;      // rank 0 -> r: the start (dist_start_message)
inline constexpr int dist_tag_stop = 7;       // rank 0 -> r: stop the load and report (empty)
inline constexpr int dist_tag_heartbeat = 8;  // r -> rank 0: alive, before its first measured second (empty)

// A rank's check-in: it is set up and waits for the start.
struct dist_check_in {
  char host[64] = {};                          // hostname, NUL-terminated
  std::uint32_t wire_version = 0;              // dist_wire_version of its build
};
// Rank 0's start for one rank.
struct dist_start_message {
  std::int64_t start_wall_ns = 0;              // the start, on rank 0's wall clock
  std::int64_t offset_ns = 0;                  // this rank's wall clock minus rank 0's (ping-pong estimate)
};

// Why rank 0 gave up on a rank.
enum class dist_lost_cause : std::uint8_t {
  none,
  silent,   // nothing came from it for the rank timeout (stopped, hung, or on a cut network)
  stopped,  // no final report by the deadline after a stop signal (it died: Open MPI ends the job)
  message,  // a message from it (or the start's ping-pong) began but never completed, or MPI reported an error
  absent,   // it did not check in at the start within the rank timeout
};

// When rank 0 last heard from a lost rank: the phase it was lost in.
enum class dist_phase : std::uint8_t { start, warmup, measured, drain };
const char* dist_phase_words(dist_phase p) noexcept;  // "before the start", "in the warm-up", ...

// What rank 0 knows of another rank while the run goes on.
struct dist_remote_rank {
  bool checked_in = false;             // its check-in arrived (this run's start)
  bool done = false;                   // its final report arrived
  bool lost = false;                   // given up on (cause and phase say why and when)
  bool stop_sent = false;              // rank 0 told it to stop
  dist_lost_cause cause = dist_lost_cause::none;
  dist_phase phase = dist_phase::start;
  std::int64_t last_heard_ns = 0;      // steady ns of its last message
  std::unique_ptr<sample_set> so_far;  // its seconds so far (a lost rank's totals); freed at its final report
  rank_final final;
  result::rank_summary summary;
  std::int64_t last_index = -1;        // last interval index it handed over
};

class mpi_link final : public rank_link {
 public:
  mpi_link();
  ~mpi_link() override;

  int rank() const noexcept override { return rank_; }
  int ranks() const noexcept override { return size_; }
  std::optional<std::int64_t> agree_start(std::int64_t rank_timeout_ns) override;
  void send_interval(const sample_set& merged, std::int64_t measure_start_ns) override;
  std::unique_ptr<load_worker> make_receiver(const shared_setup& s, int first_slot) override;
  void finish(result::variant& v, const rank_final& own_in, const sample_set& own_totals,
              std::int64_t measure_start_ns) override;
  std::string broadcast_work(std::string bytes) override;
  [[noreturn]] void abort_all(int exit_code) override;
  void close(int exit_code) override;

  // Rank 0, after a stop signal: how long it waits for the others' final reports.
  std::int64_t stop_wait_ns() const noexcept;
  // Rank 0: tells rank r to stop its load and report (once; a rank that already reported ignores it).
  void send_stop(int r);
  // A request that never completed: MPI may still write into its buffer, so it is kept until the
  // process ends (the job ends after a lost rank anyway).
  void abandon(MPI_Request& req, std::unique_ptr<std::string> buffer);
  std::vector<dist_remote_rank>& remotes() noexcept { return remotes_; }
  std::int64_t rank_timeout_ns() const noexcept { return rank_timeout_ns_; }

 private:
  std::optional<std::int64_t> lead_start();
  std::optional<std::int64_t> follow_start();
  bool ping(int r, std::int64_t deadline_ns, std::int64_t& best_rtt, std::int64_t& best_offset);
  std::optional<std::int64_t> give_up_start(const char* why);
  void start_watcher();
  void stop_watcher();

  int rank_ = 0, size_ = 1;
  bool closed_ = false, any_lost_ = false, started_ = false;
  std::int64_t teardown_budget_ns_ = teardown_budget_ns();
  std::vector<std::unique_ptr<std::string>> abandoned_;
  std::vector<MPI_Request> abandoned_collectives_;  // an MPI_Ibcast given up on: not freeable  // buffers of requests that never completed
  // The run's --rank-timeout: a rank silent this long is lost (the drain timeout is added past
  // the planned end); rank 0 waits this long for the check-ins at the start.
  std::int64_t rank_timeout_ns_ = 5'000'000'000;
  std::vector<dist_remote_rank> remotes_;
  dist_check_in check_in_out_;  // this rank's check-in, sent without waiting (rank 0 receives it before the start)
  // Ranks other than 0, from the start to their final report: the watcher sends a heartbeat a
  // second until the first measured second goes out, and turns rank 0's stop message into a stop
  // signal. mpi_mutex_ serializes its MPI calls with the collecting thread's.
  std::thread watcher_;
  std::mutex mpi_mutex_;
  std::atomic<bool> watcher_quit_{false}, measuring_{false};
};

// Rank 0's worker standing for every other rank: receives their seconds and final reports and
// hands the seconds to the collector, one slot per rank, exactly as a local worker would.
class dist_receiver final : public load_worker {
 public:
  dist_receiver(mpi_link& link, const shared_setup& s, int first_slot) : link_(link), s_(s), first_slot_(first_slot) {}
  void run() override;
  const sample_set& totals() const noexcept override { return totals_; }
  bool interrupted() const noexcept override { return interrupted_; }
  std::int64_t stop_ns() const noexcept override { return stop_ns_; }
  bool quota_reached() const noexcept override { return quota_reached_; }
  std::int64_t last_measured_end_ns() const noexcept override { return last_measured_end_ns_; }

 private:
  bool receive(MPI_Message& msg, const MPI_Status& st, std::int64_t give_up_ns);
  void on_message(int from, std::string_view bytes, int tag);
  void declare_lost(int from, std::int64_t now, dist_lost_cause cause);
  dist_phase phase_at(std::int64_t t) const noexcept;

  mpi_link& link_;
  const shared_setup& s_;
  int first_slot_;
  std::unique_ptr<sample_set> spare_ = std::make_unique<sample_set>();
  std::unique_ptr<std::string> buffer_ = std::make_unique<std::string>();  // the message being received
  sample_set totals_;
  bool interrupted_ = false, quota_reached_ = true;
  std::int64_t stop_ns_ = rate_profile::never, last_measured_end_ns_ = 0;
};

}  // namespace perflab::loadgen::detail
