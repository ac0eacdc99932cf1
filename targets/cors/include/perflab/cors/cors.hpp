#pragma once
// The server side of CORS (Fetch standard, "CORS protocol"), for lab-target --cors. A request is a
// preflight when it is OPTIONS with Origin and Access-Control-Request-Method; an allowed preflight
// is answered 204 with the Access-Control-Allow-* fields, a refused one 403 with no CORS field at
// all (the browser then fails the actual request). Any other request with an Origin the policy
// allows gets Access-Control-Allow-Origin on its response; a request with another Origin (or none)
// gets no CORS field and is otherwise answered as usual (CORS is enforced by the browser, not here).
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace perflab::cors {

// The methods a preflight may ask for (Access-Control-Allow-Methods).
inline constexpr std::string_view allowed_methods = "GET, HEAD, POST, PUT, PATCH, DELETE";
inline constexpr std::string_view default_headers = "content-type,authorization,idempotency-key";
inline constexpr std::uint32_t default_max_age_s = 600;

struct policy {
  bool any_origin = false;             // "*": every origin, answered with "*" (no Vary: Origin)
  std::vector<std::string> origins;    // else these, compared byte for byte (an origin is case-sensitive)
  std::vector<std::string> headers;    // request headers a preflight may ask for, lower case
  std::uint32_t max_age_s = default_max_age_s;  // Access-Control-Max-Age
  std::string allow_headers;           // headers joined by ", " (Access-Control-Allow-Headers)
};

// Builds a policy from --cors ORIGINS ("*" or comma-separated origins such as
// "https://app.example,http://localhost:3000"), --cors-headers (comma-separated names, may be
// empty) and --cors-max-age. An error names the option and what was expected.
tl::expected<policy, std::string> make_policy(std::string_view origins, std::string_view headers,
                                              std::uint32_t max_age_s);

enum class kind : std::uint8_t {
  none,               // no Origin: not a CORS request; nothing to add
  preflight_allowed,  // answer 204 with decision::fields
  preflight_refused,  // answer 403 without any CORS field
  actual_allowed,     // answer as usual, plus decision::fields
  actual_refused,     // answer as usual, no CORS field (the Origin is not allowed)
};

struct decision {
  kind what = kind::none;
  std::string fields;  // header lines ("Name: value\r\n"...) to add to the response
};

// The request's relevant parts: its method and the values of Origin, Access-Control-Request-Method
// and Access-Control-Request-Headers (nullopt: absent).
struct request {
  std::string_view method;
  std::optional<std::string_view> origin;
  std::optional<std::string_view> request_method;
  std::optional<std::string_view> request_headers;
};

// The decision for one request. An OPTIONS without Origin or Access-Control-Request-Method is no
// preflight: routed normally (kind::none or actual_*). fields is empty but for *_allowed; writing
// it allocates (only for CORS requests).
decision decide(const policy& p, const request& r);

// Counters for /metrics (relaxed atomics: read at a scrape).
class stats {
 public:
  void count(kind k) noexcept;
  std::uint64_t preflights_allowed() const noexcept { return preflight_allowed_.load(std::memory_order_relaxed); }
  std::uint64_t preflights_refused() const noexcept { return preflight_refused_.load(std::memory_order_relaxed); }
  std::uint64_t actual_allowed() const noexcept { return actual_allowed_.load(std::memory_order_relaxed); }
  std::uint64_t actual_refused() const noexcept { return actual_refused_.load(std::memory_order_relaxed); }
  // perflab_cors_preflights_total{result="allowed|refused"}, perflab_cors_requests_total{result=...}.
  void write_prometheus(std::string& out) const;

 private:
  std::atomic<std::uint64_t> preflight_allowed_{0};
  std::atomic<std::uint64_t> preflight_refused_{0};
  std::atomic<std::uint64_t> actual_allowed_{0};
  std::atomic<std::uint64_t> actual_refused_{0};
};

}  // namespace perflab::cors
