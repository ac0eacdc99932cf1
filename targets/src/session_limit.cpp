// session's part of --rate-limit: every request but /metrics and /health is decided by the keyed
// limiter before its handler runs. Refused: 429 (the connection stays open). Allowed: served.
// Delayed (leaky bucket): the request stays parsed in the buffer while the model waits the delay
// (its next::wait primitive, as /sleep), then the next process() handles it without deciding
// again. Every decided response carries the decision's X-RateLimit-* lines (and Retry-After).
#include <perflab/targets/session.hpp>

#include <perflab/core/text.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace perflab::targets {

void session::set_peer(int fd) noexcept {
  fd_ = fd;
  if (!ctx_.limiter || ctx_.limiter->config().key != resilience::limiter_config::key_kind::ip) return;
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  const void* addr = a.ss_family == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr)
                                             : static_cast<const void*>(&reinterpret_cast<const sockaddr_in&>(a).sin_addr);
  if (!::inet_ntop(a.ss_family, addr, text, sizeof text)) return;
  try {
    made(rate_).peer.assign(text);
  } catch (...) {
    ctx_.stats.allocation_failed();  // keyed as "" (shared with other such connections)
  }
}

std::string_view session::rate_key() const noexcept {
  const auto& c = ctx_.limiter->config();
  switch (c.key) {
    case resilience::limiter_config::key_kind::global: return {};
    case resilience::limiter_config::key_kind::ip: return rate_->peer;
    case resilience::limiter_config::key_kind::header:
      for (const auto& h : parser_->headers())
        if (iequals(h.name, c.key_header)) return h.value;
      return {};  // without the header: one shared key
  }
  return {};
}

std::optional<session::step> session::rate_limit(dispatch& d, std::int64_t& start) noexcept {
  try {
    made(rate_);
  } catch (const std::bad_alloc&) {
    ctx_.stats.allocation_failed();  // no memory for the limiter's state: served, as when its headers fail
    return std::nullopt;
  }
  if (d.ep == endpoint::metrics || d.ep == endpoint::health) {  // never limited: how the lab sees the server
    rate_->headers.clear();
    return std::nullopt;
  }
  if (rate_->delayed) {  // decided before its delay: handled now, timed from its arrival
    rate_->delayed = false;
    start = rate_->start_ns;
    return std::nullopt;
  }
  resilience::limit_decision v;
  try {
    v = ctx_.limiter->acquire(rate_key(), std::chrono::nanoseconds(now_ns()));
    rate_->headers.clear();
    resilience::append_rate_limit_headers(v, rate_->headers);
  } catch (...) {
    // No memory for a new key or the header lines: served without them, as an allowed request.
    ctx_.stats.allocation_failed();
    rate_->headers.clear();
    return std::nullopt;
  }
  if (!v.allowed) {
    d.status = 429;  // answered by the error path; keep-alive as the client asked
    return std::nullopt;
  }
  if (v.delay.count() > 0) {
    rate_->delayed = true;
    rate_->start_ns = start;
    return step{next::wait, std::chrono::ceil<std::chrono::microseconds>(v.delay)};
  }
  return std::nullopt;
}

}  // namespace perflab::targets
