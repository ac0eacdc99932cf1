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
    if (!proxy_->call) proxy_->call = std::make_unique<proxy_call>(*ctx_.upstream);
    static_cast<proxy_call&>(*proxy_->call).call.prepare(req.method, req.path.substr(6), req.query, req.body, parser_->headers());
  } catch (...) {
    ctx_.stats.allocation_failed();
    d.status = 503;
    return std::nullopt;
  }
  proxy_->waiting = true;
  call_ = proxy_->call.get();
  return step{next::call};
}

void session::finish_proxy() noexcept {
  proxy_->waiting = false;
  const auto& c = static_cast<const proxy_call&>(*proxy_->call).call;
  proxy_->reply.status = c.status();
  proxy_->reply.content_type = c.content_type();
  proxy_->reply.body = c.body();
  proxy_->reply.attempts = c.attempts();
  proxy_->reply.fallback = c.fallback() ? upstream::to_string(*c.fallback()) : std::string_view{};
}

}  // namespace perflab::targets
