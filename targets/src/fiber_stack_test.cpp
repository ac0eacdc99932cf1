#include "fiber_stack.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <sys/mman.h>

namespace perflab::targets::detail {
namespace {

// The permissions /proc/self/maps gives the mapping that holds `at` ("" if none does). A
// mapping, not its start: the kernel merges neighbours with the same permissions.
std::string fiber_test_perms_at(const void* at) {
  const auto addr = static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(at));
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long long from = 0, to = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%llx-%llx %4s", &from, &to, perms) == 3 && from <= addr && addr < to) return perms;
  }
  return {};
}

// Resident pages of [at, at + bytes), by mincore.
std::size_t fiber_test_resident(char* at, std::size_t bytes) {
  const std::size_t page = fiber_page_bytes();
  std::vector<unsigned char> in((bytes + page - 1) / page);
  if (::mincore(at, bytes, in.data()) != 0) return static_cast<std::size_t>(-1);
  std::size_t n = 0;
  for (unsigned char v : in) n += v & 1;
  return n;
}

TEST(FiberStackPool, AnEndedStackIsReusedWithItsGuardPageAndWithoutItsPages) {
  const std::size_t page = fiber_page_bytes();
  fiber_stack_pool pool(2);
  const fiber_stack_memory a = pool.take(64 * 1024);
  EXPECT_EQ(a.total, 64 * 1024 + page);
  EXPECT_EQ(fiber_test_perms_at(a.base), "---p");        // the guard page
  EXPECT_EQ(fiber_test_perms_at(a.base + page), "rw-p");  // the stack above it
  for (char* p = a.base + page; p < a.top(); p += page) *p = 1;  // a fiber touched every page
  EXPECT_EQ(fiber_test_resident(a.base + page, a.total - page), a.total / page - 1);
  pool.give_back(a);
  EXPECT_EQ(pool.pooled(), 1u);
  EXPECT_EQ(fiber_test_resident(a.base + page, a.total - page), 0u);  // not kept resident

  const fiber_stack_memory b = pool.take(64 * 1024);
  EXPECT_EQ(b.base, a.base);  // the same mapping, no new one
  EXPECT_EQ(b.total, a.total);
  EXPECT_EQ(pool.pooled(), 0u);
  EXPECT_EQ(fiber_test_perms_at(b.base), "---p");  // still guarded
  EXPECT_EQ(b.top()[-1], 0);                       // fresh zero pages, nothing of the last fiber's
  pool.give_back(b);
}

TEST(FiberStackPool, HoldsAtMostItsCapacityAndOnlyReusesTheSameSize) {
  fiber_stack_pool pool(2);
  const fiber_stack_memory a = pool.take(32 * 1024), b = pool.take(32 * 1024), c = pool.take(32 * 1024);
  pool.give_back(a);
  pool.give_back(b);
  pool.give_back(c);  // past the capacity: unmapped
  const std::string c_after = fiber_test_perms_at(c.base + fiber_page_bytes());
  EXPECT_EQ(c_after, "");
  EXPECT_EQ(pool.pooled(), 2u);
  const fiber_stack_memory big = pool.take(128 * 1024);  // another size: a new mapping
  EXPECT_NE(big.base, a.base);
  EXPECT_NE(big.base, b.base);
  EXPECT_EQ(pool.pooled(), 2u);
  const fiber_stack_memory again = pool.take(32 * 1024);
  EXPECT_TRUE(again.base == a.base || again.base == b.base);
  EXPECT_EQ(pool.pooled(), 1u);
  unmap_fiber_stack(big);
  unmap_fiber_stack(again);
}

}  // namespace
}  // namespace perflab::targets::detail
