// The curl worker after an answer that is not its request's last: a retry's resend ([load] retry),
// a poll ([load] follow, follow.hpp: a request answered 202 with a Location is polled for on its
// own handle, GET <origin><Location's path> every `every`, until a poll's answer holds `until`;
// the rules and the numbers are the Asio worker's, engine_asio.cpp's follow_next, so https:// and
// HTTP/2 APIs are followed the same way), and what a slot does once its request is over.
#include <curl/curl.h>

#include "engine_curl_worker.hpp"
#include "perflab/loadgen/follow.hpp"

namespace perflab::loadgen::detail::curl_engine {

follow_step curl_worker::follow_next(transfer& t, long status, std::int64_t now) {
  if (!t.following) {
    if (status != 202) return follow_step::none;
    const std::string_view location = follow_location(t.follow_raw);
    const char* url = nullptr;
    curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &url);
    const std::string_view used = url ? std::string_view(url) : std::string_view();
    const std::size_t scheme = used.find("://");
    if (location.empty() || scheme == std::string_view::npos) return follow_step::none;  // the 202 is final
    const std::size_t path = used.find('/', scheme + 3);
    // The poll goes to the request's own origin (scheme, host, port), as the Asio worker's does.
    t.follow_url.assign(used.substr(0, path == std::string_view::npos ? used.size() : path)).append(location);
    curl_easy_setopt(t.easy, CURLOPT_URL, t.follow_url.c_str());
    curl_easy_setopt(t.easy, CURLOPT_HTTPGET, 1L);  // no body, method GET
    curl_easy_setopt(t.easy, CURLOPT_CUSTOMREQUEST, nullptr);
    curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, nullptr);
    t.body_set = false;
    t.req = static_cast<std::size_t>(-1);  // the next request sets its own options again
    t.idempotent = true;
    // "GET <path> HTTP/1.1", Host and Accept as libcurl writes them (over HTTP/2 an estimate, as
    // every request's bytes_out is there).
    const std::size_t host = (path == std::string_view::npos ? used.size() : path) - (scheme + 3);
    t.bytes_out = static_cast<std::int64_t>(4 + location.size() + 11 + 6 + host + 2 + 13 + 2);
    t.following = true;
    t.accept_head_ns = t.head_ns != 0 ? t.head_ns : now;
    if (t.measured)  // to the 202's last byte, as the Asio worker measures it
      for (sample_set* set : {&totals_, interval_.get()}) set->accepted.record((t.last_ns != 0 ? t.last_ns : now) - t.intended_ns);
    return follow_step::poll;
  }
  return judge_poll(static_cast<int>(status), t.follow_raw, cfg_.follow,
                    std::chrono::nanoseconds((t.last_ns != 0 ? t.last_ns : now) - t.intended_ns));
}

// [load] retry: the request again after its backoff, on whichever connection libcurl gives it;
// it keeps its intended time (corrected latency spans every attempt) and, with `{uuid}`, its key.
// Open loop, at the connection cap: it waits for a transfer to end, ahead of queued arrivals (as
// the Asio worker's parked retry waits for a connection).
void curl_worker::resend(transfer& t) {
  if (s_.open && at_cap()) {
    ready_retries_.push_back(&t);
    return;
  }
  const std::int64_t now = now_ns();
  advance(now);  // first: a phase change must still see it outstanding
  t.retry_wait = false;
  --retry_waiting_;
  // One stale keep-alive resend per attempt (as the Asio worker allows): the last attempt's, and
  // the new connection it asked for, end here (polls repeat, and their waits make stale pooled
  // connections likely).
  if (t.stale_resent && cfg_.keepalive != keepalive_policy::new_connection)
    curl_easy_setopt(t.easy, CURLOPT_FRESH_CONNECT, 0L);
  t.stale_resent = false;
  t.add_ns = now;
  t.write_ns = t.head_ns = t.last_ns = 0;
  t.resend_refused = false;
  t.cached = http::cache_status::none;
  t.in_body = false;
  t.verify_raw.clear();
  t.follow_raw.clear();
  if (t.measured)
    for (sample_set* set : {&totals_, interval_.get()}) {
      ++(t.following ? set->follow_polls : set->client_retries);  // [load] follow: a poll, not a retry
      set->bytes_out += t.bytes_out;
    }
  add(t);
}

// What a slot does after its request: open loop, the earliest queued arrival or back to the free
// list; closed loop, its next request after the think time.
void curl_worker::next_for(transfer& t, bool connect_failed) {
  if (phase_ == phase::done) return;
  if (s_.open) {
    free_.push_back(&t);
    use_freed_capacity();  // a retry ready to go first, then the earliest queued arrival
    if (phase_ == phase::draining) maybe_finish(now_ns());
  } else if (phase_ == phase::draining) {
    maybe_finish(now_ns());
  } else {
    closed_loop_wait(t, connect_failed ? reconnect_backoff_ns : cfg_.think_time.count());
  }
}

// Open loop: a transfer ended or went into a retry's backoff. Retries whose backoff is over go
// first (they are older than any queued arrival), then queued arrivals, up to the cap.
void curl_worker::use_freed_capacity() {
  while (!at_cap()) {
    if (!ready_retries_.empty()) {
      transfer* r = ready_retries_.front();
      ready_retries_.pop_front();
      resend(*r);
    } else if (!pending_.empty() && phase_ != phase::draining && phase_ != phase::done) {
      transfer* n = free_slot();
      if (n == nullptr) return;
      start(*n, pending_.pop());
    } else {
      return;
    }
  }
}

}  // namespace perflab::loadgen::detail::curl_engine
