// session's part of /proxy/{path}: the connection's upstream call is prepared from the parsed
// request (method, path after /proxy, query, body, the forwarded headers: copied, as the buffer
// moves on), run by the model (next::upstream: blocking, or on its event loop), and its answer
// (the upstream's response, an error, or a fallback) handed to the response writer.
#include <perflab/targets/session.hpp>

#include <perflab/upstream/call.hpp>

namespace perflab::targets {

std::optional<session::step> session::start_proxy(dispatch& d, const request_view& req) noexcept {
  if (!ctx_.upstream) {
    d.status = 404;  // no --upstream: nothing to forward to
    return std::nullopt;
  }
  try {
    if (!upstream_call_) upstream_call_ = std::make_unique<upstream::call>(*ctx_.upstream);
    upstream_call_->prepare(req.method, req.path.substr(6), req.query, req.body, parser_.headers());
  } catch (...) {
    ctx_.stats.allocation_failed();
    d.status = 503;
    return std::nullopt;
  }
  upstream_waiting_ = true;
  return step{next::upstream};
}

void session::finish_proxy() noexcept {
  upstream_waiting_ = false;
  const auto& c = *upstream_call_;
  proxy_reply_.status = c.status();
  proxy_reply_.content_type = c.content_type();
  proxy_reply_.body = c.body();
  proxy_reply_.attempts = c.attempts();
  proxy_reply_.fallback = c.fallback() ? upstream::to_string(*c.fallback()) : std::string_view{};
}

}  // namespace perflab::targets
