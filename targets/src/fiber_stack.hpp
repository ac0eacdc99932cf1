#pragma once
// Internal (fiber model): the memory of a fiber's stack, and a carrier's pool of stacks whose
// fibers have ended, so that a new connection reuses one instead of mapping its own.
#include <cstddef>
#include <vector>

namespace perflab::targets::detail {

// The system's page size (the guard page's).
std::size_t fiber_page_bytes() noexcept;

// One mapping: a PROT_NONE guard page at `base`, then the stack up to base + total (it grows down).
struct fiber_stack_memory {
  char* base = nullptr;
  std::size_t total = 0;
  char* top() const noexcept { return base + total; }
};

// A new stack of at least `bytes` (rounded up to pages) plus its guard page. At the memory-map
// limit the guard's mprotect fails (it splits the mapping): then no stack (std::bad_alloc) rather
// than one without a guard.
fiber_stack_memory map_fiber_stack(std::size_t bytes);
void unmap_fiber_stack(const fiber_stack_memory& s) noexcept;

// Up to `capacity` ended stacks, kept mapped with their guard pages. Used by one thread.
class fiber_stack_pool {
 public:
  explicit fiber_stack_pool(std::size_t capacity);
  ~fiber_stack_pool();
  fiber_stack_pool(const fiber_stack_pool&) = delete;
  fiber_stack_pool& operator=(const fiber_stack_pool&) = delete;

  // A pooled stack of this size, else a new one (map_fiber_stack; throws std::bad_alloc).
  fiber_stack_memory take(std::size_t bytes);
  // Into the pool, its pages given back to the kernel (MADV_DONTNEED: what the fiber touched does
  // not stay resident), or unmapped when the pool is full.
  void give_back(const fiber_stack_memory& s) noexcept;
  std::size_t pooled() const noexcept { return free_.size(); }

 private:
  std::size_t capacity_;
  std::vector<fiber_stack_memory> free_;
};

}  // namespace perflab::targets::detail
