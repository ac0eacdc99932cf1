// The query document: a lexer that tracks line and column, and a recursive-descent parser for
// the subset graphql.hpp describes. Every failure is one error with its place; nothing here
// throws except std::bad_alloc.
#include "perflab/api/graphql.hpp"

#include <fmt/format.h>

#include "graphql_escape.hpp"

namespace perflab::api::graphql {

// Named, not anonymous: class parser (a friend of request, so of external linkage) holds a lexer.
namespace detail {

enum class gql_token : std::uint8_t { eof, punct, name, integer, floating, string, error };

struct gql_lexeme {
  gql_token kind = gql_token::eof;
  std::string_view text;  // punctuator, name, number; a string's contents between the quotes
  location at;
};

class gql_lexer {
 public:
  explicit gql_lexer(std::string_view s) : s_(s) {}
  std::string error;  // a lexical error: the token is gql_token::error

  gql_lexeme next() {
    skip_ignored();
    gql_lexeme t;
    t.at = here();
    if (i_ >= s_.size()) return t;
    const std::size_t from = i_;
    const char c = s_[i_];
    if (c == '.') {
      if (s_.substr(i_, 3) != "...") return lex_error(t, "Unexpected \".\": expected \"...\"");
      advance(3);
      t.kind = gql_token::punct;
      t.text = s_.substr(from, 3);
      return t;
    }
    if (std::string_view("!$&()[]{}:=@|").find(c) != std::string_view::npos) {
      advance(1);
      t.kind = gql_token::punct;
      t.text = s_.substr(from, 1);
      return t;
    }
    if (name_start(c)) {
      while (i_ < s_.size() && name_continue(s_[i_])) advance(1);
      t.kind = gql_token::name;
      t.text = s_.substr(from, i_ - from);
      return t;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return lex_number(t);
    if (c == '"') return lex_string(t);
    const auto b = static_cast<unsigned char>(c);
    return lex_error(t, b >= 0x20 && b < 0x7f ? fmt::format("Unexpected character \"{}\"", c)
                                               : fmt::format("Unexpected byte 0x{:02x}", b));
  }

 private:
  static bool name_start(char c) noexcept { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
  static bool name_continue(char c) noexcept { return name_start(c) || (c >= '0' && c <= '9'); }
  location here() const noexcept { return {line_, col_}; }
  // Moves n bytes on one line; a UTF-8 continuation byte is part of the character before it.
  void advance(std::size_t n) noexcept {
    for (std::size_t k = 0; k < n && i_ < s_.size(); ++k, ++i_)
      if ((static_cast<unsigned char>(s_[i_]) & 0xc0) != 0x80) ++col_;
  }
  void newline(std::size_t n) noexcept {
    i_ += n;
    ++line_;
    col_ = 1;
  }
  void skip_ignored() noexcept {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == ' ' || c == '\t' || c == ',') advance(1);
      else if (c == '\n') newline(1);
      else if (c == '\r') newline(i_ + 1 < s_.size() && s_[i_ + 1] == '\n' ? 2 : 1);
      else if (s_.substr(i_, 3) == "\xef\xbb\xbf") i_ += 3;  // a byte order mark
      else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n' && s_[i_] != '\r') advance(1);
      } else {
        break;
      }
    }
  }
  gql_lexeme lex_error(gql_lexeme t, std::string message) {
    error = std::move(message);
    t.kind = gql_token::error;
    return t;
  }
  gql_lexeme lex_number(gql_lexeme t) {
    const std::size_t from = i_;
    auto digits = [&] {
      const std::size_t d = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') advance(1);
      return i_ > d;
    };
    if (s_[i_] == '-') advance(1);
    if (i_ < s_.size() && s_[i_] == '0') {
      advance(1);
      if (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') return lex_error(t, "Invalid number: a leading zero");
    } else if (!digits()) {
      return lex_error(t, "Invalid number: expected a digit");
    }
    t.kind = gql_token::integer;
    if (i_ < s_.size() && s_[i_] == '.') {
      advance(1);
      if (!digits()) return lex_error(t, "Invalid number: expected a digit after \".\"");
      t.kind = gql_token::floating;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      advance(1);
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) advance(1);
      if (!digits()) return lex_error(t, "Invalid number: expected a digit in the exponent");
      t.kind = gql_token::floating;
    }
    if (i_ < s_.size() && (name_start(s_[i_]) || s_[i_] == '.'))
      return lex_error(t, "Invalid number: a name or \".\" cannot follow it");
    t.text = s_.substr(from, i_ - from);
    return t;
  }
  gql_lexeme lex_string(gql_lexeme t) {
    if (s_.substr(i_, 3) == "\"\"\"") return lex_error(t, "Block strings (\"\"\"...\"\"\") are not supported");
    advance(1);
    const std::size_t from = i_;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '"') {
        t.kind = gql_token::string;
        t.text = s_.substr(from, i_ - from);
        advance(1);
        return t;
      }
      if (c == '\n' || c == '\r') break;
      if (c == '\\') advance(1);  // the escaped character is checked when the string is decoded
      advance(1);
    }
    return lex_error(t, "Unterminated string");
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::uint32_t line_ = 1, col_ = 1;
};

std::string gql_describe(const gql_lexeme& t) {
  switch (t.kind) {
    case gql_token::eof: return "<EOF>";
    case gql_token::punct: return fmt::format("\"{}\"", t.text);
    case gql_token::name: return fmt::format("Name \"{}\"", t.text);
    case gql_token::integer: return fmt::format("Int \"{}\"", t.text);
    case gql_token::floating: return fmt::format("Float \"{}\"", t.text);
    case gql_token::string: return "String";
    case gql_token::error: break;
  }
  return "an invalid token";
}

}  // namespace detail

using detail::gql_describe;
using detail::gql_lexeme;
using detail::gql_lexer;
using detail::gql_token;
using detail::decode_escape;

// Recursive descent over gql_lexer; the first error stops it (req.fail, then false all the way up).
class parser {
 public:
  explicit parser(request& r) : r_(r), lex_(r.query_) { t_ = lex_.next(); }

  bool document() {
    if (!ok()) return false;
    if (t_.kind == gql_token::eof) return fail("Syntax Error: the document has no operation");
    while (t_.kind != gql_token::eof) {
      if (!definition()) return false;
    }
    return true;
  }

 private:
  bool ok() {
    if (t_.kind != gql_token::error) return true;
    return fail("Syntax Error: " + lex_.error);
  }
  bool fail(std::string message) { return fail(std::move(message), t_.at); }
  bool fail(std::string message, location at) {
    r_.fail(std::move(message), at);
    return false;
  }
  bool shift() {
    t_ = lex_.next();
    return ok();
  }
  bool is(std::string_view punct) const { return t_.kind == gql_token::punct && t_.text == punct; }
  bool expect(std::string_view punct) {
    if (!is(punct)) return fail(fmt::format("Syntax Error: expected \"{}\", found {}", punct, gql_describe(t_)));
    return shift();
  }
  bool name(std::string_view& out) {
    if (t_.kind != gql_token::name) return fail(fmt::format("Syntax Error: expected a name, found {}", gql_describe(t_)));
    out = t_.text;
    return shift();
  }
  bool no_directive() {
    if (is("@")) return fail("Directives are not supported");
    return true;
  }

  bool definition() {
    request::operation op;
    op.at = t_.at;
    op.first_var = static_cast<std::uint32_t>(r_.vars_.size());
    if (is("{")) return selection_set(op.first_field, 1) && push(op);
    if (t_.kind != gql_token::name)
      return fail(fmt::format("Syntax Error: expected an operation, found {}", gql_describe(t_)));
    const std::string_view word = t_.text;
    if (word == "mutation" || word == "subscription")
      return fail(fmt::format("{}s are not supported: the schema has a Query type only",
                              word == "mutation" ? "Mutation" : "Subscription"));
    if (word == "fragment") return fail("Fragments are not supported");
    if (word != "query")
      return fail(fmt::format("Syntax Error: expected an operation (\"query\" or \"{{\"), found Name \"{}\"", word));
    if (!shift()) return false;
    if (t_.kind == gql_token::name && !name(op.name)) return false;
    if (is("(") && !variable_definitions(op)) return false;
    if (!no_directive()) return false;
    if (!is("{")) return fail(fmt::format("Syntax Error: expected \"{{\", found {}", gql_describe(t_)));
    return selection_set(op.first_field, 1) && push(op);
  }
  bool push(request::operation& op) {
    op.var_count = static_cast<std::uint32_t>(r_.vars_.size()) - op.first_var;
    r_.operations_.push_back(op);
    return true;
  }

  bool variable_definitions(request::operation& op) {
    if (!shift()) return false;  // (
    if (is(")")) return fail("Syntax Error: expected a variable definition, found \")\"");
    while (!is(")")) {
      request::variable_definition v;
      v.at = t_.at;
      if (!expect("$") || !name(v.name) || !expect(":") || !type(v.type, 0)) return false;
      if (is("=")) {
        if (!shift() || !value(v.default_value, true)) return false;
        v.has_default = true;
      }
      if (!no_directive()) return false;
      for (std::uint32_t k = op.first_var; k < r_.vars_.size(); ++k)
        if (r_.vars_[k].name == v.name)
          return fail(fmt::format("There can be only one variable named \"${}\"", v.name), v.at);
      r_.vars_.push_back(std::move(v));
    }
    return shift();  // )
  }

  bool type(std::string& out, std::size_t depth) {
    if (depth > max_depth) return fail("Syntax Error: the type is nested too deeply");
    if (is("[")) {
      out.push_back('[');
      if (!shift() || !type(out, depth + 1) || !expect("]")) return false;
      out.push_back(']');
    } else {
      std::string_view n;
      if (!name(n)) return false;
      out.append(n);
    }
    if (is("!")) {
      out.push_back('!');
      return shift();
    }
    return true;
  }

  bool value(request::value& v, bool constant) {
    v.at = t_.at;
    v.text = t_.text;
    switch (t_.kind) {
      case gql_token::integer: v.kind = request::value_kind::integer; return shift();
      case gql_token::floating: v.kind = request::value_kind::floating; return shift();
      case gql_token::string: {
        v.kind = request::value_kind::string;
        v.decoded.clear();
        const std::string_view s = t_.text;
        for (std::size_t i = 0; i < s.size();) {
          if (static_cast<unsigned char>(s[i]) < 0x20 && s[i] != '\t')
            return fail("Syntax Error: a control character in a string");
          if (s[i] != '\\') {
            v.decoded.push_back(s[i++]);
            continue;
          }
          ++i;
          if (!decode_escape(s, i, v.decoded)) return fail("Syntax Error: an invalid escape sequence in a string");
        }
        return shift();
      }
      case gql_token::name:
        if (t_.text == "true" || t_.text == "false") v.kind = request::value_kind::boolean;
        else if (t_.text == "null") v.kind = request::value_kind::null;
        else v.kind = request::value_kind::enumeration;
        return shift();
      case gql_token::punct:
        if (is("$")) {
          if (constant) return fail("Syntax Error: a variable cannot stand in a default value");
          v.kind = request::value_kind::variable;
          if (!shift()) return false;
          return name(v.text);
        }
        if (is("[") || is("{")) return fail("List and object values are not supported");
        break;
      default: break;
    }
    return fail(fmt::format("Syntax Error: expected a value, found {}", gql_describe(t_)));
  }

  bool selection_set(std::int32_t& first, std::size_t depth) {
    if (depth > max_depth)
      return fail(fmt::format("The selection is nested deeper than {} levels", max_depth));
    if (!shift()) return false;  // {
    if (is("}")) return fail("Syntax Error: a selection set needs at least one field");
    std::int32_t last = -1;
    while (!is("}")) {
      if (is("...")) return fail("Fragments are not supported (fragment spreads and inline fragments)");
      if (t_.kind == gql_token::eof) return fail("Syntax Error: expected \"}\", found <EOF>");
      if (r_.fields_.size() >= max_fields)
        return fail(fmt::format("The document selects more than {} fields", max_fields));
      const auto index = static_cast<std::int32_t>(r_.fields_.size());
      r_.fields_.emplace_back();
      if (!field(index, depth)) return false;
      if (last < 0) first = index;
      else r_.fields_[static_cast<std::size_t>(last)].next = index;
      last = index;
    }
    return shift();  // }
  }

  // fields_[index] is in place; a child selection set may grow fields_, so no reference is kept.
  bool field(std::int32_t index, std::size_t depth) {
    auto at = [&]() -> request::field& { return r_.fields_[static_cast<std::size_t>(index)]; };
    at().at = t_.at;
    std::string_view first;
    if (!name(first)) return false;
    if (is(":")) {
      at().alias = first;
      std::string_view n;
      if (!shift() || !name(n)) return false;
      at().name = n;
    } else {
      at().name = first;
    }
    at().first_arg = static_cast<std::uint32_t>(r_.args_.size());
    if (is("(")) {
      if (!shift()) return false;
      if (is(")")) return fail("Syntax Error: expected an argument, found \")\"");
      while (!is(")")) {
        request::argument a;
        a.at = t_.at;
        if (!name(a.name) || !expect(":") || !value(a.v, false)) return false;
        r_.args_.push_back(std::move(a));
      }
      if (!shift()) return false;
    }
    at().arg_count = static_cast<std::uint32_t>(r_.args_.size()) - at().first_arg;
    if (!no_directive()) return false;
    if (is("{")) {
      std::int32_t child = -1;
      if (!selection_set(child, depth + 1)) return false;
      at().first_child = child;
    }
    return true;
  }

  request& r_;
  gql_lexer lex_;
  gql_lexeme t_;
};

bool request::parse_document() {
  parser p(*this);
  return p.document();
}


}  // namespace perflab::api::graphql
