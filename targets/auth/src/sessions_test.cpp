#include <perflab/auth/sessions.hpp>

#include <gtest/gtest.h>

#include <set>

namespace {

TEST(SessionIds, AreFreshAndWellFormed) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = perflab::auth::new_session_id();
    ASSERT_TRUE(id);
    EXPECT_TRUE(perflab::auth::is_session_id(*id));
    EXPECT_TRUE(seen.insert(*id).second);
  }
  EXPECT_FALSE(perflab::auth::is_session_id("0123"));
  EXPECT_FALSE(perflab::auth::is_session_id("0123456789ABCDEF0123456789abcdef"));
}

TEST(LocalSessions, FindsLiveSessionsOnlyUntilTheyExpire) {
  perflab::auth::local_sessions store;
  const auto id = *perflab::auth::new_session_id();
  EXPECT_FALSE(store.find(id, 0));
  ASSERT_TRUE(store.put(id, "alice", 0, 1000));
  EXPECT_TRUE(store.find(id, 999));
  EXPECT_FALSE(store.find(id, 1000));
  EXPECT_EQ(store.size(), 0u);  // the expired session was dropped by the lookup
}

TEST(LocalSessions, FullStoreDropsExpiredSessionsBeforeRefusing) {
  perflab::auth::local_sessions store(0);  // one session per shard
  std::size_t stored = 0;
  for (int i = 0; i < 1000; ++i) stored += store.put(*perflab::auth::new_session_id(), "u", 0, 10) ? 1 : 0;
  EXPECT_LT(stored, 1000u);
  EXPECT_LE(store.size(), perflab::auth::local_sessions::shard_count);
  EXPECT_EQ(store.size(), stored);
  // Once they have expired, a login makes room in its shard (whichever it is).
  EXPECT_TRUE(store.put(*perflab::auth::new_session_id(), "v", 20, 30));
}

}  // namespace
