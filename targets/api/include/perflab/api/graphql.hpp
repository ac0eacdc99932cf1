#pragma once
// A small GraphQL server for the order document (POST /graphql): the GraphQL-over-HTTP JSON body
// ({"query", "variables", "operationName"}), a parser for the subset of the language below, a
// validator against the one schema, and an executor that writes the response straight into the
// caller's buffer (no DOM). No Debian package offers a C++ GraphQL library, so this is our own.
//
//   type Query    { order(id: ID!): Order }
//   type Order    { id: ID! status: String! createdAt: String! currency: String! total: Int!
//                   items: [Item!]! customer: Customer! }
//   type Item     { sku: String! name: String! quantity: Int! unitPrice: Int! }
//   type Customer { id: ID! name: String! email: String! shipping: Address! }
//   type Address  { street: String! city: String! postcode: String! country: String! }
//
// (total and unitPrice in cents; __typename on every type.) The subset: query operations (the
// `{...}` shorthand, or `query Name($v: ID!, ...)` with defaults), several operations chosen by
// operationName, fields with aliases, arguments as scalar literals or $variables, nested
// selections, comments. Not supported, each rejected with its own error naming where it stands:
// mutations and subscriptions (the schema has no such type), fragments and inline fragments,
// directives, list and object literals, block strings. Identical leaf fields under one response
// name are merged as the spec says; any other pair sharing a response name is rejected (the spec
// would compare their arguments and sub-selections: use an alias).
//
// Errors follow the GraphQL spec's shape ({"errors":[{"message", "locations":[{line, column}]}]},
// columns counted in characters); a document that does not parse or validate, and a body that is
// not such a JSON object, are request errors (HTTP 400 under application/graphql-response+json).
// Limits keep any input cheap and the recursion shallow: max_depth, max_fields.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perflab::api::graphql {

inline constexpr std::size_t max_depth = 16;     // nesting of selections (the schema needs 4)
inline constexpr std::size_t max_fields = 1024;  // field selections in a document
inline constexpr std::size_t max_errors = 16;    // validation errors reported (then one "too many")

struct location {
  std::uint32_t line = 0;    // 1-based; 0: the error has no place in the document
  std::uint32_t column = 0;  // 1-based, in characters
};

struct error {
  std::string message;
  location at;
};

// What one execution wrote, for the server's counters.
struct outcome {
  std::uint64_t orders_found = 0;      // order fields answered with a document
  std::uint64_t orders_missing = 0;    // order fields answered null (no such id)
  std::uint64_t fields_sent = 0;       // leaf values written (__typename not counted)
  std::uint64_t fields_available = 0;  // leaf values the full documents of the found orders hold
};

// The parsed document and request, kept in one object a server thread reuses (its vectors keep
// their capacity), with views into its own copy of the decoded query text.
class request {
 public:
  // Parses body (the JSON object) and the query in it, picks the operation, binds variables and
  // validates against the schema. false: errors() says why; nothing may be executed.
  bool prepare(std::string_view body);
  const std::vector<error>& errors() const noexcept { return errors_; }
  // Appends {"data":{...}}: the selected fields of the prepared operation in selection order.
  // Precondition: prepare() returned true. Throws std::bad_alloc only.
  outcome execute(std::string& out) const;
  // Appends {"errors":[...]} for errors().
  void write_errors(std::string& out) const;
  // Frees what a large request made grow past keep_bytes (a server thread keeps this object
  // between requests, and must not keep the largest query's memory).
  void trim() noexcept;
  static constexpr std::size_t keep_bytes = 16 * 1024;

  // The parsed form (public for the parser and executor's files; not an API).
  enum class value_kind : std::uint8_t { null, integer, floating, string, boolean, enumeration, variable };
  struct value {
    value_kind kind = value_kind::null;
    std::string_view text;  // the literal as written (integer, float, enum, boolean), or the variable's name
    std::string decoded;    // a string literal's value
    location at;
  };
  struct argument {
    std::string_view name;
    value v;
    location at;
  };
  struct field {
    std::string_view alias;  // empty: none
    std::string_view name;
    location at;
    std::uint32_t first_arg = 0, arg_count = 0;  // into args_
    std::int32_t first_child = -1;                // into fields_; -1: no selection set
    std::int32_t next = -1;                       // the next field of the same selection set
    std::uint8_t resolved = 0;  // the schema field it names, once validated (graphql_exec.cpp)
    bool skip = false;  // a leaf merged into an earlier one of the same response name
    std::string_view response_name() const noexcept { return alias.empty() ? name : alias; }
  };
  // A variable's value from the JSON "variables" object: its JSON type and text (a string's
  // decoded value, a number as written).
  enum class json_kind : std::uint8_t { null, string, number, boolean, object, array };
  struct variable_value {
    std::string name;
    json_kind kind = json_kind::null;
    std::string text;
  };
  struct variable_definition {
    std::string_view name;
    std::string type;        // as written, without spaces: "ID!", "[ID]" ...
    bool has_default = false;
    value default_value;
    location at;
    bool used = false;
    const variable_value* given = nullptr;  // its value in "variables" (null: not given)
  };
  struct operation {
    std::string_view name;  // empty: anonymous
    location at;
    std::uint32_t first_var = 0, var_count = 0;  // into vars_
    std::int32_t first_field = -1;
  };

 private:
  friend class parser;
  friend class validator;
  bool parse_body(std::string_view body);
  bool parse_document();
  bool choose_operation();
  bool validate();
  void fail(std::string message, location at = {});

  std::string query_;  // the decoded "query" string; every view above points into it
  std::optional<std::string> operation_name_;
  std::vector<variable_value> variables_;
  std::vector<field> fields_;
  std::vector<argument> args_;
  std::vector<variable_definition> vars_;
  std::vector<operation> operations_;
  const operation* chosen_ = nullptr;
  std::vector<error> errors_;
};

}  // namespace perflab::api::graphql
