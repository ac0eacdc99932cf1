#include "perflab/api/order_json.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

TEST(ApiOrderJson, DecodesToTheOrderFieldByField) {
  for (std::uint64_t id : {0ull, 1ull, 42ull, 999'999ull}) {
    const auto o = perflab::api::make_order(id);
    std::string body;
    perflab::api::append_order_json(o, body);
    const auto j = nlohmann::json::parse(body);
    EXPECT_EQ(j.at("id").get<std::uint64_t>(), o.id);
    EXPECT_EQ(j.at("status"), o.status);
    EXPECT_EQ(j.at("created_at"), o.created_at);
    EXPECT_EQ(j.at("currency"), o.currency);
    EXPECT_EQ(j.at("total_cents").get<std::int64_t>(), o.total_cents);
    const auto& c = j.at("customer");
    EXPECT_EQ(c.at("id").get<std::uint64_t>(), o.buyer.id);
    EXPECT_EQ(c.at("name"), o.buyer.name);
    EXPECT_EQ(c.at("email"), o.buyer.email);
    EXPECT_EQ(c.at("shipping").at("street"), o.buyer.shipping.street);
    EXPECT_EQ(c.at("shipping").at("city"), o.buyer.shipping.city);
    EXPECT_EQ(c.at("shipping").at("postcode"), o.buyer.shipping.postcode);
    EXPECT_EQ(c.at("shipping").at("country"), o.buyer.shipping.country);
    ASSERT_EQ(j.at("items").size(), o.items.size());
    for (std::size_t i = 0; i < o.items.size(); ++i) {
      const auto& item = j.at("items")[i];
      EXPECT_EQ(item.at("sku"), o.items[i].sku);
      EXPECT_EQ(item.at("name"), o.items[i].name);
      EXPECT_EQ(item.at("quantity").get<std::uint32_t>(), o.items[i].quantity);
      EXPECT_EQ(item.at("unit_price_cents").get<std::int64_t>(), o.items[i].unit_price_cents);
    }
    // Every leaf counted: the object's scalars plus each item's four.
    std::size_t leaves = 0;
    const auto count = [&](const auto& self, const nlohmann::json& v) -> void {
      if (v.is_object() || v.is_array()) {
        for (const auto& x : v) self(self, x);
      } else {
        ++leaves;
      }
    };
    count(count, j);
    EXPECT_EQ(leaves, perflab::api::order_leaf_count(o));
  }
}

TEST(ApiOrderJson, ErrorBodyIsJson) {
  std::string body;
  perflab::api::append_error_json(404, "no order \"7\"", body);
  const auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j.at("error").at("status"), 404);
  EXPECT_EQ(j.at("error").at("message"), "no order \"7\"");
}

TEST(ApiOrderId, StrictDecimalOnly) {
  using perflab::api::parse_order_id;
  EXPECT_EQ(parse_order_id("0"), 0u);
  EXPECT_EQ(parse_order_id("18446744073709551615"), UINT64_MAX);
  for (std::string_view bad : {"", "-1", "+1", " 1", "1 ", "1x", "0x10", "18446744073709551616", "1.0"})
    EXPECT_FALSE(parse_order_id(bad)) << bad;
}

}  // namespace
