#pragma once
// A circuit breaker with resilience4j's semantics (LAB.md section 6): closed, open, half-open; a
// count-based window (the last N calls) or a time-based one (the calls of the last N seconds);
// it opens when, with at least `minimum_calls` in the window, the failure rate or the slow-call
// rate reaches its threshold; open, it refuses every call for `wait_in_open`, then the next call
// moves it to half-open, which lets `permitted_in_half_open` trial calls through and closes (all
// counts reset) or opens again on their rates.
//
// Time is an argument (nanoseconds on the caller's steady clock), so a scripted timeline tests
// it. Thread-safe: one mutex, held for a few arithmetic steps. A call acquired in one state
// and finished after a transition is counted in the totals but not in the new state's window
// (each permit carries the state's epoch), as a late answer says nothing about the new state.
#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace perflab::resilience {

using nanos = std::chrono::nanoseconds;

enum class breaker_state : std::uint8_t { closed = 0, open = 1, half_open = 2 };
std::string_view to_string(breaker_state s);

struct breaker_config {
  enum class window_kind : std::uint8_t { count, time };
  window_kind window = window_kind::count;  // count: the last window_size calls; time: the last window_size seconds
  std::uint32_t window_size = 100;          // calls or seconds, >= 1
  std::uint32_t minimum_calls = 100;        // calls in the window before any verdict, >= 1
  double failure_rate_threshold = 0.5;      // (0, 1]: this fraction of failed calls opens it
  double slow_call_rate_threshold = 1.0;    // (0, 1]: this fraction of slow calls opens it
  nanos slow_call_duration = std::chrono::seconds(60);  // a call lasting at least this is slow
  nanos wait_in_open = std::chrono::seconds(60);        // refuse everything this long, then half-open
  std::uint32_t permitted_in_half_open = 10;            // trial calls in half-open, >= 1
};

// "count:100,min=100,failure=50%,slow=100%,slow-call=60s,open=60s,half-open=10" or "time:10s,...";
// every key optional after the window, defaults as above. Errors name the key and the forms.
tl::expected<breaker_config, std::string> parse_breaker(std::string_view spec);

struct breaker_stats {
  std::uint64_t permitted = 0;  // calls let through
  std::uint64_t rejected = 0;   // calls refused (open, or half-open with its trials taken)
  std::uint64_t successes = 0;  // outcomes reported, all states
  std::uint64_t failures = 0;
  std::uint64_t slow = 0;       // successes or failures at least slow_call_duration long
  std::uint64_t late = 0;       // outcomes of calls acquired before the last transition (not in any window)
  // transitions[from][to], by breaker_state's values.
  std::array<std::array<std::uint64_t, 3>, 3> transitions{};
};

class circuit_breaker {
 public:
  struct permit {
    bool granted = false;
    std::uint64_t epoch = 0;  // the state it was granted in
    explicit operator bool() const { return granted; }
  };

  explicit circuit_breaker(breaker_config config);
  circuit_breaker(const circuit_breaker&) = delete;
  circuit_breaker& operator=(const circuit_breaker&) = delete;

  // Asks for a call at `now`. An open breaker whose wait has passed turns half-open here.
  permit try_acquire(nanos now);
  // Every granted permit ends exactly once: with an outcome, or released unused (the call was
  // never made, e.g. a bulkhead refused it: that frees a half-open trial without a verdict).
  void on_success(const permit& p, nanos duration, nanos now);
  void on_failure(const permit& p, nanos duration, nanos now);
  void release(const permit& p);

  breaker_state state() const;
  breaker_stats stats() const;
  const breaker_config& config() const { return config_; }
  // Rates over the current window (closed) or the trials (half-open); 0 when empty.
  double failure_rate() const;
  double slow_call_rate() const;

 private:
  struct bucket {
    std::int64_t second = -1;  // time window: the second this bucket counts
    std::uint32_t calls = 0, failures = 0, slow = 0;
  };
  void record(const permit& p, bool failed, nanos duration, nanos now);
  void transition(breaker_state to, nanos now);  // mutex_ held
  void reset_window();                            // mutex_ held
  bucket totals(nanos now) const;                 // mutex_ held: the window's sums (time window: as of now)

  const breaker_config config_;
  mutable std::mutex mutex_;
  breaker_state state_ = breaker_state::closed;
  std::uint64_t epoch_ = 0;
  nanos opened_at_{0};
  // Closed: a ring of the last N outcomes (count window: bit 0 failed, bit 1 slow) or of N
  // one-second buckets (time window).
  std::vector<std::uint8_t> ring_;
  std::size_t ring_next_ = 0, ring_filled_ = 0;
  std::vector<bucket> buckets_;
  nanos last_now_{0};
  // Half-open: trials granted and their outcomes.
  std::uint32_t trials_granted_ = 0;
  bucket trials_;
  breaker_stats stats_;
};

}  // namespace perflab::resilience
