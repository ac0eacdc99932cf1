#pragma once
// The browser's side of CORS for the loadgen's browser mode ([load] cors, attack --cors-origin;
// issue 23), socket-free: whether a rendered request is "simple" per the Fetch standard (no
// preflight needed), the request with its Origin field, the preflight OPTIONS that precedes a
// non-simple one (both rendered before the run), and one connection's preflight cache (one
// browser per connection, an entry per request of the mix, Access-Control-Max-Age as Chromium
// reads it: 5 s when absent, at most 7200 s).
//
// Not yet wired into the asio engine (see the report of branch cors): the engine side is to send
// preflight() before a non-simple request whose cache entry is stale, on the same connection,
// with the request's latency running from its intended time through both responses.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// One connection's preflight cache: an expiry per request of the mix (by rendered index).
// Allocated before the run (the mix's size); no allocation per request.
class cache {
 public:
  cache(std::size_t entries, bool enabled) : expiry_ns_(enabled ? entries : 0, 0), enabled_(enabled) {}
  bool fresh(std::size_t entry, std::int64_t now_ns) const noexcept {
    return enabled_ && entry < expiry_ns_.size() && now_ns < expiry_ns_[entry];
  }
  void store(std::size_t entry, std::int64_t now_ns, std::optional<std::int64_t> max_age_header_s) noexcept;

 private:
  std::vector<std::int64_t> expiry_ns_;
  bool enabled_;
};

}  // namespace perflab::loadgen::browser_cors
