// The curl engine's set-up (see engine_curl.hpp): engine choice, supported options, the request
// table and the error classes. No event loop here.
#include "engine_curl.hpp"
#include "perflab/core/text.hpp"
#include "perflab/loadgen/grpc.hpp"

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <string_view>

#include <fmt/format.h>

namespace perflab::loadgen::detail {

tl::expected<std::string, std::string> choose_engine(const run_config& cfg, const parsed_url& url) {
  const bool grpc = std::any_of(cfg.requests.begin(), cfg.requests.end(), [](const auto& r) { return !r.grpc.empty(); });
  if (cfg.engine.empty()) return std::string(url.tls || cfg.http2 || grpc ? "curl" : "asio");
  if (cfg.engine != "asio" && cfg.engine != "curl")
    return tl::unexpected(fmt::format("engine '{}' (accepted: asio, curl)", cfg.engine));
  if (cfg.engine == "asio" && grpc)
    return tl::unexpected(std::string("engine asio speaks HTTP/1.1 only: gRPC calls need HTTP/2, engine curl"));
  if (cfg.engine == "asio" && url.tls)
    return tl::unexpected(std::string("engine asio speaks cleartext HTTP/1.1 only: https:// needs engine curl"));
  if (cfg.engine == "asio" && cfg.http2)
    return tl::unexpected(std::string("engine asio speaks HTTP/1.1 only: http2 needs engine curl"));
  return cfg.engine;
}

tl::expected<void, std::string> check_curl_support(const run_config& cfg, const request_mix& /*mix*/) {
  if (cfg.keepalive == keepalive_policy::max_requests && cfg.http2)
    return tl::unexpected(std::string("max requests per connection applies to HTTP/1.1: an HTTP/2 connection "
                                      "carries concurrent streams (use --max-streams)"));
  if (cfg.max_streams < 1) return tl::unexpected(fmt::format("max streams {} must be >= 1", cfg.max_streams));
  return {};
}

err curl_error_class(CURLcode code, long os_errno, bool written) noexcept {
  const int e = static_cast<int>(os_errno);
  switch (code) {
    case CURLE_COULDNT_CONNECT: return e != 0 ? connect_error_class(e) : err::connect_other;
    case CURLE_COULDNT_RESOLVE_HOST: return err::connect_other;
    case CURLE_OPERATION_TIMEDOUT: return written ? err::read_timeout : err::connect_timeout;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR: return e != 0 ? io_error_class(e) : err::io_other;
    case CURLE_GOT_NOTHING:   // closed before any byte of the response
    case CURLE_PARTIAL_FILE:  // closed before its end
      return err::closed_mid_response;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_UNSUPPORTED_PROTOCOL: return err::malformed;
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return err::reset;  // the server reset or refused the stream
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED: return err::tls;
    case CURLE_OUT_OF_MEMORY: return err::client_resources;
    default: return err::io_other;
  }
}

namespace {

// Splits the HTTP/1.1 bytes request_mix rendered: "METHOD TARGET HTTP/1.1", fields, body.
// uuid_at (when not null): the byte offsets of r's `{uuid}`s become pointers into out's copies.
bool to_curl(const rendered_request& r, const std::string& base, curl_request& out,
             std::vector<char*>* uuid_at) {
  const std::string_view bytes = r.bytes;
  const auto line_end = bytes.find("\r\n");
  const auto head_end = bytes.find("\r\n\r\n");
  if (line_end == std::string_view::npos || head_end == std::string_view::npos) return false;
  const std::string_view line = bytes.substr(0, line_end);
  const auto sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 <= sp1) return false;
  const std::string_view method = line.substr(0, sp1);
  out.url = base + std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  if (method != "GET") out.method = std::string(method);
  out.head = r.head;
  out.body = std::string(bytes.substr(head_end + 4));
  out.bytes_out = static_cast<std::int64_t>(bytes.size());
  // Where each `{uuid}` went: [from, to) of the request's bytes copied to `at`.
  const auto map_uuids = [&](std::size_t from, std::size_t to, char* at) {
    if (uuid_at == nullptr) return;
    for (const auto u : r.uuids)
      if (u >= from && u + 36 <= to) uuid_at->push_back(at + (u - from));
  };
  map_uuids(sp1 + 1, sp2, out.url.data() + base.size());
  map_uuids(head_end + 4, bytes.size(), out.body.data());
  std::size_t pos = line_end + 2;
  while (pos < head_end + 2) {
    const auto end = bytes.find("\r\n", pos);
    const std::string_view field = bytes.substr(pos, end - pos);
    const std::string_view name = field.substr(0, field.find(':'));
    const std::size_t from = pos;
    pos = end + 2;
    // libcurl writes these itself (Host from the URL, :authority in HTTP/2; the length from the body).
    if (iequals(name, "Host") || iequals(name, "Content-Length") || iequals(name, "Connection")) continue;
    curl_slist* grown = curl_slist_append(out.headers, std::string(field).c_str());
    if (!grown) return false;
    out.headers = grown;
    curl_slist* last = grown;
    while (last->next) last = last->next;
    map_uuids(from, from + field.size(), last->data);
  }
  return uuid_at == nullptr || uuid_at->size() == r.uuids.size();
}

}  // namespace

tl::expected<curl_requests, std::string> curl_requests::build(const request_mix& mix, const parsed_url& url) {
  // libcurl's global set-up is not thread-safe: once, before any worker starts.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const bool v6 = url.host.find(':') != std::string::npos;
  const std::string base = fmt::format("{}://{}{}{}:{}", url.tls ? "https" : "http", v6 ? "[" : "", url.host,
                                       v6 ? "]" : "", url.port);
  curl_requests out;
  out.base_ = base;
  out.reqs_.resize(mix.size());
  for (std::size_t i = 0; i < mix.size(); ++i) {
    const rendered_request r = mix.at(i);
    if (!to_curl(r, base, out.reqs_[i], nullptr))
      return tl::unexpected(fmt::format("request {} of the mix cannot be given to libcurl", i));
    // Every `{uuid}` must land where libcurl sends it (not in a field libcurl writes itself).
    if (curl_stamped_request trial; !r.uuids.empty() && !to_curl(r, base, trial.req, &trial.uuids))
      return tl::unexpected(fmt::format("request {} of the mix: a {{uuid}} may stand only in the path, the "
                                        "body or a field other than Host, Content-Length and Connection", i));
  }
  return out;
}

curl_requests::~curl_requests() {
  for (auto& r : reqs_) curl_slist_free_all(r.headers);
}

tl::expected<void, std::string> curl_requests::stamped_copy(const rendered_request& r,
                                                           curl_stamped_request& out) const {
  if (!to_curl(r, base_, out.req, &out.uuids))
    return tl::unexpected(std::string("a request with {uuid} cannot be given to libcurl"));
  return {};
}

http::cache_status x_cache_of(std::string_view line) noexcept {
  constexpr std::string_view name = "x-cache:";
  if (line.size() < name.size() || !iequals(line.substr(0, name.size()), name)) return http::cache_status::none;
  std::string_view v = line.substr(name.size());
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  const auto end = v.find_first_of(" \t\r\n,;");
  const std::string_view word = v.substr(0, end);
  if (word.empty()) return http::cache_status::none;
  return iequals(word, "hit") ? http::cache_status::hit
         : iequals(word, "miss") ? http::cache_status::miss
         : iequals(word, "stale") ? http::cache_status::stale
                                  : http::cache_status::other;
}

std::int64_t retry_after_of(std::string_view line) noexcept {
  constexpr std::string_view name = "retry-after:";
  if (line.size() < name.size() || !iequals(line.substr(0, name.size()), name)) return -1;
  std::string_view v = line.substr(name.size());
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  const std::string_view digits = v.substr(0, v.find_first_not_of("0123456789"));
  const std::string_view rest = v.substr(digits.size());
  if (digits.empty() || digits.size() > 9 || rest.find_first_not_of(" \t\r\n") != std::string_view::npos) return -1;
  std::int64_t out = 0;
  for (const char c : digits) out = out * 10 + (c - '0');
  return out;
}

void append_verify_head(std::string& raw, std::string_view line) {
  if (line.substr(0, 5) == "HTTP/") raw.clear();
  constexpr std::string_view te = "transfer-encoding:";
  if (line.size() >= te.size() && iequals(line.substr(0, te.size()), te)) return;
  raw.append(line);
}

}  // namespace perflab::loadgen::detail
