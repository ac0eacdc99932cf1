// session's part of /proxy/{path}: the connection's upstream call is prepared from the parsed
// request (method, path after /proxy, query, body, the forwarded headers: copied, as the buffer
// moves on), run by the model (next::upstream: blocking, or on its event loop), and its answer
// (the upstream's response, an error, or a fallback) handed to the response writer.
#include <perflab/targets/session.hpp>

#include <perflab/upstream/call.hpp>

namespace perflab::targets {

namespace {

// The connection's upstream call, as the model runs it.
class proxy_call final : public deferred {
 public:
  explicit proxy_call(upstream::service& svc) : call(svc) {}
  void run_blocking() override { call.run_blocking(); }
  void async_run(boost::asio::io_context& ioc, std::shared_ptr<void> keep, done_fn done) override {
    call.async_run(ioc, std::move(keep), std::move(done));
  }
  upstream::call call;
};

}  // namespace

std::optional<session::step> session::start_proxy(dispatch& d, const request_view& req) noexcept {
  if (!ctx_.upstream) {
    d.status = 404;  // no --upstream: nothing to forward to
    return std::nullopt;
  }
  try {
    if (!proxy_call_) proxy_call_ = std::make_unique<proxy_call>(*ctx_.upstream);
    static_cast<proxy_call&>(*proxy_call_).call.prepare(req.method, req.path.substr(6), req.query, req.body, parser_->headers());
  } catch (...) {
    ctx_.stats.allocation_failed();
    d.status = 503;
    return std::nullopt;
  }
  upstream_waiting_ = true;
  call_ = proxy_call_.get();
  return step{next::call};
}

void session::finish_proxy() noexcept {
  upstream_waiting_ = false;
  const auto& c = static_cast<const proxy_call&>(*proxy_call_).call;
  proxy_reply_.status = c.status();
  proxy_reply_.content_type = c.content_type();
  proxy_reply_.body = c.body();
  proxy_reply_.attempts = c.attempts();
  proxy_reply_.fallback = c.fallback() ? upstream::to_string(*c.fallback()) : std::string_view{};
}

}  // namespace perflab::targets
