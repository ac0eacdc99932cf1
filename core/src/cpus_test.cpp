#include "perflab/core/cpus.hpp"

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

namespace cpus = perflab::cpus;

TEST(CpusParseList, AcceptsTheLinuxCpulistSyntax) {
  struct row {
    const char* text;
    std::vector<int> want;
  };
  const row rows[] = {
      {"0", {0}},
      {"1", {1}},
      {"0,2", {0, 2}},
      {"0-3", {0, 1, 2, 3}},
      {"0-1,4,6-7", {0, 1, 4, 6, 7}},
      {"3-3", {3}},
      {"1,0,1", {0, 1}},           // sorted, duplicates dropped
      {"4-6,0-5", {0, 1, 2, 3, 4, 5, 6}},  // overlapping ranges merge
      {"007", {7}},
      {"1023", {1023}},
      {"1022-1023", {1022, 1023}},
      {" 0-1\n", {0, 1}},          // as read from /sys/devices/system/cpu/online
  };
  for (const auto& r : rows) {
    auto got = cpus::parse_list(r.text);
    ASSERT_TRUE(got) << r.text << ": " << got.error();
    EXPECT_EQ(*got, r.want) << r.text;
  }
}

TEST(CpusParseList, RejectsBadListsSayingWhatIsWrongAndWhatWasExpected) {
  struct row {
    const char* text;
    const char* why;
  };
  const row rows[] = {
      {"", "the list is empty"},
      {"  ", "the list is empty"},
      {",", "item 1 is empty"},
      {"1,", "item 2 is empty"},
      {"0,,2", "item 2 is empty"},
      {"a", "\"a\" is not a CPU number"},
      {"1.5", "\"1.5\" is not a CPU number"},
      {"+1", "\"+1\" is not a CPU number"},
      {"0, 2", "\" 2\" is not a CPU number"},
      {"-1", "\"-1\" is not a range lo-hi of CPU numbers"},
      {"1-", "\"1-\" is not a range lo-hi of CPU numbers"},
      {"1-2-3", "\"1-2-3\" is not a range lo-hi of CPU numbers"},
      {"0-x", "\"0-x\" is not a range lo-hi of CPU numbers"},
      {"3-1", "range \"3-1\" is reversed"},
      {"1024", "\"1024\" is out of range (CPUs go up to 1023)"},
      {"0-1024", "\"0-1024\" is out of range"},
      {"99999999999999999999999", "is out of range"},
  };
  for (const auto& r : rows) {
    auto got = cpus::parse_list(r.text);
    ASSERT_FALSE(got) << r.text << " parsed";
    EXPECT_NE(got.error().find(std::string("invalid CPU list \"") + r.text + "\""), std::string::npos) << got.error();
    EXPECT_NE(got.error().find(r.why), std::string::npos) << got.error();
    EXPECT_NE(got.error().find("expected CPU numbers from 0 to 1023 or lo-hi ranges"), std::string::npos) << got.error();
  }
}

TEST(CpusCheckPresent, AcceptsThisMachinesCpusAndNamesAMissingOne) {
  const int n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_TRUE(cpus::check_present({}));
  EXPECT_TRUE(cpus::check_present({0, n - 1}));
  auto missing = cpus::check_present({0, n});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("CPU " + std::to_string(n) + " is not on this machine"), std::string::npos)
      << missing.error();
}

}  // namespace
