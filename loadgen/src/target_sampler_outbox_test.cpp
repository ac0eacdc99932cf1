// The runner's sampler reads a target's outbox counts (perflab_outbox_*, lab-target --outbox-db)
// into run.json's target_metrics: one point per scrape, the recovery time only once it exists.
#include "target_sampler.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace perflab::loadgen {
namespace {

TEST(TargetSamplerOutbox, EachScrapeGivesTheOutboxCountsAndTheRecoveryOnceMeasured) {
  detail::target_sampler sampler({});  // no URL: nothing is scraped, record() is fed by hand
  sampler.record("", 0.0,
                 "perflab_outbox_orders_total 200\nperflab_outbox_backlog 0\nperflab_outbox_consumed_total 199\n"
                 "perflab_outbox_duplicates_total 0\nperflab_outbox_lost 0\nperflab_outbox_committed 190\n");
  sampler.record("", 1.0,
                 "# HELP perflab_outbox_orders_total Orders.\nperflab_outbox_orders_total 400\n"
                 "perflab_outbox_backlog 3\nperflab_outbox_consumed_total 397\nperflab_outbox_duplicates_total 2\n"
                 "perflab_outbox_lost 0\nperflab_outbox_recovery_seconds 0.101\n");
  sampler.finish();
  std::map<std::string, std::vector<std::pair<double, double>>> got;
  for (auto& m : sampler.series()) got[m.metric] = m.points;
  using points = std::vector<std::pair<double, double>>;
  EXPECT_EQ(got["outbox_orders"], (points{{0, 200}, {1, 400}}));
  EXPECT_EQ(got["outbox_backlog"], (points{{0, 0}, {1, 3}}));
  EXPECT_EQ(got["outbox_consumed"], (points{{0, 199}, {1, 397}}));
  EXPECT_EQ(got["outbox_duplicates"], (points{{0, 0}, {1, 2}}));
  EXPECT_EQ(got["outbox_lost"], (points{{0, 0}, {1, 0}}));
  EXPECT_EQ(got["outbox_recovery_s"], (points{{1, 0.101}}));
  EXPECT_EQ(got.count("outbox_committed"), 0u) << "the audit's count is not sampled: the writers' is live";
}

}  // namespace
}  // namespace perflab::loadgen
