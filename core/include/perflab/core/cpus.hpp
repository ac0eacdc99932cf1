#pragma once
// CPU lists for pinning, in the Linux cpulist syntax (cpuset(7) "List format", taskset -c,
// /sys/devices/system/cpu/online): `lab-target --cpu`, `loadgen attack --cpus` and the string
// form of `target.cpu`/`load.cpu` in scenarios all go through parse_list. Start-up code only.
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

}  // namespace perflab::cpus
