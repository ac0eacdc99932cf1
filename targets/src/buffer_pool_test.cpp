#include <perflab/targets/buffer_pool.hpp>

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace perflab::targets {
namespace {

TEST(BufferPool, LendsABlockAndTakesItBackForTheNextLend) {
  auto& pool = buffer_pool::local();
  const auto before = buffer_pool::in_use();
  std::string b = pool.lend();
  EXPECT_TRUE(b.empty());
  EXPECT_GE(b.capacity(), buffer_pool::block_size);
  EXPECT_EQ(buffer_pool::in_use(), before + 1);
  b.append("response");
  const char* memory = b.data();
  const auto free_before = pool.free_count();
  pool.give_back(b);
  EXPECT_EQ(b.capacity(), std::string().capacity()) << "the caller keeps no memory";
  EXPECT_EQ(pool.free_count(), free_before + 1);
  EXPECT_EQ(buffer_pool::in_use(), before);
  std::string again = pool.lend();  // the same memory, emptied
  EXPECT_EQ(again.data(), memory);
  EXPECT_TRUE(again.empty());
  pool.give_back(again);
}

TEST(BufferPool, AFilledLendIsAsLongAsItsCapacity) {
  auto& pool = buffer_pool::local();
  std::string b = pool.lend_filled();
  EXPECT_EQ(b.size(), b.capacity());
  EXPECT_GE(b.size(), buffer_pool::block_size);
  pool.give_back(b);
}

TEST(BufferPool, ABurstKeepsOnlyTheBoundedFreeList) {
  auto& pool = buffer_pool::local();
  const auto before = buffer_pool::in_use();
  std::vector<std::string> burst;
  for (std::size_t i = 0; i < 3 * buffer_pool::max_free; ++i) burst.push_back(pool.lend());
  EXPECT_EQ(buffer_pool::in_use(), before + static_cast<std::int64_t>(burst.size()));
  for (auto& b : burst) pool.give_back(b);
  EXPECT_EQ(pool.free_count(), buffer_pool::max_free) << "the burst's other buffers are freed";
  EXPECT_EQ(buffer_pool::in_use(), before);
}

TEST(BufferPool, AGrownBufferIsFreedNotKept) {
  auto& pool = buffer_pool::local();
  while (pool.free_count() > 0) {  // an empty list, so the count shows what is kept
    std::string b = pool.lend();
    b.reserve(2 * buffer_pool::max_kept_capacity);
    pool.give_back(b);
  }
  std::string big = pool.lend();
  big.resize(2 * buffer_pool::max_kept_capacity);  // one large response
  pool.give_back(big);
  EXPECT_EQ(pool.free_count(), 0u);
}

TEST(BufferPool, ABufferGivenBackOnAnotherThreadIsCountedThere) {
  const auto before = buffer_pool::in_use();
  std::string b = buffer_pool::local().lend();
  std::size_t kept_there = 0;
  std::thread([&] {
    buffer_pool::local().give_back(b);
    kept_there = buffer_pool::local().free_count();
  }).join();  // the join orders the other thread's counts before the reads below
  EXPECT_EQ(kept_there, 1u);
  EXPECT_EQ(buffer_pool::in_use(), before) << "the ended thread's pool still counts its return";
}

TEST(BufferPool, AThreadThatKeepsNoneFreesWhatIsGivenBack) {
  std::size_t kept = 1;
  std::thread([&] {
    auto& pool = buffer_pool::local();
    pool.set_max_free(0);  // thread-per-request's connection threads
    std::string b = pool.lend();
    pool.give_back(b);
    kept = pool.free_count();
  }).join();
  EXPECT_EQ(kept, 0u);
}

}  // namespace
}  // namespace perflab::targets
