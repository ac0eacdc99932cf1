// Open MPI's rank_link (mpi_link.hpp): MPI's set-up, the start, the other ranks' watcher (heartbeat
// and stop), the final reports and the end of the job. Rank 0's receiver is distributed_mpi_receiver.cpp.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "mpi_link.hpp"
#include "perflab/core/clock.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/core/units.hpp"

namespace perflab::loadgen::detail {

namespace {

constexpr int dist_pings = 8;  // ping-pongs per rank; the one with the shortest round trip gives the offset
constexpr std::int64_t dist_heartbeat_ns = 1'000'000'000;

std::int64_t dist_wall_ns() noexcept {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

std::string dist_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

// Polls a request until it completes (true), or the deadline or a stop signal (false: the request
// is still pending). Spins for the first polls: a ping-pong's round trip is microseconds.
bool dist_wait_request(MPI_Request& req, std::int64_t deadline_ns) {
  for (int polls = 0;; ++polls) {
    int done = 0;
    if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return false;
    if (done) return true;
    if (interrupt_signals() > 0 || now_ns() >= deadline_ns) return false;
    if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace

const char* dist_phase_words(dist_phase p) noexcept {
  switch (p) {
    case dist_phase::start: return "before the start";
    case dist_phase::warmup: return "in the warm-up";
    case dist_phase::measured: return "in the measured phase";
    case dist_phase::drain: return "in the drain";
  }
  return "?";
}

mpi_link::mpi_link() {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
  if (provided < MPI_THREAD_SERIALIZED) {
    std::fprintf(stderr, "loadgen: this Open MPI does not support MPI_THREAD_SERIALIZED\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  // A failed call returns its error instead of ending the process: rank 0 then gives up on the
  // rank it was talking to and keeps what the others measured.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  remotes_.resize(static_cast<std::size_t>(size_));
}

mpi_link::~mpi_link() {
  stop_watcher();
  if (!closed_) close(0);
}

std::optional<std::int64_t> mpi_link::agree_start(std::int64_t rank_timeout_ns) {
  // A scenario runs several loads over one link: each starts with no rank heard from.
  rank_timeout_ns_ = rank_timeout_ns;
  for (auto& rr : remotes_) rr = dist_remote_rank{};
  auto start = rank_ == 0 ? lead_start() : follow_start();
  started_ = start.has_value();
  if (started_ && rank_ != 0) start_watcher();
  return start;
}

std::optional<std::int64_t> mpi_link::lead_start() {
  const auto n = static_cast<std::size_t>(size_);
  // The check-ins, in any order: which ranks are set up. Until every one came, the rank timeout,
  // or the stop wait after a stop signal (a rank that died makes Open MPI end the job).
  auto in = std::make_unique<std::string>(n * sizeof(dist_check_in), '\0');
  std::vector<MPI_Request> reqs(n, MPI_REQUEST_NULL);
  for (int r = 1; r < size_; ++r)
    MPI_Irecv(in->data() + static_cast<std::size_t>(r) * sizeof(dist_check_in), sizeof(dist_check_in), MPI_BYTE, r,
              dist_tag_ready, MPI_COMM_WORLD, &reqs[static_cast<std::size_t>(r)]);
  std::int64_t until = now_ns() + rank_timeout_ns_;
  bool signalled = false;
  int waiting = size_ - 1;
  while (waiting > 0 && now_ns() < until) {
    // After a stop signal, half the usual stop wait: nothing was measured yet, and when Open MPI
    // is ending the job the rest of its budget goes to setting up this run and writing the results.
    if (!signalled && interrupt_signals() > 0) {
      signalled = true;
      until = std::min(until, now_ns() + stop_wait_ns() / 2);
    }
    for (int r = 1; r < size_; ++r) {
      auto& rr = remotes_[static_cast<std::size_t>(r)];
      int done = 0;
      if (rr.checked_in || MPI_Test(&reqs[static_cast<std::size_t>(r)], &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || !done)
        continue;
      dist_check_in c;
      std::memcpy(&c, in->data() + static_cast<std::size_t>(r) * sizeof(dist_check_in), sizeof(c));
      rr.checked_in = true;
      rr.last_heard_ns = now_ns();
      rr.summary.host = std::string(c.host, ::strnlen(c.host, sizeof(c.host)));
      --waiting;
      // Every rank must read what the others send: loadgen binaries of different builds are refused.
      if (c.wire_version != dist_wire_version) {
        std::fprintf(stderr, "loadgen: rank %d (on %s) speaks distributed wire version %u, rank 0 version %u: every "
                             "rank must run the same loadgen build\n",
                     r, rr.summary.host.c_str(), c.wire_version, dist_wire_version);
        abort_all(exit_code::runtime_error);
      }
    }
    if (waiting > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (waiting > 0) {
    for (int r = 1; r < size_; ++r) {
      auto& rr = remotes_[static_cast<std::size_t>(r)];
      if (rr.checked_in) continue;
      rr.lost = true;
      rr.cause = interrupt_signals() > 0 ? dist_lost_cause::stopped : dist_lost_cause::absent;
      if (reqs[static_cast<std::size_t>(r)] != MPI_REQUEST_NULL) MPI_Request_free(&reqs[static_cast<std::size_t>(r)]);
    }
    abandoned_.push_back(std::move(in));
    return give_up_start("did not check in");
  }
  if (interrupt_signals() > 0) return give_up_start(nullptr);

  // Clock offsets, one rank at a time: rank 0 stamps t1, the rank answers with its wall clock,
  // rank 0 stamps t2; offset = remote - (t1 + t2) / 2, good to +-rtt/2.
  for (int r = 1; r < size_; ++r) {
    auto& rr = remotes_[static_cast<std::size_t>(r)];
    std::int64_t best_rtt = -1, best_offset = 0;
    for (int i = 0; i < dist_pings; ++i) {
      if (ping(r, now_ns() + rank_timeout_ns_, best_rtt, best_offset)) continue;
      if (interrupt_signals() > 0) return give_up_start(nullptr);
      rr.lost = true;
      rr.cause = dist_lost_cause::message;
      return give_up_start("did not answer the clock ping-pong");
    }
    rr.summary.clock_offset_us = static_cast<double>(best_offset) / 1e3;
    rr.summary.clock_rtt_us = static_cast<double>(best_rtt) / 1e3;
    rr.last_heard_ns = now_ns();
  }
  // The start: ahead by enough for the start messages to reach every rank (50 ms, plus 20 us a
  // rank), as an instant of rank 0's wall clock; each rank maps it with its own offset.
  const std::int64_t start_wall = dist_wall_ns() + 50'000'000 + 20'000 * static_cast<std::int64_t>(size_);
  auto out = std::make_unique<std::string>(n * sizeof(dist_start_message), '\0');
  for (int r = 1; r < size_; ++r) {
    const dist_start_message m{start_wall, static_cast<std::int64_t>(remotes_[static_cast<std::size_t>(r)].summary.clock_offset_us * 1e3)};
    char* at = out->data() + static_cast<std::size_t>(r) * sizeof(m);
    std::memcpy(at, &m, sizeof(m));
    MPI_Isend(at, sizeof(m), MPI_BYTE, r, dist_tag_start, MPI_COMM_WORLD, &reqs[static_cast<std::size_t>(r)]);
  }
  // Small messages: sent at once; their completion only frees the buffer.
  for (int r = 1; r < size_; ++r) MPI_Request_free(&reqs[static_cast<std::size_t>(r)]);
  abandoned_.push_back(std::move(out));
  return now_ns() + (start_wall - dist_wall_ns());
}

bool mpi_link::ping(int r, std::int64_t deadline_ns, std::int64_t& best_rtt, std::int64_t& best_offset) {
  auto buf = std::make_unique<std::string>(2 * sizeof(std::int64_t), '\0');
  const std::int64_t t1 = dist_wall_ns();
  std::memcpy(buf->data(), &t1, sizeof(t1));
  MPI_Request send = MPI_REQUEST_NULL, recv = MPI_REQUEST_NULL;
  MPI_Irecv(buf->data() + sizeof(t1), sizeof(t1), MPI_BYTE, r, dist_tag_pong, MPI_COMM_WORLD, &recv);
  MPI_Isend(buf->data(), sizeof(t1), MPI_BYTE, r, dist_tag_ping, MPI_COMM_WORLD, &send);
  if (!dist_wait_request(send, deadline_ns) || !dist_wait_request(recv, deadline_ns)) {
    if (send != MPI_REQUEST_NULL) MPI_Request_free(&send);
    abandon(recv, std::move(buf));
    return false;
  }
  const std::int64_t t2 = dist_wall_ns();
  std::int64_t remote = 0;
  std::memcpy(&remote, buf->data() + sizeof(t1), sizeof(remote));
  if (best_rtt < 0 || t2 - t1 < best_rtt) {
    best_rtt = t2 - t1;
    best_offset = remote - (t1 + (t2 - t1) / 2);
  }
  return true;
}

std::optional<std::int64_t> mpi_link::give_up_start(const char* why) {
  for (int r = 1; r < size_; ++r) {
    auto& rr = remotes_[static_cast<std::size_t>(r)];
    rr.phase = dist_phase::start;
    if (rr.lost)
      std::fprintf(stderr, "loadgen: rank %d lost before the start: %s within %s\n", r,
                   why != nullptr ? why : "no check-in after the stop signal",
                   units::format_duration(std::chrono::nanoseconds(
                       rr.cause == dist_lost_cause::stopped ? stop_wait_ns() / 2 : rank_timeout_ns_)).c_str());
    else if (rr.checked_in)
      send_stop(r);
  }
  return std::nullopt;
}

std::optional<std::int64_t> mpi_link::follow_start() {
  // Check in (without waiting: rank 0 receives it once it is at the start itself), then answer
  // the ping-pongs until the start, or a stop: rank 0's message, or a signal (Open MPI ending the
  // job). Rank 0 gives up on a missing rank within its rank timeout, so a start that takes much
  // longer means rank 0 itself is stuck.
  const std::string host = dist_hostname();
  check_in_out_ = dist_check_in{};
  host.copy(check_in_out_.host, sizeof(check_in_out_.host) - 1);
  check_in_out_.wire_version = dist_wire_version;
  MPI_Request req = MPI_REQUEST_NULL;
  MPI_Isend(&check_in_out_, sizeof(check_in_out_), MPI_BYTE, 0, dist_tag_ready, MPI_COMM_WORLD, &req);
  MPI_Request_free(&req);
  const std::int64_t give_up = now_ns() + 3 * rank_timeout_ns_ + 10'000'000'000;
  std::int64_t last_message = now_ns();
  std::string in;
  while (interrupt_signals() == 0) {
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st) == MPI_SUCCESS && flag) {
      int bytes = 0;
      MPI_Get_count(&st, MPI_BYTE, &bytes);
      in.assign(static_cast<std::size_t>(std::max(0, bytes)), '\0');
      MPI_Recv(in.data(), bytes, MPI_BYTE, 0, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      last_message = now_ns();
      if (st.MPI_TAG == dist_tag_ping) {
        const std::int64_t mine = dist_wall_ns();
        MPI_Send(&mine, sizeof(mine), MPI_BYTE, 0, dist_tag_pong, MPI_COMM_WORLD);
      } else if (st.MPI_TAG == dist_tag_start && in.size() == sizeof(dist_start_message)) {
        dist_start_message m;
        std::memcpy(&m, in.data(), sizeof(m));
        // Mapped to this host's steady clock: the same instant on its own wall clock is start + offset.
        const std::int64_t wall_now = dist_wall_ns(), steady_now = now_ns();
        return steady_now + (m.start_wall_ns + m.offset_ns - wall_now);
      } else if (st.MPI_TAG == dist_tag_stop) {
        note_interrupt_signal();  // rank 0 stopped before the start: so does this rank
        return std::nullopt;
      }
      continue;
    }
    const std::int64_t now = now_ns();
    if (now >= give_up) {
      std::fprintf(stderr, "loadgen: rank %d: no start from rank 0 within %s\n", rank_,
                   units::format_duration(std::chrono::nanoseconds(give_up - last_message)).c_str());
      abort_all(exit_code::runtime_error);
    }
    // Right after a message (the ping-pongs come back to back) spin, so the round trip stays short.
    if (now - last_message > 10'000'000) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return std::nullopt;
}

void mpi_link::start_watcher() {
  watcher_quit_ = false;
  measuring_ = false;
  watcher_ = std::thread([this] {
    std::int64_t next_beat = now_ns() + dist_heartbeat_ns;
    while (!watcher_quit_.load()) {
      {
        std::lock_guard lock(mpi_mutex_);
        int flag = 0;
        if (MPI_Iprobe(0, dist_tag_stop, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && flag) {
          MPI_Recv(nullptr, 0, MPI_BYTE, 0, dist_tag_stop, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
          // As a stop signal: the load stops, the short drain, the last seconds and the final report.
          note_interrupt_signal();
        }
        if (!measuring_.load() && now_ns() >= next_beat) {
          MPI_Send(nullptr, 0, MPI_BYTE, 0, dist_tag_heartbeat, MPI_COMM_WORLD);
          next_beat += dist_heartbeat_ns;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
}

void mpi_link::stop_watcher() {
  if (!watcher_.joinable()) return;
  watcher_quit_ = true;
  watcher_.join();
}

void mpi_link::send_interval(const sample_set& merged, std::int64_t measure_start_ns) {
  const std::string bytes = encode_sample_set(merged, measure_start_ns);
  std::lock_guard lock(mpi_mutex_);
  measuring_ = true;  // the seconds are the heartbeat from here
  MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, dist_tag_interval, MPI_COMM_WORLD);
}

std::unique_ptr<load_worker> mpi_link::make_receiver(const shared_setup& s, int first_slot) {
  rank_timeout_ns_ = s.cfg->rank_timeout.count();
  return std::make_unique<dist_receiver>(*this, s, first_slot);
}

std::int64_t mpi_link::stop_wait_ns() const noexcept {
  // Open MPI's SIGCONT just before: it is ending the job and kills this process a budget after
  // its SIGTERM. Otherwise the signal came to rank 0 alone, and the others report once told to.
  const std::int64_t teardown = teardown_wait_ns(teardown_budget_ns_);
  return stop_follows_continue(teardown_budget_ns_ + 1'000'000'000) ? teardown : std::max(teardown, rank_timeout_ns_);
}

void mpi_link::send_stop(int r) {
  auto& rr = remotes_[static_cast<std::size_t>(r)];
  if (rr.stop_sent) return;
  rr.stop_sent = true;
  MPI_Request req = MPI_REQUEST_NULL;
  if (MPI_Isend(nullptr, 0, MPI_BYTE, r, dist_tag_stop, MPI_COMM_WORLD, &req) == MPI_SUCCESS) MPI_Request_free(&req);
}

void mpi_link::abandon(MPI_Request& req, std::unique_ptr<std::string> buffer) {
  if (req != MPI_REQUEST_NULL) MPI_Request_free(&req);
  abandoned_.push_back(std::move(buffer));
}

void mpi_link::finish(result::variant& v, const rank_final& own_in, const sample_set& own_totals,
                      std::int64_t measure_start_ns) {
  rank_final own = own_in;
  own.host = dist_hostname();
  if (rank_ != 0) {
    stop_watcher();  // its heartbeats come before the report, and nothing after it
    if (!started_) return;  // rank 0 gave up at the start: it waits for no report
    const std::string bytes = encode_rank_final(own, own_totals, measure_start_ns);
    MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, dist_tag_final, MPI_COMM_WORLD);
    return;
  }
  const double rate_share = v.load.kind == "open" ? v.load.rate / size_ : 0;
  v.ranks.clear();
  v.ranks.push_back(summarize_rank(0, own, own_totals, rate_share));
  v.loadgen.saturated = v.loadgen.saturated || own.saturated;
  // The lost ranks, grouped by why and when: "rank 2, 5 lost in the warm-up: ...".
  std::vector<std::pair<std::string, std::string>> lost;  // (phase and reason, ranks)
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
    if (!rr.lost) continue;
    const auto timeout = units::format_duration(std::chrono::nanoseconds(rank_timeout_ns_));
    const std::string why =
        rr.cause == dist_lost_cause::stopped
            ? fmt::format("no {} within {} of the stop signal (mpirun ends the whole job when a rank dies, e.g. "
                          "killed, or on Ctrl-C)", rr.phase == dist_phase::start ? "check-in" : "final report",
                          units::format_duration(std::chrono::nanoseconds(
                              rr.phase == dist_phase::start ? stop_wait_ns() / 2 : stop_wait_ns())))
        : rr.cause == dist_lost_cause::message ? std::string("a message from it never completed (it died while sending)")
        : rr.cause == dist_lost_cause::absent
            ? fmt::format("it did not check in at the start within the rank timeout ({})", timeout)
            : fmt::format("silent past the heartbeat deadline (rank timeout {}, plus the drain timeout after the "
                          "planned end)", timeout);
    const std::string key = fmt::format("{}: {}", dist_phase_words(rr.phase), why);
    auto it = std::find_if(lost.begin(), lost.end(), [&](const auto& e) { return e.first == key; });
    if (it == lost.end()) it = lost.emplace(lost.end(), key, std::string());
    it->second += fmt::format("{}{}", it->second.empty() ? "" : ", ", r);
  }
  v.loadgen.cpu_per_request_us = v.completed > 0 ? (v.loadgen.cpu_user_s + v.loadgen.cpu_system_s) * 1e6 /
                                                       static_cast<double>(v.completed)
                                                 : 0;
  if (lost.empty() && started_) return;
  any_lost_ = !lost.empty();
  v.complete = false;
  v.incomplete_reason.clear();
  for (const auto& [key, ranks] : lost) v.incomplete_reason += fmt::format("rank {} lost {}; ", ranks, key);
  v.incomplete_reason += started_ ? "their counts stop at their last second received"
                         : any_lost_ ? "no start: nothing was measured"
                                     : "stopped by a signal before the start: nothing was measured";
}

std::string mpi_link::broadcast_work(std::string bytes) {
  // A stop signal (Open MPI may be ending the job), or a rank lost: nothing more is started, and
  // a collective with a rank that may be gone would wait for it until the kill.
  if (rank_ == 0 && (interrupt_signals() > 0 || any_lost_)) return {};
  // Non-blocking: a rank that died since the last run must not hold rank 0 here (a large
  // configuration waits for every receiver). Rank 0 gives up at the rank timeout or a stop signal
  // and goes on to the start, whose check-ins name the ranks that are missing. The others wait.
  auto buf = std::make_unique<std::string>(sizeof(std::uint64_t), '\0');
  const std::uint64_t n0 = bytes.size();
  std::memcpy(buf->data(), &n0, sizeof(n0));
  const std::int64_t deadline = now_ns() + rank_timeout_ns_;
  auto bcast = [&](char* data, std::size_t size) {
    MPI_Request req = MPI_REQUEST_NULL;
    MPI_Ibcast(data, static_cast<int>(size), MPI_BYTE, 0, MPI_COMM_WORLD, &req);
    if (rank_ != 0) return MPI_Wait(&req, MPI_STATUS_IGNORE) == MPI_SUCCESS;
    if (dist_wait_request(req, deadline)) return true;
    // MPI forbids freeing (or cancelling) a nonblocking collective's request: the handle and its
    // buffer are kept, never completed (a rank is lost: the job ends after this run).
    abandoned_collectives_.push_back(req);
    abandoned_.push_back(std::move(buf));
    return false;
  };
  if (!bcast(buf->data(), buf->size())) return bytes;
  std::uint64_t n = 0;
  std::memcpy(&n, buf->data(), sizeof(n));
  if (rank_ != 0) bytes.assign(static_cast<std::size_t>(n), '\0');
  if (n == 0) return bytes;
  buf = std::make_unique<std::string>(std::move(bytes));
  if (!bcast(buf->data(), buf->size())) return rank_ == 0 ? std::string(*abandoned_.back()) : std::string();
  return std::move(*buf);
}

void mpi_link::abort_all(int exit_code) {
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

void mpi_link::close(int exit_code) {
  stop_watcher();
  closed_ = true;
  std::fflush(stdout);
  std::fflush(stderr);
  // A stop signal (or rank 0's stop message): Open MPI may be ending the job and kill what is left
  // shortly; MPI_Finalize would wait for ranks that may be gone. Rank 0 has written the results
  // and leaves now. The others wait for the kill: one that exits while rank 0 still writes makes
  // Open MPI SIGKILL rank 0 at once (Open MPI 4.1, measured: ~30 ms after the exit, before its own
  // SIGKILL was due). Bounded, for a SIGTERM sent to this rank alone: its exit then starts the
  // job's teardown, which gives rank 0 the usual SIGTERM and budget.
  if (interrupt_signals() > 0) {
    const std::int64_t until = now_ns() + 2 * teardown_budget_ns_ + 1'000'000'000;
    while (rank_ != 0 && now_ns() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::_Exit(exit_code);
  }
  // A lost rank may never reach MPI_Finalize (it is stopped or gone): end the job instead.
  if (any_lost_) MPI_Abort(MPI_COMM_WORLD, exit_code == 0 ? 1 : exit_code);
  MPI_Finalize();
}

std::unique_ptr<rank_link> join_ranks() {
  // Started by mpirun (or another launcher exporting Open MPI's variables) with 2 or more ranks.
  if (launched_ranks() < 2) return nullptr;
  return std::make_unique<mpi_link>();
}

}  // namespace perflab::loadgen::detail
