// The engine's workers must not allocate their per-second sample sets during the run (house
// rule: allocate before the run). This binary replaces the global operator new with one that
// counts large allocations (a sample set is six ~256 KiB histograms) made on any thread but the
// test's own: the run's set-up (workers, spare sets) happens on the calling thread, so what is
// counted is what the worker threads allocated while the load ran.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "perflab/loadgen/engine.hpp"
#include "test_server.hpp"

namespace {
constexpr std::size_t large = 64 * 1024;
std::atomic<bool> counting{false};
std::atomic<std::size_t> large_off_main{0};
std::thread::id main_thread;

struct count_allocations {
  count_allocations() {
    main_thread = std::this_thread::get_id();
    large_off_main = 0;
    counting = true;
  }
  ~count_allocations() { counting = false; }
  std::size_t count() const { return large_off_main.load(); }
};
}  // namespace

// GCC pairs the builtin operator new with free() at inlined call sites and warns
// (-Wmismatched-new-delete), not knowing both sides are replaced here and use malloc/free.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  if (size >= large && counting.load(std::memory_order_relaxed) && std::this_thread::get_id() != main_thread)
    large_off_main.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace perflab::loadgen {
namespace {

using namespace std::chrono_literals;

TEST(EngineAllocation, CountingHookSeesLargeAllocationsOnOtherThreads) {
  // Guards the test below: the hook must observe a large allocation made off the main thread.
  count_allocations scope;
  std::thread([] { std::vector<char> v(large * 2); (void)v; }).join();
  EXPECT_GE(scope.count(), 1u);
}

TEST(EngineAllocation, IntervalHandOffsNeverAllocateSampleSets) {
  testing::test_server srv;
  run_config cfg;
  cfg.url = srv.url();
  cfg.kind = "open";
  cfg.rate = 500;
  cfg.duration = 3500ms;  // three hand-offs per worker and the last one
  cfg.threads = 2;
  count_allocations scope;
  auto v = run_load(cfg);
  const auto seen = scope.count();
  ASSERT_TRUE(v.has_value()) << v.error();
  EXPECT_GT(v->completed, 1500);
  EXPECT_EQ(seen, 0u) << "worker threads allocated large blocks during the run (sample sets at a hand-off?)";
}

}  // namespace
}  // namespace perflab::loadgen
