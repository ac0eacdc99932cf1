#pragma once
// The browser's side of CORS for the loadgen's browser mode ([load] cors, attack --cors-origin;
// issue 23), socket-free: whether a rendered request is "simple" per the Fetch standard (no
// preflight needed), the request with its Origin field, the preflight OPTIONS that precedes a
// non-simple one (both rendered before the run), and one connection's preflight cache (one
// browser per connection, an entry per request of the mix, Access-Control-Max-Age as Chromium
// reads it: 5 s when absent, at most 7200 s).
//
// The asio engine (engine_asio_cors.cpp) sends preflight() before a non-simple request whose
// cache entry is stale, on the same connection, judges its answer with judge_preflight(), and
// only then sends the request; the request's latency runs from its intended time through both
// responses. A refused preflight is errors.cors_refused: the request is never sent.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perflab::loadgen {
class request_mix;

// [load] cors / attack --cors-origin: the loadgen behaves like a browser on a page of `origin`.
struct cors_config {
  std::string origin;           // serialized origin, "https://app.example" ("": off, a same-origin page)
  bool preflight_cache = true;  // keep preflight answers for their Access-Control-Max-Age (false: a
                                // browser with the cache off, a preflight before every non-simple request)
  bool enabled() const noexcept { return !origin.empty(); }
};
}  // namespace perflab::loadgen

namespace perflab::loadgen::browser_cors {

inline constexpr std::chrono::seconds default_max_age{5};   // no Access-Control-Max-Age
inline constexpr std::chrono::seconds max_max_age{7200};    // Chromium's cap

// The request headers (lower-case names, sorted, no duplicates) a browser would list in
// Access-Control-Request-Headers for this rendered request: every field that is neither set by
// the browser itself (Host, Content-Length, Connection, ...) nor CORS-safelisted (Accept,
// Accept-Language, Content-Language, and Content-Type of application/x-www-form-urlencoded,
// multipart/form-data or text/plain).
std::vector<std::string> unsafe_headers(std::string_view request);

// Fetch's CORS-preflight condition: a method other than GET, HEAD, POST, or any unsafe header.
bool needs_preflight(std::string_view request);

// The request with "Origin: <origin>" after its request line.
std::string with_origin(std::string_view request, std::string_view origin);

// The preflight for it: OPTIONS of the same target, with its Host, Origin,
// Access-Control-Request-Method and (when any) Access-Control-Request-Headers.
std::string preflight(std::string_view request, std::string_view origin);

// Access-Control-Max-Age as a browser applies it: absent or negative -> 5 s, capped at 7200 s.
std::chrono::seconds effective_max_age(std::optional<std::int64_t> header_s) noexcept;

// An origin as a page has it: scheme "http" or "https", "://", a host, an optional ":port", and
// nothing else (no path, no trailing "/"). The error says what was expected.
std::optional<std::string> origin_error(std::string_view origin);

// What a browser makes of a preflight's answer (Fetch's CORS-preflight fetch, credentials mode
// "same-origin"): allowed when the status is 2xx, Access-Control-Allow-Origin is exactly the origin
// or "*", the method is listed in Access-Control-Allow-Methods (or "*", or GET/HEAD/POST), and
// every header of request_headers is listed in Access-Control-Allow-Headers (or "*", which does
// not cover Authorization). max_age_s: Access-Control-Max-Age when it is a number.
struct preflight_verdict {
  bool allowed = false;
  std::optional<std::int64_t> max_age_s;
};
// head: the answer's status line and fields as received (the body, if any, is ignored).
// No allocation.
preflight_verdict judge_preflight(std::string_view head, int status, std::string_view origin, std::string_view method,
                                  const std::vector<std::string>& request_headers) noexcept;

// Everything a browser-mode run needs, rendered before the run: per buffer of the mix (which
// already carry the Origin field), its preflight (empty for a simple request), its method and
// the header names it asks for.
struct plan {
  struct entry {
    std::string preflight;                  // "" : a simple request, never preflighted
    std::string method;
    std::vector<std::string> request_headers;
  };
  cors_config cfg;
  std::vector<entry> entries;
  static plan build(const request_mix& mix, const cors_config& cfg);
};

// One connection's preflight cache: an expiry per request of the mix (by rendered index).
// Allocated before the run (the mix's size); no allocation per request.
class cache {
 public:
  cache() : enabled_(false) {}
  cache(std::size_t entries, bool enabled) : expiry_ns_(enabled ? entries : 0, 0), enabled_(enabled) {}
  bool fresh(std::size_t entry, std::int64_t now_ns) const noexcept {
    return enabled_ && entry < expiry_ns_.size() && now_ns < expiry_ns_[entry];
  }
  void store(std::size_t entry, std::int64_t now_ns, std::optional<std::int64_t> max_age_header_s) noexcept;
  void clear() noexcept { std::fill(expiry_ns_.begin(), expiry_ns_.end(), 0); }  // a new browser

 private:
  std::vector<std::int64_t> expiry_ns_;
  bool enabled_;
};

}  // namespace perflab::loadgen::browser_cors
