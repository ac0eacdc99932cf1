#pragma once
// What the load engine's parts share, inside the loadgen library: run phases, error classes, the
// per-second collector, the read-only run setup, and the worker interface an engine implements
// (engine_asio.hpp, engine_curl_worker.hpp; what engines share apart from sockets is in
// engine_record.hpp, and the phase rules every worker follows in engine_phases.hpp).
// run_load (engine_run.cpp) owns the threads, merges the workers' seconds into the interval log,
// the CSV and the series, and builds the result.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "perflab/core/result.hpp"
#include "perflab/core/verdict.hpp"
#include "perflab/loadgen/engine.hpp"
#include "perflab/loadgen/recorder.hpp"
#include "perflab/loadgen/request_mix.hpp"
#include "perflab/loadgen/schedule.hpp"

namespace perflab::loadgen::detail {

inline constexpr std::int64_t second_ns = 1'000'000'000;

// Run phases (h2load style): a request belongs to the phase its start falls in, and a request
// still unanswered when the measured phase begins is carried into it; warm-up samples are
// dropped by phase, never by sleeping.
enum class phase : std::uint8_t {
  warmup,    // before measure_start: requests run, nothing is recorded
  measured,  // [measure_start, measure_end): everything is recorded
  draining,  // no new requests; in-flight ones finish (and are recorded) until drain_timeout
  done,
};

// Error classes, mapped to result::error_counts fields.
enum class err : std::uint8_t {
  connect_refused,
  connect_timeout,
  connect_other,
  reset,
  read_timeout,
  closed_mid_response,
  malformed,
  unsolicited,
  io_other,
  client_resources,
  tls,  // curl engine: TLS handshake or certificate refused
  cors_refused,  // [load] cors: the request's preflight was refused, so it was never sent
};

void count_error(result::error_counts& e, err what) noexcept;

// The class of a failed socket()/connect() and of a failed read or write, from its errno value.
// The loadgen's own limits (no local port left, no descriptor, no buffer memory) are
// client_resources: not the target's fault, and they mark the run saturated.
err connect_error_class(int errno_value) noexcept;
err io_error_class(int errno_value) noexcept;

// Intervals travel from workers to the main thread once a second. A mutex per second, never per
// request. Spare sets (about 1.6 MB of histograms each) are allocated before the run and
// recycled by the main thread after each merge, so a hand-off takes a spare instead of
// allocating: a worker holds one set, at most one more waits to be merged, and two spares per
// worker leave a second of slack for a slow merge.
struct collector {
  static constexpr int spares_per_worker = 2;

  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::deque<std::unique_ptr<sample_set>>> queues;  // per worker, in index order
  std::vector<bool> finished;                                   // per worker
  std::vector<std::unique_ptr<sample_set>> spare;
  int draining = 0;  // workers whose load has stopped (their measured phase is over)

  explicit collector(int workers);
  bool all_finished() const noexcept;
  std::unique_ptr<sample_set> hand_off(int w, std::unique_ptr<sample_set> full, bool last);
  void note_draining();  // a worker's measured phase ended (wakes the main thread)
  void finish(int w);    // slot w hands over nothing more (a lost rank of a distributed run)
  // Whether the load has stopped everywhere: the first local_workers slots are draining and every
  // slot after them (the other ranks of a distributed run, on rank 0) has finished. With the mutex held.
  bool load_stopped(int local_workers) const noexcept;
};

class curl_requests;  // engine_curl.hpp

// Everything the workers share, read-only during the run (but the collector).
struct shared_setup {
  const run_config* cfg = nullptr;
  bool open = false;
  const request_mix* mix = nullptr;
  const rate_profile* profile = nullptr;
  result::success_statuses success;   // statuses counted as goodput
  std::string host;                   // resolved target address (numeric) and port
  unsigned short port = 0;
  std::string url_host;               // the URL's host as written (TLS name, Host), and its scheme
  bool tls = false;
  std::int64_t run_start_ns = 0;      // steady ns: schedule time 0, warm-up starts
  std::int64_t measure_start_ns = 0;  // steady ns
  std::int64_t measure_end_ns = 0;    // steady ns, `never` when bounded by request count only
  std::int64_t intervals = 0;         // one-second intervals of the measured phase; index `intervals` is the drain
  collector* coll = nullptr;
  int rank = 0, ranks = 1;              // this process's share of a distributed run (arrival_schedule)
  const curl_requests* curl = nullptr;  // the curl engine's request table (null with asio)
  bool grpc = false;                    // the mix is gRPC calls: each answer is judged by its grpc-status
  const browser_cors::plan* cors = nullptr;  // [load] cors: the preflights, per buffer of the mix (null: off)
  // Set by the collecting thread when run_config::stop_check fired; workers end their load at their
  // next housekeeping tick, like an interrupt that does not mark the run interrupted.
  std::atomic<bool> stop_early{false};
  // How long a worker stopped by SIGINT/SIGTERM waits for its responses in flight: the drain
  // timeout, but in a distributed run at most a share of the time Open MPI leaves between its
  // SIGTERM and its SIGKILL (teardown_drain_ns in distributed.hpp), so that what was measured is
  // sent and written before the kill.
  std::int64_t signal_drain_ns = 0;

  // The phase rules every engine follows (times in steady ns):
  bool in_window(std::int64_t t) const noexcept { return t >= measure_start_ns && t < measure_end_ns; }
  // Whether a request that starts (intended time) at `intended` is recorded: its start falls in
  // the measured phase, or it is a warm-up request that goes out after the phase began (it waited
  // for a connection through the boundary: carried in).
  bool recorded(std::int64_t intended, phase now, bool& carried) const noexcept {
    carried = false;
    if (intended >= measure_start_ns) return intended < measure_end_ns;
    carried = now != phase::warmup;
    return carried;
  }
  // How long a worker whose load stops now waits for its responses in flight (a stop in the
  // warm-up waits for nothing: nothing in flight is measured).
  std::int64_t drain_after_stop_ns(bool in_warmup, bool interrupted) const noexcept;
  // End of interval k: the next second boundary, or the end of the measured phase.
  std::int64_t interval_end(std::int64_t k) const noexcept {
    const std::int64_t b = measure_start_ns + (k + 1) * second_ns;
    return b < measure_end_ns ? b : measure_end_ns;
  }
};

// One worker thread of an engine: its own event loop, connections, schedule share and sample
// sets. run() returns when its load is over and drained.
class load_worker {
 public:
  virtual ~load_worker() = default;
  virtual void run() = 0;
  virtual const sample_set& totals() const noexcept = 0;
  virtual bool interrupted() const noexcept = 0;
  virtual std::int64_t stop_ns() const noexcept = 0;              // when its load stopped (drain began)
  virtual bool quota_reached() const noexcept = 0;               // its share of --requests was sent
  virtual std::int64_t last_measured_end_ns() const noexcept = 0; // last measured request answered or given up
};

std::unique_ptr<load_worker> make_asio_worker(const shared_setup& s, int index, int workers,
                                              std::int64_t connections, std::int64_t quota);
// The libcurl multi engine (engine_curl_worker.hpp): `connections` is its share of the
// connection cap (open loop) or of the clients (closed loop).
std::unique_ptr<load_worker> make_curl_worker(const shared_setup& s, int index, int workers,
                                              std::int64_t connections, std::int64_t quota);

}  // namespace perflab::loadgen::detail
