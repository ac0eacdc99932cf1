// What any load engine records (see engine_record.hpp), and the error classes.
#include "engine_record.hpp"

#include <cerrno>

#include "perflab/loadgen/grpc.hpp"

namespace perflab::loadgen::detail {

void count_error(result::error_counts& e, err what) noexcept {
  switch (what) {
    case err::connect_refused: ++e.connect_refused; break;
    case err::connect_timeout: ++e.connect_timeout; break;
    case err::connect_other: ++e.connect_other; break;
    case err::reset: ++e.reset; break;
    case err::read_timeout: ++e.read_timeout; break;
    case err::closed_mid_response: ++e.closed_mid_response; break;
    case err::malformed: ++e.malformed; break;
    case err::unsolicited: ++e.unsolicited; break;
    case err::io_other: ++e.io_other; break;
    case err::client_resources: ++e.client_resources; break;
    case err::tls: ++e.tls; break;
    case err::cors_refused: ++e.cors_refused; break;
  }
}

namespace {
// The loadgen's own limits: no local port (EADDRNOTAVAIL; connect's EAGAIN on Linux), no
// descriptor, no buffer memory.
bool client_side(int e) noexcept {
  return e == EADDRNOTAVAIL || e == EAGAIN || e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}
}  // namespace

err connect_error_class(int e) noexcept {
  if (e == ECONNREFUSED) return err::connect_refused;
  if (e == ETIMEDOUT) return err::connect_timeout;
  if (client_side(e)) return err::client_resources;
  return err::connect_other;
}

err io_error_class(int e) noexcept {
  if (e == ECONNRESET || e == EPIPE) return err::reset;
  if (e == ENOBUFS || e == ENOMEM) return err::client_resources;
  return err::io_other;
}

void record_response(sample_set& set, const response_outcome& r) noexcept {
  ++set.completed;
  set.bytes_in += r.wire_bytes;
  if (!r.verified) ++set.errors.verify_failed;
  if (r.ok) ++set.succeeded;
  switch (r.cached) {
    case http::cache_status::none: break;
    case http::cache_status::hit: ++set.cache.hit; break;
    case http::cache_status::miss: ++set.cache.miss; break;
    case http::cache_status::stale: ++set.cache.stale; break;
    case http::cache_status::other: ++set.cache.other; break;
  }
  if (r.grpc) {
    // One error per failed call: its grpc-status says what went wrong, whatever the HTTP status.
    switch (classify_grpc(r.status, r.grpc_status)) {
      case grpc_outcome::ok: ++set.grpc_statuses[0]; break;
      case grpc_outcome::grpc_error:
        ++set.errors.grpc_status;
        if (r.grpc_status <= grpc_status_max) ++set.grpc_statuses[static_cast<std::size_t>(r.grpc_status)];
        break;
      case grpc_outcome::missing: ++set.errors.grpc_missing; break;
    }
  } else if (r.status >= 500) {
    ++set.errors.status_5xx;
  } else if (r.status >= 400) {
    ++set.errors.status_4xx;
  }
  if (r.status >= 100 && r.status < 600) ++set.statuses[static_cast<std::size_t>(r.status)];
  if (r.overrun) count_error(set.errors, err::unsolicited);
  set.ttfb.record(r.first_byte_ns - r.intended_ns);
  set.ttlb.record(r.last_byte_ns - r.intended_ns);
  set.ttfb_uncorrected.record(r.first_byte_ns - r.write_ns);
  set.ttlb_uncorrected.record(r.last_byte_ns - r.write_ns);
}

void record_given_up(sample_set& set, std::int64_t intended_ns, std::int64_t start_ns, std::int64_t first_byte_ns,
                     std::int64_t now_ns) noexcept {
  set.ttfb.record(first_byte_ns - intended_ns);
  set.ttlb.record(now_ns - intended_ns);
  set.ttfb_uncorrected.record(first_byte_ns - start_ns);
  set.ttlb_uncorrected.record(now_ns - start_ns);
}

void record_unsent(sample_set& set, std::int64_t due_ns, std::int64_t now_ns) noexcept {
  ++set.unsent;
  set.ttfb.record(now_ns - due_ns);
  set.ttlb.record(now_ns - due_ns);
}

}  // namespace perflab::loadgen::detail
