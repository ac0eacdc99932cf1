// Nothing oversold, whatever the strategy: 64 buyers on one hot item, multi-unit buys over many
// items, and the sharded scheme's fragmentation counted rather than hidden.
#include "perflab/contention/stock.hpp"

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using perflab::contention::make_stock;
using perflab::contention::stock_strategy;

constexpr stock_strategy all[] = {stock_strategy::mutex, stock_strategy::atomic, stock_strategy::sharded,
                                  stock_strategy::single_writer};

TEST(Stock, SixtyFourBuyersOnOneHotItemSellExactlyTheStock) {
  for (auto s : all) {
    SCOPED_TRACE(std::string(to_string(s)));
    auto st = make_stock(s, 1, 10'000, 8);
    std::atomic<std::int64_t> bought{0};
    std::vector<std::thread> buyers;
    for (int t = 0; t < 64; ++t)
      buyers.emplace_back([&] {
        for (int i = 0; i < 200; ++i) {
          const auto r = st->buy(0, 1);
          ASSERT_GE(r.remaining, 0);
          bought += r.bought;
        }
      });
    for (auto& b : buyers) b.join();
    const auto a = st->audit();
    EXPECT_TRUE(a.ok()) << a.violations << " violations";
    EXPECT_EQ(bought.load(), 10'000) << "every unit sold once, none oversold";
    EXPECT_EQ(a.sold, 10'000);
    EXPECT_EQ(a.remaining, 0);
    EXPECT_EQ(a.buys, 64u * 200u);
    EXPECT_EQ(a.sold_out, 64u * 200u - 10'000u);
    EXPECT_EQ(a.fragmented, 0u) << "single units never fragment";
  }
}

TEST(Stock, MultiUnitBuysOverManyItemsKeepTheInvariant) {
  for (auto s : all) {
    SCOPED_TRACE(std::string(to_string(s)));
    auto st = make_stock(s, 50, 300, 4);
    std::vector<std::thread> buyers;
    std::atomic<std::int64_t> units{0};
    for (int t = 0; t < 16; ++t)
      buyers.emplace_back([&, t] {
        std::mt19937_64 rng(t);
        for (int i = 0; i < 2000; ++i) {
          const std::uint64_t item = rng() % 7 == 0 ? rng() % 50 : rng() % 3;  // three hot items
          const std::int64_t qty = 1 + static_cast<std::int64_t>(rng() % 3);
          if (st->buy(item, qty).bought) units += qty;
        }
      });
    for (auto& b : buyers) b.join();
    const auto a = st->audit();
    EXPECT_TRUE(a.ok());
    EXPECT_EQ(a.sold, units.load());
    for (std::uint64_t i = 0; i < 50; ++i) {
      EXPECT_GE(st->remaining(i), 0);
      EXPECT_EQ(st->sold(i) + st->remaining(i), 300);
    }
    EXPECT_EQ(st->remaining(0), 0) << "a hot item sells out, its last units borrowed across shards";
  }
}

TEST(Stock, ShardedRefusesAMultiUnitBuyWhoseUnitsAreScatteredAndCountsIt) {
  auto st = make_stock(stock_strategy::sharded, 1, 2, 2);  // one unit in each of two shards
  const auto r = st->buy(0, 2);
  EXPECT_FALSE(r.bought);
  EXPECT_EQ(r.remaining, 2);
  EXPECT_EQ(st->audit().fragmented, 1u);
  EXPECT_EQ(st->audit().sold_out, 0u);
  EXPECT_TRUE(st->buy(0, 1).bought);
  EXPECT_TRUE(st->buy(0, 1).bought) << "the second unit is borrowed from the other shard";
  EXPECT_FALSE(st->buy(0, 1).bought);
  EXPECT_EQ(st->audit().sold_out, 1u);
}

TEST(Stock, UnknownItemsAreNotBuys) {
  for (auto s : all) {
    auto st = make_stock(s, 3, 10);
    const auto r = st->buy(3, 1);
    EXPECT_FALSE(r.bought);
    EXPECT_FALSE(r.known);
    EXPECT_EQ(st->audit().buys, 0u);
  }
}

TEST(Stock, TheSingleWriterAnswersEveryAsyncBuyInArrivalOrder) {
  auto st = make_stock(stock_strategy::single_writer, 1, 5);
  std::mutex m;
  std::vector<std::int64_t> remaining_seen;
  std::atomic<int> answered{0};
  for (int i = 0; i < 8; ++i)
    st->buy_async(0, 1, [&](perflab::contention::buy_result r) {
      std::lock_guard l(m);
      remaining_seen.push_back(r.bought ? r.remaining : -1);
      ++answered;
    });
  while (answered.load() < 8) std::this_thread::yield();
  EXPECT_EQ(remaining_seen, (std::vector<std::int64_t>{4, 3, 2, 1, 0, -1, -1, -1}));
}

TEST(Stock, StrategyNames) {
  for (auto s : all) EXPECT_EQ(perflab::contention::parse_stock_strategy(to_string(s)), s);
  EXPECT_EQ(perflab::contention::parse_stock_strategy("redis"), stock_strategy::redis);  // stock_redis.hpp
  EXPECT_EQ(to_string(stock_strategy::redis), "redis");
  EXPECT_EQ(perflab::contention::parse_stock_strategy("pg-row-lock"), stock_strategy::pg_row_lock);  // stock_postgres.hpp
  EXPECT_EQ(perflab::contention::parse_stock_strategy("pg-optimistic"), stock_strategy::pg_optimistic);
  EXPECT_EQ(to_string(stock_strategy::pg_optimistic), "pg-optimistic");
  EXPECT_FALSE(perflab::contention::answered_elsewhere(stock_strategy::atomic));
  EXPECT_TRUE(perflab::contention::answered_elsewhere(stock_strategy::single_writer));
  EXPECT_TRUE(perflab::contention::answered_elsewhere(stock_strategy::pg_row_lock));
  EXPECT_FALSE(perflab::contention::needs_server(stock_strategy::single_writer));
  EXPECT_TRUE(perflab::contention::needs_server(stock_strategy::redis));
  EXPECT_FALSE(perflab::contention::parse_stock_strategy("Mutex"));
}

}  // namespace
