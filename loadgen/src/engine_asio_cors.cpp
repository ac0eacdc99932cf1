// The Asio worker's browser mode ([load] cors, attack --cors-origin; see engine_asio.hpp and
// perflab/loadgen/browser_cors.hpp): a non-simple request whose connection (one browser) holds
// no fresh preflight answer is preceded by its preflight OPTIONS on the same connection; the
// answer is judged as Fetch does, and the request follows only when it is allowed. The request's
// clocks run from its intended time (and its first write, the preflight's) through both
// answers: the browser's view. Preflights are counted (preflights), never sampled on their own.
#include <algorithm>

#include "engine_asio.hpp"

namespace perflab::loadgen::detail {

namespace {
// A preflight answer's head is a status line and a few fields; a longer one is cut here (the
// fields past the cut are not seen, which can only refuse the request).
constexpr std::size_t cors_head_capacity = 8 * 1024;
}  // namespace

void asio_worker::cors_new_browser(connection& c) {
  if (c.preflight_head.capacity() < cors_head_capacity) {  // the slot's first connect
    c.preflight_head.reserve(cors_head_capacity);
    c.cors_cache = browser_cors::cache(s_.mix->size(), s_.cors->cfg.preflight_cache);
  } else {
    c.cors_cache.clear();
  }
  c.preflight = c.preflight_passed = false;
}

std::string_view asio_worker::cors_first_write(connection& c) {
  const std::string& pre = s_.cors->entries[c.req_index].preflight;
  const bool passed = c.preflight_passed;
  c.preflight_passed = false;
  c.preflight = !pre.empty() && !passed && !c.cors_cache.fresh(c.req_index, c.write_ns);
  if (!c.preflight) return c.req.bytes;
  c.parser.reset(false);  // an OPTIONS answer has the body its head says
  c.preflight_head.clear();
  if (c.measured) {
    ++totals_.preflights;
    ++interval_->preflights;
  }
  return pre;
}

void asio_worker::on_preflight_answer(connection& c, std::int64_t t, bool peer_closed, bool overrun) {
  c.preflight = false;
  ++c.requests_done;
  const browser_cors::plan::entry& e = s_.cors->entries[c.req_index];
  const auto verdict =
      browser_cors::judge_preflight(c.preflight_head, c.parser.status(), s_.cors->cfg.origin, e.method, e.request_headers);
  if (c.measured) {
    for (sample_set* set : {&totals_, interval_.get()}) {
      set->bytes_in += static_cast<std::int64_t>(c.parser.wire_bytes());
      if (overrun) count_error(set->errors, err::unsolicited);
    }
  }
  if (!verdict.allowed) {
    // The browser never sends the request: the fetch fails with a network error, and this
    // request ends here without a response (so without a latency sample).
    if (c.measured) {
      count_error(totals_.errors, err::cors_refused);
      count_error(interval_->errors, err::cors_refused);
      last_measured_end_ns_ = std::max(last_measured_end_ns_, t);
    }
    --in_flight_;
    c.has_request = false;
    c.retrying = c.policy_retry = false;
    c.measured = c.carried = false;
    release(c, reusable(c, peer_closed, overrun), cfg_.think_time.count());
    return;
  }
  c.cors_cache.store(c.req_index, t, verdict.max_age_s);
  if (peer_closed || overrun || !c.parser.keep_alive() || !c.pending_write.empty()) {
    // Allowed, but the connection ended with the answer: the request goes on a new connection
    // (maybe_closed reconnects the slot with it, as for a stale keep-alive resend), without a
    // second preflight.
    if (phase_ == phase::done) {
      fail(c, err::closed_mid_response);
      return;
    }
    c.preflight_passed = true;
    c.retrying = true;
    close_conn(c);
    return;
  }
  // The request itself, on the same connection. Its TTFB is its own answer's first byte.
  c.parser.reset(c.req.head);
  c.verify_raw.clear();
  c.first_byte_ns = c.head_ns = c.last_data_ns = 0;
  if (c.measured) {
    totals_.bytes_out += static_cast<std::int64_t>(c.req.bytes.size());
    interval_->bytes_out += static_cast<std::int64_t>(c.req.bytes.size());
  }
  write_bytes(c, c.req.bytes);
}

}  // namespace perflab::loadgen::detail
