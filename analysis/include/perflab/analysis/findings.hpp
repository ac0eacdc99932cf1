#pragma once
// Findings: what a run's numbers say, computed from its results. Per compared dimension (a matrix
// key whose values differ between variants), with the other keys held fixed: the best and worst
// variant for goodput, TTLB p99, target threads, CPU per response and peak RSS, how many times
// better the best is, and, when both have repeats, whether compare's rule confirms the difference.
// Plus a Little's-law check for closed-loop variants. The report opens with them; `loadgen run`
// prints the strongest as findings_text() after its table.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "perflab/core/result.hpp"

namespace perflab::analysis {

enum class finding_metric {
  capacity,          // a capacity search's capacity (capacity.hpp, capacity_value), req/s or connections; higher is better
  goodput,           // tps_mean, successful responses/s; higher is better
  ttlb_p99,          // ttlb.p99_us (corrected in open loop), us; lower is better
  delivery_p99,      // push runs: delivery.p99_us (receive - publish), us; lower is better
  threads,           // target.threads, the peak thread count; lower is better (spawned targets only)
  cpu_per_response,  // target CPU s / completed, in us; lower is better (spawned targets only)
  peak_rss,          // target.peak_rss_bytes; lower is better (spawned targets only)
};
const char* to_string(finding_metric m) noexcept;
// A metric's value as the findings print it: "1,000/s", "117.6 ms", "141 threads", "11.5 MiB".
std::string format_value(finding_metric m, double v);  // "goodput", "ttlb p99", "threads", "cpu per response", "peak rss"

// How a contrast's difference stands up to the repeats (compare's judge_change, best vs worst).
enum class evidence {
  single_runs,       // a side has one run: no test
  within_tolerance,  // the medians differ by no more than compare's tolerance (5%)
  not_significant,   // beyond the tolerance, but p >= alpha and the repeats overlap
  repeats_agree,     // beyond the tolerance, no repeat contradicts it, p not below alpha (too few repeats, ties)
  significant,       // beyond the tolerance and Mann-Whitney p < alpha
};
const char* to_string(evidence e) noexcept;

// One variant and its repeats, as findings see it.
struct finding_subject {
  std::string label;                            // e.g. "model=reactor,path=/hello"
  std::map<std::string, std::string> params;    // matrix values (a report over several runs adds "run")
  std::vector<const result::variant*> repeats;  // at least one; must outlive the findings
  std::vector<const result::search_result*> searches;  // its capacity searches, one per searched repeat (may be empty)
};

// Best vs worst along one dimension, the other parameters held fixed.
struct contrast;
// A contrast's value with its unit (a capacity in connections reads "32 connections").
std::string format_value(const contrast& c, double v);

struct contrast {
  std::string dimension;               // the key that varies, e.g. "model"
  std::string context;                 // the others, "path=/hello" ("" when nothing else varies)
  finding_metric metric = finding_metric::goodput;
  std::string unit;                    // capacity: "req/s" or "connections" (format_value(contrast, v))
  std::string best, worst;             // the dimension's values, e.g. "reactor", or "connections=100" for numbers
  std::string best_label, worst_label; // the subjects' labels
  double best_value = 0;               // median over repeats: req/s, us, us per response, bytes
  double worst_value = 0;
  double ratio = 1;                    // times better the best is (>= 1; infinite when worst is 0 goodput)
  std::string best_status, worst_status;  // result::status_word: "ok", or the first repeat's that is not; for
                                          // capacity the search's verdict unless "found" ("above range", ...)
  std::size_t best_repeats = 1, worst_repeats = 1;
  std::size_t candidates = 2;          // subjects compared (values of the dimension in this context)
  evidence strength = evidence::single_runs;
  std::optional<double> p_value;       // with repeats on both sides
  std::string method;                  // compare's method text, when tested
};

// Little's law in a closed loop: each connection cycles through one request and its think time,
// so throughput ~ connections / (mean TTLB + think time). A measured rate well below that means
// time spent outside the requests (connects, errors, the loadgen itself).
struct little_check {
  std::string label;
  std::int64_t connections = 0;
  double think_time_s = 0;
  double mean_ttlb_us = 0;
  double predicted_per_s = 0;  // connections / (mean TTLB + think time)
  double measured_per_s = 0;   // all responses per second (rps_mean; tps_mean when that is 0)
  double ratio = 0;            // measured / predicted
};

struct findings {
  std::vector<std::string> dimensions;  // keys with more than one value, in key order
  std::vector<contrast> contrasts;      // per dimension, context, metric (in enum order); metrics on which
                                        // every variant of a context is alike are left out
  std::vector<little_check> little;     // closed-loop subjects with responses
};

findings compute_findings(const std::vector<finding_subject>& subjects);
// Subjects are the run's variants grouped by name (repeats together), labelled by name.
findings compute_findings(const result::run& r);

// One line of prose: "goodput: reactor 3,180/s vs thread-pool 398/s (x8.0)",
// "ttlb p99: thread-pool 2.05 s is x95 reactor's 21.6 ms", with the context in parentheses after
// the metric, a status in brackets after a variant that is not ok, and the evidence with repeats.
std::string describe(const contrast& c);
std::string describe(const little_check& l);

// The strongest findings for the terminal, after the table of `loadgen run`: per metric the
// contrast with the largest ratio (goodput, TTLB p99, then CPU or RSS when a line is left; ratios
// under x1.05 are not findings), at most three lines, and one Little's-law line for closed loops.
// Each line ends with '\n'; empty when there is nothing to say (one variant, open loop).
std::string findings_text(const result::run& r);
std::string findings_text(const findings& f);  // the same from computed findings

}  // namespace perflab::analysis
