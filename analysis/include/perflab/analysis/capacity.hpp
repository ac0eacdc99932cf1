#pragma once
// Capacity searches as the analysis reads them (run.searches, written by `loadgen run` for a
// scenario with [search]): the value a search stands for, its result next to Little's law's bound
// on it, and the terminal table printed after `loadgen run`. The findings compare capacities across
// variants (finding_metric::capacity), `loadgen compare` compares them between runs ("capacity"),
// the report draws the steps against the objective (report_capacity.cpp).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "perflab/core/result.hpp"

namespace perflab::analysis {

// The capacity a search stands for, in its unit: the capacity when found or within noise, the
// range's high end when above it (a lower bound), 0 when the objective failed below the range;
// nothing when the search could not say (limited by the load generator, incomplete).
std::optional<double> capacity_value(const result::search_result& s);

// "3,150/s" or "32 connections".
std::string format_capacity(const std::string& unit, double v);

// What a verdict word means in a table: "found", "within noise", "above range", "below range",
// "loadgen-limited", "incomplete".
std::string verdict_words(const std::string& verdict);

// A search's result next to Little's law (throughput <= concurrency / service time), from the
// steps' own measurements. Two bounds, the smaller predicts:
//  - workers: a thread pool serves at most workers / service time, with workers = its `threads`
//    target parameter and the service time the mean TTLB from the actual write at the lowest
//    passing step (the least queueing);
//  - CPU: at most cores / CPU per response, with cores = the CPUs the target was pinned to (for
//    the event loops, no more than their `threads`) and the target's CPU per response measured at
//    the capacity step.
struct capacity_check {
  std::string label;                // the variant, "#<repeat>" appended with repeats
  std::string unit;                 // "req/s" or "connections"
  std::string verdict;              // the search's verdict
  std::optional<double> capacity;   // capacity_value
  double band_low = 0, band_high = 0;
  std::size_t steps = 0;
  double goodput_at_capacity = 0;   // goodput measured at the representative step
  std::int64_t workers = 0;         // thread-pool workers (0: no worker bound)
  double service_time_us = 0;       // mean uncorrected TTLB at the lowest passing step (0: none)
  int cores = 0;                    // CPUs the target's requests could use (0: not pinned, unknown)
  double cpu_per_response_us = 0;   // target CPU per response at the capacity step (0: unknown)
  // The target's CPU over the capacity step's measured phase, as a share of its cores (0: unknown).
  // Well under 1 with a CPU bound: the target's cores were not all its own (other processes, a
  // shared machine), or something else (the loadgen) set the limit.
  double cpu_share = 0;
  double predicted = 0;             // the smaller bound in req/s (0: no bound applies)
  std::string bound;                // "32 workers / 10.1 ms" or "1 core / 226 us CPU"
  double ratio = 0;                 // capacity / predicted (0 unless both are known)
};

// One per search, rate searches with a bound; connection searches and verdicts without a capacity
// carry no prediction.
std::vector<capacity_check> capacity_checks(const result::run& r);

// The terminal table after `loadgen run` (a heading line with the objective and range, then one
// row per search: capacity, band, verdict, steps, goodput there, Little's law and the ratio).
// Empty without searches. Ends with '\n'.
std::string capacity_text(const result::run& r);

}  // namespace perflab::analysis
