#pragma once
// A [report] metric's change over one variant, as run.json records it (target_counters), for the
// end-to-end tests that check the target's own counts.
#include <string>

#include <gtest/gtest.h>

#include "perflab/core/result.hpp"

namespace perflab::testing {

// The counter's delta. must_exist: the target must have had the series at both reads (a failure
// otherwise); when false, a series the target never had (no request of that kind came) reads 0.
// A metric the scenario did not list is a failure either way.
inline double report_counter(const result::variant& v, const std::string& metric, bool must_exist = true) {
  for (const auto& c : v.target_counters)
    if (c.metric == metric) {
      if (must_exist) {
        EXPECT_TRUE(c.found) << metric;
      }
      return c.found ? c.delta : 0;
    }
  ADD_FAILURE() << "no counter " << metric;
  return -1;
}

}  // namespace perflab::testing
