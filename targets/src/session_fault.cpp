// session's part of --fault-profile and --admin (docs/targets.md, Faults). Every request but
// /metrics, /health and /admin/* gets the injector's decision after routing (and after the rate
// limiter: the faults play the dependency behind the service's front door). Its latency is a
// wait on the model's primitive (next::wait, as /sleep and the leaky bucket): the request stays
// parsed in the buffer and the process() after the wait handles it without deciding again. Then
// a reset aborts the connection without a response (an RST, next::reset), an error becomes the
// response's status, and a drip holds the body back where it is and releases it a slice per
// interval, each interval again a wait. A reset-after lets the handler run and drops its response
// in respond() (drop_response), then aborts the connection: the work is done, the answer lost.
// A request the rate limiter or the waiting room refused
// gets no decision, and each fault is counted in /metrics when it takes effect.
#include <perflab/targets/session.hpp>

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

namespace perflab::targets {

namespace {

// /admin/outbox (--outbox-db): GET the outbox's counts (JSON); POST /admin/outbox/relay/crash
// [?after=midway|claim|publish|commit|any] makes every relay die at that step of its next round
// (the default, midway: between its two writes, the XADDs and the mark-sent commit, in the
// mode's order); POST /admin/outbox/relay/start
// starts them again. Nothing here waits on PostgreSQL or Redis.
void outbox_admin_reply(contention::service& svc, const request_view& req, int& status, std::string& body,
                        std::string_view& allow, bool& json) {
  auto* o = svc.order_outbox_if_built();
  const bool post = req.method == "POST";
  if (!o) {
    status = 404;
    body = "404 Not Found: no outbox (lab-target --outbox-db postgres://... --outbox-redis redis://...)\n";
  } else if (req.path == "/admin/outbox") {
    if (req.method != "GET" && req.method != "HEAD") {
      status = 405;
      allow = "GET, HEAD";
      body = "405 Method Not Allowed\n";
      return;
    }
    const auto s = o->stats();
    json = true;
    body = fmt::format(
        "{{\"mode\":\"{}\",\"orders\":{},\"order_errors\":{},\"committed\":{},\"backlog\":{},\"published\":{},"
        "\"marked\":{},\"rounds\":{},\"relay_errors\":{},\"relays_up\":{},\"crashes\":{},\"restarts\":{},"
        "\"entries\":{},\"consumed\":{},\"duplicates\":{},\"lost\":{},\"audits\":{},\"backlog_at_restart\":{},"
        "\"recovering\":{},\"recovery_s\":{}}}\n",
        to_string(o->config().mode), s.orders, s.order_errors, s.committed, s.backlog, s.published, s.marked, s.rounds,
        s.relay_errors, s.relays_up, s.crashes, s.restarts, s.entries, s.consumed, s.duplicates, s.lost, s.audits,
        s.backlog_at_restart, s.recovering, s.recovery_s < 0 ? std::string("null") : fmt::format("{:.3f}", s.recovery_s));
  } else if (req.path == "/admin/outbox/relay/crash" && post) {
    const auto text = query_param(req.query, "after");
    const auto step = contention::parse_relay_step(text.empty() ? "midway" : text);
    if (!step) {
      status = 400;
      body = fmt::format("400 Bad Request: after= expects midway, claim, publish, commit or any, got '{}'\n", text);
      return;
    }
    const auto n = o->crash_relay(*step);
    status = n ? 202 : 409;
    body = n ? fmt::format("{} relay(s) will die after their next {}\n", n, to_string(*step))
             : std::string("409 Conflict: no relay is running\n");
  } else if (req.path == "/admin/outbox/relay/start" && post) {
    const auto n = o->start_relay();
    status = n ? 200 : 409;
    body = n ? fmt::format("{} relay(s) started\n", n) : std::string("409 Conflict: relays are running already\n");
  } else if (req.path == "/admin/outbox/relay/crash" || req.path == "/admin/outbox/relay/start") {
    status = 405;
    allow = "POST";
    body = "405 Method Not Allowed\n";
  } else {
    status = 404;
    body = "404 Not Found: the outbox's admin endpoints are /admin/outbox, /admin/outbox/relay/crash and "
           "/admin/outbox/relay/start\n";
  }
}

}  // namespace

std::optional<session::step> session::apply_fault(dispatch& d, std::string_view path, bool refused,
                                                  std::int64_t& start) noexcept {
  const bool exempt = d.ep == endpoint::metrics || d.ep == endpoint::health || path.starts_with("/admin/");
  if (exempt || refused) {  // refused at the front door: never reached the "dependency"
    if (fault_) fault_->decision = {};
    return std::nullopt;
  }
  try {
    made(fault_);
  } catch (const std::bad_alloc&) {
    ctx_.stats.allocation_failed();  // no memory for the decision: this request gets no fault
    return std::nullopt;
  }
  auto& f = fault_->decision;
  if (fault_->delayed) {  // its latency is waited: handled now, timed from its arrival
    fault_->delayed = false;
    start = fault_->start_ns;
  } else {
    f = ctx_.faults->next();
    if (f.delay.count() > 0) {
      ctx_.faults->count(fault::applied::delay);
      fault_->delayed = true;
      fault_->start_ns = start;
      return step{next::wait, std::chrono::ceil<std::chrono::microseconds>(f.delay)};
    }
  }
  // Counted from here on only: a connection that ended during the latency got neither.
  if (f.reset) {
    // No response at all: the connection is aborted, the client sees ECONNRESET where a response
    // should be.
    ctx_.faults->count(fault::applied::reset);
    ctx_.stats.record(d.ep, 0, std::chrono::nanoseconds(now_ns() - start));  // status "other"
    closing_ = true;
    return step{next::reset};
  }
  if (f.status != 0) {  // answered by the error path, keep-alive kept
    ctx_.faults->count(fault::applied::error);
    d.status = f.status;
  }
  return std::nullopt;
}

void session::drop_response(std::size_t mark, response_info& info) noexcept {
  // The handler ran (an order was created, a job queued): only its answer is lost, as when a
  // connection dies between the server's work and the client's read. Status 0 is "other" in
  // perflab_target_requests_total, as for a plain reset.
  out_.resize(mark);
  info = {0, 0};
  fault_->decision.reset_after = false;
  fault_->aborting = true;
  ctx_.faults->count(fault::applied::reset_after);
}

void session::hold_body(std::size_t mark) noexcept {
  const auto head_end = out_.find("\r\n\r\n", mark);
  const std::uint64_t body =
      head_end == std::string::npos ? 0 : out_.size() - (head_end + 4) + stream_left_;  // HEAD, 204: none
  if (body == 0) {
    fault_->decision.drip_bytes = 0;
    return;
  }
  // The body stays where it is (out_'s tail and the streamed part, which output() reads from the
  // shared filler block): only the count of bytes output() may not show yet is kept.
  ctx_.faults->count(fault::applied::drip);
  drip_held_ = body;
}

std::optional<session::step> session::next_drip() noexcept {
  drip_held_ -= std::min<std::uint64_t>(fault_->decision.drip_bytes, drip_held_);
  if (drip_held_ > 0) return step{next::wait, std::chrono::ceil<std::chrono::microseconds>(fault_->decision.drip_interval)};
  fault_->decision.drip_bytes = 0;
  return std::nullopt;
}

void session::answer_admin(const request_view& req, bool keep, std::int64_t start) noexcept {
  int status = 200;
  std::string body;
  std::string_view allow;
  bool json = false;
  try {
    if (req.path == "/admin/outbox" || req.path.starts_with("/admin/outbox/")) {
      outbox_admin_reply(ctx_.contention, req, status, body, allow, json);
    } else if (req.path == "/admin/push/disconnect") {
      // A forced reconnect (scenarios/push-reconnect.toml): every SSE stream, WebSocket and held
      // poll ends now; the clients come back and resume from their last sequence number.
      if (req.method == "POST") {
        body = fmt::format("disconnected: {}\n", ctx_.push->close_all());
      } else {
        status = 405;
        allow = "POST";
        body = "405 Method Not Allowed\n";
      }
    } else if (req.path != "/admin/fault") {
      status = 404;
      body = "404 Not Found: the admin endpoints are /admin/fault, /admin/push/disconnect and /admin/outbox\n";
    } else if (req.method == "POST" || req.method == "PUT") {
      // The body is the new profile; empty or "none" clears it.
      auto p = fault::parse_profile(req.body);
      if (!p) {
        status = 400;
        body = "400 Bad Request: " + p.error() + "\n";
      } else {
        body = "fault profile: " + p->spec + "\n";
        ctx_.faults->set(std::move(*p));
      }
    } else if (req.method == "GET" || req.method == "HEAD") {
      body = "fault profile: " + ctx_.faults->current().spec + "\n";
    } else {
      status = 405;
      allow = "GET, HEAD, POST, PUT";
      body = "405 Method Not Allowed\n";
    }
    const auto reason = http::reason_phrase(status);
    auto it = std::back_inserter(out_);
    fmt::format_to(it, "HTTP/1.{} {} {}\r\nDate: {}\r\nServer: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                   req.version_minor, status, reason, http_date(), server_name,
                   json ? "application/json" : "text/plain", body.size());
    if (!allow.empty()) fmt::format_to(it, "Allow: {}\r\n", allow);
    if (!keep) out_.append("Connection: close\r\n");
    else if (req.version_minor == 0) out_.append("Connection: keep-alive\r\n");
    out_.append("\r\n");
    if (req.method != "HEAD") out_.append(body);
  } catch (...) {
    ctx_.stats.allocation_failed();
    status = 503;
    keep = false;
    try {
      write_error(503, out_);
    } catch (...) {
    }
  }
  ctx_.stats.record(endpoint::admin, status, std::chrono::nanoseconds(now_ns() - start));
  ++answered_;
  if (!keep) closing_ = true;
}

}  // namespace perflab::targets
