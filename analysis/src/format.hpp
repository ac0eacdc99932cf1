#pragma once
// Internal helpers of the analysis library: number formatting with units and aligned text tables.
#include <string>
#include <vector>

namespace perflab::analysis::detail {

// A latency in microseconds as a short human string: "850 us", "12.3 ms", "1.20 s".
std::string format_us(double us);
// Milliseconds with 2-3 significant decimals, no unit ("0.412", "12.3", "1523").
std::string format_ms_plain(double us);
// Throughput: "12345.6" style, trimmed sensibly for large values.
std::string format_rate(double per_s);
// A fraction as a percentage: 0.0123 -> "1.23%".
std::string format_percent(double fraction);
// Bytes as KiB/MiB/GiB.
std::string format_bytes(double bytes);
// A rate or count for prose, with thousands separators: "3,180", "398", "42.5", "3.21".
std::string format_grouped(double v);
// How many times larger, for prose: "x1.3", "x8.0", "x95" (from 10 on, whole), "x1,200"; "x-" when not finite.
std::string format_ratio(double r);

// Aligned plain-text table: first column left-aligned, the others right-aligned; columns
// separated by two spaces; a dashed rule under the header. Ends with '\n'.
std::string text_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace perflab::analysis::detail
