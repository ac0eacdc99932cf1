#pragma once
#include <array>
// What a worker records: eight latency histograms (nanoseconds) and counters, once for the whole
// measured phase and once per one-second interval (handed to the collector each second, merged
// across workers into the interval log and the per-second series).
#include <cstdint>

#include "perflab/core/histogram.hpp"
#include "perflab/core/result.hpp"

namespace perflab::loadgen {

// Histogram range for every latency: 1 ns to 1 h, 3 significant digits (LAB.md section 3).
inline constexpr std::int64_t hist_lowest_ns = 1;
inline constexpr std::int64_t hist_highest_ns = 3'600'000'000'000;
inline constexpr int hist_digits = 3;

struct sample_set {
  sample_set()
      : connect(hist_lowest_ns, hist_highest_ns, hist_digits),
        ttfb(hist_lowest_ns, hist_highest_ns, hist_digits),
        ttlb(hist_lowest_ns, hist_highest_ns, hist_digits),
        ttfb_uncorrected(hist_lowest_ns, hist_highest_ns, hist_digits),
        ttlb_uncorrected(hist_lowest_ns, hist_highest_ns, hist_digits),
        send_lag(hist_lowest_ns, hist_highest_ns, hist_digits),
        tls_handshake(hist_lowest_ns, hist_highest_ns, hist_digits),
        curl_start_transfer(hist_lowest_ns, hist_highest_ns, hist_digits),
        accepted(hist_lowest_ns, hist_highest_ns, hist_digits) {}

  histogram connect;           // connect() start to writable, new connections (ns)
  // The four TTFB/TTLB histograms hold every response and every request given up at its
  // timeout (recorded then, a lower bound of its latency); fast failures are not in them.
  histogram ttfb;              // intended send time to first response byte (ns); = uncorrected in closed loop
  histogram ttlb;              // intended send time to last response byte (ns)
  histogram ttfb_uncorrected;  // actual write to first response byte (ns)
  histogram ttlb_uncorrected;  // actual write to last response byte (ns)
  histogram send_lag;          // actual write - intended send time (ns), open loop only
  // Curl engine only, by libcurl's own clock (CURLINFO_*_TIME_T):
  histogram tls_handshake;     // new TLS connections: TCP connected to handshake done (ns)
  histogram curl_start_transfer;  // transfer start (connect included) to the first response byte (ns)
  // [load] follow (follow.hpp): a followed request's 202, intended send time to its last byte (ns).
  histogram accepted;
  std::int64_t sent = 0;       // requests written
  std::int64_t completed = 0;  // complete responses, any status
  std::int64_t succeeded = 0;  // complete responses with a success status (goodput)
  std::int64_t connections_opened = 0;  // successful connects (for measured requests)
  std::int64_t connections_warmup = 0;  // totals: successful connects in the warm-up
  std::int64_t carried_in = 0; // warm-up requests still unanswered when the measured phase began
  std::int64_t stalled = 0;    // totals: carried-in requests unanswered at the measured phase's end;
                               // interval sets: requests outstanding through the whole interval
  std::int64_t unsent = 0;     // measured arrivals never written: still queued when the load stopped
  std::int64_t abandoned = 0;  // measured requests still unanswered when the drain deadline passed
  std::int64_t retries = 0;    // measured requests resent once after a stale keep-alive connection
  std::int64_t client_retries = 0;     // [load] retry: retries written (attempts = sent + client_retries)
  std::int64_t retried_succeeded = 0;  // requests retried at least once whose final answer succeeded
  std::int64_t retries_exhausted = 0;  // requests whose last allowed retry was answered with a retried status
  std::int64_t follow_polls = 0;       // [load] follow: polls written (not in sent)
  std::int64_t followed = 0;           // [load] follow: requests whose work a poll found done
  std::int64_t preflights = 0;         // [load] cors: preflights written before measured requests
  result::error_counts errors;
  result::cache_counts cache;  // complete responses by X-Cache header
  std::array<std::int64_t, 600> statuses{};  // complete responses by status code (index = code, 100..599)
  std::array<std::int64_t, 17> grpc_statuses{};  // gRPC calls by grpc-status (0 OK .. 16 UNAUTHENTICATED)
  std::int64_t bytes_in = 0;   // bytes of complete responses as received (status line, fields, body)
  std::int64_t bytes_out = 0;  // bytes of requests written (resends included)
  std::int64_t tcp_bytes_in = 0;   // totals: TCP payload bytes received, from the kernel (engine_wire.hpp)
  std::int64_t tcp_bytes_out = 0;  // totals: TCP payload bytes sent and acknowledged
  std::int64_t in_flight = 0;  // interval sets: requests outstanding (sent or queued) at hand-off
  std::int64_t streams_peak = 0;  // curl engine, HTTP/2: most measured requests at once on one connection (merged: max)
  std::int64_t index = 0;      // interval sets: second index from the measured phase start
                               // (the drain after the measured phase has index `intervals`)
  std::int64_t end_ns = 0;     // interval sets: steady ns when the interval closed (its boundary,
                               // the stop of the load, or the end of the drain)

  void add(const sample_set& o);
  void reset() noexcept;
};

void add_errors(result::error_counts& into, const result::error_counts& from) noexcept;

}  // namespace perflab::loadgen
