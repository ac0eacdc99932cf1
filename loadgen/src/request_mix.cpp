#include "perflab/loadgen/request_mix.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "perflab/loadgen/grpc.hpp"

namespace perflab::loadgen {

namespace {
constexpr std::string_view key_marker = "{key}";
constexpr std::string_view uuid_marker = "{uuid}";
// What `{uuid}` renders as before a connection stamps a fresh one over it (same length).
constexpr std::string_view uuid_template = "00000000-0000-4000-8000-000000000000";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// Appends text with `{key}` replaced by key and `{uuid}` by the template, whose offsets in out
// go to uuids.
void replace_keys(std::string& out, std::string_view text, std::string_view key, std::vector<std::size_t>& uuids) {
  std::size_t pos = 0;
  while (true) {
    const auto k = text.find(key_marker, pos), u = text.find(uuid_marker, pos);
    const auto hit = std::min(k, u);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    if (hit == k) {
      out.append(key);
      pos = hit + key_marker.size();
    } else {
      uuids.push_back(out.size());
      out.append(uuid_template);
      pos = hit + uuid_marker.size();
    }
  }
  out.append(text.substr(pos));
}

bool has_key(const request_spec& s) {
  if (s.path.find(key_marker) != std::string::npos || s.body.find(key_marker) != std::string::npos) return true;
  for (const auto& [k, v] : s.headers)
    if (v.find(key_marker) != std::string::npos) return true;
  for (const auto& f : s.grpc_fields)
    if (f.value.find(key_marker) != std::string::npos) return true;
  return false;
}

// uuids: the offsets in out of every `{uuid}` rendered. grpc_body: a gRPC call's framed message
// (s.grpc set), which replaces method, path and body.
void render(std::string& out, const parsed_url& url, const request_spec& s, std::string_view key,
            std::vector<std::size_t>& uuids, const std::string* grpc_body) {
  out.append(grpc_body ? std::string_view("POST") : std::string_view(s.method));
  out.push_back(' ');
  // Request paths are appended to the URL's path ("http://h/api" + "/users" = "/api/users").
  std::string_view base = url.path;
  if (grpc_body) {
    out.append(s.grpc);  // a gRPC method is the whole :path
  } else if (!s.path.empty() && s.path != "/") {
    if (!base.empty() && base.back() == '/') base.remove_suffix(1);
    out.append(base);
    if (s.path.front() != '/' && s.path.front() != '?') out.push_back('/');
    replace_keys(out, s.path, key, uuids);
  } else {
    out.append(base.empty() ? std::string_view("/") : base);
  }
  out.append(" HTTP/1.1\r\n");
  bool have_host = false, have_length = false;
  for (const auto& [name, value] : s.headers) {
    if (iequals(name, "host")) have_host = true;
    if (iequals(name, "content-length")) have_length = true;
  }
  if (!have_host) {
    out.append("Host: ");
    out.append(url.host_header);
    out.append("\r\n");
  }
  if (grpc_body) out.append("content-type: application/grpc\r\nte: trailers\r\n");
  for (const auto& [name, value] : s.headers) {
    out.append(name);
    out.append(": ");
    replace_keys(out, value, key, uuids);
    out.append("\r\n");
  }
  std::string body;
  std::vector<std::size_t> body_uuids;
  if (grpc_body) body = *grpc_body;
  else replace_keys(body, s.body, key, body_uuids);
  const bool wants_length = grpc_body || !body.empty() || s.method == "POST" || s.method == "PUT" || s.method == "PATCH";
  if (wants_length && !have_length) {
    out.append("Content-Length: ");
    out.append(std::to_string(body.size()));
    out.append("\r\n");
  }
  out.append("\r\n");
  for (auto at : body_uuids) uuids.push_back(out.size() + at);
  out.append(body);
}

bool has_idempotency_key(const request_spec& s) {
  for (const auto& [name, value] : s.headers)
    if (iequals(name, "idempotency-key")) return true;
  return false;
}
}  // namespace

tl::expected<parsed_url, std::string> parse_url(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return tl::unexpected(fmt::format("bad URL '{}': {} (expected http[s]://HOST[:PORT][/PATH])", url, why));
  };
  parsed_url out;
  std::string_view rest;
  if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else if (url.substr(0, 8) == "https://") {
    rest = url.substr(8);
    out.tls = true;
    out.port = "443";
  } else {
    return bad("missing http:// or https://");
  }
  const auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    out.path = std::string(rest.substr(slash));
    if (out.path.front() == '?') out.path.insert(out.path.begin(), '/');
  }
  if (authority.empty()) return bad("missing host");
  if (authority.find('@') != std::string_view::npos) return bad("user info is not supported");
  std::string_view host = authority, port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("junk after ']'");
      port = authority.substr(close + 2);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("missing host");
  if (!port.empty()) {
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535) return bad("bad port");
    out.port = std::string(port);
  }
  out.host = std::string(host);
  out.host_header = std::string(authority);
  return out;
}

bool is_idempotent_method(std::string_view method) noexcept {
  for (std::string_view m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
    if (method == m) return true;
  return false;
}

tl::expected<request_mix, std::string> request_mix::build(const parsed_url& url,
                                                          const std::vector<request_spec>& specs_in,
                                                          const key_distribution& keys,
                                                          std::span<const std::pair<std::string, std::string>> credentials) {
  std::vector<request_spec> specs = specs_in;
  if (specs.empty()) specs.push_back(request_spec{});
  request_mix mix;
  mix.keys_ = keys.keys;
  if (keys.kind != "uniform" && keys.kind != "zipf")
    return tl::unexpected(fmt::format("unknown key distribution '{}' (accepted: uniform, zipf)", keys.kind));
  if (keys.kind == "zipf" && keys.keys > 0) {
    if (!(keys.zipf_s >= 0)) return tl::unexpected(fmt::format("Zipf exponent {} must be >= 0", keys.zipf_s));
    // P(k) proportional to 1 / (k + 1)^s, k = 0..N-1 (key 0 is the most popular).
    const std::uint64_t n = keys.keys;
    std::vector<double> scaled(n);
    double sum = 0;
    for (std::uint64_t k = 0; k < n; ++k) sum += scaled[k] = 1.0 / std::pow(static_cast<double>(k + 1), keys.zipf_s);
    for (auto& p : scaled) p = p / sum * static_cast<double>(n);
    mix.key_alias_.assign(n, alias_slot{1.0, 0});
    std::vector<std::uint64_t> small, large;
    for (std::uint64_t k = 0; k < n; ++k) (scaled[k] < 1.0 ? small : large).push_back(k);
    while (!small.empty() && !large.empty()) {
      const std::uint64_t s = small.back(), l = large.back();
      small.pop_back();
      mix.key_alias_[s] = {scaled[s], l};
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    // Leftovers are 1 up to rounding.
    for (auto k : small) mix.key_alias_[k] = {1.0, k};
    for (auto k : large) mix.key_alias_[k] = {1.0, k};
  }
  double total_weight = 0;
  for (const auto& s : specs) {
    if (!(s.weight > 0) || !std::isfinite(s.weight))
      return tl::unexpected(fmt::format("request '{} {}': weight {} must be a positive number", s.method, s.path,
                                        s.weight));
    if (s.method.empty() || s.method.find_first_of(" \r\n") != std::string::npos)
      return tl::unexpected(fmt::format("request method '{}' is not a token", s.method));
    total_weight += s.weight;
  }
  if (auto grpc = grpc_method_of(specs); !grpc) return tl::unexpected(grpc.error());
  std::string key_text;
  std::vector<std::size_t> uuids;
  mix.credentials_ = std::max<std::size_t>(1, credentials.size());
  for (const auto& spec : specs) {
    // With credentials, each (request, key) is rendered once per credential, its header last.
    request_spec s = spec;
    if (!credentials.empty()) s.headers.emplace_back();
    const bool keyed = has_key(s);
    if (keyed && keys.keys == 0)
      return tl::unexpected(fmt::format("request '{} {}' uses {{key}} but no keys are configured", s.method, s.path));
    mix.specs_.push_back({mix.entries_.size(), keyed});
    const std::uint64_t n = keyed ? keys.keys : 1;
    for (std::uint64_t k = 0; k < n * mix.credentials_; ++k) {
      key_text = keyed ? std::to_string(k / mix.credentials_) : std::string();
      if (!credentials.empty()) s.headers.back() = credentials[k % mix.credentials_];
      const std::size_t offset = mix.arena_.size();
      uuids.clear();
      std::string grpc_body;
      if (!s.grpc.empty()) {
        auto b = grpc_request_body(s.grpc_fields, key_text);
        if (!b) return tl::unexpected(fmt::format("request {}: {}", s.grpc, b.error()));
        grpc_body = std::move(*b);
      }
      render(mix.arena_, url, s, key_text, uuids, s.grpc.empty() ? nullptr : &grpc_body);
      if (mix.arena_.size() > max_rendered_bytes)
        return tl::unexpected(fmt::format("rendered requests exceed {} bytes ({} keys x {} credentials); use fewer",
                                          max_rendered_bytes, keys.keys, mix.credentials_));
      const std::size_t length = mix.arena_.size() - offset;
      // A gRPC call is a POST; whether a method may be repeated is in its proto, which the mix
      // does not know: resent only when the scenario says so (retry.unsafe) or with an Idempotency-Key.
      entry e{offset, length, s.grpc.empty() && s.method == "HEAD",
              (s.grpc.empty() && is_idempotent_method(s.method)) || has_idempotency_key(s),
              static_cast<std::uint32_t>(mix.uuid_offsets_.size()), static_cast<std::uint32_t>(uuids.size())};
      for (auto at : uuids) mix.uuid_offsets_.push_back(static_cast<std::uint32_t>(at - offset));
      if (!uuids.empty()) mix.max_uuid_bytes_ = std::max(mix.max_uuid_bytes_, length);
      mix.entries_.push_back(e);
    }
    mix.spec_cdf_.push_back((mix.spec_cdf_.empty() ? 0.0 : mix.spec_cdf_.back()) + s.weight / total_weight);
  }
  mix.spec_cdf_.back() = 1.0;
  mix.arena_.shrink_to_fit();
  return mix;
}

std::uint64_t request_mix::pick_key(rng& r) const noexcept {
  if (keys_ == 0) return 0;
  if (key_alias_.empty()) return r.below(keys_);
  const std::uint64_t slot = r.below(keys_);
  const auto& a = key_alias_[slot];
  return r.uniform() < a.keep ? slot : a.alias;
}

std::size_t request_mix::entry_index(std::size_t spec, std::uint64_t key) const noexcept {
  const auto& s = specs_[spec];
  return s.keyed ? s.first_entry + key * credentials_ : s.first_entry;
}

rendered_request request_mix::at(std::size_t i) const noexcept {
  const auto& e = entries_[i];
  return {std::string_view(arena_).substr(e.offset, e.length), e.head, e.idempotent,
          std::span<const std::uint32_t>(uuid_offsets_).subspan(e.uuid_first, e.uuid_count)};
}

void write_uuid(char* p, rng& g) noexcept {
  static constexpr char hex[] = "0123456789abcdef";
  const std::uint64_t hi = g.next(), lo = g.next();
  int nibble = 0;
  for (int i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;  // the dashes of the template stay
    const std::uint64_t word = nibble < 16 ? hi : lo;
    p[i] = hex[(word >> (4 * (nibble % 16))) & 0xf];
    ++nibble;
  }
  p[14] = '4';                          // version 4 (random)
  p[19] = hex[8 | ((lo >> 62) & 0x3)];  // variant 10xx
}

void stamp_uuids(rendered_request& r, std::string& buf, rng& g) noexcept {
  if (r.uuids.empty()) return;
  buf.assign(r.bytes);  // within the reserved capacity: no allocation
  for (const auto at : r.uuids) write_uuid(buf.data() + at, g);
  r.bytes = buf;
}

std::size_t request_mix::pick_index(rng& r) const noexcept {
  std::size_t spec = 0;
  if (specs_.size() > 1) {
    const double u = r.uniform();
    spec = static_cast<std::size_t>(std::upper_bound(spec_cdf_.begin(), spec_cdf_.end(), u) - spec_cdf_.begin());
    if (spec >= specs_.size()) spec = specs_.size() - 1;
  }
  const std::uint64_t key = specs_[spec].keyed ? pick_key(r) : 0;
  return entry_index(spec, key) + (credentials_ > 1 ? r.below(credentials_) : 0);
}

rendered_request request_mix::pick(rng& r) const noexcept { return at(pick_index(r)); }

}  // namespace perflab::loadgen
