// The order API over real sockets, once per concurrency model: GET /api/orders/{id} (REST) and
// POST /graphql decode (with nlohmann::json, a decoder we did not write) to the same order, equal
// to perflab::api::make_order field by field; a partial selection carries only what it asked
// for; malformed requests get 400 with a JSON error body on a connection that keeps serving; the
// perflab_api_* counters in /metrics count what was sent.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "perflab/api/order.hpp"
#include "target_harness.hpp"

namespace {

using namespace perflab::testing;
using json = nlohmann::json;
using perflab::api::order;

class TargetApi : public model_test {};

std::string graphql(std::string_view query, const json& variables = nullptr) {
  json b{{"query", query}};
  if (!variables.is_null()) b["variables"] = variables;
  return post("/graphql", b.dump(), "Content-Type: application/json\r\n");
}

constexpr std::string_view full_query =
    "query Full($id: ID!) { order(id: $id) { id status createdAt currency total "
    "items { sku name quantity unitPrice } customer { id name email shipping { street city postcode country } } } }";

// The names a style gives the fields that differ, and whether its IDs are strings.
struct style_names {
  const char* created_at;
  const char* total;
  const char* unit_price;
  bool string_ids;
};
constexpr style_names rest_names{"created_at", "total_cents", "unit_price_cents", false};  // numbers
constexpr style_names graphql_names{"createdAt", "total", "unitPrice", true};  // ID serializes as a string

// A decoded document (REST's, or GraphQL's full selection) as an order.
order decode(const json& j, const style_names& n) {
  auto id = [&](const json& v) { return n.string_ids ? std::stoull(v.get<std::string>()) : v.get<std::uint64_t>(); };
  order o;
  o.id = id(j.at("id"));
  o.status = j.at("status");
  o.created_at = j.at(n.created_at);
  o.currency = j.at("currency");
  o.total_cents = j.at(n.total).get<std::int64_t>();
  const auto& c = j.at("customer");
  o.buyer.id = id(c.at("id"));
  o.buyer.name = c.at("name");
  o.buyer.email = c.at("email");
  const auto& a = c.at("shipping");
  o.buyer.shipping = {a.at("street"), a.at("city"), a.at("postcode"), a.at("country")};
  for (const auto& i : j.at("items"))
    o.items.push_back({i.at("sku"), i.at("name"), i.at("quantity").get<std::uint32_t>(),
                       i.at(n.unit_price).get<std::int64_t>()});
  return o;
}

void expect_same(const order& a, const order& b, const std::string& what) {
  EXPECT_EQ(a.id, b.id) << what;
  EXPECT_EQ(a.status, b.status) << what;
  EXPECT_EQ(a.created_at, b.created_at) << what;
  EXPECT_EQ(a.currency, b.currency) << what;
  EXPECT_EQ(a.total_cents, b.total_cents) << what;
  EXPECT_EQ(a.buyer.id, b.buyer.id) << what;
  EXPECT_EQ(a.buyer.name, b.buyer.name) << what;
  EXPECT_EQ(a.buyer.email, b.buyer.email) << what;
  EXPECT_EQ(a.buyer.shipping.street, b.buyer.shipping.street) << what;
  EXPECT_EQ(a.buyer.shipping.city, b.buyer.shipping.city) << what;
  EXPECT_EQ(a.buyer.shipping.postcode, b.buyer.shipping.postcode) << what;
  EXPECT_EQ(a.buyer.shipping.country, b.buyer.shipping.country) << what;
  ASSERT_EQ(a.items.size(), b.items.size()) << what;
  for (std::size_t i = 0; i < a.items.size(); ++i) {
    EXPECT_EQ(a.items[i].sku, b.items[i].sku) << what << " item " << i;
    EXPECT_EQ(a.items[i].name, b.items[i].name) << what << " item " << i;
    EXPECT_EQ(a.items[i].quantity, b.items[i].quantity) << what << " item " << i;
    EXPECT_EQ(a.items[i].unit_price_cents, b.items[i].unit_price_cents) << what << " item " << i;
  }
}

TEST_P(TargetApi, RestAndGraphqlServeTheSameOrder) {
  const std::uint64_t ids[] = {0, 42, perflab::api::order_count - 1};  // the first, any, the last
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  for (std::uint64_t id : ids) {
    const auto rest = c.request(get("/api/orders/" + std::to_string(id)));
    ASSERT_TRUE(rest);
    ASSERT_EQ(rest->status, 200) << rest->body;
    EXPECT_EQ(field(*rest, "Content-Type"), "application/json");
    const auto gql = c.request(graphql(full_query, {{"id", std::to_string(id)}}));
    ASSERT_TRUE(gql);
    ASSERT_EQ(gql->status, 200) << gql->body;
    EXPECT_EQ(field(*gql, "Content-Type"), "application/graphql-response+json; charset=utf-8");
    const auto expected = perflab::api::make_order(id);
    expect_same(decode(json::parse(rest->body), rest_names), expected, "REST " + std::to_string(id));
    expect_same(decode(json::parse(gql->body).at("data").at("order"), graphql_names), expected, "GraphQL " + std::to_string(id));
  }
  // The counters: 3 REST and 3 GraphQL documents, every field of each sent both ways.
  std::uint64_t leaves = 0;
  for (std::uint64_t id : ids)
    leaves += 12 + 4 * perflab::api::make_order(id).items.size();
  EXPECT_EQ(counter(t.port(), "perflab_api_requests_total{api=\"rest\",result=\"ok\"}"), 3);
  EXPECT_EQ(counter(t.port(), "perflab_api_requests_total{api=\"graphql\",result=\"ok\"}"), 3);
  EXPECT_EQ(counter(t.port(), "perflab_api_fields_sent_total{api=\"graphql\"}"), static_cast<double>(leaves));
  EXPECT_EQ(counter(t.port(), "perflab_api_fields_available_total{api=\"rest\"}"), static_cast<double>(leaves));
}

TEST_P(TargetApi, PartialSelectionCarriesOnlyTheAskedFields) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  const auto o = perflab::api::make_order(7);
  const auto r = c.request(graphql("query ($id: ID!) { order(id: $id) { status total } }", {{"id", 7}}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, "{\"data\":{\"order\":{\"status\":\"" + o.status + "\",\"total\":" +
                         std::to_string(o.total_cents) + "}}}");
  const auto missing = c.request(graphql("{ order(id: 1000000) { status } }"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 200);  // a missing order is null data, not a request error
  EXPECT_EQ(missing->body, "{\"data\":{\"order\":null}}");
  EXPECT_EQ(counter(t.port(), "perflab_api_fields_sent_total{api=\"graphql\"}"), 2);
  EXPECT_EQ(counter(t.port(), "perflab_api_fields_available_total{api=\"graphql\"}"),
            static_cast<double>(12 + 4 * o.items.size()));
  EXPECT_EQ(counter(t.port(), "perflab_api_requests_total{api=\"graphql\",result=\"not_found\"}"), 1);
}

TEST_P(TargetApi, MalformedRequestsGet400AndTheConnectionKeepsServing) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  struct bad {
    std::string request;
    int status;
    std::string message;  // in the JSON error body
  };
  const std::vector<bad> cases = {
      {post("/graphql", "{\"query\": \"{ order(id: 1) { id }\"", "Content-Type: application/json\r\n"), 400,
       "not valid JSON"},
      {post("/graphql", "not json at all"), 400, "not valid JSON"},
      {graphql("{ order(id: 1) { nope } }"), 400, "Cannot query field \"nope\""},
      {graphql("{ order { id } }"), 400, "is required"},
      {graphql("mutation { order(id: 1) { id } }"), 400, "Mutations are not supported"},
      {graphql("{ order(id: 1) { ...F } }"), 400, "Fragments are not supported"},
      {get("/api/orders/abc"), 400, "decimal number"},
      {get("/api/orders/"), 400, "decimal number"},
      {get("/api/orders/1000000"), 404, "no such order"},
  };
  for (const auto& b : cases) {
    const auto r = c.request(b.request);
    ASSERT_TRUE(r) << b.request;
    EXPECT_EQ(r->status, b.status) << b.request;
    EXPECT_FALSE(r->close) << b.request;
    const auto body = json::parse(r->body);
    const std::string message = body.contains("errors") ? body.at("errors")[0].at("message").get<std::string>()
                                                         : body.at("error").at("message").get<std::string>();
    EXPECT_NE(message.find(b.message), std::string::npos) << b.request << "\n  got: " << message;
    const auto next = c.request(get("/api/orders/1"));  // the same connection, the next request
    ASSERT_TRUE(next) << "after " << b.request;
    EXPECT_EQ(next->status, 200);
  }
  const auto wrong_method = c.request(get("/graphql"));
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(field(*wrong_method, "Allow"), "POST, OPTIONS");
  EXPECT_EQ(counter(t.port(), "perflab_api_requests_total{api=\"graphql\",result=\"bad_request\"}"), 6);
  EXPECT_EQ(counter(t.port(), "perflab_api_requests_total{api=\"rest\",result=\"bad_request\"}"), 2);
  EXPECT_EQ(counter(t.port(), "perflab_api_requests_total{api=\"rest\",result=\"not_found\"}"), 1);
}

INSTANTIATE_TEST_SUITE_P(AllModels, TargetApi, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

}  // namespace
