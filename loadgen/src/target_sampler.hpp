#pragma once
// Internal to the scenario runner: each target's /metrics read once per second of the measured
// phase (docs/scenarios.md, "Dependencies, faults and timed actions"), for the report's time
// series under the fault markers: a breaker's state (perflab_upstream_breaker_state), the
// requests each target answered per second, and a database pool's waiters and acquire wait
// (perflab_db_pool_*: the queue LAB.md's pool table counts as "peak waiters"). A thread of its own, beside the event scheduler's, so
// a fault request that waits never delays a sample; each scrape is one short request on a fresh
// connection, and a target that does not answer within the scrape timeout leaves a gap (a
// thread-pool front whose workers all wait on a dependency cannot serve its /metrics either).
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "perflab/core/result.hpp"

namespace perflab::loadgen::detail {

// The value of an unlabelled sample `name VALUE` in a Prometheus text exposition (nullopt
// without it): e.g. perflab_upstream_breaker_state.
std::optional<double> gauge_value(std::string_view metrics_text, std::string_view name);
// A scenario's [report] metrics entry in a /metrics text: "name" sums every series of the name
// (whatever its labels), "name{labels}" is the one series written exactly so; nullopt when none.
std::optional<double> metric_sum(std::string_view metrics_text, std::string_view selector);

class target_sampler {
 public:
  // targets: name ("" = the measured target) -> URL. A round of scrapes (every target, one after
  // another) takes at most scrape_timeout (below the period, so slow targets cannot push the next
  // second's samples back).
  explicit target_sampler(std::map<std::string, std::string> targets,
                          std::chrono::nanoseconds period = std::chrono::seconds(1),
                          std::chrono::nanoseconds scrape_timeout = std::chrono::milliseconds(800));
  ~target_sampler();
  target_sampler(const target_sampler&) = delete;
  target_sampler& operator=(const target_sampler&) = delete;

  // From the engine's phase callbacks: cheap (a time and a notify).
  void measure_started();
  void measure_ended();
  // Stops sampling and joins the thread.
  void finish();

  // Per target and metric, in target name order ("" first); read after finish().
  std::vector<result::metric_series> series() const;

  // One scrape's body, read at t_s seconds into the measured phase: the points it gives
  // (result.hpp, metric_series, for the names). sample() calls it; public for its tests.
  void record(const std::string& target, double t_s, std::string_view metrics_text);

 private:
  void run();
  void sample();

  // The previous scrape's counters, for the per-second rates and means.
  struct last_count {
    double t_s = -1;
    double requests = -1;
    double wait_sum_s = -1, wait_count = -1;  // perflab_db_pool_acquire_wait_seconds_{sum,count}
  };
  std::map<std::string, std::string> urls_;
  std::chrono::nanoseconds period_, scrape_timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false, ended_ = false, finishing_ = false;
  std::chrono::steady_clock::time_point t0_{};
  std::map<std::string, last_count> last_;  // the thread's own
  std::map<std::pair<std::string, std::string>, std::vector<std::pair<double, double>>> points_;
  std::thread thread_;
};

}  // namespace perflab::loadgen::detail
