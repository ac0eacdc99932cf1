#pragma once
// Time sources. steady_clock for every duration; the wall clock only for labels
// (StartTime headers, result folder names), never for a latency sample.
#include <chrono>
#include <cstdint>

namespace perflab {

using steady = std::chrono::steady_clock;
using nanos = std::chrono::nanoseconds;

// Monotonic now, in nanoseconds since an arbitrary epoch (steady_clock's).
inline std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<nanos>(steady::now().time_since_epoch()).count();
}

// Wall-clock now, in seconds since the Unix epoch with sub-second part (labels only).
inline double wall_now_s() noexcept {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace perflab
