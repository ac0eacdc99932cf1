// --cors: the session's side of perflab::cors. The decision (targets/cors) is made from the
// request's method and fields; here it becomes a written preflight answer or the fields respond()
// adds to the actual response. Shared by every model (it runs inside session::process()).
#include <perflab/targets/session.hpp>

#include <iterator>

#include <fmt/format.h>

namespace perflab::targets {

bool session::answer_cors(const dispatch& d, const request_view& req, bool keep, std::int64_t start) noexcept {
  cors_fields_.clear();
  cors::decision decision;
  try {
    decision = cors::decide(*ctx_.config.cors, {.method = req.method,
                                                 .origin = parser_->header_value("origin"),
                                                 .request_method = parser_->header_value("access-control-request-method"),
                                                 .request_headers = parser_->header_value("access-control-request-headers")});
  } catch (...) {  // no memory for the fields: answered without them (as a refused origin)
    ctx_.stats.allocation_failed();
    return false;
  }
  cors_decided_ = true;
  ctx_.cors_stats.count(decision.what);
  if (decision.what == cors::kind::actual_allowed) cors_fields_.swap(decision.fields);
  if (decision.what != cors::kind::preflight_allowed && decision.what != cors::kind::preflight_refused) return false;

  // A preflight: 204 with the Access-Control-Allow-* fields, or 403 with none (docs/targets.md, CORS).
  const int status = decision.what == cors::kind::preflight_allowed ? 204 : 403;
  lend_output();
  const std::size_t mark = out_.size();
  try {
    auto it = std::back_inserter(out_);
    fmt::format_to(it, "HTTP/1.1 {} {}\r\nServer: {}\r\nDate: {}\r\n", status, http::reason_phrase(status),
                   server_name, http_date());
    constexpr std::string_view refused = "403 Forbidden: CORS preflight refused (origin, method or header not allowed)\n";
    if (status == 204) out_.append(decision.fields);  // a 204 has no Content-Length (RFC 9110 8.6)
    else fmt::format_to(it, "Content-Type: text/plain\r\nContent-Length: {}\r\n", refused.size());
    if (!keep) out_.append("Connection: close\r\n");
    else if (req.version_minor == 0) out_.append("Connection: keep-alive\r\n");
    out_.append("\r\n");
    if (status == 403) out_.append(refused);
  } catch (...) {
    out_.resize(mark);
    ctx_.stats.allocation_failed();
    keep = false;
    try {
      write_error(503, out_);
    } catch (...) {
      out_.resize(mark);
    }
  }
  ctx_.stats.record(d.ep, status, std::chrono::nanoseconds(now_ns() - start));
  ++answered_;
  if (!keep) closing_ = true;
  return true;
}

}  // namespace perflab::targets
