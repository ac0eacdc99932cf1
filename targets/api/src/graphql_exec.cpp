// The schema, the validation of a parsed document against it, the choice of the operation and
// its variables, and the execution that writes {"data":...} straight into the response buffer.
#include "perflab/api/graphql.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <type_traits>

#include <fmt/format.h>

#include "perflab/api/order.hpp"
#include "perflab/api/order_json.hpp"

namespace perflab::api::graphql {

namespace {

// Every field of the schema; field::resolved holds one (0 = not resolved).
enum class gql_field : std::uint8_t {
  none, typename_, order,
  order_id, order_status, order_created_at, order_currency, order_total, order_items, order_customer,
  item_sku, item_name, item_quantity, item_unit_price,
  customer_id, customer_name, customer_email, customer_shipping,
  address_street, address_city, address_postcode, address_country,
};

enum class gql_object : std::uint8_t { query, order, item, customer, address, none };

struct gql_field_def {
  std::string_view name;
  gql_field id;
  std::string_view type;  // as the schema writes it, for messages
  gql_object child;       // the object type it selects into; none: a leaf
};

struct gql_object_def {
  std::string_view name;
  const gql_field_def* fields;
  std::size_t count;
};

constexpr gql_field_def gql_query_fields[] = {
    {"order", gql_field::order, "Order", gql_object::order},
};
constexpr gql_field_def gql_order_fields[] = {
    {"id", gql_field::order_id, "ID!", gql_object::none},
    {"status", gql_field::order_status, "String!", gql_object::none},
    {"createdAt", gql_field::order_created_at, "String!", gql_object::none},
    {"currency", gql_field::order_currency, "String!", gql_object::none},
    {"total", gql_field::order_total, "Int!", gql_object::none},
    {"items", gql_field::order_items, "[Item!]!", gql_object::item},
    {"customer", gql_field::order_customer, "Customer!", gql_object::customer},
};
constexpr gql_field_def gql_item_fields[] = {
    {"sku", gql_field::item_sku, "String!", gql_object::none},
    {"name", gql_field::item_name, "String!", gql_object::none},
    {"quantity", gql_field::item_quantity, "Int!", gql_object::none},
    {"unitPrice", gql_field::item_unit_price, "Int!", gql_object::none},
};
constexpr gql_field_def gql_customer_fields[] = {
    {"id", gql_field::customer_id, "ID!", gql_object::none},
    {"name", gql_field::customer_name, "String!", gql_object::none},
    {"email", gql_field::customer_email, "String!", gql_object::none},
    {"shipping", gql_field::customer_shipping, "Address!", gql_object::address},
};
constexpr gql_field_def gql_address_fields[] = {
    {"street", gql_field::address_street, "String!", gql_object::none},
    {"city", gql_field::address_city, "String!", gql_object::none},
    {"postcode", gql_field::address_postcode, "String!", gql_object::none},
    {"country", gql_field::address_country, "String!", gql_object::none},
};
constexpr std::array<gql_object_def, 5> gql_objects{{
    {"Query", gql_query_fields, std::size(gql_query_fields)},
    {"Order", gql_order_fields, std::size(gql_order_fields)},
    {"Item", gql_item_fields, std::size(gql_item_fields)},
    {"Customer", gql_customer_fields, std::size(gql_customer_fields)},
    {"Address", gql_address_fields, std::size(gql_address_fields)},
}};
constexpr gql_field_def gql_typename_def{"__typename", gql_field::typename_, "String!", gql_object::none};

const gql_field_def* gql_find_field(gql_object type, std::string_view name) noexcept {
  if (name == "__typename") return &gql_typename_def;
  const auto& obj = gql_objects[static_cast<std::size_t>(type)];
  for (std::size_t i = 0; i < obj.count; ++i)
    if (obj.fields[i].name == name) return &obj.fields[i];
  return nullptr;
}

constexpr std::string_view gql_input_types[] = {"ID", "String", "Int", "Float", "Boolean"};

// The named type inside a type reference: "[ID!]!" -> "ID".
std::string_view gql_base_type(std::string_view type) noexcept {
  while (!type.empty() && (type.front() == '[')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ']' || type.back() == '!')) type.remove_suffix(1);
  return type;
}

bool gql_integer_text(std::string_view s) noexcept {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

// Checks the document against the schema (every operation, as the spec's validation does),
// resolving each field; errors are collected, up to max_errors.
class validator {
 public:
  explicit validator(request& r) : r_(r) {}

  void run() {
    for (std::size_t i = 0; i < r_.operations_.size(); ++i) {
      const auto& op = r_.operations_[i];
      if (op.name.empty() && r_.operations_.size() > 1)
        r_.fail("This anonymous operation must be the only defined operation", op.at);
      for (std::size_t j = 0; j < i; ++j)
        if (!op.name.empty() && r_.operations_[j].name == op.name)
          r_.fail(fmt::format("There can be only one operation named \"{}\"", op.name), op.at);
      op_ = &op;
      for (std::uint32_t v = op.first_var; v < op.first_var + op.var_count; ++v) {
        const auto& def = r_.vars_[v];
        const auto base = gql_base_type(def.type);
        if (std::find(std::begin(gql_input_types), std::end(gql_input_types), base) == std::end(gql_input_types))
          r_.fail(fmt::format("Unknown type \"{}\"", base), def.at);
      }
      selection(op.first_field, gql_object::query);
      for (std::uint32_t v = op.first_var; v < op.first_var + op.var_count; ++v) {
        const auto& def = r_.vars_[v];
        if (!def.used) r_.fail(fmt::format("Variable \"${}\" is never used{}", def.name, in_operation()), def.at);
      }
    }
  }

 private:
  std::string in_operation() const {
    return op_->name.empty() ? std::string() : fmt::format(" in operation \"{}\"", op_->name);
  }

  void selection(std::int32_t first, gql_object type) {
    const auto& obj = gql_objects[static_cast<std::size_t>(type)];
    for (std::int32_t i = first; i >= 0; i = r_.fields_[static_cast<std::size_t>(i)].next) {
      auto& f = r_.fields_[static_cast<std::size_t>(i)];
      const gql_field_def* def = gql_find_field(type, f.name);
      if (!def) {
        r_.fail(fmt::format("Cannot query field \"{}\" on type \"{}\"", f.name, obj.name), f.at);
        continue;
      }
      f.resolved = static_cast<std::uint8_t>(def->id);
      arguments(f, *def, obj.name);
      if (def->child != gql_object::none && f.first_child < 0)
        r_.fail(fmt::format("Field \"{}\" of type \"{}\" must have a selection of subfields", f.name, def->type), f.at);
      if (def->child == gql_object::none && f.first_child >= 0)
        r_.fail(fmt::format("Field \"{}\" must not have a selection since type \"{}\" has no subfields", f.name,
                            def->type), f.at);
      if (def->child != gql_object::none && f.first_child >= 0) selection(f.first_child, def->child);
      merge(first, i);
    }
  }

  // Fields before `i` in its selection set with the same response name: identical leaves merge
  // (the later one is skipped when writing); anything else is a conflict this subset rejects.
  void merge(std::int32_t first, std::int32_t i) {
    auto& f = r_.fields_[static_cast<std::size_t>(i)];
    for (std::int32_t j = first; j != i; j = r_.fields_[static_cast<std::size_t>(j)].next) {
      const auto& g = r_.fields_[static_cast<std::size_t>(j)];
      if (g.response_name() != f.response_name()) continue;
      if (g.name == f.name && g.first_child < 0 && f.first_child < 0 && g.arg_count == 0 && f.arg_count == 0) {
        f.skip = true;
      } else {
        r_.fail(fmt::format("Fields \"{}\" conflict: only identical leaf fields may share a response name "
                            "here; use different aliases",
                            f.response_name()),
                f.at);
      }
      return;
    }
  }

  void arguments(const request::field& f, const gql_field_def& def, std::string_view type_name) {
    const bool takes_id = def.id == gql_field::order;
    bool have_id = false;
    for (std::uint32_t k = f.first_arg; k < f.first_arg + f.arg_count; ++k) {
      const auto& a = r_.args_[k];
      if (!takes_id || a.name != "id") {
        r_.fail(fmt::format("Unknown argument \"{}\" on field \"{}.{}\"", a.name, type_name, f.name), a.at);
        continue;
      }
      if (have_id) {
        r_.fail("There can be only one argument named \"id\"", a.at);
        continue;
      }
      have_id = true;
      id_value(a.v);
    }
    if (takes_id && !have_id)
      r_.fail(fmt::format("Field \"{}\" argument \"id\" of type \"ID!\" is required, but it was not provided", f.name),
              f.at);
  }

  // An ID! argument: an Int or String literal, or a variable of type ID! (or ID with a default).
  void id_value(const request::value& v) {
    using k = request::value_kind;
    switch (v.kind) {
      case k::integer:
      case k::string: return;
      case k::null: r_.fail("Expected value of type \"ID!\", found null", v.at); return;
      case k::variable: break;
      default: r_.fail(fmt::format("ID cannot represent a non-string and non-integer value: {}", v.text), v.at); return;
    }
    for (std::uint32_t i = op_->first_var; i < op_->first_var + op_->var_count; ++i) {
      auto& def = r_.vars_[i];
      if (def.name != v.text) continue;
      def.used = true;
      const bool fits = def.type == "ID!" ||
                        (def.type == "ID" && def.has_default && def.default_value.kind != request::value_kind::null);
      if (!fits)
        r_.fail(fmt::format("Variable \"${}\" of type \"{}\" used in position expecting type \"ID!\"", v.text, def.type),
                v.at);
      return;
    }
    r_.fail(fmt::format("Variable \"${}\" is not defined{}", v.text, in_operation()), v.at);
  }

  request& r_;
  const request::operation* op_ = nullptr;
};

bool request::validate() {
  validator v(*this);
  v.run();
  return errors_.empty();
}

bool request::choose_operation() {
  if (operation_name_) {
    for (const auto& op : operations_)
      if (op.name == *operation_name_) chosen_ = &op;
    // Named only when it is a name: the message must stay valid UTF-8 whatever the body held.
    const bool printable = std::all_of(operation_name_->begin(), operation_name_->end(), [](char c) {
      return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    });
    if (!chosen_) fail(printable ? fmt::format("Unknown operation named \"{}\"", *operation_name_)
                                 : std::string("Unknown operation: operationName is not a GraphQL name"));
  } else if (operations_.size() == 1) {
    chosen_ = &operations_.front();
  } else {
    fail("Must provide an operation name if the query contains several operations");
  }
  if (!chosen_) return false;
  // Coerce the chosen operation's variables (a request error if one does not fit its type).
  for (std::uint32_t i = chosen_->first_var; i < chosen_->first_var + chosen_->var_count; ++i) {
    auto& def = vars_[i];
    for (const auto& given : variables_)
      if (given.name == def.name) def.given = &given;
    const bool non_null = !def.type.empty() && def.type.back() == '!';
    if (!def.given || def.given->kind == json_kind::null) {
      if (def.given && non_null)
        fail(fmt::format("Variable \"${}\" of non-null type \"{}\" must not be null", def.name, def.type), def.at);
      else if (!def.given && non_null && !def.has_default)
        fail(fmt::format("Variable \"${}\" of required type \"{}\" was not provided", def.name, def.type), def.at);
      else if (def.given && def.used)  // an explicit null replaces the default, and the argument is ID!
        fail(fmt::format("Variable \"${}\" must not be null where an ID! is expected", def.name), def.at);
      if (def.given && def.given->kind == json_kind::null) def.given = nullptr;  // the default, if any
      continue;
    }
    const auto base = gql_base_type(def.type);
    const bool list = def.type.front() == '[';
    const auto kind = def.given->kind;
    bool fits = true;
    if (list) fits = kind == json_kind::array;  // never used by this schema: its items are not checked
    else if (base == "ID") fits = kind == json_kind::string || (kind == json_kind::number && gql_integer_text(def.given->text));
    else if (base == "String") fits = kind == json_kind::string;
    else if (base == "Int") fits = kind == json_kind::number && gql_integer_text(def.given->text);
    else if (base == "Float") fits = kind == json_kind::number;
    else if (base == "Boolean") fits = kind == json_kind::boolean;
    if (!fits)
      fail(fmt::format("Variable \"${}\" got an invalid value: {} cannot represent it", def.name, base), def.at);
  }
  return errors_.empty();
}

void request::trim() noexcept {
  auto release = [](auto& v, std::size_t bytes) {
    if (bytes > keep_bytes) std::remove_reference_t<decltype(v)>().swap(v);
  };
  release(query_, query_.capacity());
  release(fields_, fields_.capacity() * sizeof(field));
  release(args_, args_.capacity() * sizeof(argument));
  release(vars_, vars_.capacity() * sizeof(variable_definition));
  release(variables_, variables_.capacity() * sizeof(variable_value));
  release(errors_, errors_.capacity() * sizeof(error));
  operations_.clear();  // chosen_ pointed into it: nothing may execute after a trim
  chosen_ = nullptr;
}

bool request::prepare(std::string_view body) {
  query_.clear();
  operation_name_.reset();
  variables_.clear();
  fields_.clear();
  args_.clear();
  vars_.clear();
  operations_.clear();
  chosen_ = nullptr;
  errors_.clear();
  return parse_body(body) && parse_document() && validate() && choose_operation();
}

namespace {

// Writes one prepared operation's data (a class only to keep the request and counts at hand).
class gql_writer {
 public:
  gql_writer(const std::vector<request::field>& fields, const std::vector<request::argument>& args,
             const std::vector<request::variable_definition>& vars, const request::operation& op, std::string& out)
      : fields_(fields), args_(args), vars_(vars), op_(op), out_(out) {}
  outcome result;

  void query(std::int32_t first) {
    out_.push_back('{');
    each(first, [&](const request::field& f) {
      if (static_cast<gql_field>(f.resolved) == gql_field::typename_) return append_json_string(out_, "Query");
      const auto id = parse_order_id(id_text(f));
      if (!id || !order_exists(*id)) {
        ++result.orders_missing;
        out_.append("null");
        return;
      }
      const order o = make_order(*id);
      ++result.orders_found;
      result.fields_available += order_leaf_count(o);
      write(f.first_child, o);
    });
    out_.push_back('}');
  }

 private:
  // Calls leaf(f) after writing each selected field's key, commas between.
  template <class Leaf>
  void each(std::int32_t first, Leaf&& leaf) {
    bool comma = false;
    for (std::int32_t i = first; i >= 0; i = fields_[static_cast<std::size_t>(i)].next) {
      const auto& f = fields_[static_cast<std::size_t>(i)];
      if (f.skip) continue;
      if (comma) out_.push_back(',');
      comma = true;
      append_json_string(out_, f.response_name());
      out_.push_back(':');
      leaf(f);
    }
  }
  void text(std::string_view s) {
    append_json_string(out_, s);
    ++result.fields_sent;
  }
  void number(std::int64_t v) {
    fmt::format_int n(v);
    out_.append(n.data(), n.size());
    ++result.fields_sent;
  }
  void id(std::uint64_t v) {  // ID serializes as a String
    fmt::format_int n(v);
    out_.push_back('"');
    out_.append(n.data(), n.size());
    out_.push_back('"');
    ++result.fields_sent;
  }

  // The order field's id argument, as text (validated: an Int or String literal, or a bound variable).
  std::string_view id_text(const request::field& f) const {
    const auto& v = args_[f.first_arg].v;
    if (v.kind == request::value_kind::integer) return v.text;
    if (v.kind == request::value_kind::string) return v.decoded;
    for (std::uint32_t i = op_.first_var; i < op_.first_var + op_.var_count; ++i) {
      const auto& def = vars_[i];
      if (def.name != v.text) continue;
      if (def.given) return def.given->text;
      return def.default_value.kind == request::value_kind::string ? std::string_view(def.default_value.decoded)
                                                                   : def.default_value.text;
    }
    return {};
  }

  void write(std::int32_t first, const order& o) {
    out_.push_back('{');
    each(first, [&](const request::field& f) {
      switch (static_cast<gql_field>(f.resolved)) {
        case gql_field::order_id: return id(o.id);
        case gql_field::order_status: return text(o.status);
        case gql_field::order_created_at: return text(o.created_at);
        case gql_field::order_currency: return text(o.currency);
        case gql_field::order_total: return number(o.total_cents);
        case gql_field::order_items: {
          out_.push_back('[');
          for (std::size_t k = 0; k < o.items.size(); ++k) {
            if (k > 0) out_.push_back(',');
            write(f.first_child, o.items[k]);
          }
          out_.push_back(']');
          return;
        }
        case gql_field::order_customer: return write(f.first_child, o.buyer);
        default: return append_json_string(out_, "Order");  // __typename
      }
    });
    out_.push_back('}');
  }
  void write(std::int32_t first, const line_item& item) {
    out_.push_back('{');
    each(first, [&](const request::field& f) {
      switch (static_cast<gql_field>(f.resolved)) {
        case gql_field::item_sku: return text(item.sku);
        case gql_field::item_name: return text(item.name);
        case gql_field::item_quantity: return number(item.quantity);
        case gql_field::item_unit_price: return number(item.unit_price_cents);
        default: return append_json_string(out_, "Item");
      }
    });
    out_.push_back('}');
  }
  void write(std::int32_t first, const customer& c) {
    out_.push_back('{');
    each(first, [&](const request::field& f) {
      switch (static_cast<gql_field>(f.resolved)) {
        case gql_field::customer_id: return id(c.id);
        case gql_field::customer_name: return text(c.name);
        case gql_field::customer_email: return text(c.email);
        case gql_field::customer_shipping: return write(f.first_child, c.shipping);
        default: return append_json_string(out_, "Customer");
      }
    });
    out_.push_back('}');
  }
  void write(std::int32_t first, const address& a) {
    out_.push_back('{');
    each(first, [&](const request::field& f) {
      switch (static_cast<gql_field>(f.resolved)) {
        case gql_field::address_street: return text(a.street);
        case gql_field::address_city: return text(a.city);
        case gql_field::address_postcode: return text(a.postcode);
        case gql_field::address_country: return text(a.country);
        default: return append_json_string(out_, "Address");
      }
    });
    out_.push_back('}');
  }

  const std::vector<request::field>& fields_;
  const std::vector<request::argument>& args_;
  const std::vector<request::variable_definition>& vars_;
  const request::operation& op_;
  std::string& out_;
};

}  // namespace

outcome request::execute(std::string& out) const {
  out.append("{\"data\":");
  gql_writer w(fields_, args_, vars_, *chosen_, out);
  w.query(chosen_->first_field);
  out.push_back('}');
  return w.result;
}

void request::write_errors(std::string& out) const {
  out.append("{\"errors\":[");
  for (std::size_t i = 0; i < errors_.size(); ++i) {
    const auto& e = errors_[i];
    if (i > 0) out.push_back(',');
    out.append("{\"message\":");
    append_json_string(out, e.message);
    if (e.at.line > 0) fmt::format_to(std::back_inserter(out), ",\"locations\":[{{\"line\":{},\"column\":{}}}]", e.at.line, e.at.column);
    out.push_back('}');
  }
  out.append("]}");
}

}  // namespace perflab::api::graphql
