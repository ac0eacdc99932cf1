#pragma once
// Request bytes rendered before the run. Every (request, key) pair becomes one contiguous
// buffer in an arena, so the hot path only picks an index: a weighted draw over the mix, then a
// key from the uniform or Zipf distribution. No formatting or allocation per request.
// `{uuid}` (Idempotency-Key: {uuid}) is rendered as a 36-character UUID template whose offsets
// are kept: a connection copies the request into its own buffer (reserved before the run) and
// writes a fresh random UUID (version 4) there, once per logical request; a resend (the
// stale-connection retry) sends the same bytes, so the same key.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/loadgen/engine.hpp"
#include "perflab/loadgen/schedule.hpp"

namespace perflab::loadgen {

struct parsed_url {
  std::string host;         // as written, e.g. "127.0.0.1" or "localhost"
  std::string port = "80";  // service for the resolver
  std::string path = "/";   // path and query, at least "/"
  std::string host_header;  // "host" or "host:port" when the port is not the scheme's default
  bool tls = false;         // https:// (only the curl engine speaks TLS)
};
// http:// or https:// (port 443 by default). Error names the URL and the form.
tl::expected<parsed_url, std::string> parse_url(std::string_view url);

// One rendered request.
struct rendered_request {
  std::string_view bytes;  // the whole request: head and body
  bool head = false;       // HEAD: the response has no body whatever its headers say
  bool idempotent = false; // GET, HEAD, PUT, DELETE, OPTIONS, TRACE (RFC 9110 9.2.2), or any request
                           // with an Idempotency-Key header (the server dedups it): safe to resend
  std::span<const std::uint32_t> uuids;  // offsets in bytes of each 36-byte `{uuid}` to fill in
};

// Copies r's bytes into buf and writes a fresh UUID (version 4, from g) at each of its `{uuid}`
// offsets; r then points at buf. Does not allocate while buf's capacity holds the request
// (request_mix::max_uuid_request_bytes). A request without `{uuid}` is left as it is.
void stamp_uuids(rendered_request& r, std::string& buf, rng& g) noexcept;
// Writes one fresh UUID (version 4, from g) over the 36 bytes at p (a rendered `{uuid}`).
void write_uuid(char* p, rng& g) noexcept;

// RFC 9110 section 9.2.2: methods whose repetition has the same effect as one request. Method
// names are case-sensitive, so "get" is not GET.
bool is_idempotent_method(std::string_view method) noexcept;

class request_mix {
 public:
  // Renders every request of the mix (or GET of the URL's path when `specs` is empty), with
  // `{key}` replaced by each key 0..keys.keys-1. With credentials (header name and value, e.g.
  // Authorization: Bearer ..., made before the run by auth_credentials), every (request, key) is
  // rendered once per credential with that header added, and each draw takes one of them
  // uniformly: no formatting per request either way. Errors: `{key}` without keys, bad weights,
  // unknown key distribution, more than max_rendered_bytes in total.
  static tl::expected<request_mix, std::string> build(
      const parsed_url& url, const std::vector<request_spec>& specs, const key_distribution& keys,
      std::span<const std::pair<std::string, std::string>> credentials = {});

  // One draw: a request of the mix by weight, then a key. Uses only `r`; safe from many threads
  // with one rng each (the mix itself is read-only after build).
  rendered_request pick(rng& r) const noexcept;
  std::size_t pick_index(rng& r) const noexcept;  // the same draw, as a buffer index (for at())

  std::size_t size() const noexcept { return entries_.size(); }      // rendered buffers
  rendered_request at(std::size_t i) const noexcept;                 // rendered buffer i
  // Which buffer (the first credential's, with credentials).
  std::size_t entry_index(std::size_t spec, std::uint64_t key) const noexcept;
  std::uint64_t pick_key(rng& r) const noexcept;                     // key by the distribution
  // The longest rendered request with a `{uuid}` (0: none): what a connection's buffer reserves.
  std::size_t max_uuid_request_bytes() const noexcept { return max_uuid_bytes_; }

  static constexpr std::size_t max_rendered_bytes = std::size_t{1} << 30;

 private:
  struct entry {
    std::size_t offset, length;
    bool head;
    bool idempotent;
    std::uint32_t uuid_first = 0, uuid_count = 0;  // its `{uuid}` offsets in uuid_offsets_
  };
  struct spec_info {
    std::size_t first_entry;  // entries [first, first + keys) when keyed, [first] otherwise
    bool keyed;
  };
  std::string arena_;
  std::vector<entry> entries_;
  std::vector<std::uint32_t> uuid_offsets_;
  std::size_t max_uuid_bytes_ = 0;
  std::vector<spec_info> specs_;
  std::vector<double> spec_cdf_;  // cumulative weights, normalized to 1
  // Zipf: Walker/Vose alias table, O(1) per draw (a binary search over a large CDF would miss
  // the cache ~log2(N) times per request). Empty for uniform.
  struct alias_slot {
    double keep;           // probability of keeping this slot's own key
    std::uint64_t alias;   // the key taken otherwise
  };
  std::vector<alias_slot> key_alias_;
  std::uint64_t keys_ = 0;
  std::size_t credentials_ = 1;  // buffers per (request, key)
};

}  // namespace perflab::loadgen
