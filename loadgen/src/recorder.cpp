#include "perflab/loadgen/recorder.hpp"

#include <algorithm>

namespace perflab::loadgen {

void add_errors(result::error_counts& into, const result::error_counts& from) noexcept {
  into.connect_refused += from.connect_refused;
  into.connect_timeout += from.connect_timeout;
  into.connect_other += from.connect_other;
  into.reset += from.reset;
  into.read_timeout += from.read_timeout;
  into.closed_mid_response += from.closed_mid_response;
  into.malformed += from.malformed;
  into.unsolicited += from.unsolicited;
  into.io_other += from.io_other;
  into.client_resources += from.client_resources;
  into.status_4xx += from.status_4xx;
  into.status_5xx += from.status_5xx;
  into.verify_failed += from.verify_failed;
  into.tls += from.tls;
  into.grpc_status += from.grpc_status;
  into.grpc_missing += from.grpc_missing;
  into.follow_timeout += from.follow_timeout;
  into.cors_refused += from.cors_refused;
}

void sample_set::add(const sample_set& o) {
  connect.add(o.connect);
  ttfb.add(o.ttfb);
  ttlb.add(o.ttlb);
  ttfb_uncorrected.add(o.ttfb_uncorrected);
  ttlb_uncorrected.add(o.ttlb_uncorrected);
  send_lag.add(o.send_lag);
  tls_handshake.add(o.tls_handshake);
  curl_start_transfer.add(o.curl_start_transfer);
  accepted.add(o.accepted);
  sent += o.sent;
  completed += o.completed;
  succeeded += o.succeeded;
  connections_opened += o.connections_opened;
  connections_warmup += o.connections_warmup;
  carried_in += o.carried_in;
  stalled += o.stalled;
  unsent += o.unsent;
  abandoned += o.abandoned;
  retries += o.retries;
  client_retries += o.client_retries;
  preflights += o.preflights;
  retried_succeeded += o.retried_succeeded;
  retries_exhausted += o.retries_exhausted;
  follow_polls += o.follow_polls;
  followed += o.followed;
  add_errors(errors, o.errors);
  cache.hit += o.cache.hit;
  cache.miss += o.cache.miss;
  cache.stale += o.cache.stale;
  cache.other += o.cache.other;
  for (std::size_t i = 0; i < statuses.size(); ++i) statuses[i] += o.statuses[i];
  for (std::size_t i = 0; i < grpc_statuses.size(); ++i) grpc_statuses[i] += o.grpc_statuses[i];
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  tcp_bytes_in += o.tcp_bytes_in;
  tcp_bytes_out += o.tcp_bytes_out;
  in_flight += o.in_flight;
  streams_peak = std::max(streams_peak, o.streams_peak);  // per connection: another worker's are other connections
  end_ns = std::max(end_ns, o.end_ns);
}

void sample_set::reset() noexcept {
  connect.reset();
  ttfb.reset();
  ttlb.reset();
  ttfb_uncorrected.reset();
  ttlb_uncorrected.reset();
  send_lag.reset();
  tls_handshake.reset();
  curl_start_transfer.reset();
  accepted.reset();
  sent = completed = succeeded = connections_opened = connections_warmup = carried_in = stalled = unsent = abandoned = retries = 0;
  client_retries = retried_succeeded = retries_exhausted = follow_polls = followed = preflights = 0;
  in_flight = index = end_ns = bytes_in = bytes_out = tcp_bytes_in = tcp_bytes_out = streams_peak = 0;
  errors = {};
  cache = {};
  statuses.fill(0);
  grpc_statuses.fill(0);
}

}  // namespace perflab::loadgen
