#include "fiber_stack.hpp"

#include <new>

#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace perflab::targets::detail {

std::size_t fiber_page_bytes() noexcept {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

fiber_stack_memory map_fiber_stack(std::size_t bytes) {
  const std::size_t page = fiber_page_bytes();
  const std::size_t total = ((bytes + page - 1) / page + 1) * page;
  void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) throw std::bad_alloc();
  if (::mprotect(base, page, PROT_NONE) != 0) {
    ::munmap(base, total);
    throw std::bad_alloc();
  }
  return {static_cast<char*>(base), total};
}

void unmap_fiber_stack(const fiber_stack_memory& s) noexcept { ::munmap(s.base, s.total); }

fiber_stack_pool::fiber_stack_pool(std::size_t capacity) : capacity_(capacity) { free_.reserve(capacity); }

fiber_stack_pool::~fiber_stack_pool() {
  for (const auto& s : free_) unmap_fiber_stack(s);
}

fiber_stack_memory fiber_stack_pool::take(std::size_t bytes) {
  const std::size_t page = fiber_page_bytes();
  const std::size_t total = ((bytes + page - 1) / page + 1) * page;
  for (std::size_t i = free_.size(); i-- > 0;) {
    if (free_[i].total != total) continue;  // another server's --fiber-stack (tests run several)
    const fiber_stack_memory s = free_[i];
    free_[i] = free_.back();
    free_.pop_back();
    return s;
  }
  return map_fiber_stack(bytes);
}

void fiber_stack_pool::give_back(const fiber_stack_memory& s) noexcept {
  const std::size_t page = fiber_page_bytes();
#if defined(__SANITIZE_ADDRESS__)
  // Redzones of frames an exception unwound stay poisoned in ASan's shadow; the stack's next
  // fiber (or the next mapping at this address) must not inherit them.
  __asan_unpoison_memory_region(s.base + page, s.total - page);
#endif
  if (free_.size() >= capacity_ || ::madvise(s.base + page, s.total - page, MADV_DONTNEED) != 0) {
    unmap_fiber_stack(s);
    return;
  }
  free_.push_back(s);  // within the reserved capacity: no allocation
}

}  // namespace perflab::targets::detail
