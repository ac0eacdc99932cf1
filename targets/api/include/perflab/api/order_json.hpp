#pragma once
// The order document as JSON, written straight into a caller's buffer (no DOM): REST's
// representation of GET /api/orders/{id} and the count of leaf values a full document carries
// (what GraphQL's partial selections are measured against). Strings go through
// perflab::append_json_string (core/json_text.hpp).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <perflab/api/order.hpp>
#include <perflab/core/json_text.hpp>

namespace perflab::api {

// Appends REST's document: the struct's own (snake_case) names, numbers as JSON numbers,
//   {"id":7,"status":"paid","created_at":"...","currency":"EUR",
//    "customer":{"id":1,"name":"...","email":"...","shipping":{"street":..,"city":..,"postcode":..,"country":..}},
//    "items":[{"sku":..,"name":..,"quantity":1,"unit_price_cents":199}],"total_cents":199}
void append_order_json(const order& o, std::string& out);

// Appends {"error":{"status":S,"message":"..."}}: REST's error body.
void append_error_json(int status, std::string_view message, std::string& out);

// Leaf (scalar) values in the full document of o: 5 on the order, 3 on its customer, 4 in the
// address, 4 per line item. What REST always sends, and a full GraphQL selection too.
constexpr std::uint64_t order_leaf_count(const order& o) noexcept { return 5 + 3 + 4 + 4 * o.items.size(); }

// The id in a REST path segment or a GraphQL ID: a strict decimal (no sign, no spaces) that fits
// 64 bits, else nullopt. Whether such an order exists is order_exists()'s question.
std::optional<std::uint64_t> parse_order_id(std::string_view text) noexcept;

}  // namespace perflab::api
