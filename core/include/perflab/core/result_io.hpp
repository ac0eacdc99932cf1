#pragma once
// Reading and writing results (run.json) and the small helpers every result needs: host and tool
// identification, timestamps, and the histogram -> latency_summary conversion.
// The JSON layout is result.hpp's macros; docs/result.schema.json is its schema.
#include <filesystem>
#include <string>

#include <tl/expected.hpp>

#include "perflab/core/histogram.hpp"
#include "perflab/core/result.hpp"

namespace perflab::result {

// Writes `r` as pretty JSON to `file` atomically: a temporary file in the same directory is
// written, flushed and renamed over `file`, so an interrupted run never leaves a broken run.json.
// The directory must exist. Error: a one-line message naming the file and the OS reason.
tl::expected<void, std::string> write_run_json(const std::filesystem::path& file, const run& r);

// Reads a run.json. Accepts a run directory too (reads <dir>/run.json). Fields missing from the
// file keep their defaults; a newer schema version than this build knows, malformed JSON or a
// wrong type is an error naming the file (and the JSON error).
tl::expected<run, std::string> read_run_json(const std::filesystem::path& file);

// The machine the run happens on: kernel (uname -sr), CPU model (/proc/cpuinfo), online CPUs
// and hostname. Fields that cannot be read stay empty / 0.
host_info detect_host();

// This program: name "perflab", version and git commit baked in at configure time, build type
// ("release", "debug", with "+sanitized" when built with sanitizers: such numbers are not real).
tool_info this_tool();

// A run of one variant made on this machine without a scenario (loadgen attack, subscribe): this
// tool, this host, the start time given (utc_timestamp() taken before the load), complete as the
// variant is.
run single_variant_run(std::string started_at, variant v);

// Wall-clock now as ISO 8601 UTC with milliseconds, "2026-11-22T03:15:00.123Z".
std::string utc_timestamp();
// Wall-clock now as a folder-name-safe stamp, "20261122T031500Z".
std::string utc_folder_stamp();

// Summary of a nanosecond histogram in microseconds: count, too_large, min, mean, stddev,
// p50/p90/p99/p99.9 (highest-equivalent values, as HdrHistogram reports them) and max.
// All zeros (except too_large) when the histogram is empty.
latency_summary summarize(const histogram& ns_hist);

}  // namespace perflab::result
