#pragma once
// Capacity search ([search] in a scenario): the highest value of one load variable (the open-loop
// rate, or the closed-loop connection count) at which a variant still meets an objective written
// in the threshold language ("ttlb.p99 < 50ms", "errors.rate < 0.1%").
//
// Two pure parts, separate from the runner that executes the steps (search_runner.cpp):
//  - judge_step: one step's measured run against the objective: pass, fail, limited (the load
//    generator, not the target, broke it) or aborted (interrupted, target died);
//  - decide: from every judged step so far, the next value to run or the search's verdict.
//    It ramps geometrically from the range's low end until the objective fails, then bisects
//    (geometric midpoints) until the bracket is within the resolution, repeating unsure steps
//    (a marginal or loadgen-limited result) until two runs at a level agree, and confirming both
//    ends of the final bracket (the capacity passes again, the level above fails again).
//    docs/scenarios.md, "Capacity search", states the rules.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "perflab/core/result.hpp"
#include "perflab/loadgen/thresholds.hpp"

namespace perflab::loadgen {

// The [search] table, validated.
struct search_spec {
  std::vector<threshold> objective;      // all must hold for a step to pass
  std::string variable;                  // "load.rate" (open loop) or "load.connections" (closed loop)
  double low = 0;                        // range, in the variable's unit (req/s or connections); 0 < low < high
  double high = 0;
  std::chrono::nanoseconds step{0};      // measured phase of each step (0: load.duration); warm-up from load.warmup
  double resolution = 0.05;              // stop bisecting when high / low of the bracket <= 1 + resolution
  int confirmations = 1;                 // extra runs the final level must pass, and the failing level above
                                         // it (or the low end) must fail (0: none)
  double growth = 2;                     // ramp factor while the objective holds (> 1)
  double margin = 0.10;                  // an objective value within this fraction of its limit is marginal: repeated
  bool integer() const noexcept { return variable == "load.connections"; }
  const char* unit() const noexcept { return integer() ? "connections" : "req/s"; }
  // Runs one level may take before it is called noisy: enough for the confirmations and one tie-break.
  int max_runs_per_level() const noexcept { return confirmations + 2 > 3 ? confirmations + 2 : 3; }
  // The whole search's budget: a few times the steps a clean search takes; only noise exhausts it.
  int max_steps() const;
};

enum class step_outcome {
  pass,     // every objective held
  fail,     // an objective did not hold (or a stop_when condition ended the step: the target is failing)
  limited,  // the load generator could not deliver the load while the target was keeping up
  aborted,  // interrupted, or the target failed to start or died: the search cannot go on
};
const char* to_string(step_outcome o) noexcept;  // "pass", "fail", "limited", "aborted"

struct judged_step {
  double value = 0;            // the searched variable's value of this step
  step_outcome outcome = step_outcome::fail;
  bool marginal = false;       // some objective value within the margin of its limit
  bool clean = true;           // the run carries no status word (result::status_flags): the representative
                               // of a level is a clean run when it has one
  std::string reason;          // why, in one clause: "ttlb.p99 1.52 s, limit 50.0 ms"
};

// Judges one step's measured run `v` (run at `value`) against the objective; `verdicts` receives
// the objective's checks as evaluate_thresholds gives them. The objective is judged on the
// corrected numbers (from the intended send times), so the loadgen's own lateness counts against
// a pass, never for it. The step is `limited` instead of pass or fail when the loadgen, not the
// target, decided it: it ran out of its own resources; it was late (send lag over its bound) with
// connections to spare and either sent under 97% of the schedule or failed an objective the
// target met counted from the actual write (uncorrected latencies, send-lag conditions left out);
// or only send-lag conditions failed. Lateness while every connection was busy with the target
// (requests queued for a connection) is the target's doing and judged as measured. A step whose
// row the verdict module calls failing (STALLED, or ERRORS over load.max_error_rate) fails
// whatever the objective says: a capacity is never a level where the target starves clients.
judged_step judge_step(const search_spec& s, double value, const result::variant& v,
                       std::vector<result::threshold_verdict>& verdicts);

enum class search_verdict {
  found,            // capacity = the highest level that passed stably, the next level up failed stably
  within_noise,     // a capacity, but the level above it (or the budget) gave mixed verdicts: the band is wider
  below_range,      // the objective failed at the range's low end
  above_range,      // the objective held up to the range's high end: capacity >= high
  loadgen_limited,  // the load generator could not deliver a level: no capacity is claimed
  incomplete,       // interrupted, or the target failed to start or died
};
const char* to_string(search_verdict v) noexcept;  // "found", "within_noise", ...

struct search_decision {
  bool done = false;
  double next = 0;                        // !done: the value of the next step
  search_verdict verdict = search_verdict::incomplete;  // done: the verdict and what goes with it
  double capacity = 0;                    // found, within_noise, above_range; 0 otherwise
  double band_low = 0;                    // the boundary lies in [band_low, band_high]
  double band_high = 0;
  std::string reason;                     // one sentence
  std::optional<std::size_t> representative;  // done: the step that stands for the variant in run.variants
};

// The controller: a pure function of the spec and the judged steps so far (in the order run).
search_decision decide(const search_spec& s, const std::vector<judged_step>& steps);

// A value as the steps run it: connections whole, rates whole from 20/s up (two decimals below).
double round_value(const search_spec& s, double v);
// "3,150/s" or "32 connections".
std::string format_search_value(const search_spec& s, double v);
// Steps a search takes when every verdict is clear at once: the ramp, the bisection and the
// confirmations of both ends of the final bracket (for --dry-run estimates).
int expected_steps(const search_spec& s);

}  // namespace perflab::loadgen
