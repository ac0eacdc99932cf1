#pragma once
// Internal: the hand-written parts of JOSE, base64url without padding (RFC 7515 section 2 and
// appendix C) and a reader of one flat JSON object's members (RFC 8259), enough for a JWS header
// and a JWT's claims. Everything cryptographic is OpenSSL's (jwt.cpp, key.cpp).
#include <cstdint>
#include <string>
#include <string_view>

namespace perflab::auth::jose {

void base64url_encode(std::string_view in, std::string& out);
// Strict: only A-Z a-z 0-9 - _, no padding, no length of 4k+1, unused trailing bits zero (one
// token, one encoding). False on anything else; out holds the decoded bytes otherwise.
bool base64url_decode(std::string_view in, std::string& out);

// One member's value as it stands in the text (a view into it).
struct json_value {
  enum class kind : std::uint8_t { string, number, boolean, null, array, object };
  kind which = kind::null;
  std::string_view raw;  // the value's text (a string with its quotes)
};

// Calls on_member(name, value) for each member of the object that is the whole of text (white
// space around it allowed); on_member returns false to stop with an error. Names are decoded
// (escapes resolved) into a reused string. False: not one well-formed JSON object, nesting
// deeper than 16, or on_member refused.
template <class F>
bool for_each_member(std::string_view text, F&& on_member);

// A string value's decoded text (escapes resolved, \u as UTF-8; surrogate pairs joined).
bool json_string(const json_value& v, std::string& out);
// A number value that is an integer in int64 range (a fraction or exponent is accepted when the
// value is integral, as "exp": 1.7e9 is valid NumericDate; the fraction is dropped).
bool json_int(const json_value& v, std::int64_t& out);
// Calls f(decoded) for each element of an array of strings; false when one is not a string.
template <class F>
bool for_each_string(const json_value& v, F&& f);

// --- implementation details of the templates ---
struct cursor {
  std::string_view s;
  std::size_t i = 0;
  void ws() noexcept {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool eat(char c) noexcept {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
};
// Scans one value at c (after white space) and says what it is; false when malformed.
bool scan_value(cursor& c, json_value& v, int depth);
bool scan_string(cursor& c);

template <class F>
bool for_each_member(std::string_view text, F&& on_member) {
  cursor c{text};
  if (!c.eat('{')) return false;
  std::string name;
  if (!c.eat('}')) {
    do {
      c.ws();
      const std::size_t at = c.i;
      if (!scan_string(c)) return false;
      if (!json_string(json_value{json_value::kind::string, text.substr(at, c.i - at)}, name)) return false;
      if (!c.eat(':')) return false;
      json_value v;
      if (!scan_value(c, v, 1)) return false;
      if (!on_member(std::string_view(name), v)) return false;
    } while (c.eat(','));
    if (!c.eat('}')) return false;
  }
  c.ws();
  return c.i == text.size();
}

template <class F>
bool for_each_string(const json_value& v, F&& f) {
  if (v.which != json_value::kind::array) return false;
  cursor c{v.raw};
  c.eat('[');
  if (c.eat(']')) return true;
  std::string item;
  do {
    json_value e;
    if (!scan_value(c, e, 1) || !json_string(e, item)) return false;
    f(std::string_view(item));
  } while (c.eat(','));
  return c.eat(']');
}

}  // namespace perflab::auth::jose
