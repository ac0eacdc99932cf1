#pragma once
// A fault profile: what a scripted dependency does to each request it serves. Parsed from a spec
// (lab-target --fault-profile SPEC, POST /admin/fault) or a file holding one (--fault-profile FILE).
//
// Grammar (docs/targets.md, Faults): items separated by ';', whitespace or newlines; '#' starts
// a comment to the end of the line (for files). "none" or nothing: no fault.
//
//   latency=fixed:5ms                  every request waits 5 ms
//   latency=exp:5ms                    exponential, mean 5 ms
//   latency=lognormal:5ms,0.5          lognormal, median 5 ms, sigma 0.5 (of the log)
//   latency=bimodal:99%:5ms,1%:2s      a mixture of fixed waits; weights add up to 100 %
//                                      (any number of parts; "mix" is the same)
//   error=0.1:503 | error=10%          this fraction answered with the status (400..599, default 503)
//   reset=0.01                         this fraction: the connection closes without a response
//   reset-after=0.05                   this fraction: the handler runs (its effects happen), then the
//                                      connection closes without its response (a lost answer)
//   drip=100B/10ms | drip=1KiB/s       the response body is written N bytes per interval
//   seed=42                            the random stream (default 1): same seed, same decisions
//
// Each request draws its latency first (a reset or an error waits it too, as a dependency that
// hangs and then fails), then a reset, else a reset after the handler, else an error, else the
// handler's response (dripped if drip is set).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace perflab::fault {

struct latency_dist {
  enum class kind : std::uint8_t { none, fixed, exponential, lognormal, mixture };
  struct part {
    double weight = 0;                 // fraction of requests, the parts add up to 1
    std::chrono::nanoseconds value{};  // their wait
  };
  kind which = kind::none;
  std::chrono::nanoseconds scale{};  // fixed: the wait; exponential: the mean; lognormal: the median
  double sigma = 0;                  // lognormal: standard deviation of ln(wait)
  std::vector<part> parts;           // mixture

  // The wait for two uniform draws u1, u2 in [0, 1) (pure: tested against the distribution).
  std::chrono::nanoseconds sample(double u1, double u2) const noexcept;
  // The distribution's mean (for documentation and tests).
  std::chrono::nanoseconds mean() const noexcept;
};

struct profile {
  latency_dist latency;           // waited before the response (none: no wait)
  double error_rate = 0;          // fraction of requests answered with error_status
  int error_status = 503;         // 400..599
  double reset_rate = 0;          // fraction of requests whose connection closes without a response
  double reset_after_rate = 0;    // fraction whose handler runs, then the connection closes without its response
  std::uint64_t drip_bytes = 0;   // drip: body bytes per interval (0: no drip)
  std::chrono::nanoseconds drip_interval{};
  std::uint64_t seed = 1;         // the decisions' random stream
  std::string spec;               // the canonical spec ("none" when empty), for /metrics and GET /admin/fault

  bool active() const noexcept {
    return latency.which != latency_dist::kind::none || error_rate > 0 || reset_rate > 0 || reset_after_rate > 0 ||
           drip_bytes > 0;
  }
};

// Parses a spec (see the grammar above). The error says which item is wrong and what it expects.
tl::expected<profile, std::string> parse_profile(std::string_view spec);

// --fault-profile's argument: the name of a readable file (its content is the spec), else a spec.
// Errors start with "--fault-profile: ".
tl::expected<profile, std::string> load_profile(std::string_view file_or_spec);

}  // namespace perflab::fault
