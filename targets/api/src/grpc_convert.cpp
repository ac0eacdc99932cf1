#include "perflab/api/grpc_convert.hpp"

namespace perflab::api {

void to_message(const order& o, Order& m) {
  m.Clear();
  m.set_id(o.id);
  m.set_status(o.status);
  m.set_created_at(o.created_at);
  m.set_currency(o.currency);
  Customer& c = *m.mutable_buyer();
  c.set_id(o.buyer.id);
  c.set_name(o.buyer.name);
  c.set_email(o.buyer.email);
  Address& a = *c.mutable_shipping();
  a.set_street(o.buyer.shipping.street);
  a.set_city(o.buyer.shipping.city);
  a.set_postcode(o.buyer.shipping.postcode);
  a.set_country(o.buyer.shipping.country);
  m.mutable_items()->Reserve(static_cast<int>(o.items.size()));
  for (const line_item& i : o.items) {
    LineItem& li = *m.add_items();
    li.set_sku(i.sku);
    li.set_name(i.name);
    li.set_quantity(i.quantity);
    li.set_unit_price_cents(i.unit_price_cents);
  }
  m.set_total_cents(o.total_cents);
}

}  // namespace perflab::api
