#include <perflab/targets/buffer_pool.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <new>

namespace perflab::targets {

struct buffer_pool::counters {
  std::atomic<std::int64_t> lent{0};
  std::atomic<std::int64_t> returned{0};
};

namespace {

// Every live pool's counters, and what ended threads' pools had counted (a buffer lent on a
// thread that has ended may still be given back elsewhere). Never destroyed: a thread may end
// after main has returned.
struct buffer_pool_registry {
  std::mutex mutex;
  std::vector<buffer_pool::counters*> live;
  std::int64_t retired = 0;  // lent - returned of ended pools (guarded by mutex)
};

buffer_pool_registry& pool_registry() {
  static auto* r = new buffer_pool_registry;
  return *r;
}

// Only the owning thread writes a counter: a relaxed load and store, no read-modify-write.
void pool_count(std::atomic<std::int64_t>& c) noexcept { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }

}  // namespace

buffer_pool& buffer_pool::local() {
  thread_local buffer_pool pool;
  return pool;
}

buffer_pool::buffer_pool() : counts_(new counters) {
  auto& r = pool_registry();
  std::lock_guard lock(r.mutex);
  r.live.push_back(counts_);
}

buffer_pool::~buffer_pool() {
  auto& r = pool_registry();
  std::lock_guard lock(r.mutex);
  r.retired += counts_->lent.load(std::memory_order_relaxed) - counts_->returned.load(std::memory_order_relaxed);
  r.live.erase(std::find(r.live.begin(), r.live.end(), counts_));
  delete counts_;
}

std::int64_t buffer_pool::in_use() noexcept {
  auto& r = pool_registry();
  std::lock_guard lock(r.mutex);
  std::int64_t n = r.retired;
  for (const counters* c : r.live) n += c->lent.load(std::memory_order_relaxed) - c->returned.load(std::memory_order_relaxed);
  return n;
}

std::string buffer_pool::take() {
  // The list's room is made here (a thread that keeps none has no list at all).
  if (free_.capacity() < max_free_) free_.reserve(max_free_);
  std::string b;
  if (!free_.empty()) {
    b.swap(free_.back());
    free_.pop_back();
  } else {
    b.reserve(block_size);
  }
  pool_count(counts_->lent);
  return b;
}

std::string buffer_pool::lend() {
  std::string b = take();
  b.clear();  // keeps the capacity
  return b;
}

std::string buffer_pool::lend_filled() {
  std::string b = take();
  // A buffer last used for a response is shorter: filled here (a read buffer comes back full).
  if (b.size() < b.capacity()) b.resize(b.capacity());
  return b;
}

void buffer_pool::give_back(std::string& b) noexcept {
  pool_count(counts_->returned);
  if (free_.capacity() < max_free_) {  // a thread that gives back without having lent
    try {
      free_.reserve(max_free_);
    } catch (const std::bad_alloc&) {  // then the buffer is freed below
    }
  }
  if (free_.size() < std::min(max_free_, free_.capacity()) && b.capacity() >= block_size && b.capacity() <= max_kept_capacity) {
    free_.emplace_back();  // within the reserved capacity: no allocation
    free_.back().swap(b);
  } else {
    std::string().swap(b);
  }
}

}  // namespace perflab::targets
