#pragma once
// Internal: the run's variants as one row each (the terminal table after `loadgen run`, and the
// CI summary's table), and the lines naming the load model behind them.
#include <string>
#include <vector>

#include "perflab/core/result.hpp"

namespace perflab::analysis::detail {

struct grid {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

// Columns: variant, goodput/s, [responses/s], TTFB and TTLB p50/p99 (ms), errors,
// [carried-in], [stalled], [unanswered], status. Bracketed columns appear only when some variant
// has a value there (responses/s: when it differs from goodput), so the common case stays narrow.
grid variant_grid(const result::run& r);

// "load: ...", "measured: ...", "cpus: ..." lines, one per distinct setting (each ends with '\n').
std::string load_context_lines(const result::run& r);

// Variant names made unique within the run: "<name> #<repeat>" when a name repeats.
std::vector<std::string> variant_labels(const result::run& r);

}  // namespace perflab::analysis::detail
