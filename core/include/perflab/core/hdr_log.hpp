#pragma once
// HdrHistogram interoperability: the "V2 compressed" histogram encoding (zlib + base64, blobs
// start with "HISTF") and the interval log, format version 1.3. See shared LAB.md section 3.
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/core/histogram.hpp"

namespace perflab::hdr {

// A decoding error with the 1-based line it was found on (0 when not from a log).
struct decode_error {
  std::size_t line = 0;
  std::string message;  // what was wrong, e.g. "bad cookie 0x12345678 (expected a V2 compressed histogram)"
};

// V2 compressed encoding of h, base64 (standard alphabet, padded). h.too_large() has no place in
// the format and is not encoded (report it separately).
std::string encode_compressed(const histogram& h);
// Decodes a base64 V2 compressed blob (cookies masked with ~0xF0 as HdrHistogram does). Never
// throws or crashes on bad input: corrupt, truncated or garbage text is an error saying what was
// wrong. The normalizing index offset is ignored, as HdrHistogram_c and hdr-histogram-js do.
tl::expected<histogram, decode_error> decode_compressed(std::string_view base64);

// One interval line of a log.
struct interval {
  std::optional<std::string> tag;  // "Tag=<tag>," prefix when present
  double start_s = 0;              // interval start, seconds, relative to StartTime/BaseTime as written
  double length_s = 0;             // interval length, seconds (field 2, as the Java writer does)
  double max = 0;                  // interval max, in the log's unit ratio (we write value / max_ratio)
  histogram hist;                  // decoded histogram
};

// Interval log writer (format 1.3, as HdrHistogram's Java HistogramLogWriter). Writes on
// construction an optional "#[comment]" line, the version, StartTime and BaseTime headers (both
// start_time_s: interval starts are relative to it) and the legend; then one line per interval:
// [Tag=<tag>,]<start %.3f>,<length %.3f>,<max/divisor %.3f>,<blob>. Characters that would break
// the line (',', whitespace) in a tag are written as '_'. Not for the hot path (encodes, allocates).
class log_writer {
 public:
  // start_time_s: wall-clock seconds since epoch of the run start (StartTime header).
  // max_value_divisor: interval max is printed as max/divisor (1e6 turns ns into ms, as jHiccup logs).
  log_writer(std::ostream& out, double start_time_s, double max_value_divisor = 1e6,
             std::string_view comment = {});
  void write(const interval& iv);  // iv.max is ignored: the max column comes from iv.hist
  void write(std::optional<std::string_view> tag, double start_s, double length_s, const histogram& h);

 private:
  std::ostream& out_;
  double divisor_;
};

// Result of reading a whole log.
struct log {
  std::optional<double> start_time_s;  // StartTime header
  std::optional<double> base_time_s;   // BaseTime header
  std::vector<interval> intervals;
};

// Reads a whole log. Unknown comment lines are skipped; malformed interval lines are errors
// naming the line.
tl::expected<log, decode_error> read_log(std::istream& in);

}  // namespace perflab::hdr
