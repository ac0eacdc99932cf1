#pragma once
// The libcurl multi engine's parts that need no event loop (engine_curl_setup.cpp): the request
// mix as libcurl takes it, the checks of what the engine supports, and the error class of a
// failed transfer. The worker itself (libcurl's multi interface on an Asio loop) is declared in
// engine_curl_worker.hpp, which only the worker's own files and engine_phases.cpp include (Asio
// stays out of the rest).
#include <cstddef>
#include <string>
#include <vector>

#include <curl/curl.h>
#include <tl/expected.hpp>

#include "engine_internal.hpp"
#include "perflab/core/http.hpp"
#include "perflab/loadgen/request_mix.hpp"

namespace perflab::loadgen::detail {

// The engine a run uses: run_config::engine, or automatically curl for https:// and HTTP/2.
// Errors: an unknown name, or asio asked for what only curl speaks.
tl::expected<std::string, std::string> choose_engine(const run_config& cfg, const parsed_url& url);

// What the curl engine cannot do with this configuration (max requests per connection over
// HTTP/2, a stream count below 1), checked before the run so such a run fails at once.
tl::expected<void, std::string> check_curl_support(const run_config& cfg, const request_mix& mix);

// The error class of a transfer libcurl ended with `code`. os_errno: CURLINFO_OS_ERRNO; written:
// the request had gone out (CURLOPT_PREREQFUNCTION was called), so a timeout is a read timeout.
err curl_error_class(CURLcode code, long os_errno, bool written) noexcept;

// One rendered request of the mix, as libcurl takes it: built before the run from the bytes the
// Asio engine writes (the same mix and keys), read-only during the run and shared by every
// worker's easy handles.
struct curl_request {
  std::string url;                // scheme://host:port + the request target
  std::string method;             // CURLOPT_CUSTOMREQUEST (empty: GET)
  std::string body;               // CURLOPT_POSTFIELDS when not empty
  curl_slist* headers = nullptr;  // the mix's fields (Host, Content-Length left to libcurl)
  bool head = false;              // HEAD: CURLOPT_NOBODY
  std::int64_t bytes_out = 0;     // the request's HTTP/1.1 bytes as rendered (what bytes_out counts)
};

// A request with `{uuid}`s, owned by one easy handle: its own copy of the URL, fields and body,
// and where each UUID lies in them, so a fresh one is written in place per logical request (no
// allocation per request; libcurl copies the URL itself).
struct curl_stamped_request {
  curl_request req;
  std::vector<char*> uuids;  // 36 bytes each, in req.url, a field of req.headers or req.body
  curl_stamped_request() = default;
  curl_stamped_request(const curl_stamped_request&) = delete;
  curl_stamped_request& operator=(const curl_stamped_request&) = delete;
  ~curl_stamped_request() { curl_slist_free_all(req.headers); }
  void stamp(rng& g) noexcept {
    for (char* p : uuids) write_uuid(p, g);
  }
};

class curl_requests {
 public:
  static tl::expected<curl_requests, std::string> build(const request_mix& mix, const parsed_url& url);
  curl_requests() = default;
  curl_requests(curl_requests&& o) noexcept : reqs_(std::move(o.reqs_)), base_(std::move(o.base_)) {
    o.reqs_.clear();
  }
  curl_requests& operator=(curl_requests&&) = delete;
  curl_requests(const curl_requests&) = delete;
  ~curl_requests();

  const curl_request& operator[](std::size_t i) const noexcept { return reqs_[i]; }
  std::size_t size() const noexcept { return reqs_.size(); }
  // An easy handle's own copy of request r (rendered by the mix, with `{uuid}`s), made once per
  // handle and request before its first use.
  tl::expected<void, std::string> stamped_copy(const rendered_request& r, curl_stamped_request& out) const;

 private:
  std::vector<curl_request> reqs_;
  std::string base_;  // scheme://host:port
};

// The final response's X-Cache (its first word: HIT, MISS, STALE), from one header line as
// libcurl's header callback gives it; none for another line. Read like the Asio engine's parser.
http::cache_status x_cache_of(std::string_view line) noexcept;

// A Retry-After field's delay-seconds (RFC 9110 10.2.3) from one header line; -1 for another
// line, an HTTP-date or a value out of range. Read like the Asio engine's parser.
std::int64_t retry_after_of(std::string_view line) noexcept;

// --verify: appends a header line libcurl delivered to the response as verify_response() reads
// it. libcurl hands the body over without its chunk framing, so Transfer-Encoding is left out
// (the body is then read to its end, as if framed by the close); a status line starts afresh
// (an interim 1xx response is not the one verified).
void append_verify_head(std::string& raw, std::string_view line);

}  // namespace perflab::loadgen::detail
