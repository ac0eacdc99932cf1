#pragma once
// CPUs: lists for pinning, in the Linux cpulist syntax (cpuset(7) "List format", taskset -c,
// /sys/devices/system/cpu/online): `lab-target --cpu`, `loadgen attack --cpus` and the string
// form of `target.cpu`/`load.cpu` in scenarios all go through parse_list; and how many CPUs this
// process may use, for thread-count defaults (available()). Start-up code only.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace perflab::cpus {

// The highest CPU number a list may name: what a cpu_set_t (CPU_SETSIZE, 1024 in glibc) holds,
// since every list ends up in one for sched_setaffinity.
inline constexpr int max_cpu = 1023;

// "0", "0,2", "0-3", "0-1,4,6-7" -> the CPU numbers, ascending, without duplicates. Items are
// decimal numbers or lo-hi ranges (lo <= hi) separated by commas; whitespace around the whole
// text is ignored, inside it is not. The error quotes the text, says what is wrong (empty list
// or item, not a number, reversed range, CPU above max_cpu) and what was expected.
tl::expected<std::vector<int>, std::string> parse_list(std::string_view text);

// Checks that every CPU exists on this machine (below std::thread::hardware_concurrency()), so a
// typo fails at start-up instead of silently pinning to fewer CPUs. The error names the first
// missing CPU and the CPUs there are.
tl::expected<void, std::string> check_present(const std::vector<int>& cpus);

// The number of CPUs this process may run on, >= 1: the CPUs in its affinity mask
// (sched_getaffinity: taskset, --cpu pinning, a cpuset cgroup), capped by its cgroup CPU quota
// when one is set (quota_limit()). What a thread-count default should follow: on a 64-CPU host,
// `taskset -c 1` or a container limited to 1.5 CPUs gets 1 or 2, not 64
// (std::thread::hardware_concurrency() counts the machine's CPUs). Reads /proc and /sys on each
// call; call it at start-up.
int available() noexcept;

// This process's cgroup CPU bandwidth limit as a CPU count, the way Go's runtime sizes its
// GOMAXPROCS default: ceil(quota / period), at least 1 (Go uses at least 2). The tightest limit
// from the process's own cgroup up to the root of the mounted hierarchy (a parent's limit
// applies to its children too). cgroup v2: cpu.max ("max 100000" is no limit); v1: the cpu
// controller's cpu.cfs_quota_us / cpu.cfs_period_us (quota -1 is no limit). nullopt: no limit,
// or no cgroup CPU controller to read.
std::optional<int> quota_limit() noexcept;

// The pure parts of quota_limit(), for tests.
namespace cgroup {

// A CPU limit in CPUs (quota / period): nullopt when there is none. Errors name the text.
// cgroup v2 cpu.max: "$MAX $PERIOD", $MAX "max" or microseconds ("150000 100000" -> 1.5).
tl::expected<std::optional<double>, std::string> parse_cpu_max(std::string_view text);
// cgroup v1: cpu.cfs_quota_us ("-1": none) and cpu.cfs_period_us.
tl::expected<std::optional<double>, std::string> parse_cfs(std::string_view quota, std::string_view period);
// ceil(limit), at least 1.
int cpus_for_limit(double limit) noexcept;

// Where the CPU controller's files of this process's cgroup are.
struct location {
  int version = 2;              // 1 or 2
  std::string mount;            // where the hierarchy is mounted, e.g. /sys/fs/cgroup
  std::string path;             // the process's cgroup within it, e.g. /user.slice/x.scope ("/": the root)
};
// From the text of /proc/self/cgroup and /proc/self/mountinfo. A v1 hierarchy with the "cpu"
// controller wins (on hybrid hosts v2 then has no CPU controller); else the v2 ("0::") one.
// The path is made relative to the mount's root (a container sees its own cgroup as "/").
std::optional<location> locate(std::string_view proc_self_cgroup, std::string_view mountinfo);
// The cgroup directories from the process's own up to the mount root, innermost first.
std::vector<std::string> directories(const location& where);

}  // namespace cgroup

}  // namespace perflab::cpus
