#include "perflab/api/graphql.hpp"

#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "perflab/api/order.hpp"
#include "perflab/api/order_json.hpp"

namespace {

using perflab::api::graphql::request;
using json = nlohmann::json;

// The GraphQL-over-HTTP body for a query and its variables.
std::string body_of(std::string_view query, const json& variables = nullptr) {
  json b{{"query", query}};
  if (!variables.is_null()) b["variables"] = variables;
  return b.dump();
}

struct run_result {
  bool ok = false;
  json response;  // {"data":...} or {"errors":[...]}
  perflab::api::graphql::outcome counts;
};

run_result run(request& r, std::string_view body) {
  run_result res;
  std::string out;
  res.ok = r.prepare(body);
  if (res.ok) res.counts = r.execute(out);
  else r.write_errors(out);
  res.response = json::parse(out);  // every response is valid JSON
  return res;
}

run_result run(std::string_view body) {
  request r;
  return run(r, body);
}

constexpr std::string_view full_query = R"(query Full($id: ID!) {
  order(id: $id) {
    id status createdAt currency total
    items { sku name quantity unitPrice }
    customer { id name email shipping { street city postcode country } }
  }
})";

TEST(GraphqlExecute, FullSelectionEqualsRestsDocumentUnderTheSchemasNames) {
  for (std::uint64_t id : {0ull, 7ull, 123'456ull}) {
    const auto o = perflab::api::make_order(id);
    const auto res = run(body_of(full_query, {{"id", std::to_string(id)}}));
    ASSERT_TRUE(res.ok) << res.response.dump();
    // REST's document (checked against make_order field by field in order_json_test.cpp) under
    // the schema's names, IDs as strings: the same tree, every value equal.
    std::string rest_text;
    perflab::api::append_order_json(o, rest_text);
    json rest = json::parse(rest_text);
    auto rename = [](json& obj, const char* from, const char* to) {
      obj[to] = obj.at(from);
      obj.erase(from);
    };
    rename(rest, "created_at", "createdAt");
    rename(rest, "total_cents", "total");
    for (auto& item : rest.at("items")) rename(item, "unit_price_cents", "unitPrice");
    rest["id"] = std::to_string(o.id);
    rest["customer"]["id"] = std::to_string(o.buyer.id);
    EXPECT_EQ(res.response.at("data").at("order"), rest);
    EXPECT_EQ(res.counts.orders_found, 1u);
    EXPECT_EQ(res.counts.fields_sent, perflab::api::order_leaf_count(o));
    EXPECT_EQ(res.counts.fields_available, perflab::api::order_leaf_count(o));
  }
}

TEST(GraphqlExecute, PartialSelectionHasOnlyTheAskedFieldsInOrder) {
  const auto o = perflab::api::make_order(5);
  const auto res = run(body_of("{ order(id: 5) { total status customer { email } } }"));
  ASSERT_TRUE(res.ok) << res.response.dump();
  const auto& g = res.response.at("data").at("order");
  EXPECT_EQ(g.size(), 3u);
  EXPECT_EQ(g.at("total").get<std::int64_t>(), o.total_cents);
  EXPECT_EQ(g.at("customer").size(), 1u);
  // Selection order, as written (nlohmann's object sorts keys, so check the text).
  std::string out;
  request r;
  ASSERT_TRUE(r.prepare(body_of("{ order(id: 5) { total status } }")));
  r.execute(out);
  EXPECT_EQ(out, "{\"data\":{\"order\":{\"total\":" + std::to_string(o.total_cents) + ",\"status\":\"" + o.status +
                     "\"}}}");
  EXPECT_EQ(res.counts.fields_sent, 3u);
  EXPECT_EQ(res.counts.fields_available, perflab::api::order_leaf_count(o));
}

TEST(GraphqlExecute, AliasesTypenameMergedLeavesAndSeveralRoots) {
  const auto a = perflab::api::make_order(1), b = perflab::api::make_order(2);
  const auto res = run(body_of(R"({ first: order(id: "1") { __typename s: status status status }
                                   second: order(id: 2) { total } __typename })"));
  ASSERT_TRUE(res.ok) << res.response.dump();
  const auto& d = res.response.at("data");
  EXPECT_EQ(d.at("first").at("__typename"), "Order");
  EXPECT_EQ(d.at("first").at("s"), a.status);
  EXPECT_EQ(d.at("first").at("status"), a.status);
  EXPECT_EQ(d.at("first").size(), 3u);  // the repeated status merged into one
  EXPECT_EQ(d.at("second").at("total").get<std::int64_t>(), b.total_cents);
  EXPECT_EQ(d.at("__typename"), "Query");
  EXPECT_EQ(res.counts.orders_found, 2u);
}

TEST(GraphqlExecute, MissingOrderIsNullNotAnError) {
  for (const auto& id : {json("1000000"), json(-1), json("abc"), json(1'000'000)}) {
    const auto res = run(body_of("query ($id: ID!) { order(id: $id) { status } }", {{"id", id}}));
    ASSERT_TRUE(res.ok) << res.response.dump();
    EXPECT_EQ(res.response.dump(), R"({"data":{"order":null}})");
    EXPECT_EQ(res.counts.orders_missing, 1u);
    EXPECT_EQ(res.counts.fields_available, 0u);
  }
}

TEST(GraphqlExecute, OperationNameVariablesDefaultsAndStringEscapes) {
  const auto o = perflab::api::make_order(3);
  const std::string doc = "query A { order(id: 1) { id } } query B($id: ID = \"3\") { order(id: $id) { id } }";
  json b{{"query", doc}, {"operationName", "B"}};
  auto res = run(b.dump());
  ASSERT_TRUE(res.ok) << res.response.dump();
  EXPECT_EQ(res.response.at("data").at("order").at("id"), "3");
  // JSON escapes in the envelope, GraphQL escapes in the document, comments and commas ignored.
  res = run(R"({"query":"# a comment\n{ order(id: \"\\u0034\"),, { id } }","variables":null,"extensions":{}})");
  ASSERT_TRUE(res.ok) << res.response.dump();
  EXPECT_EQ(res.response.at("data").at("order").at("id"), "4");
  (void)o;
}

// Request errors: the body, the document or its validation. Each gives {"errors":[...]} whose
// first message contains `message` and, when line > 0, its location.
struct bad_case {
  std::string body;
  std::string message;
  std::uint32_t line = 0, column = 0;
};

// "{ a { a { ... } } }" with n selection sets.
std::string deep_query(int n) {
  std::string q = "{ ";
  for (int i = 1; i < n; ++i) q += "a { ";
  q += "a";
  for (int i = 0; i < n; ++i) q += " }";
  return q;
}

std::vector<bad_case> bad_cases() {
  return {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"[1]", "not valid JSON"},
      {R"({"query": 5})", "\"query\" must be a string"},
      {R"({"variables": {}})", "has no \"query\""},
      {R"({"query": "{ order(id: 1) { id } }"} trailing)", "not valid JSON"},
      {R"({"query": "\ud800"})", "not valid JSON"},
      {body_of(""), "no operation", 1, 1},
      {body_of("{ order(id: 1) { id }"), "expected \"}\", found <EOF>", 1, 22},
      {body_of("{ order(id: 1) { nope } }"), "Cannot query field \"nope\" on type \"Order\"", 1, 18},
      {body_of("{\n  orders { id }\n}"), "Cannot query field \"orders\" on type \"Query\"", 2, 3},
      {body_of("{ order { id } }"), "argument \"id\" of type \"ID!\" is required", 1, 3},
      {body_of("{ order(id: 1, x: 2) { id } }"), "Unknown argument \"x\" on field \"Query.order\"", 1, 16},
      {body_of("{ order(id: 1) }"), "must have a selection of subfields", 1, 3},
      {body_of("{ order(id: 1) { status { x } } }"), "must not have a selection", 1, 18},
      {body_of("{ order(id: 1.5) { id } }"), "ID cannot represent", 1, 13},
      {body_of("{ order(id: $id) { id } }"), "Variable \"$id\" is not defined", 1, 13},
      {body_of("query ($id: ID!, $x: Int) { order(id: $id) { id } }", {{"id", "1"}}), "\"$x\" is never used", 1, 18},
      {body_of("query ($id: String!) { order(id: $id) { id } }", {{"id", "1"}}), "used in position expecting", 1, 34},
      {body_of("query ($id: ID!) { order(id: $id) { id } }"), "was not provided", 1, 8},
      {body_of("query ($id: ID!) { order(id: $id) { id } }", {{"id", json::array()}}), "invalid value", 1, 8},
      {body_of("query ($id: ID!) { order(id: $id) { id } }", {{"id", 1.5}}), "invalid value", 1, 8},
      {body_of("query ($id: Foo!) { order(id: 1) { id } }"), "Unknown type \"Foo\"", 1, 8},
      {body_of("mutation { order(id: 1) { id } }"), "Mutations are not supported", 1, 1},
      {body_of("subscription { order(id: 1) { id } }"), "Subscriptions are not supported", 1, 1},
      {body_of("{ order(id: 1) { ...F } } fragment F on Order { id }"), "Fragments are not supported", 1, 18},
      {body_of("{ order(id: 1) { ... on Order { id } } }"), "Fragments are not supported", 1, 18},
      {body_of("fragment F on Order { id }"), "Fragments are not supported", 1, 1},
      {body_of("{ order(id: 1) @include(if: true) { id } }"), "Directives are not supported", 1, 16},
      {body_of("{ order(id: [1]) { id } }"), "List and object values are not supported", 1, 13},
      {body_of("{ order(id: \"\"\"1\"\"\") { id } }"), "Block strings", 1, 13},
      {body_of("{ order(id: \"1) { id } }"), "Unterminated string", 1, 13},
      {body_of("{ order(id: 01) { id } }"), "leading zero", 1, 13},
      {body_of("{ order(id: 1) { id ? } }"), "Unexpected character \"?\"", 1, 21},
      {body_of("{ order(id: 1) { a: status a: total } }"), "Fields \"a\" conflict", 1, 28},
      {body_of("{ a: order(id: 1) { id } a: order(id: 2) { id } }"), "Fields \"a\" conflict", 1, 26},
      {body_of("query A { order(id: 1) { id } } query B { order(id: 2) { id } }"), "Must provide an operation name"},
      {body_of("query A { order(id: 1) { id } } { order(id: 2) { id } }"), "anonymous operation must be the only", 1, 33},
      {body_of("query A { order(id: 1) { id } } query A { order(id: 2) { id } }"), "only one operation named", 1, 33},
      {body_of("type Order { id: ID }"), "expected an operation", 1, 1},
      {body_of(deep_query(20)), "nested deeper", 1, 65},  // the 17th "{"
  };
}

TEST(GraphqlErrors, EachMalformedRequestGetsItsErrorAndPlace) {
  request r;  // one object for all: a failed request must not leak into the next
  for (const auto& c : bad_cases()) {
    const auto res = run(r, c.body);
    EXPECT_FALSE(res.ok) << c.body;
    ASSERT_TRUE(res.response.contains("errors")) << c.body;
    ASSERT_FALSE(res.response.contains("data")) << c.body;
    const auto& e = res.response.at("errors").at(0);
    EXPECT_NE(e.at("message").get<std::string>().find(c.message), std::string::npos)
        << c.body << "\n  got: " << e.at("message");
    if (c.line > 0) {
      ASSERT_TRUE(e.contains("locations")) << c.body;
      EXPECT_EQ(e.at("locations")[0].at("line"), c.line) << c.body;
      EXPECT_EQ(e.at("locations")[0].at("column"), c.column) << c.body;
    }
    EXPECT_TRUE(run(r, body_of("{ order(id: 1) { id } }")).ok) << "after " << c.body;
  }
}

TEST(GraphqlErrors, ValidationReportsEveryErrorUpToTheCap) {
  const auto res = run(body_of("{ order(id: 1) { a b c } }"));
  ASSERT_FALSE(res.ok);
  EXPECT_EQ(res.response.at("errors").size(), 3u);
  std::string many = "{ order(id: 1) {";
  for (int i = 0; i < 100; ++i) many += " f" + std::to_string(i);
  const auto capped = run(body_of(many + " } }"));
  EXPECT_EQ(capped.response.at("errors").size(), perflab::api::graphql::max_errors + 1);
}

TEST(GraphqlErrors, ColumnsCountCharactersNotBytes) {
  const auto res = run(body_of("# caf\xc3\xa9\n{ order(id: 1) { \xc3\xa9t\xc3\xa9 } }"));
  ASSERT_FALSE(res.ok);
  EXPECT_NE(res.response.at("errors")[0].at("message").get<std::string>().find("Unexpected byte 0xc3"), std::string::npos);
  EXPECT_EQ(res.response.at("errors")[0].at("locations")[0].at("column"), 18);
}

TEST(GraphqlRequest, TrimKeepsSmallBuffersAndTheNextRequestWorks) {
  request r;
  const std::string big = "# " + std::string(3 * request::keep_bytes, 'x') + "\n{ order(id: 1) { status } }";
  ASSERT_TRUE(run(r, body_of(big)).ok);
  r.trim();
  const auto after = run(r, body_of("{ order(id: 2) { total } }"));
  ASSERT_TRUE(after.ok) << after.response.dump();
  EXPECT_EQ(after.response.at("data").at("order").at("total").get<std::int64_t>(),
            perflab::api::make_order(2).total_cents);
}

// Every prefix of valid and invalid requests, and random byte mutations of them: never a crash,
// always a JSON response, and an accepted one always has data.
TEST(GraphqlFuzz, TruncatedAndMutatedRequestsNeverCrash) {
  std::vector<std::string> seeds = {body_of(full_query, {{"id", "9"}}),
                                    body_of("{ a: order(id: \"1\") { __typename items { sku } } }")};
  for (const auto& c : bad_cases()) seeds.push_back(c.body);
  request r;
  std::mt19937 rng(23);
  const std::string alphabet = "{}()[]:$!@.\"\\,#\n query order id ID fragment ... 0 9 -";
  std::size_t accepted = 0, total = 0;
  for (const auto& seed : seeds) {
    for (std::size_t n = 0; n <= seed.size(); ++n) {
      const auto res = run(r, std::string_view(seed).substr(0, n));
      accepted += res.ok;
      ++total;
      ASSERT_EQ(res.ok, res.response.contains("data"));
    }
    for (int k = 0; k < 300; ++k) {
      std::string m = seed;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !m.empty(); ++e) {
        const std::size_t at = rng() % m.size();
        switch (rng() % 3) {
          case 0: m[at] = static_cast<char>(rng() % 256); break;
          case 1: m.erase(at, 1 + rng() % 8); break;
          default: m.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        }
      }
      std::string out;
      if (r.prepare(m)) {
        r.execute(out);
        ++accepted;
      } else {
        r.write_errors(out);
      }
      ++total;
      ASSERT_TRUE(json::accept(out)) << m;  // the escaping holds whatever bytes came in
    }
  }
  EXPECT_GT(accepted, 0u);  // some mutations still parse: the loop exercises execution too
  EXPECT_LT(accepted, total);
}

}  // namespace
