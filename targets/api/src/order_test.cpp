#include "perflab/api/order.hpp"

#include <gtest/gtest.h>

using perflab::api::make_order;

TEST(ApiOrder, TheSameIdGivesTheSameDocument) {
  const auto a = make_order(42), b = make_order(42);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.buyer.email, b.buyer.email);
  ASSERT_EQ(a.items.size(), b.items.size());
  for (std::size_t i = 0; i < a.items.size(); ++i) EXPECT_EQ(a.items[i].sku, b.items[i].sku);
  EXPECT_EQ(a.total_cents, b.total_cents);
}

TEST(ApiOrder, TotalsAddUpAndSizesStayInRange) {
  std::size_t smallest = perflab::api::max_items, largest = 0;
  for (std::uint64_t id = 0; id < 2000; ++id) {
    const auto o = make_order(id);
    std::int64_t sum = 0;
    for (const auto& item : o.items) {
      EXPECT_GE(item.quantity, 1u);
      EXPECT_GT(item.unit_price_cents, 0);
      sum += item.unit_price_cents * item.quantity;
    }
    EXPECT_EQ(o.total_cents, sum) << "order " << id;
    EXPECT_EQ(o.created_at.size(), 20u) << o.created_at;
    smallest = std::min(smallest, o.items.size());
    largest = std::max(largest, o.items.size());
  }
  EXPECT_EQ(smallest, perflab::api::min_items);  // the whole range is used
  EXPECT_EQ(largest, perflab::api::max_items);
}

TEST(ApiOrder, IdsOutsideTheRangeDoNotExist) {
  EXPECT_TRUE(perflab::api::order_exists(0));  // a scenario's first {key}
  EXPECT_TRUE(perflab::api::order_exists(perflab::api::order_count - 1));
  EXPECT_FALSE(perflab::api::order_exists(perflab::api::order_count));
}
