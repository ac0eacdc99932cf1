#include <perflab/encode/negotiate.hpp>

#include <perflab/core/text.hpp>

namespace perflab::encode {

namespace {

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 9110 5.6.2 tchar.
bool is_tchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

// RFC 9110 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths;
// -1 when outside the grammar.
int parse_qvalue(std::string_view s) noexcept {
  if (s.empty() || (s[0] != '0' && s[0] != '1')) return -1;
  const bool one = s[0] == '1';
  if (s.size() == 1) return one ? 1000 : 0;
  if (s[1] != '.' || s.size() > 5) return -1;
  int frac = 0, scale = 100;
  for (char c : s.substr(2)) {
    if (c < '0' || c > '9') return -1;
    if (one && c != '0') return -1;
    frac += (c - '0') * scale;
    scale /= 10;
  }
  return one ? 1000 : frac;
}

// One list element, "coding" or "coding;q=v" with optional whitespace around ';'. Returns false
// when it is outside the grammar.
bool parse_element(std::string_view e, accept_encoding& into) noexcept {
  int q = 1000;
  std::string_view name = e;
  if (const auto semi = e.find(';'); semi != std::string_view::npos) {
    name = trim(e.substr(0, semi));
    const auto weight = trim(e.substr(semi + 1));
    // Only a weight may follow the coding: "q=" (the q in any case) and a qvalue.
    if (weight.size() < 3 || (weight[0] != 'q' && weight[0] != 'Q') || weight[1] != '=') return false;
    q = parse_qvalue(weight.substr(2));
    if (q < 0) return false;
  }
  if (name != "*" && !is_token(name)) return false;
  int* slot = nullptr;
  if (name == "*") slot = &into.star;
  else if (iequals(name, "identity")) slot = &into.identity;
  else if (iequals(name, "gzip") || iequals(name, "x-gzip")) slot = &into.gzip;
  else if (iequals(name, "br")) slot = &into.br;
  else if (iequals(name, "zstd")) slot = &into.zstd;
  if (slot && *slot < 0) *slot = q;  // a coding we do not know is valid, and irrelevant
  return true;
}

// The client's weight for an offered coding (0: not acceptable).
int weight_of(const accept_encoding& a, coding c) noexcept {
  int listed = -1;
  switch (c) {
    case coding::gzip: listed = a.gzip; break;
    case coding::br: listed = a.br; break;
    case coding::zstd: listed = a.zstd; break;
    case coding::identity: return 0;  // choose() weighs identity itself
  }
  if (listed >= 0) return listed;
  return a.star >= 0 ? a.star : 0;
}

}  // namespace

std::string_view to_string(coding c) noexcept {
  switch (c) {
    case coding::identity: return "identity";
    case coding::gzip: return "gzip";
    case coding::br: return "br";
    case coding::zstd: return "zstd";
  }
  return "identity";
}

void parse_accept(std::string_view field_value, accept_encoding& into) noexcept {
  into.present = true;
  while (!field_value.empty()) {
    const auto comma = field_value.find(',');
    const auto element = trim(field_value.substr(0, comma));
    // RFC 9110 5.6.1: empty list elements are allowed and ignored.
    if (!element.empty() && !parse_element(element, into)) into.malformed = true;
    if (comma == std::string_view::npos) break;
    field_value.remove_prefix(comma + 1);
  }
}

coding choose(const accept_encoding& client, std::span<const coding> offered) noexcept {
  if (!client.present || client.malformed) return coding::identity;
  coding best = coding::identity;
  int best_q = 0;
  for (const coding c : offered) {
    if (c == coding::identity) continue;
    const int q = weight_of(client, c);
    if (q > best_q) {  // strictly: on a tie the server's earlier coding stays
      best = c;
      best_q = q;
    }
  }
  if (best_q == 0) return coding::identity;  // nothing else acceptable: identity, refused or not
  // identity beats a coding only when the client weighs it strictly higher, by its own entry or,
  // when not listed, by "*"'s. Neither listed nor covered by "*", it is acceptable but ranks
  // below any acceptable coding.
  const int identity_q = client.identity >= 0 ? client.identity : client.star;
  if (identity_q > best_q) return coding::identity;
  return best;
}

coding negotiate(std::string_view field_value, std::span<const coding> offered) noexcept {
  accept_encoding a;
  parse_accept(field_value, a);
  return choose(a, offered);
}

}  // namespace perflab::encode
