#pragma once
// Internal to `loadgen run`: executes the capacity search of one variant (and repeat). It asks the
// controller (search.hpp, decide) for the next value, runs that step as an ordinary variant run
// through the runner's callback (target spawned, warm-up, measured phase, its own interval log and
// CSV), judges it (judge_step), prints one line per step, and hands the search so far back after
// every step so the runner can rewrite run.json: an interrupted search is still auditable.
#include <functional>
#include <iosfwd>
#include <string>

#include "perflab/core/result.hpp"
#include "perflab/loadgen/scenario.hpp"

namespace perflab::loadgen::detail {

struct step_run {
  result::variant v;         // the step's run, as run_variant produced it
  bool interrupted = false;  // Ctrl-C during the step
};

struct search_outcome {
  result::search_result search;
  // The step that stands for the variant in run.variants (the capacity level, or the step that
  // ended the search), named like the variant, its thresholds the objective's checks on it plus the
  // scenario's [thresholds]: its status words and exit code are the search's (verdict.hpp).
  result::variant representative;
  bool interrupted = false;
};

using step_runner = std::function<step_run(const variant_spec& step, const std::string& file_prefix)>;
using search_progress = std::function<void(const result::search_result& so_far)>;

// Runs spec.search (which must be set); `prefix` is the variant's file prefix (steps append -sNN).
search_outcome run_search(const variant_spec& spec, int repeat, const std::string& prefix, const step_runner& run_step,
                          const search_progress& on_step, std::ostream& out);

}  // namespace perflab::loadgen::detail
