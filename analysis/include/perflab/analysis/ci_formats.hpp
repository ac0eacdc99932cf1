#pragma once
// CI formats of a run, written by `loadgen run --junit FILE --summary-md FILE`:
//  - JUnit XML, what CI servers show as test results: one testcase per variant and threshold
//    (failing with actual vs limit), one per variant for its status (failing when it is
//    INCOMPLETE, TARGET CRASHED, SATURATED, ERRORS or STALLED), and one for the run's completeness.
//  - A short Markdown summary for CI job pages: the verdict line, the variant table, the strongest
//    findings and the warnings.
// Both say what result::status_flags and result::exit_code_of say, like every other printer.
#include <filesystem>
#include <string>

#include <tl/expected.hpp>

#include "perflab/core/result.hpp"

namespace perflab::analysis {

// The exit code the run's numbers amount to: result::exit_code_of combined over its variants
// (exit_code::combine), and interrupted (6) when the run is incomplete but no variant says why.
int verdict_exit_code(const result::run& r);

// One JUnit XML document (<testsuites> with one <testsuite> for the run), UTF-8, ends with '\n'.
std::string junit_xml(const result::run& r);

// The Markdown summary, ends with '\n'.
std::string summary_markdown(const result::run& r);

struct ab_verdict;  // ab.hpp
struct ab_options;

// The CI formats of `loadgen ab`. JUnit: one testsuite "ab <scenario>" with a testcase per variant
// and metric ("<variant>: <metric>", failing with type REGRESSION and the change, its p and the
// ratio's interval), one per variant run of each side for its status ("baseline: <variant> #r:
// status", failing when the numbers are suspect), one per candidate threshold (the baseline's are
// the change's context, not its failure), and "ab: verdict" carrying the exit code. The summary: the
// verdict line, the verdict table, notes and warnings. Both say what judge_ab says.
std::string ab_junit_xml(const result::run& baseline, const result::run& candidate, const ab_verdict& v,
                         const ab_options& opt);
std::string ab_summary_markdown(const result::run& baseline, const result::run& candidate, const ab_verdict& v,
                                const ab_options& opt);

// Writes `text` to `path` through a temporary file next to it and a rename, so a reader never sees
// half a file. Error: the path and the reason.
tl::expected<void, std::string> write_text_file(const std::filesystem::path& path, const std::string& text);

}  // namespace perflab::analysis
