#pragma once
// The injector: the current fault profile of a server and each request's decision. A decision is
// a pure function of (profile, seed, request number), the number taken from one counter, so a run
// with one client on one connection replays exactly, and many threads decide without a lock. The
// profile can be replaced at any time (POST /admin/fault): profiles are immutable and kept for the
// life of the injector (a handful per run), so a request may still read the one it loaded.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <perflab/fault/profile.hpp>

namespace perflab::fault {

struct decision {
  std::chrono::nanoseconds delay{};          // wait this long before answering
  bool reset = false;                        // then close without a response
  bool reset_after = false;                  // else run the handler, then close without its response
  int status = 0;                            // else answer with this error status (0: the handler)
  std::uint64_t drip_bytes = 0;              // else write the body this many bytes per interval
  std::chrono::nanoseconds drip_interval{};  // (0 bytes: at once)
  bool any() const noexcept { return delay.count() > 0 || reset || reset_after || status != 0 || drip_bytes > 0; }
};

// The decision for request number n under p (pure).
decision decide(const profile& p, std::uint64_t n) noexcept;

// What a decision did, counted by the server when it takes effect (not when decided: a request
// whose connection ends during its latency never gets its error or reset; a drip on a response
// without a body drips nothing).
enum class applied : std::uint8_t { delay, error, reset, reset_after, drip };

struct injector_stats {
  std::uint64_t decided = 0;          // requests decided under an active profile (next() calls)
  std::uint64_t delayed = 0;          // latency waits started
  std::uint64_t errors = 0;           // responses given the profile's error status
  std::uint64_t resets = 0;           // connections aborted without a response
  std::uint64_t resets_after = 0;     // connections aborted after the handler ran, its response dropped
  std::uint64_t dripped = 0;          // response bodies held back and written slowly
  std::uint64_t profile_changes = 0;  // set() calls (the start-up profile is not one)
};

class injector {
 public:
  explicit injector(profile initial = {});
  injector(const injector&) = delete;
  injector& operator=(const injector&) = delete;

  // The next request's decision (counted as decided; what it does is counted by count() when
  // applied); none when the profile is inactive.
  decision next() noexcept;
  // One fault of this kind took effect.
  void count(applied what) noexcept;
  // Replaces the profile (thread-safe); counted as a change.
  void set(profile p);
  // The current profile (valid for the injector's life).
  const profile& current() const noexcept { return *current_.load(std::memory_order_acquire); }
  injector_stats stats() const noexcept;
  // perflab_fault_* in the Prometheus text format: the profile (as an info label), requests
  // decided, faults applied by kind, profile changes.
  void write_prometheus(std::string& out) const;

 private:
  std::atomic<const profile*> current_;
  std::mutex mutex_;                               // guards kept_
  std::vector<std::unique_ptr<const profile>> kept_;
  std::atomic<std::uint64_t> n_{0};
  std::atomic<std::uint64_t> delayed_{0}, errors_{0}, resets_{0}, resets_after_{0}, dripped_{0}, changes_{0};
};

}  // namespace perflab::fault
