#include "perflab/loadgen/ab_runner.hpp"

#include <map>
#include <sstream>
#include <utility>

#include <gtest/gtest.h>

#include "perflab/core/exit_codes.hpp"

using namespace perflab::loadgen;

TEST(AbOrder, PairsAlternateWhichSideGoesFirstSoDriftHitsBothAlike) {
  const auto order = interleaved_order(1, 4);
  ASSERT_EQ(order.size(), 8u);
  std::string seq;
  for (const auto& s : order) seq += s.side == ab_side::baseline ? 'A' : 'B';
  EXPECT_EQ(seq, "ABBAABBA");
  // A linear drift over the job adds the same to both sides: the mean position of each side's runs
  // is the same.
  double pos_a = 0, pos_b = 0;
  for (std::size_t i = 0; i < order.size(); ++i) (order[i].side == ab_side::baseline ? pos_a : pos_b) += double(i);
  EXPECT_DOUBLE_EQ(pos_a, pos_b);
}

TEST(AbOrder, EveryVariantRunsEveryRepeatOnBothSidesOnce) {
  const auto order = interleaved_order(3, 5);
  ASSERT_EQ(order.size(), 30u);
  std::map<std::tuple<std::size_t, int, ab_side>, int> seen;
  for (const auto& s : order) ++seen[{s.variant, s.repeat, s.side}];
  EXPECT_EQ(seen.size(), 30u);
  for (const auto& [k, n] : seen) EXPECT_EQ(n, 1);
  // Each variant alternates which side goes first from one repeat to the next.
  for (std::size_t p = 0; p + 2 < order.size(); p += 2)
    if (order[p].variant == 0 && order[p].repeat + 1 < 5) {
      const auto& next = order[p + 6];  // the same variant's pair in the next repeat
      EXPECT_EQ(next.variant, 0u);
      EXPECT_NE(next.side, order[p].side);
    }
}

TEST(AbUsage, BadCombinationsOfSidesExitTwoBeforeAnythingRuns) {
  ab_run_options o;
  o.scenario_file = "does-not-matter.toml";
  std::ostringstream out, err;
  EXPECT_EQ(run_ab(o, out, err).exit_code, perflab::exit_code::usage);
  EXPECT_NE(err.str().find("no sides to compare"), std::string::npos) << err.str();

  err.str("");
  o.baseline_bin = "/bin/true";
  EXPECT_EQ(run_ab(o, out, err).exit_code, perflab::exit_code::usage);
  EXPECT_NE(err.str().find("--candidate-bin is missing"), std::string::npos) << err.str();

  err.str("");
  o.candidate_url = "http://127.0.0.1:1";
  EXPECT_EQ(run_ab(o, out, err).exit_code, perflab::exit_code::usage);
  EXPECT_NE(err.str().find("not both kinds"), std::string::npos) << err.str();

  err.str("");
  o = {};
  o.scenario_file = "x.toml";
  o.baseline_bin = o.candidate_bin = "/bin/true";
  o.tolerance = "lots";
  EXPECT_EQ(run_ab(o, out, err).exit_code, perflab::exit_code::usage);
  EXPECT_NE(err.str().find("--tolerance"), std::string::npos) << err.str();
  EXPECT_TRUE(out.str().empty()) << "nothing ran";

  err.str("");
  o.tolerance = "5%";
  o.repeats = 2;
  EXPECT_EQ(run_ab(o, out, err).exit_code, perflab::exit_code::usage);
  EXPECT_NE(err.str().find("--repeats 2: accepted 3 to 1000"), std::string::npos) << err.str();
}
