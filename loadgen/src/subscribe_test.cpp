#include "perflab/loadgen/subscribe.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace perflab::loadgen {
namespace {

TEST(SequenceCheck, CountsFirstCopiesDuplicatesAndLateArrivals) {
  sequence_check c(10);  // the topic had 10 messages before the run
  using s = sequence_check::seen_as;
  EXPECT_EQ(c.record(9), s::before_run);   // resumed history: not expected
  EXPECT_EQ(c.record(11), s::first);
  EXPECT_EQ(c.record(13), s::first);       // 12 skipped for now
  EXPECT_EQ(c.record(12), s::first);       // arrives after 13: out of order
  EXPECT_EQ(c.record(13), s::duplicate);
  EXPECT_EQ(c.record(40), s::first);       // past what the run published (counted apart)
  EXPECT_EQ(c.received(), 4);
  EXPECT_EQ(c.duplicated(), 1);
  EXPECT_EQ(c.out_of_order(), 1);
  EXPECT_EQ(c.highest(), 40u);
  EXPECT_EQ(c.received_within(5), 3);      // 11, 12, 13 of 11..15: two lost
  EXPECT_EQ(sequence_check(7).highest(), 7u);  // nothing yet: resume from the base
}

TEST(ScanMessages, FindsEachMessageInAPollBodyAndAnSseDataLine) {
  std::vector<std::pair<std::uint64_t, std::int64_t>> got;
  auto add = [&](std::uint64_t seq, std::int64_t ts) { got.emplace_back(seq, ts); };
  const std::string body =
      R"({"topic":"t","last":3,"gap":false,"messages":[{"seq":2,"ts":100,"data":"{\"seq\":99,\"ts\":1}"},)"
      R"({"seq":3,"ts":200,"data":""}]})";
  EXPECT_EQ(scan_messages(body, add), 2u);  // the escaped lookalike inside data is not a message
  EXPECT_EQ(got, (std::vector<std::pair<std::uint64_t, std::int64_t>>{{2, 100}, {3, 200}}));
  got.clear();
  EXPECT_EQ(scan_messages(R"({"seq":7,"ts":5,"data":"x"})", add), 1u);
  EXPECT_EQ(scan_messages(R"({"seq":x,"ts":5} {"seq":8,"tz":5})", add), 0u);  // malformed: skipped
  EXPECT_EQ(got.size(), 1u);
}

}  // namespace
}  // namespace perflab::loadgen
