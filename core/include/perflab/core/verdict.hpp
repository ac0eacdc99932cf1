#pragma once
// What a variant's numbers amount to, in one place for every printer and exit code: its status
// words ("ok", or flags such as SATURATED, ERRORS, STALLED), the exit code they map to, and which
// HTTP statuses count as success (goodput). `loadgen attack`, `loadgen run`, the terminal table,
// the reports, JUnit and the CI summary all read these, so a row cannot be "ok" in one and
// failing in another.
#include <bitset>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/core/result.hpp"

namespace perflab::result {

// HTTP statuses 100..599 that count as success. Parsed from a comma-separated list of classes
// ("2xx") and codes ("404"), e.g. the default "2xx,3xx".
class success_statuses {
 public:
  success_statuses();  // 2xx and 3xx
  static tl::expected<success_statuses, std::string> parse(std::string_view list);
  bool contains(int status) const noexcept { return status >= 0 && status < 600 && set_.test(static_cast<std::size_t>(status)); }
  const std::string& text() const noexcept { return text_; }  // normalized list, e.g. "2xx,3xx"

 private:
  std::bitset<600> set_;
  std::string text_;
};

// The status words of a variant, most severe first (empty: ok):
//   INCOMPLETE        interrupted, or the target failed to start or died (incomplete_reason says which)
//   TARGET CRASHED    the spawned target died during the variant
//   SATURATED         the loadgen could not keep its schedule or ran out of its own resources
//   ERRORS            error_rate above load.max_error_rate
//   STALLED           requests got no answer through the whole measured phase (stalled > 0)
//   THRESHOLD FAILED  a [thresholds] check failed
std::vector<std::string> status_flags(const variant& v);

// "ok" or the flags joined with `sep`.
std::string status_word(const variant& v, std::string_view sep = ",");

// error_rate above the variant's bound (load.max_error_rate).
bool error_rate_exceeded(const variant& v) noexcept;

// The exit code a variant's outcome maps to (exit_codes.hpp; 0 for ok): interrupted 6, target
// crashed or not started 1, saturated 5, ERRORS or STALLED 7, thresholds 3.
int exit_code_of(const variant& v);

}  // namespace perflab::result
