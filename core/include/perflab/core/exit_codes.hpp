#pragma once
// Exit codes of every perflab program (documented in README.md, "Exit codes").
// When several apply, the lowest-numbered non-zero one in this precedence wins:
// usage (2) > runtime (1) > interrupted (6) > saturated (5) > target failing (7) > thresholds (3) >
// regression (4).
namespace perflab::exit_code {

inline constexpr int ok = 0;
inline constexpr int runtime_error = 1;      // a target failed to start or died, results could not be written
inline constexpr int usage = 2;              // bad option or scenario (the message names file:line:col)
inline constexpr int thresholds_failed = 3;  // a [thresholds] check failed
inline constexpr int regression = 4;         // `compare` found a regression
inline constexpr int saturated = 5;          // the loadgen could not keep its schedule: numbers suspect
inline constexpr int interrupted = 6;        // SIGINT/SIGTERM: results written, marked incomplete
inline constexpr int target_failing = 7;     // error rate over the bound (load.max_error_rate), or stalled requests

// Combines two outcomes by the precedence above.
constexpr int combine(int a, int b) noexcept {
  constexpr int rank[] = {0, 6, 7, 2, 1, 4, 5, 3};  // by code: higher rank wins
  auto r = [&](int c) { return (c >= 0 && c <= 7) ? rank[c] : 6; };
  return r(a) >= r(b) ? a : b;
}

}  // namespace perflab::exit_code
