// bounded_url: what every PostgreSQL connection is opened with (no server needed).
#include <perflab/db/postgres.hpp>
#include <perflab/db/service.hpp>

#include <gtest/gtest.h>

namespace {

using perflab::db::bounded_url;

TEST(PostgresUrl, EveryWaitIsBoundedUnlessTheUserSaidOtherwise) {
  const auto u = bounded_url("postgres://perflab@127.0.0.1:5432/perflab");
  EXPECT_EQ(u, "postgres://perflab@127.0.0.1:5432/perflab?connect_timeout=5&keepalives=1&keepalives_idle=5"
               "&keepalives_interval=2&keepalives_count=3&tcp_user_timeout=10000");
  // The user's own settings stay; only the missing ones are added, after theirs.
  const auto mine = bounded_url("postgresql://127.0.0.1/db?connect_timeout=1&keepalives=0");
  EXPECT_EQ(mine.find("connect_timeout=5"), std::string::npos) << mine;
  EXPECT_EQ(mine.find("keepalives=1"), std::string::npos) << mine;
  EXPECT_TRUE(mine.starts_with("postgresql://127.0.0.1/db?connect_timeout=1&keepalives=0&keepalives_idle=5")) << mine;
}

TEST(PostgresUrl, AHostNameIsResolvedOnceAndAnUnknownOneIsRefused) {
  const auto u = bounded_url("postgres://localhost:5432/db");
  EXPECT_TRUE(u.find("?hostaddr=127.0.0.1&") != std::string::npos || u.find("?hostaddr=::1&") != std::string::npos)
      << u;
  try {
    bounded_url("postgres://no-such-host.invalid/db");
    FAIL() << "an unresolvable host was accepted";
  } catch (const perflab::db::unavailable& e) {
    EXPECT_NE(std::string(e.what()).find("--db: postgres://no-such-host.invalid/db: cannot resolve"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(bounded_url("postgres://h:notaport/db"), perflab::db::unavailable);
}

}  // namespace
