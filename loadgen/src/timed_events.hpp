#pragma once
// Internal to the scenario runner: what happens to the targets during the measured phase
// (docs/scenarios.md, "Dependencies, faults and timed actions"). A thread, woken when the measured
// phase starts, sends each [[fault]] (POST /admin/fault, then the previous profile back after its
// duration) and [[action]] at its time, and records when each actually began and ended. It also
// reads each target's request counter from /metrics at the phase's start and end, for the load
// amplification (requests a dependency answered per request the loadgen sent).
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/core/result.hpp"
#include "perflab/loadgen/scenario.hpp"

namespace perflab::loadgen::detail {

// One request on a fresh connection (Connection: close) to 127.0.0.1-style host:port; the status
// and the body (read to the connection's end). Blocking, bounded by timeout; not for the load.
struct http_reply {
  int status = 0;
  std::string body;
};
tl::expected<http_reply, std::string> http_request(const std::string& host, int port, std::string_view method,
                                                   std::string_view path, std::string_view body,
                                                   std::chrono::nanoseconds timeout);

// Requests a lab-target answered, from its /metrics text: perflab_target_requests_total over
// every endpoint but metrics, health and admin (what the lab itself asks). nullopt without it.
std::optional<double> requests_answered(std::string_view metrics_text);

// "http://127.0.0.1:8080" -> host and port (nullopt for anything else).
std::optional<std::pair<std::string, int>> split_url(std::string_view url);

class event_scheduler {
 public:
  // targets: name ("" = the measured target) -> URL.
  event_scheduler(std::vector<timed_event_spec> schedule, std::map<std::string, std::string> targets,
                  bool count_requests);
  ~event_scheduler();
  event_scheduler(const event_scheduler&) = delete;
  event_scheduler& operator=(const event_scheduler&) = delete;

  // From the engine's phase callbacks: cheap (a time and a notify).
  void measure_started();
  void measure_ended();
  // After the load: faults still on are restored, events never reached are recorded as such; joins.
  void finish();

  std::vector<result::timed_event> events() const;
  // Requests each target answered between the phase's start and end (-1: unknown).
  std::int64_t requests(const std::string& name) const;

 private:
  void run();
  void scrape(std::map<std::string, double>& into);
  // Sends one request to a named target; fills status/error of ev.
  tl::expected<http_reply, std::string> send(const std::string& target, std::string_view method,
                                             std::string_view path, std::string_view body);
  double now_s() const;

  std::vector<timed_event_spec> schedule_;
  std::map<std::string, std::string> urls_;
  bool count_requests_ = false;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false, ended_ = false, finishing_ = false;
  std::chrono::steady_clock::time_point t0_{};
  std::vector<result::timed_event> events_;
  std::map<std::string, double> before_, after_;
  std::thread thread_;
};

}  // namespace perflab::loadgen::detail
