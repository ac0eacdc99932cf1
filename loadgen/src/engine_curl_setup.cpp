// The curl engine's set-up (see engine_curl.hpp): engine choice, supported options, the request
// table and the error classes. No event loop here.
#include "engine_curl.hpp"

#include <cerrno>
#include <mutex>
#include <string_view>

#include <fmt/format.h>

namespace perflab::loadgen::detail {

tl::expected<std::string, std::string> choose_engine(const run_config& cfg, const parsed_url& url) {
  if (cfg.engine.empty()) return std::string(url.tls || cfg.http2 ? "curl" : "asio");
  if (cfg.engine != "asio" && cfg.engine != "curl")
    return tl::unexpected(fmt::format("engine '{}' (accepted: asio, curl)", cfg.engine));
  if (cfg.engine == "asio" && url.tls)
    return tl::unexpected(std::string("engine asio speaks cleartext HTTP/1.1 only: https:// needs engine curl"));
  if (cfg.engine == "asio" && cfg.http2)
    return tl::unexpected(std::string("engine asio speaks HTTP/1.1 only: http2 needs engine curl"));
  return cfg.engine;
}

tl::expected<void, std::string> check_curl_support(const run_config& cfg, const request_mix& mix) {
  const auto no = [](std::string_view what) {
    return tl::unexpected(fmt::format("{} is not supported by the curl engine yet (use engine asio)", what));
  };
  if (cfg.retry.enabled()) return no("retry");
  if (cfg.verify) return no("verify");
  if (cfg.keepalive == keepalive_policy::max_requests) return no("max requests per connection");
  if (mix.max_uuid_request_bytes() > 0) return no("{uuid} in a request");
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

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  return true;
}

// Splits the HTTP/1.1 bytes request_mix rendered: "METHOD TARGET HTTP/1.1", fields, body.
bool to_curl(std::string_view bytes, bool head, const std::string& base, curl_request& out) {
  const auto line_end = bytes.find("\r\n");
  const auto head_end = bytes.find("\r\n\r\n");
  if (line_end == std::string_view::npos || head_end == std::string_view::npos) return false;
  const std::string_view line = bytes.substr(0, line_end);
  const auto sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 <= sp1) return false;
  const std::string_view method = line.substr(0, sp1);
  out.url = base + std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  if (method != "GET") out.method = std::string(method);
  out.head = head;
  out.body = std::string(bytes.substr(head_end + 4));
  out.bytes_out = static_cast<std::int64_t>(bytes.size());
  std::string_view fields = bytes.substr(line_end + 2, head_end - line_end - 2 + 2);
  while (!fields.empty()) {
    const auto end = fields.find("\r\n");
    const std::string_view field = fields.substr(0, end);
    fields.remove_prefix(end == std::string_view::npos ? fields.size() : end + 2);
    const std::string_view name = field.substr(0, field.find(':'));
    // libcurl writes these itself (Host from the URL, :authority in HTTP/2; the length from the body).
    if (iequals(name, "Host") || iequals(name, "Content-Length") || iequals(name, "Connection")) continue;
    curl_slist* grown = curl_slist_append(out.headers, std::string(field).c_str());
    if (!grown) return false;
    out.headers = grown;
  }
  return true;
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
  out.reqs_.resize(mix.size());
  for (std::size_t i = 0; i < mix.size(); ++i) {
    const rendered_request r = mix.at(i);
    if (!to_curl(r.bytes, r.head, base, out.reqs_[i]))
      return tl::unexpected(fmt::format("request {} of the mix cannot be given to libcurl", i));
  }
  return out;
}

curl_requests::~curl_requests() {
  for (auto& r : reqs_) curl_slist_free_all(r.headers);
}

}  // namespace perflab::loadgen::detail
