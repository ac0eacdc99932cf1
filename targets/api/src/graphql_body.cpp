// The GraphQL-over-HTTP body: a JSON object read without a DOM, {"query", "variables",
// "operationName"} taken from it, every failure one error naming the byte where it stands.
#include "perflab/api/graphql.hpp"

#include <fmt/format.h>

#include "graphql_escape.hpp"

namespace perflab::api::graphql {

namespace {

// ---- JSON (the envelope) -------------------------------------------------------------------

// Appends code point cp as UTF-8.
void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Four hex digits at s[i..i+4), or -1.
long hex4(std::string_view s, std::size_t i) noexcept {
  if (i + 4 > s.size()) return -1;
  long v = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    const int d = hex_digit(s[i + k]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

namespace detail {

// Decodes the escape sequence at s[i] (just after the backslash) into out, JSON's and GraphQL's
// alike (\" \\ \/ \b \f \n \r \t \uXXXX, surrogate pairs joined); i moves past it. False when
// malformed (a lone surrogate included).
bool decode_escape(std::string_view s, std::size_t& i, std::string& out) {
  if (i >= s.size()) return false;
  const char c = s[i++];
  switch (c) {
    case '"': out.push_back('"'); return true;
    case '\\': out.push_back('\\'); return true;
    case '/': out.push_back('/'); return true;
    case 'b': out.push_back('\b'); return true;
    case 'f': out.push_back('\f'); return true;
    case 'n': out.push_back('\n'); return true;
    case 'r': out.push_back('\r'); return true;
    case 't': out.push_back('\t'); return true;
    case 'u': break;
    default: return false;
  }
  long cp = hex4(s, i);
  if (cp < 0) return false;
  i += 4;
  if (cp >= 0xdc00 && cp <= 0xdfff) return false;
  if (cp >= 0xd800 && cp <= 0xdbff) {
    if (i + 6 > s.size() || s[i] != '\\' || s[i + 1] != 'u') return false;
    const long low = hex4(s, i + 2);
    if (low < 0xdc00 || low > 0xdfff) return false;
    i += 6;
    cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
  }
  append_utf8(out, static_cast<std::uint32_t>(cp));
  return true;
}

}  // namespace detail

namespace {

using detail::decode_escape;

class gql_json_reader {
 public:
  explicit gql_json_reader(std::string_view s) : s_(s) {}
  std::string error;  // set on the first failure

  void skip_ws() noexcept {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool at_end() noexcept {
    skip_ws();
    return i_ == s_.size();
  }
  bool eat(char c) noexcept {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  char peek() noexcept {
    skip_ws();
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  bool expect(char c, std::string_view what) {
    if (eat(c)) return true;
    return fail(what);
  }
  bool fail(std::string_view what) {
    if (error.empty()) error = fmt::format("the body is not valid JSON: expected {} at byte {}", what, i_);
    return false;
  }
  bool string(std::string& out) {
    out.clear();
    if (!eat('"')) return fail("a string");
    for (;;) {
      if (i_ >= s_.size()) return fail("the end of a string");
      const char c = s_[i_];
      if (c == '"') {
        ++i_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return fail("no control character in a string");
      if (c == '\\') {
        ++i_;
        if (!decode_escape(s_, i_, out)) return fail("a valid escape sequence");
        continue;
      }
      out.push_back(c);
      ++i_;
    }
  }
  // A number as written (RFC 8259's grammar).
  bool number(std::string& out) {
    skip_ws();
    const std::size_t from = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else if (!digits()) {
      return fail("a number");
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) return fail("digits after '.'");
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return fail("an exponent");
    }
    out.assign(s_.substr(from, i_ - from));
    return true;
  }
  bool word(std::string_view w) {
    skip_ws();
    if (s_.substr(i_, w.size()) != w) return fail("a JSON value");
    i_ += w.size();
    return true;
  }
  // Any value, checked and dropped; what it was in kind.
  bool value(request::json_kind& kind, std::string& text, int depth = 0) {
    if (depth > 64) return fail("a value nested less deeply");
    using k = request::json_kind;
    switch (peek()) {
      case '"': kind = k::string; return string(text);
      case 't': kind = k::boolean; text = "true"; return word("true");
      case 'f': kind = k::boolean; text = "false"; return word("false");
      case 'n': kind = k::null; text.clear(); return word("null");
      case '{': {
        kind = k::object;
        ++i_;
        if (eat('}')) return true;
        std::string name, inner;
        k inner_kind{};
        do {
          if (!string(name) || !expect(':', "':'") || !value(inner_kind, inner, depth + 1)) return false;
        } while (eat(','));
        return expect('}', "',' or '}'");
      }
      case '[': {
        kind = k::array;
        ++i_;
        if (eat(']')) return true;
        std::string inner;
        k inner_kind{};
        do {
          if (!value(inner_kind, inner, depth + 1)) return false;
        } while (eat(','));
        return expect(']', "',' or ']'");
      }
      default: kind = k::number; return number(text);
    }
  }

 private:
  bool digits() noexcept {
    const std::size_t from = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > from;
  }
  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

bool request::parse_body(std::string_view body) {
  gql_json_reader r(body);
  bool have_query = false;
  std::string key, text;
  json_kind kind{};
  auto bad = [&] {
    fail(r.error);
    return false;
  };
  if (!r.expect('{', "a JSON object ('{')")) return bad();
  if (!r.eat('}')) {
    do {
      if (!r.string(key) || !r.expect(':', "':'")) return bad();
      if (key == "query") {
        if (!r.value(kind, query_)) return bad();
        if (kind != json_kind::string) {
          fail("\"query\" must be a string holding the GraphQL document");
          return false;
        }
        have_query = true;
      } else if (key == "operationName") {
        if (!r.value(kind, text)) return bad();
        if (kind == json_kind::string) operation_name_ = text;
        else if (kind != json_kind::null) {
          fail("\"operationName\" must be a string or null");
          return false;
        }
      } else if (key == "variables") {
        if (r.peek() == '{') {
          r.eat('{');
          if (!r.eat('}')) {
            do {
              variable_value v;
              if (!r.string(v.name) || !r.expect(':', "':'") || !r.value(v.kind, v.text)) return bad();
              variables_.push_back(std::move(v));
            } while (r.eat(','));
            if (!r.expect('}', "',' or '}'")) return bad();
          }
        } else {
          if (!r.value(kind, text)) return bad();
          if (kind != json_kind::null) {
            fail("\"variables\" must be an object or null");
            return false;
          }
        }
      } else if (!r.value(kind, text)) {  // "extensions" and anything else: checked, ignored
        return bad();
      }
    } while (r.eat(','));
    if (!r.expect('}', "',' or '}'")) return bad();
  }
  if (!r.at_end()) {
    r.fail("the end of the body after the object");
    return bad();
  }
  if (!have_query) {
    fail("the body has no \"query\": expected {\"query\": \"...\", \"variables\": {...}}");
    return false;
  }
  return true;
}


void request::fail(std::string message, location at) {
  if (errors_.size() < max_errors) errors_.push_back(error{std::move(message), at});
  else if (errors_.size() == max_errors) errors_.push_back(error{"Too many errors; the rest are not reported", {}});
}

}  // namespace perflab::api::graphql
