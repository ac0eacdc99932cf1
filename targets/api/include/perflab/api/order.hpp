#pragma once
// The order document behind /api/orders/{id}, /graphql and Orders.Get: a realistic nested record
// (a customer, an address, line items) generated deterministically from its id, so every protocol
// serves the same bytes of meaning and nothing is read from a store. Sizes are fixed by the id:
// between min_items and max_items line items, so a scenario's mix of ids has a known spread of
// document sizes.
#include <cstdint>
#include <string>
#include <vector>

namespace perflab::api {

struct address {
  std::string street;
  std::string city;
  std::string postcode;
  std::string country;  // ISO 3166-1 alpha-2
};

struct customer {
  std::uint64_t id = 0;
  std::string name;
  std::string email;
  address shipping;
};

struct line_item {
  std::string sku;
  std::string name;
  std::uint32_t quantity = 0;
  std::int64_t unit_price_cents = 0;
};

struct order {
  std::uint64_t id = 0;
  std::string status;      // one of order_statuses
  std::string created_at;  // RFC 3339, UTC
  std::string currency;    // ISO 4217
  customer buyer;
  std::vector<line_item> items;
  std::int64_t total_cents = 0;  // the sum of quantity * unit_price_cents over items
};

inline constexpr std::size_t min_items = 1;
inline constexpr std::size_t max_items = 8;

// Ids are 0..order_count-1 (a scenario's `{key}` values are 0-based); anything else is not found
// (404 / NOT_FOUND).
inline constexpr std::uint64_t order_count = 1'000'000;

// The order with this id, the same on every call and in every process. Precondition:
// order_exists(id).
order make_order(std::uint64_t id);

constexpr bool order_exists(std::uint64_t id) noexcept { return id < order_count; }

}  // namespace perflab::api
