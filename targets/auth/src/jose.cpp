#include "jose.hpp"

#include <cmath>
#include <cstdlib>

namespace perflab::auth::jose {

namespace {

constexpr char b64url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool read_hex4(std::string_view s, std::size_t at, std::uint32_t& out) noexcept {
  if (at + 4 > s.size()) return false;
  out = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    const int h = hex_value(s[at + k]);
    if (h < 0) return false;
    out = out << 4 | static_cast<std::uint32_t>(h);
  }
  return true;
}

bool scan_literal(cursor& c, std::string_view word) noexcept {
  if (c.s.substr(c.i, word.size()) != word) return false;
  c.i += word.size();
  return true;
}

bool scan_number(cursor& c) noexcept {
  const auto& s = c.s;
  auto digits = [&] {
    const std::size_t from = c.i;
    while (c.i < s.size() && s[c.i] >= '0' && s[c.i] <= '9') ++c.i;
    return c.i > from;
  };
  if (c.i < s.size() && s[c.i] == '-') ++c.i;
  if (c.i < s.size() && s[c.i] == '0') {
    ++c.i;
  } else if (!digits()) {
    return false;
  }
  if (c.i < s.size() && s[c.i] == '.') {
    ++c.i;
    if (!digits()) return false;
  }
  if (c.i < s.size() && (s[c.i] == 'e' || s[c.i] == 'E')) {
    ++c.i;
    if (c.i < s.size() && (s[c.i] == '+' || s[c.i] == '-')) ++c.i;
    if (!digits()) return false;
  }
  return true;
}

}  // namespace

void base64url_encode(std::string_view in, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size(), i = 0;
  out.reserve(out.size() + (n * 4 + 2) / 3);
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = p[i] << 16 | p[i + 1] << 8 | p[i + 2];
    out.push_back(b64url_alphabet[v >> 18]);
    out.push_back(b64url_alphabet[(v >> 12) & 63]);
    out.push_back(b64url_alphabet[(v >> 6) & 63]);
    out.push_back(b64url_alphabet[v & 63]);
  }
  if (n - i == 1) {
    const std::uint32_t v = p[i] << 16;
    out.push_back(b64url_alphabet[v >> 18]);
    out.push_back(b64url_alphabet[(v >> 12) & 63]);
  } else if (n - i == 2) {
    const std::uint32_t v = p[i] << 16 | p[i + 1] << 8;
    out.push_back(b64url_alphabet[v >> 18]);
    out.push_back(b64url_alphabet[(v >> 12) & 63]);
    out.push_back(b64url_alphabet[(v >> 6) & 63]);
  }
}

bool base64url_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 4 == 1) return false;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char ch : in) {
    const int v = b64url_value(ch);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return (acc & ((1u << bits) - 1)) == 0;  // the bits left over must be zero
}

bool scan_string(cursor& c) {
  const auto& s = c.s;
  if (c.i >= s.size() || s[c.i] != '"') return false;
  for (++c.i; c.i < s.size(); ++c.i) {
    const char ch = s[c.i];
    if (ch == '"') {
      ++c.i;
      return true;
    }
    if (static_cast<unsigned char>(ch) < 0x20) return false;
    if (ch == '\\') {
      if (++c.i >= s.size()) return false;
      const char e = s[c.i];
      if (e == 'u') {
        std::uint32_t cp;
        if (!read_hex4(s, c.i + 1, cp)) return false;
        c.i += 4;
      } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
        return false;
      }
    }
  }
  return false;
}

bool scan_value(cursor& c, json_value& v, int depth) {
  if (depth > 16) return false;
  c.ws();
  if (c.i >= c.s.size()) return false;
  const std::size_t at = c.i;
  const char ch = c.s[c.i];
  bool ok;
  if (ch == '"') {
    v.which = json_value::kind::string;
    ok = scan_string(c);
  } else if (ch == '{' || ch == '[') {
    const char close = ch == '{' ? '}' : ']';
    v.which = ch == '{' ? json_value::kind::object : json_value::kind::array;
    ++c.i;
    ok = true;
    if (!c.eat(close)) {
      do {
        json_value inner;
        if (ch == '{') {
          c.ws();
          if (!scan_string(c) || !c.eat(':')) return false;
        }
        if (!scan_value(c, inner, depth + 1)) return false;
      } while (c.eat(','));
      ok = c.eat(close);
    }
  } else if (ch == 't' || ch == 'f') {
    v.which = json_value::kind::boolean;
    ok = scan_literal(c, ch == 't' ? "true" : "false");
  } else if (ch == 'n') {
    v.which = json_value::kind::null;
    ok = scan_literal(c, "null");
  } else {
    v.which = json_value::kind::number;
    ok = scan_number(c);
  }
  v.raw = c.s.substr(at, c.i - at);
  return ok;
}

bool json_string(const json_value& v, std::string& out) {
  out.clear();
  if (v.which != json_value::kind::string || v.raw.size() < 2) return false;
  const std::string_view s = v.raw.substr(1, v.raw.size() - 2);  // scanned: escapes are well formed
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    const char e = s[++i];
    switch (e) {
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        std::uint32_t cp;
        if (!read_hex4(s, i + 1, cp)) return false;
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00) {  // a high surrogate: its low half must follow
          std::uint32_t lo;
          if (i + 2 >= s.size() || s[i + 1] != '\\' || s[i + 2] != 'u' || !read_hex4(s, i + 3, lo) || lo < 0xDC00 ||
              lo >= 0xE000)
            return false;
          i += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
          return false;
        }
        append_utf8(out, cp);
        break;
      }
      default: out.push_back(e); break;  // " \ /
    }
  }
  return true;
}

bool json_int(const json_value& v, std::int64_t& out) {
  if (v.which != json_value::kind::number) return false;
  if (v.raw.find_first_of(".eE") == std::string_view::npos) {
    std::int64_t r = 0;
    bool neg = false;
    std::size_t i = 0;
    if (v.raw[0] == '-') neg = true, i = 1;
    for (; i < v.raw.size(); ++i) {
      const int d = v.raw[i] - '0';
      if (r > (INT64_MAX - d) / 10) return false;
      r = r * 10 + d;
    }
    out = neg ? -r : r;
    return true;
  }
  const std::string text(v.raw);
  const double d = std::strtod(text.c_str(), nullptr);
  if (!std::isfinite(d) || d > 9.2e18 || d < -9.2e18) return false;
  out = static_cast<std::int64_t>(d);
  return true;
}

}  // namespace perflab::auth::jose
