#pragma once
// Internal: the words every printer uses for a variant (load model, measurement, pinning, error
// classes, threshold values) and its notes: each status word of result::status_flags with what it
// means for this variant's numbers, then the conditions that are not statuses (unanswered,
// retried and carried-in requests). The report, the terminal table, compare, JUnit and the CI
// summary all print from here, so a condition cannot read differently in two of them.
#include <string>
#include <vector>

#include "perflab/core/result.hpp"

namespace perflab::analysis::detail {

std::string join(const std::vector<std::string>& v, const char* sep);
std::string join_ints(const std::vector<int>& v);
std::string seconds(double s);  // "3 s", "2.5 s"

std::string describe_load(const result::load_model& l);         // "open loop (constant arrivals, 300.0 req/s, ...)"
std::string describe_measurement(const result::load_model& l);  // "duration 3 s, warm-up 1 s, keep-alive"
std::string describe_pinning(const result::variant& v);         // "loadgen 1 thread, pinned to CPU 0; target ..."
std::string error_classes(const result::error_counts& e);       // "reset 3, status 5xx 12" or "-"
// A threshold's actual or limit value in its expression's unit ("12.3 ms", "1.00%", "1000 req/s").
std::string threshold_value(const std::string& expression, double v);

struct variant_note {
  std::string word;   // "SATURATED", ..., or "STOPPED EARLY", "UNANSWERED", "RETRIED", "CARRIED-IN"
  std::string text;   // one or two sentences about this variant's numbers (may use `code`)
  bool status = false;  // one of result::status_flags (fails JUnit's status testcase unless THRESHOLD FAILED)
};
// Notes in this order: the status flags (most severe first; one THRESHOLD FAILED note per failed
// check), then STOPPED EARLY, UNANSWERED, RETRIED, CARRIED-IN. Empty for a clean variant.
std::vector<variant_note> variant_notes(const result::variant& v);

// All responses per second exceeds goodput (some responses were not successes). An rps_mean
// below goodput is taken as not recorded, not as a difference.
bool rps_differs(const result::variant& v);

// Why a latency table row of `v` is empty (count 0), for the table itself; "" when it is not.
// `which` is the row's summary: connect, ttfb, ttlb, send_lag (or their uncorrected forms).
std::string empty_latency_reason(const result::variant& v, const result::latency_summary& which);

}  // namespace perflab::analysis::detail
