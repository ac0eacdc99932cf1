#include "perflab/core/cpus.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>

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

TEST(CpusCgroup, ParsesCgroupV2CpuMax) {
  struct row {
    const char* text;
    std::optional<double> limit;
  };
  const row rows[] = {
      {"max 100000\n", std::nullopt},   // no limit
      {"max 100000", std::nullopt},
      {"150000 100000\n", 1.5},
      {"100000 100000", 1.0},
      {"50000 100000", 0.5},
      {"400000 100000", 4.0},
      {"1000 1000000", 0.001},
  };
  for (const auto& r : rows) {
    auto got = cpus::cgroup::parse_cpu_max(r.text);
    ASSERT_TRUE(got) << r.text << ": " << got.error();
    EXPECT_EQ(got->has_value(), r.limit.has_value()) << r.text;
    if (r.limit && *got) {
      EXPECT_DOUBLE_EQ(**got, *r.limit) << r.text;
    }
  }
  for (const char* bad : {"", "max", "150000", "150000 0", "-1 100000", "abc 100000", "150000 100000 7",
                          "150000  100000", "1.5 1", "max x"}) {
    auto got = cpus::cgroup::parse_cpu_max(bad);
    ASSERT_FALSE(got) << "\"" << bad << "\" parsed";
    EXPECT_NE(got.error().find("cpu.max"), std::string::npos) << got.error();
  }
}

TEST(CpusCgroup, ParsesCgroupV1CfsQuota) {
  struct row {
    const char* quota;
    const char* period;
    std::optional<double> limit;
  };
  const row rows[] = {
      {"-1\n", "100000\n", std::nullopt},
      {"150000\n", "100000\n", 1.5},
      {"50000", "100000", 0.5},
      {"200000", "50000", 4.0},
  };
  for (const auto& r : rows) {
    auto got = cpus::cgroup::parse_cfs(r.quota, r.period);
    ASSERT_TRUE(got) << r.quota << "/" << r.period << ": " << got.error();
    EXPECT_EQ(got->has_value(), r.limit.has_value()) << r.quota;
    if (r.limit && *got) {
      EXPECT_DOUBLE_EQ(**got, *r.limit) << r.quota;
    }
  }
  for (auto [q, p] : {std::pair{"", "100000"}, {"-2", "100000"}, {"0", "100000"}, {"x", "100000"}, {"1000", "0"},
                      {"1000", ""}, {"-1", "abc"}}) {
    EXPECT_FALSE(cpus::cgroup::parse_cfs(q, p)) << q << "/" << p;
  }
}

TEST(CpusCgroup, LimitRoundsUpLikeGoAndIsAtLeastOne) {
  struct row {
    double limit;
    int cpus;
  };
  for (const row r : {row{0.001, 1}, {0.5, 1}, {1.0, 1}, {1.000001, 2}, {1.5, 2}, {2.0, 2}, {3.2, 4}, {64.0, 64}}) {
    EXPECT_EQ(cpus::cgroup::cpus_for_limit(r.limit), r.cpus) << r.limit;
  }
}

// /proc/self/mountinfo lines as a hybrid (v1 + v2) host and a v2-only container show them.
constexpr std::string_view hybrid_mountinfo =
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
    "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n";
constexpr std::string_view v2_mountinfo =
    "22 1 0:21 / / rw - overlay overlay rw\n"
    "29 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";

TEST(CpusCgroup, LocatesTheCpuControllersCgroup) {
  struct row {
    const char* name;
    std::string_view cgroup;
    std::string_view mountinfo;
    std::optional<cpus::cgroup::location> want;
  };
  using loc = cpus::cgroup::location;
  const row rows[] = {
      {"v2 only", "0::/user.slice/session-1.scope\n", v2_mountinfo, loc{2, "/sys/fs/cgroup", "/user.slice/session-1.scope"}},
      {"v2 root (container with its own namespace)", "0::/\n", v2_mountinfo, loc{2, "/sys/fs/cgroup", "/"}},
      {"hybrid: v1 cpu controller wins", "4:memory:/x\n3:cpu,cpuacct:/lab/a\n0::/lab/a\n", hybrid_mountinfo,
       loc{1, "/sys/fs/cgroup/cpu,cpuacct", "/lab/a"}},
      {"v1 mount rooted at the container's cgroup",
       "2:cpu,cpuacct:/docker/abc\n",
       "31 30 0:28 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu,cpuacct\n",
       loc{1, "/sys/fs/cgroup/cpu", "/"}},
      {"v1 mount root below it, child cgroup",
       "2:cpu:/docker/abc/job\n",
       "31 30 0:28 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n",
       loc{1, "/sys/fs/cgroup/cpu", "/job"}},
      {"escaped mount point", "0::/a\n", "29 22 0:26 / /mnt/my\\040cgroup rw - cgroup2 cgroup2 rw\n",
       loc{2, "/mnt/my cgroup", "/a"}},
      {"cpuacct alone is not cpu", "3:cpuacct:/a\n",
       "31 30 0:28 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n", std::nullopt},
      {"our cgroup is outside the mount", "0::/other\n", "29 22 0:26 /mine /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
       std::nullopt},
      {"no cgroup filesystem", "0::/a\n", "22 1 0:21 / / rw - ext4 /dev/vda rw\n", std::nullopt},
      {"garbage", "nonsense", "nonsense", std::nullopt},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    const auto got = cpus::cgroup::locate(r.cgroup, r.mountinfo);
    ASSERT_EQ(got.has_value(), r.want.has_value());
    if (!got) continue;
    EXPECT_EQ(got->version, r.want->version);
    EXPECT_EQ(got->mount, r.want->mount);
    EXPECT_EQ(got->path, r.want->path);
  }
}

TEST(CpusCgroup, DirectoriesGoFromTheOwnCgroupUpToTheMountRoot) {
  using v = std::vector<std::string>;
  EXPECT_EQ(cpus::cgroup::directories({2, "/sys/fs/cgroup", "/a/b"}),
            (v{"/sys/fs/cgroup/a/b", "/sys/fs/cgroup/a", "/sys/fs/cgroup"}));
  EXPECT_EQ(cpus::cgroup::directories({2, "/sys/fs/cgroup", "/"}), (v{"/sys/fs/cgroup"}));
  EXPECT_EQ(cpus::cgroup::directories({1, "/c", "/x/"}), (v{"/c/x", "/c"}));
}

TEST(CpusAvailable, IsTheAffinityMaskCappedByTheQuota) {
  cpu_set_t mine;
  ASSERT_EQ(::sched_getaffinity(0, sizeof mine, &mine), 0);
  int want = CPU_COUNT(&mine);
  if (const auto q = cpus::quota_limit()) want = std::min(want, *q);
  EXPECT_EQ(cpus::available(), want);
  EXPECT_GE(cpus::available(), 1);
}

}  // namespace
