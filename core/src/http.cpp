// Error category and status mapping shared by the request and response parsers.
#include "perflab/core/http.hpp"

#include <string>

namespace perflab::http {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "perflab.http"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::bad_request_line: return "malformed request line";
      case errc::bad_version: return "malformed HTTP version";
      case errc::unsupported_version: return "unsupported HTTP version";
      case errc::bad_method: return "malformed method";
      case errc::request_line_too_long: return "request line too long";
      case errc::bad_header: return "malformed header field";
      case errc::headers_too_large: return "header section too large";
      case errc::too_many_headers: return "too many header fields";
      case errc::bad_content_length: return "invalid or conflicting Content-Length";
      case errc::content_length_with_te: return "both Content-Length and Transfer-Encoding";
      case errc::unknown_transfer_coding: return "unsupported transfer coding";
      case errc::bad_chunk: return "malformed chunked encoding";
      case errc::body_too_large: return "body too large";
      case errc::bad_status_line: return "malformed status line";
      case errc::closed_mid_response: return "connection closed before the response was complete";
      case errc::bad_target: return "malformed request-target, or a form this method may not use";
      case errc::missing_host: return "Host header field missing (required in HTTP/1.1)";
      case errc::bad_host: return "more than one Host field, or an invalid Host value";
      case errc::obs_fold: return "field line starting with whitespace (obsolete line folding is not accepted)";
      case errc::transfer_encoding_http10: return "Transfer-Encoding in an HTTP/1.0 request";
      case errc::chunked_not_final: return "chunked is not the final transfer coding";
      case errc::expectation_failed: return "expectation other than 100-continue";
    }
    return "unknown http error";
  }
};

}  // namespace

const std::error_category& http_category() noexcept {
  static const category c;
  return c;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), http_category()}; }

int status_for(errc e) noexcept {
  switch (e) {
    case errc::ok: return 200;
    case errc::request_line_too_long: return 414;
    case errc::headers_too_large:
    case errc::too_many_headers: return 431;
    case errc::body_too_large: return 413;
    case errc::unknown_transfer_coding: return 501;
    case errc::unsupported_version: return 505;
    case errc::expectation_failed: return 417;
    case errc::bad_request_line:
    case errc::bad_version:
    case errc::bad_method:
    case errc::bad_header:
    case errc::bad_content_length:
    case errc::content_length_with_te:
    case errc::bad_chunk:
    case errc::bad_status_line:
    case errc::closed_mid_response:
    case errc::bad_target:
    case errc::missing_host:
    case errc::bad_host:
    case errc::obs_fold:
    case errc::transfer_encoding_http10:
    case errc::chunked_not_final: return 400;
  }
  return 400;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

}  // namespace perflab::http
