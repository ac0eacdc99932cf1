#pragma once
// The variant plan `loadgen run --dry-run` prints after validating a scenario: per variant its
// target, load model and an estimate of how long it takes, and the total. Nothing is started.
#include <string>

#include "perflab/loadgen/scenario.hpp"

namespace perflab::loadgen {

// How long one run of a variant takes, in seconds.
struct variant_estimate {
  double warmup_s = 0;         // load.warmup
  double measured_s = 0;       // load.duration, or the stages' total; 0 when unknown
  bool measured_known = true;  // false: duration 0, ends after max_requests at a rate we cannot know
  double overhead_s = 0;       // starting and stopping the target, connecting (typical, not a bound)
  double drain_bound_s = 0;    // up to this more when responses are still in flight at the end
  int steps = 1;               // a capacity search: the steps a clean search takes (each a whole run)
  double total_s() const noexcept { return steps * (warmup_s + measured_s + overhead_s); }
};

// Typical time to spawn lab-target, see it print its address, pass its health check and stop it
// again, measured on the 2-core development VM (ci-smoke: 5.35 s for 2 x 2.5 s of load).
inline constexpr double spawned_target_overhead_s = 0.3;
// An external target: connecting only.
inline constexpr double external_target_overhead_s = 0.05;

variant_estimate estimate(const variant_spec& v);

// The plan as text: a header line, one aligned row per variant (variant, target, load, warm-up,
// measured, estimate) and a total line with repeats and what the estimate leaves out. Ends with '\n'.
std::string format_plan(const scenario& sc);

}  // namespace perflab::loadgen
