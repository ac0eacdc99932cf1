// The PostgreSQL strategies against a real server (one for the whole suite, started by
// scripts/services.sh under a name of its own and stopped at the end; the tests are skipped, with
// the reason printed, when PostgreSQL cannot be installed here): 64 concurrent buyers sell
// exactly the stock with either strategy, the table agrees, and pg-optimistic counts the version
// conflicts of a hot item as retries.
#include "perflab/contention/stock_postgres.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "test_services.hpp"

namespace {

using perflab::contention::make_pg_stock;
using perflab::contention::pg_stock_config;
using perflab::contention::stock_strategy;

class StockPostgres : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pg_ = std::make_unique<perflab::contention::testing::service_instance>("postgres"); }
  static void TearDownTestSuite() { pg_.reset(); }
  void SetUp() override {
    if (pg_->code() == 3) GTEST_SKIP() << "PostgreSQL cannot be installed on this machine (scripts/services.sh exit 3)";
    ASSERT_EQ(pg_->code(), 0) << "scripts/services.sh start postgres failed";
    url_ = pg_->url();
  }
  static inline std::unique_ptr<perflab::contention::testing::service_instance> pg_;
  std::string url_;
};

TEST_F(StockPostgres, SixtyFourBuyersSellExactlyTheStockWithEitherStrategyAndMultiUnitBuysNeverOversell) {
  for (auto s : {stock_strategy::pg_row_lock, stock_strategy::pg_optimistic}) {
    SCOPED_TRACE(std::string(to_string(s)));
    auto made = make_pg_stock(s, pg_stock_config{url_, 8}, 2, 500);
    ASSERT_TRUE(made) << made.error();
    auto& st = **made;
    std::atomic<int> bought{0}, refused{0}, errors{0}, negative{0};
    std::vector<std::thread> buyers;
    for (int b = 0; b < 64; ++b)
      buyers.emplace_back([&] {
        for (int i = 0; i < 10; ++i) {
          const auto r = st.buy(0, 1);
          negative += r.remaining < 0;
          if (r.error) ++errors;
          else if (r.bought) ++bought;
          else ++refused;
        }
      });
    for (auto& b : buyers) b.join();  // every buy answered: the mirror is final
    EXPECT_EQ(errors, 0);
    EXPECT_EQ(negative, 0);
    EXPECT_EQ(bought, 500) << "every unit sold exactly once";
    EXPECT_EQ(refused, 140);
    const auto a = st.audit();
    EXPECT_TRUE(a.ok()) << a.violations << " violations";
    EXPECT_EQ(a.sold, 500);
    EXPECT_EQ(a.remaining, 500) << "item 0 sold out, item 1 untouched";
    EXPECT_EQ(st.remaining(0), 0);
    const auto db = st.audit_db();
    ASSERT_TRUE(db) << db.error();
    EXPECT_EQ(db->sold, 500) << "the table's own counters";
    EXPECT_EQ(db->remaining, 500);
    EXPECT_EQ(db->bad_rows, 0u);
    if (s == stock_strategy::pg_row_lock) {
      EXPECT_EQ(a.retries, 0u) << "a lock never retries";
    } else {  // 8 connections reading then updating one row: versions change under most of them
      EXPECT_GT(a.retries, 0u) << "no version conflict counted on a hot item";
    }
  }
  // Multi-unit buys (in the same test: ctest runs each test in its own process, and one server
  // start is enough): a buy larger than what is left is refused whole.
  auto made = make_pg_stock(stock_strategy::pg_optimistic, pg_stock_config{url_, 4}, 1, 10);
  ASSERT_TRUE(made) << made.error();
  auto& st = **made;
  EXPECT_TRUE(st.buy(0, 7).bought);
  const auto r = st.buy(0, 4);
  EXPECT_FALSE(r.bought) << "4 of 3 left";
  EXPECT_EQ(r.remaining, 3);
  EXPECT_FALSE(st.buy(1, 1).known) << "no item 1";
  EXPECT_TRUE(st.buy(0, 3).bought);
  EXPECT_TRUE(st.audit().ok());
}

TEST(StockPostgresSetup, AnUnreachableServerIsAnErrorNamingIt) {
  // Port 1 on loopback: nothing listens there. No server needed.
  auto made = make_pg_stock(stock_strategy::pg_row_lock, pg_stock_config{"postgres://perflab@127.0.0.1:1/perflab", 2}, 1, 1);
  ASSERT_FALSE(made);
  EXPECT_NE(made.error().find("cannot connect to postgres://perflab@127.0.0.1:1/perflab"), std::string::npos)
      << made.error();
  EXPECT_FALSE(make_pg_stock(stock_strategy::mutex, pg_stock_config{"postgres://x", 1}, 1, 1));
}

}  // namespace
