// rank_link on Open MPI: the only file that includes mpi.h (see ../distributed.hpp for the design).
// MPI is initialised only when the process was started by mpirun with 2 or more ranks
// (OMPI_COMM_WORLD_SIZE): a loadgen started on its own never calls MPI at all, exactly as a
// build without MPI. Threads: MPI_THREAD_SERIALIZED. The main thread calls MPI before the workers
// start and after they are joined; during the run only one thread does: on rank 0 the receiver
// worker, on the others the collecting (main) thread, which sends its seconds.
//
// When a rank dies (or mpirun is interrupted) Open MPI ends the job: SIGCONT, SIGTERM a second
// later, SIGKILL a second after that (teardown_budget_ns in ../distributed.hpp). The SIGTERM
// handler (main.cpp) only counts the signal; rank 0's receiver sees the count on its next poll,
// waits for the others' final reports for teardown_wait_ns of the budget, declares the silent
// ones lost and returns, so the main thread writes what was measured before the kill. Rank 0
// receives with MPI_Improbe / MPI_Imrecv and a deadline, and MPI errors are returned, not fatal:
// a rank that dies in the middle of a message is declared lost rather than blocking rank 0. The
// blocking calls left are the start (a rank dying then leaves nothing measured, and Open MPI
// ends the job) and the other ranks' sends to rank 0 (if rank 0 is gone, so is the result).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

// The C API only: Open MPI's mpi.h would otherwise pull in its deprecated C++ bindings (and need libmpi_cxx).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <fmt/format.h>

#include "../distributed.hpp"
#include "perflab/core/clock.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/core/units.hpp"

namespace perflab::loadgen::detail {

namespace {

constexpr int dist_tag_ping = 1, dist_tag_pong = 2, dist_tag_interval = 3, dist_tag_final = 4;
constexpr int dist_pings = 8;  // ping-pongs per rank; the one with the shortest round trip gives the offset

std::int64_t dist_wall_ns() noexcept {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

std::string dist_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

// Why rank 0 gave up on a rank.
enum class dist_lost_cause : std::uint8_t {
  none,
  silent,   // nothing came from it for the rank timeout (stopped, hung, or on a cut network)
  stopped,  // no final report by the deadline after a stop signal (it died: Open MPI ends the job)
  message,  // a message from it began but never completed, or MPI reported an error on it
};

// What rank 0 knows of another rank while the run goes on.
struct dist_remote_rank {
  bool done = false;                   // its final report arrived
  bool lost = false;                   // given up on (cause says why)
  dist_lost_cause cause = dist_lost_cause::none;
  std::int64_t last_heard_ns = 0;      // steady ns of its last message
  std::unique_ptr<sample_set> so_far;  // its seconds so far (a lost rank's totals); freed at its final report
  rank_final final;
  result::rank_summary summary;
  std::int64_t last_index = -1;        // last interval index it handed over
};

class mpi_link;

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

  mpi_link& link_;
  const shared_setup& s_;
  int first_slot_;
  std::unique_ptr<sample_set> spare_ = std::make_unique<sample_set>();
  std::unique_ptr<std::string> buffer_ = std::make_unique<std::string>();  // the message being received
  sample_set totals_;
  bool interrupted_ = false, quota_reached_ = true;
  std::int64_t stop_ns_ = rate_profile::never, last_measured_end_ns_ = 0;
};

class mpi_link final : public rank_link {
 public:
  mpi_link() {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (provided < MPI_THREAD_SERIALIZED) {
      std::fprintf(stderr, "loadgen: this Open MPI does not support MPI_THREAD_SERIALIZED\n");
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    // A failed call returns its error instead of ending the process: rank 0's receiver then gives
    // up on the rank it was receiving from and keeps what the others measured.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    remotes_.resize(static_cast<std::size_t>(size_));
  }
  ~mpi_link() override {
    if (!closed_) close(0);
  }

  int rank() const noexcept override { return rank_; }
  int ranks() const noexcept override { return size_; }

  std::int64_t agree_start() override {
    // A scenario runs several loads over one link: each starts with no rank heard from.
    for (auto& rr : remotes_) rr = dist_remote_rank{};
    MPI_Barrier(MPI_COMM_WORLD);
    // Hostnames, so a lost rank's line still says where it ran.
    char host[64] = {};
    const std::string my_host = dist_hostname();
    my_host.copy(host, sizeof(host) - 1);
    std::vector<char> hosts(rank_ == 0 ? sizeof(host) * static_cast<std::size_t>(size_) : 0);
    MPI_Gather(host, sizeof(host), MPI_CHAR, hosts.data(), sizeof(host), MPI_CHAR, 0, MPI_COMM_WORLD);
    for (int r = 1; rank_ == 0 && r < size_; ++r)
      remotes_[static_cast<std::size_t>(r)].summary.host = std::string(&hosts[sizeof(host) * static_cast<std::size_t>(r)]);
    // Every rank must read what the others send: loadgen binaries of different builds are refused.
    const std::uint32_t my_version = dist_wire_version;
    std::vector<std::uint32_t> versions(rank_ == 0 ? static_cast<std::size_t>(size_) : 0);
    MPI_Gather(&my_version, 1, MPI_UINT32_T, versions.data(), 1, MPI_UINT32_T, 0, MPI_COMM_WORLD);
    for (int r = 1; rank_ == 0 && r < size_; ++r)
      if (versions[static_cast<std::size_t>(r)] != my_version) {
        std::fprintf(stderr, "loadgen: rank %d (on %s) speaks distributed wire version %u, rank 0 version %u: every "
                             "rank must run the same loadgen build\n", r,
                     remotes_[static_cast<std::size_t>(r)].summary.host.c_str(), versions[static_cast<std::size_t>(r)],
                     my_version);
        abort_all(exit_code::runtime_error);
      }
    // Clock offsets, one rank at a time: rank 0 stamps t1, the rank answers with its wall clock,
    // rank 0 stamps t2; offset = remote - (t1 + t2) / 2, good to +-rtt/2.
    std::vector<double> offsets(static_cast<std::size_t>(size_), 0.0);
    if (rank_ == 0) {
      for (int r = 1; r < size_; ++r) {
        std::int64_t best_rtt = -1, best_offset = 0;
        for (int i = 0; i < dist_pings; ++i) {
          std::int64_t remote = 0;
          const std::int64_t t1 = dist_wall_ns();
          MPI_Send(&t1, 1, MPI_INT64_T, r, dist_tag_ping, MPI_COMM_WORLD);
          MPI_Recv(&remote, 1, MPI_INT64_T, r, dist_tag_pong, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
          const std::int64_t t2 = dist_wall_ns();
          if (best_rtt < 0 || t2 - t1 < best_rtt) {
            best_rtt = t2 - t1;
            best_offset = remote - (t1 + (t2 - t1) / 2);
          }
        }
        auto& rr = remotes_[static_cast<std::size_t>(r)];
        rr.summary.clock_offset_us = static_cast<double>(best_offset) / 1e3;
        rr.summary.clock_rtt_us = static_cast<double>(best_rtt) / 1e3;
        offsets[static_cast<std::size_t>(r)] = static_cast<double>(best_offset);
      }
    } else {
      for (int i = 0; i < dist_pings; ++i) {
        std::int64_t t1 = 0;
        MPI_Recv(&t1, 1, MPI_INT64_T, 0, dist_tag_ping, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        const std::int64_t mine = dist_wall_ns();
        MPI_Send(&mine, 1, MPI_INT64_T, 0, dist_tag_pong, MPI_COMM_WORLD);
      }
    }
    double my_offset = 0;
    MPI_Scatter(offsets.data(), 1, MPI_DOUBLE, &my_offset, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    // The start: ahead by enough for the broadcast to reach every rank (50 ms, plus 20 us a rank
    // for the tree of a large job), as an instant of rank 0's wall clock.
    std::int64_t start_wall = 0;
    if (rank_ == 0) start_wall = dist_wall_ns() + 50'000'000 + 20'000 * static_cast<std::int64_t>(size_);
    MPI_Bcast(&start_wall, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    // Mapped to this host's steady clock: the same instant on its own wall clock is start + offset.
    const std::int64_t wall_now = dist_wall_ns(), steady_now = now_ns();
    return steady_now + (start_wall + static_cast<std::int64_t>(my_offset) - wall_now);
  }

  void send_interval(const sample_set& merged, std::int64_t measure_start_ns) override {
    const std::string bytes = encode_sample_set(merged, measure_start_ns);
    MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, dist_tag_interval, MPI_COMM_WORLD);
  }

  std::unique_ptr<load_worker> make_receiver(const shared_setup& s, int first_slot) override {
    rank_timeout_ns_ = s.cfg->rank_timeout.count();
    return std::make_unique<dist_receiver>(*this, s, first_slot);
  }

  // Rank 0, after a stop signal: how long it waits for the others' final reports (a share of the
  // time Open MPI leaves before its SIGKILL; the rest is for writing the results).
  std::int64_t stop_wait_ns() const noexcept { return teardown_wait_ns(teardown_budget_ns_); }
  // A receive that never completed: MPI may still write into its buffer, so it is kept until the
  // process ends (the job ends after a lost rank anyway).
  void abandon(MPI_Request& req, std::unique_ptr<std::string> buffer) {
    if (req != MPI_REQUEST_NULL) MPI_Request_free(&req);
    abandoned_.push_back(std::move(buffer));
  }

  void finish(result::variant& v, const rank_final& own_in, const sample_set& own_totals,
              std::int64_t measure_start_ns) override {
    rank_final own = own_in;
    own.host = dist_hostname();
    if (rank_ != 0) {
      const std::string bytes = encode_rank_final(own, own_totals, measure_start_ns);
      MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, dist_tag_final, MPI_COMM_WORLD);
      return;
    }
    const double rate_share = v.load.kind == "open" ? v.load.rate / size_ : 0;
    v.ranks.clear();
    v.ranks.push_back(summarize_rank(0, own, own_totals, rate_share));
    v.loadgen.saturated = v.loadgen.saturated || own.saturated;
    std::string silent, stopped, broken;
    for (int r = 1; r < size_; ++r) {
      auto& rr = remotes_[static_cast<std::size_t>(r)];
      result::rank_summary line = rr.summary;
      line.rank = r;
      line.rate = rate_share;
      line.lost = rr.lost;
      v.ranks.push_back(line);
      v.load.connections += line.connections;
      v.load.threads += line.threads;
      v.loadgen.cpu_user_s += rr.final.cpu_user_s;
      v.loadgen.cpu_system_s += rr.final.cpu_system_s;
      v.loadgen.saturated = v.loadgen.saturated || rr.final.saturated;
      std::string* list = rr.cause == dist_lost_cause::stopped   ? &stopped
                          : rr.cause == dist_lost_cause::message ? &broken
                          : rr.lost                              ? &silent
                                                                 : nullptr;
      if (list) *list += fmt::format("{}{}", list->empty() ? "" : ", ", r);
    }
    v.loadgen.cpu_per_request_us = v.completed > 0 ? (v.loadgen.cpu_user_s + v.loadgen.cpu_system_s) * 1e6 /
                                                         static_cast<double>(v.completed)
                                                   : 0;
    std::vector<std::string> why;
    if (!silent.empty())
      why.push_back(fmt::format("rank {} lost: silent past the heartbeat deadline (rank timeout {}, plus the drain "
                                "timeout after the planned end)",
                                silent, units::format_duration(std::chrono::nanoseconds(rank_timeout_ns_))));
    if (!stopped.empty())
      why.push_back(fmt::format("rank {} lost: no final report within {} of the stop signal (mpirun ends the whole "
                                "job when a rank dies, e.g. killed, or on Ctrl-C)",
                                stopped, units::format_duration(std::chrono::nanoseconds(stop_wait_ns()))));
    if (!broken.empty())
      why.push_back(fmt::format("rank {} lost: a message from it never completed (it died while sending)", broken));
    if (!why.empty()) {
      any_lost_ = true;
      v.complete = false;
      v.incomplete_reason.clear();
      for (const auto& w : why) v.incomplete_reason += w + "; ";
      v.incomplete_reason += "their counts stop at their last second received";
    }
  }

  std::string broadcast_work(std::string bytes) override {
    // Open MPI is ending the job (a stop signal came): nothing more is started, and a collective
    // with a rank that may be gone would wait for it until the kill.
    if (rank_ == 0 && interrupt_signals() > 0) return {};
    std::uint64_t n = rank_ == 0 ? bytes.size() : 0;
    MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    if (rank_ != 0) bytes.assign(static_cast<std::size_t>(n), '\0');
    if (n > 0) MPI_Bcast(bytes.data(), static_cast<int>(n), MPI_BYTE, 0, MPI_COMM_WORLD);
    return bytes;
  }

  [[noreturn]] void abort_all(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::exit(exit_code);
  }

  void close(int exit_code) override {
    closed_ = true;
    std::fflush(stdout);
    std::fflush(stderr);
    // A stop signal: Open MPI is ending the job and kills what is left shortly; MPI_Finalize would
    // wait for ranks that may be gone. Rank 0 has written the results and leaves now. The others
    // wait for the kill: one that exits while rank 0 still writes makes Open MPI SIGKILL rank 0
    // at once (Open MPI 4.1, measured: ~30 ms after the exit, before its own SIGKILL was due).
    // Bounded, for a SIGTERM sent to this rank alone: its exit then starts the job's teardown,
    // which gives rank 0 the usual SIGTERM and budget.
    if (interrupt_signals() > 0) {
      const std::int64_t until = now_ns() + 2 * teardown_budget_ns_ + 1'000'000'000;
      while (rank_ != 0 && now_ns() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      std::_Exit(exit_code);
    }
    // A lost rank may never reach MPI_Finalize (it is stopped or gone): end the job instead.
    if (any_lost_) MPI_Abort(MPI_COMM_WORLD, exit_code == 0 ? 1 : exit_code);
    MPI_Finalize();
  }

  std::vector<dist_remote_rank>& remotes() noexcept { return remotes_; }

 private:
  int rank_ = 0, size_ = 1;
  bool closed_ = false, any_lost_ = false;
  std::int64_t teardown_budget_ns_ = teardown_budget_ns();
  std::vector<std::unique_ptr<std::string>> abandoned_;  // buffers of receives that never completed
  // Rank 0: a rank that sends nothing for this long is lost (run_config::rank_timeout of the run
  // its receiver serves; the warm-up and, past the planned end, the drain are allowed for).
  std::int64_t rank_timeout_ns_ = 5'000'000'000;
  std::vector<dist_remote_rank> remotes_;
};

void dist_receiver::run() {
  const int others = link_.ranks() - 1;
  auto& remotes = link_.remotes();
  // Silence is allowed until the measured phase begins (warm-up seconds are not sent). A rank sends
  // a second each second until its planned end; then its drain may take the drain timeout on top
  // of the deadline. The planned end is the phase's own (stages set it, not `duration`); a run
  // with a request quota may reach it and drain any time, so it allows for the drain throughout.
  const std::int64_t timeout = s_.cfg->rank_timeout.count();
  const std::int64_t planned_end_ns = s_.measure_end_ns == rate_profile::never || s_.cfg->max_requests > 0
                                          ? s_.measure_start_ns
                                          : s_.measure_end_ns;
  const std::int64_t with_drain = timeout + s_.cfg->drain_timeout.count();
  for (int r = 1; r <= others; ++r) remotes[static_cast<std::size_t>(r)].last_heard_ns = s_.measure_start_ns;
  int open_ranks = others;
  // Set when a stop signal (SIGINT/SIGTERM: Open MPI ending the job) is first seen: the others'
  // final reports are awaited until then. Not interrupt_flag: a spawned target's death sets that
  // too, and the other ranks then finish their share as usual.
  std::int64_t stop_deadline = rate_profile::never;
  auto give_up_on = [&](int r, std::int64_t now, dist_lost_cause cause) {
    auto& rr = remotes[static_cast<std::size_t>(r)];
    if (rr.done || rr.lost) return;
    declare_lost(r, now, cause);
    --open_ranks;
  };
  while (open_ranks > 0) {
    std::int64_t now = now_ns();
    if (stop_deadline == rate_profile::never && interrupt_signals() > 0) stop_deadline = now + link_.stop_wait_ns();
    if (now >= stop_deadline) {
      for (int r = 1; r <= others; ++r) give_up_on(r, now, dist_lost_cause::stopped);
      break;
    }
    int flag = 0;
    MPI_Message msg = MPI_MESSAGE_NULL;
    MPI_Status st;
    if (MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &msg, &st) == MPI_SUCCESS && flag) {
      const int from = st.MPI_SOURCE;
      // A message takes microseconds; one still incomplete at the deadline lost its sender.
      const bool whole = receive(msg, st, std::min(stop_deadline, now + timeout));
      now = now_ns();
      auto& rr = remotes[static_cast<std::size_t>(from)];
      if (!whole) give_up_on(from, now, dist_lost_cause::message);
      if (!whole || rr.done || rr.lost) continue;  // a lost rank that woke up: too late, its slot is closed
      rr.last_heard_ns = now;
      on_message(from, *buffer_, st.MPI_TAG);
      if (rr.done) --open_ranks;
      continue;
    }
    const std::int64_t deadline = now > planned_end_ns ? with_drain : timeout;
    for (int r = 1; r <= others; ++r) {
      const auto& rr = remotes[static_cast<std::size_t>(r)];
      if (now > std::max(rr.last_heard_ns, s_.measure_start_ns) + deadline) give_up_on(r, now, dist_lost_cause::silent);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool dist_receiver::receive(MPI_Message& msg, const MPI_Status& st, std::int64_t give_up_ns) {
  int n = 0;
  MPI_Get_count(&st, MPI_BYTE, &n);
  buffer_->resize(static_cast<std::size_t>(std::max(0, n)));
  MPI_Request req = MPI_REQUEST_NULL;
  if (MPI_Imrecv(buffer_->data(), n, MPI_BYTE, &msg, &req) == MPI_SUCCESS) {
    bool signalled = interrupt_signals() > 0;  // then give_up_ns already counts with the stop deadline
    for (int polls = 0;; ++polls) {
      int done = 0;
      if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) break;
      if (done) return true;
      const std::int64_t now = now_ns();
      if (!signalled && interrupt_signals() > 0) {  // the job is ending: no longer than the stop wait
        signalled = true;
        give_up_ns = std::min(give_up_ns, now + link_.stop_wait_ns());
      }
      if (now >= give_up_ns) break;
      if (polls > 100) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  link_.abandon(req, std::move(buffer_));
  buffer_ = std::make_unique<std::string>();
  return false;
}

void dist_receiver::on_message(int from, std::string_view bytes, int tag) {
  auto& rr = link_.remotes()[static_cast<std::size_t>(from)];
  const int slot = first_slot_ + from - 1;
  if (tag == dist_tag_interval) {
    if (auto ok = decode_sample_set(bytes, s_.measure_start_ns, *spare_); !ok) {
      std::fprintf(stderr, "loadgen: rank %d: %s\n", from, ok.error().c_str());
      return;
    }
    if (!rr.so_far) rr.so_far = std::make_unique<sample_set>();
    rr.so_far->add(*spare_);
    rr.last_index = spare_->index;
    spare_ = s_.coll->hand_off(slot, std::move(spare_), false);
    return;
  }
  if (tag != dist_tag_final) return;
  sample_set& t = *spare_;
  if (auto ok = decode_rank_final(bytes, rr.final, t); !ok) {
    std::fprintf(stderr, "loadgen: rank %d: %s\n", from, ok.error().c_str());
    return;
  }
  rr.summary = [&] {
    auto s = summarize_rank(from, rr.final, t, 0);
    s.clock_offset_us = rr.summary.clock_offset_us;
    s.clock_rtt_us = rr.summary.clock_rtt_us;
    return s;
  }();
  totals_.add(t);
  interrupted_ = interrupted_ || rr.final.interrupted;
  quota_reached_ = quota_reached_ && rr.final.quota_reached;
  if (rr.final.stop_rel_ns != rate_profile::never) stop_ns_ = std::min(stop_ns_, s_.measure_start_ns + rr.final.stop_rel_ns);
  last_measured_end_ns_ = std::max(last_measured_end_ns_, s_.measure_start_ns + rr.final.last_measured_rel_ns);
  t.reset();
  rr.so_far.reset();
  rr.done = true;
  s_.coll->finish(slot);
}

void dist_receiver::declare_lost(int from, std::int64_t now, dist_lost_cause cause) {
  auto& rr = link_.remotes()[static_cast<std::size_t>(from)];
  rr.lost = true;
  rr.cause = cause;
  std::fprintf(stderr, "loadgen: rank %d lost: %s; no message for %.1f s (its last second: %lld)\n", from,
               cause == dist_lost_cause::stopped   ? "no final report after the stop signal"
               : cause == dist_lost_cause::message ? "its message never completed"
                                                   : "silent past the rank timeout",
               static_cast<double>(now - rr.last_heard_ns) / 1e9, static_cast<long long>(rr.last_index));
  if (rr.so_far) {
    totals_.add(*rr.so_far);
    rr.summary = [&] {
      auto s = summarize_rank(from, rr.final, *rr.so_far, 0);
      s.host = rr.summary.host;
      s.clock_offset_us = rr.summary.clock_offset_us;
      s.clock_rtt_us = rr.summary.clock_rtt_us;
      return s;
    }();
    rr.so_far.reset();
  }
  // The measured phase keeps its length (the other ranks ran all of it): what the lost rank
  // did not send is missing from the counts, and the run is marked incomplete (finish).
  quota_reached_ = false;
  s_.coll->finish(first_slot_ + from - 1);
}

}  // namespace

std::unique_ptr<rank_link> join_ranks() {
  // Started by mpirun (or another launcher exporting Open MPI's variables) with 2 or more ranks.
  if (launched_ranks() < 2) return nullptr;
  return std::make_unique<mpi_link>();
}

}  // namespace perflab::loadgen::detail
