#include "perflab/api/order_json.hpp"

#include <charconv>
#include <fmt/format.h>

namespace perflab::api {

namespace {

void rest_append_u64(std::string& out, std::uint64_t v) {
  fmt::format_int n(v);
  out.append(n.data(), n.size());
}
void rest_append_i64(std::string& out, std::int64_t v) {
  fmt::format_int n(v);
  out.append(n.data(), n.size());
}

// "name": then the value's writer.
void rest_append_key(std::string& out, std::string_view name) {
  out.push_back('"');
  out.append(name);
  out.append("\":");
}

void rest_append_member(std::string& out, std::string_view name, std::string_view value) {
  rest_append_key(out, name);
  append_json_string(out, value);
}

}  // namespace

void append_order_json(const order& o, std::string& out) {
  out.append("{\"id\":");
  rest_append_u64(out, o.id);
  out.push_back(',');
  rest_append_member(out, "status", o.status);
  out.push_back(',');
  rest_append_member(out, "created_at", o.created_at);
  out.push_back(',');
  rest_append_member(out, "currency", o.currency);
  out.append(",\"customer\":{\"id\":");
  rest_append_u64(out, o.buyer.id);
  out.push_back(',');
  rest_append_member(out, "name", o.buyer.name);
  out.push_back(',');
  rest_append_member(out, "email", o.buyer.email);
  out.append(",\"shipping\":{");
  const address& a = o.buyer.shipping;
  rest_append_member(out, "street", a.street);
  out.push_back(',');
  rest_append_member(out, "city", a.city);
  out.push_back(',');
  rest_append_member(out, "postcode", a.postcode);
  out.push_back(',');
  rest_append_member(out, "country", a.country);
  out.append("}},\"items\":[");
  for (std::size_t i = 0; i < o.items.size(); ++i) {
    const line_item& item = o.items[i];
    if (i > 0) out.push_back(',');
    out.push_back('{');
    rest_append_member(out, "sku", item.sku);
    out.push_back(',');
    rest_append_member(out, "name", item.name);
    out.append(",\"quantity\":");
    rest_append_u64(out, item.quantity);
    out.append(",\"unit_price_cents\":");
    rest_append_i64(out, item.unit_price_cents);
    out.push_back('}');
  }
  out.append("],\"total_cents\":");
  rest_append_i64(out, o.total_cents);
  out.push_back('}');
}

void append_error_json(int status, std::string_view message, std::string& out) {
  out.append("{\"error\":{\"status\":");
  rest_append_i64(out, status);
  out.append(",\"message\":");
  append_json_string(out, message);
  out.append("}}");
}

std::optional<std::uint64_t> parse_order_id(std::string_view text) noexcept {
  if (text.empty()) return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9') return std::nullopt;
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace perflab::api
