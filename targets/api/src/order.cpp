#include "perflab/api/order.hpp"

#include <array>
#include <fmt/format.h>

#include "perflab/core/splitmix.hpp"
#include <string_view>

namespace perflab::api {
namespace {


constexpr std::array<std::string_view, 4> statuses{"pending", "paid", "shipped", "delivered"};
constexpr std::array<std::string_view, 8> first_names{"Ada", "Grace", "Alan", "Edsger",
                                                      "Barbara", "Donald", "Frances", "Ken"};
constexpr std::array<std::string_view, 8> last_names{"Lovelace", "Hopper", "Turing", "Dijkstra",
                                                     "Liskov", "Knuth", "Allen", "Thompson"};
constexpr std::array<std::string_view, 6> streets{"Mill Lane", "Station Road", "High Street",
                                                  "Church Street", "Park Avenue", "Queen's Road"};
constexpr std::array<std::string_view, 6> cities{"Leeds", "Lyon", "Utrecht", "Graz", "Turin", "Porto"};
constexpr std::array<std::string_view, 6> countries{"GB", "FR", "NL", "AT", "IT", "PT"};
constexpr std::array<std::string_view, 10> products{
    "Espresso beans 1 kg", "Burr grinder",   "Milk jug 600 ml", "Tamper 58 mm",  "Descaler",
    "Paper filters x100",  "Pour-over cone", "Scale 0.1 g",     "Kettle 1.2 l",  "Cleaning brush"};

}  // namespace

order make_order(std::uint64_t id) {
  splitmix64 rng{id * 0x2545f4914f6cdd1dULL};  // the same document in every process
  order o;
  o.id = id;
  o.status = statuses[rng.below(statuses.size())];
  // Within 2026, to the second.
  const std::uint64_t day = rng.below(365);
  const std::uint64_t second = rng.below(86'400);
  static constexpr std::array<int, 12> month_days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  std::uint64_t month = 0, left = day;
  while (left >= static_cast<std::uint64_t>(month_days[month])) left -= month_days[month++];
  o.created_at = fmt::format("2026-{:02}-{:02}T{:02}:{:02}:{:02}Z", month + 1, left + 1, second / 3600,
                             second / 60 % 60, second % 60);
  o.currency = "EUR";

  customer& c = o.buyer;
  c.id = 1 + rng.below(50'000);
  const auto first = first_names[rng.below(first_names.size())];
  const auto last = last_names[rng.below(last_names.size())];
  c.name = fmt::format("{} {}", first, last);
  c.email = fmt::format("{}.{}{}@example.com", first, last, c.id);
  for (char& ch : c.email) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  const std::size_t place = rng.below(cities.size());
  c.shipping.street = fmt::format("{} {}", 1 + rng.below(200), streets[rng.below(streets.size())]);
  c.shipping.city = cities[place];
  c.shipping.postcode = fmt::format("{:05}", rng.below(100'000));
  c.shipping.country = countries[place];

  const std::size_t n = min_items + rng.below(max_items - min_items + 1);
  o.items.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t p = rng.below(products.size());
    line_item item;
    item.sku = fmt::format("SKU-{:04}-{:02}", p * 97 + 1000, i);
    item.name = products[p];
    item.quantity = static_cast<std::uint32_t>(1 + rng.below(5));
    item.unit_price_cents = static_cast<std::int64_t>(199 + rng.below(25'000));
    o.total_cents += item.unit_price_cents * item.quantity;
    o.items.push_back(std::move(item));
  }
  return o;
}

}  // namespace perflab::api
