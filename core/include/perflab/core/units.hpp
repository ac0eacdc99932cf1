#pragma once
// Human units for scenarios and output: durations ("250us", "1.5s", "2m"), sizes ("16KiB", "1MB"),
// counts ("10k", "1.5M") and rates ("5k/s", "300/m"). Parsers return an error string that quotes
// the text and lists the accepted forms; they never throw. Start-up/config code only (they may
// allocate on error), never per request.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace perflab::units {

// A number (integer or decimal, no sign) followed by a unit: ns, us (or µs), ms, s, m, h.
// A bare "0" is accepted; any other bare number is an error (a duration needs its unit).
// Fractions are rounded to the nearest nanosecond; negative or overflowing values are errors.
tl::expected<std::chrono::nanoseconds, std::string> parse_duration(std::string_view text);

// Bytes: B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (powers of 1024), or a bare integer
// (bytes). Units are case-sensitive except the lone "k"/"K" spelling of kilo ("16kB", "16KB").
// Must come out a whole number of bytes ("1.5KiB" = 1536 is fine, "1.5B" is not).
tl::expected<std::uint64_t, std::string> parse_size(std::string_view text);

// A count with an optional SI suffix: k/K (1e3), M (1e6), G (1e9). "10k", "1.5M", "100".
tl::expected<double, std::string> parse_count(std::string_view text);

// Per second. A count, optionally followed by "/s", "/m" (per minute) or "/h" (per hour), or
// "/ms" (per millisecond). "5k/s", "300/m", "5000".
tl::expected<double, std::string> parse_rate(std::string_view text);

// A fraction in [0, 1]: a percentage "1%", "0.5 %", or a plain fraction "0.01".
tl::expected<double, std::string> parse_fraction(std::string_view text);

// Short human forms, with up to 3 significant digits after choosing the largest unit that keeps
// the number >= 1: "250us", "1.5s", "2m", "1h", "0s". The output of format_duration parses back
// with parse_duration (to within the printed precision).
std::string format_duration(std::chrono::nanoseconds d);
// Binary units: "512B", "16KiB", "1.5MiB".
std::string format_size(std::uint64_t bytes);
// Per second with SI suffix: "5k/s", "1.25M/s", "300/s", "0.5/s".
std::string format_rate(double per_second);

}  // namespace perflab::units
