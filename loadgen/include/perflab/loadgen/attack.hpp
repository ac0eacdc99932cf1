#pragma once
// Helpers behind `loadgen attack`, public so the scenario runner and tests can reuse them.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/core/result.hpp"

namespace perflab::loadgen {

// "Name: value" -> {name, value} (value trimmed). Error names the text.
tl::expected<std::pair<std::string, std::string>, std::string> parse_header(std::string_view text);
// The human summary `loadgen attack` prints: load model line first, requests, errors by class,
// a percentile table (connect, TTFB/TTLB corrected and uncorrected, send lag), loadgen CPU and
// the saturation verdict.
std::string format_summary(const result::variant& v);

}  // namespace perflab::loadgen
