#pragma once
// The per-thread buffer pool behind every model's connections (nginx's approach to idle
// keep-alive connections): a connection borrows a read buffer when bytes arrive and a response
// buffer while a response is built and written, and gives both back as soon as it is idle, so a
// connection that waits for its next request holds no buffer at all.
//
// Buffers are std::strings (the response writers append to a std::string), each with at least
// block_size bytes of capacity. lend() takes one from the calling thread's free list (or makes
// one); give_back() keeps it on the calling thread's free list, up to max_free buffers of at most
// max_kept_capacity bytes each; anything beyond is freed, so a burst of busy connections does not
// keep its memory once it is over. A buffer may be given back on another thread than the one it
// was lent on (it joins that thread's list): each list is touched only by its own thread.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace perflab::targets {

class buffer_pool {
 public:
  static constexpr std::size_t block_size = 4096;           // capacity of a new buffer
  static constexpr std::size_t max_free = 64;               // buffers kept per thread, at most
  static constexpr std::size_t max_kept_capacity = 64 * 1024;  // a larger buffer is freed, not kept

  // The calling thread's pool.
  static buffer_pool& local();
  // Buffers lent and not yet given back, over all threads (perflab_target_pooled_buffers_in_use).
  static std::int64_t in_use() noexcept;

  // An empty buffer (size 0) with at least block_size bytes of capacity. Throws std::bad_alloc.
  std::string lend();
  // A buffer whose size is its capacity (at least block_size; contents unspecified), to read
  // into. Throws std::bad_alloc.
  std::string lend_filled();
  // b's memory back to this thread's list (or freed); b is left empty, with no memory.
  void give_back(std::string& b) noexcept;
  // Buffers on this thread's free list now.
  std::size_t free_count() const noexcept { return free_.size(); }
  // Keep at most n buffers on this thread's list (default max_free); 0 for a thread that serves
  // a single connection, whose list would keep its buffers while the connection waits idle.
  void set_max_free(std::size_t n) noexcept { max_free_ = n; }

  buffer_pool();
  ~buffer_pool();
  // This pool's lent and returned counts, written only by the owning thread (a load and a store,
  // no locked instruction on the request path); in_use() sums them over all threads' pools.
  struct counters;
  buffer_pool(const buffer_pool&) = delete;
  buffer_pool& operator=(const buffer_pool&) = delete;

 private:
  std::string take();

  std::vector<std::string> free_;
  std::size_t max_free_ = max_free;
  counters* counts_;
};

}  // namespace perflab::targets
