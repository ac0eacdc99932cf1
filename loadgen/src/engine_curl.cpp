// The curl worker (see engine_curl_worker.hpp): libcurl's callbacks, socket readiness on the
// Asio loop, a request's hand-over to libcurl, its completion and recording, and client retries.
// Its hooks of the phase controller (engine_phases.hpp) are in engine_curl_phases.cpp.
#include <poll.h>
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "engine_curl_worker.hpp"
#include "perflab/loadgen/grpc.hpp"
#include "verify.hpp"

namespace perflab::loadgen::detail::curl_engine {

curl_worker::curl_worker(const shared_setup& s, int index, int workers, std::int64_t connections, std::int64_t quota)
    : phase_controller(s, index, workers, quota),
      curl_timer_(ioc_),
      rng_(s.cfg->seed ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(index + 1))),
      backoff_(s.cfg->retry.backoff, s.cfg->seed * 0x2545F4914F6CDD1DULL + static_cast<std::uint64_t>(index)) {
  const std::int64_t streams = cfg_.http2 ? cfg_.max_streams : 1;
  h2c_ = cfg_.http2 && !s_.tls;
  follow_on_ = cfg_.follow.enabled();
  // Open loop: `connections` is the cap, and each connection carries up to `streams` requests.
  // Closed loop: `connections` clients, sharing connections `streams` at a time. HTTP/2 without
  // TLS (h2c, gRPC's or --http2 on http://): one connection (see h2c_).
  const std::int64_t conns = h2c_ ? 1 : s_.open ? connections : (connections + streams - 1) / streams;
  max_slots_ = static_cast<std::size_t>(s_.open ? conns * streams : connections);
  multi_ = curl_multi_init();
  if (s_.tls && cfg_.tls_resume) {
    share_ = curl_share_init();
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &curl_worker::on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &curl_worker::on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(conns));
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(conns));
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, cfg_.http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING);
  if (cfg_.http2) curl_multi_setopt(multi_, CURLMOPT_MAX_CONCURRENT_STREAMS, static_cast<long>(streams));
  if (s_.url_host != s_.host) {
    const bool v6 = s_.host.find(':') != std::string::npos;
    const std::string entry = s_.url_host + ":" + std::to_string(s_.port) + ":" + (v6 ? "[" + s_.host + "]" : s_.host);
    resolve_ = curl_slist_append(nullptr, entry.c_str());
  }
  if (!s_.open) {
    for (std::int64_t i = 0; i < connections; ++i) free_slot();
    free_.clear();  // clients are started by run(), not taken from the free list
  }
}

curl_worker::~curl_worker() {
  for (auto& t : slots_)
    if (t.busy) curl_multi_remove_handle(multi_, t.easy);
  curl_multi_cleanup(multi_);  // closes the pooled connections through on_close_socket
  for (auto& t : slots_) curl_easy_cleanup(t.easy);
  if (share_) curl_share_cleanup(share_);  // after every handle using it
  curl_slist_free_all(resolve_);
  // Anything libcurl did not close through us: never let a descriptor close a socket number.
  for (auto& w : watches_)
    if (w && w->sd.is_open()) w->sd.release();
}

// ---- libcurl's callbacks and readiness ----

int curl_worker::on_socket(CURL*, curl_socket_t fd, int what, void* self, void*) {
  auto& w = *static_cast<curl_worker*>(self);
  if (fd < 0) return 0;
  const auto i = static_cast<std::size_t>(fd);
  if (i >= w.watches_.size()) w.watches_.resize(i + 1);
  if (!w.watches_[i]) w.watches_[i] = std::make_unique<watch>(w.ioc_);
  watch& ws = *w.watches_[i];
  if (what == CURL_POLL_REMOVE) {
    // Not watched for now (an idle pooled connection, say); a wait still pending stays, and a
    // readiness it reports is handed to libcurl, which ignores a socket it does not watch.
    ws.want = 0;
    return 0;
  }
  if (!ws.sd.is_open()) {
    error_code ec;
    ws.sd.assign(fd, ec);
    if (ec) return -1;  // libcurl fails the transfer
  }
  ws.want = what;
  w.arm(fd);
  return 0;
}

// Waits for what libcurl wants of the socket. Asio's reactor is edge-triggered and a wait does
// not look at readiness it saw before: a socket already readable (bytes libcurl left unread) or
// writable would never wake us. So a zero-timeout poll() first, and a ready socket gets its
// action posted at once instead of a wait.
void curl_worker::arm(int fd) {
  watch& w = *watches_[static_cast<std::size_t>(fd)];
  const bool in = (w.want & CURL_POLL_IN) && !w.in_armed;
  const bool out = (w.want & CURL_POLL_OUT) && !w.out_armed;
  if (!in && !out) return;
  pollfd p{fd, static_cast<short>((in ? POLLIN : 0) | (out ? POLLOUT : 0)), 0};
  int ready = 0;
  if (::poll(&p, 1, 0) > 0) {
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) ready |= in ? CURL_CSELECT_IN : 0;
    if (p.revents & (POLLOUT | POLLHUP | POLLERR)) ready |= out ? CURL_CSELECT_OUT : 0;
  }
  const std::uint32_t gen = w.gen;
  if (ready) {
    if (ready & CURL_CSELECT_IN) w.in_armed = true;
    if (ready & CURL_CSELECT_OUT) w.out_armed = true;
    asio::post(ioc_, [this, fd, gen, ready] { on_ready(fd, gen, ready, error_code{}); });
  }
  if (in && !(ready & CURL_CSELECT_IN)) {
    w.in_armed = true;
    w.sd.async_wait(asio::posix::descriptor_base::wait_read,
                    [this, fd, gen](const error_code& ec) { on_ready(fd, gen, CURL_CSELECT_IN, ec); });
  }
  if (out && !(ready & CURL_CSELECT_OUT)) {
    w.out_armed = true;
    w.sd.async_wait(asio::posix::descriptor_base::wait_write,
                    [this, fd, gen](const error_code& ec) { on_ready(fd, gen, CURL_CSELECT_OUT, ec); });
  }
}

void curl_worker::on_ready(int fd, std::uint32_t gen, int mask, const error_code& ec) {
  if (ec) return;  // aborted: libcurl dropped the socket
  watch& w = *watches_[static_cast<std::size_t>(fd)];
  if (w.gen != gen) return;
  if (mask & CURL_CSELECT_IN) w.in_armed = false;
  if (mask & CURL_CSELECT_OUT) w.out_armed = false;
  int running = 0;
  curl_multi_socket_action(multi_, fd, mask, &running);
  check_done();
  // Waits are one-shot: watch again for what libcurl still wants (unless it dropped the socket).
  if (w.gen == gen && w.want != 0) arm(fd);
}

int curl_worker::on_close_socket(void* self, curl_socket_t fd) {
  auto& w = *static_cast<curl_worker*>(self);
  const auto i = static_cast<std::size_t>(fd);
  w.wire_.closing(fd, w.phase_ != phase::warmup, w.totals_);
  if (fd >= 0 && i < w.requests_on_.size()) w.requests_on_[i] = 0;
  w.h2c_open_ = false;  // gRPC over h2c: its one connection is gone, the next transfer opens one
  if (fd >= 0 && i < w.watches_.size() && w.watches_[i] && w.watches_[i]->sd.is_open()) {
    watch& ws = *w.watches_[i];
    ++ws.gen;  // pending waits complete as aborted and are ignored
    ws.want = 0;
    ws.in_armed = ws.out_armed = false;
    ws.sd.release();  // deregisters it from the loop before the number can be reused
  }
  return ::close(fd);
}

// Called right before the request goes out on its connection (new or reused): the write.
// Called again for the same attempt when libcurl resends the request by itself: its reused
// connection ended before any byte of the answer (the server's idle close crossed it). That is
// the Asio worker's stale keep-alive resend, and is treated the same way: a lost answer the retry
// policy covers is the policy's (the resend is stopped, and the policy's retry follows); else an
// idempotent request goes again on the new connection, counted in `retries`; any other one is not
// resent (RFC 9110 9.2.2: the server may have acted on it), and fails as closed mid-response,
// which libcurl alone would resend without a word, POSTs included. Over HTTP/2 libcurl also
// resends a refused stream (REFUSED_STREAM: not processed, RFC 9113 8.7), on a new connection,
// up to 5 times: the same rule, so it is resent once, and a second refusal counts as a reset.
int curl_worker::on_prereq(void* tp, char*, char*, int, int local_port) {
  auto& t = *static_cast<transfer*>(tp);
  curl_worker& w = *t.owner;
  if (t.write_ns != 0) {
    // Over h2c libcurl resends on a new connection it opens without prior knowledge (an HTTP/1.1
    // Upgrade an h2c-only server refuses; see h2c_): stopped too, the refusal counted as a reset.
    if (!t.idempotent || w.policy_takes_lost(t) || t.stale_resent || w.h2c_) {
      t.resend_refused = true;
      return CURL_PREREQFUNC_ABORT;
    }
    t.stale_resent = true;
    if (t.measured)
      for (sample_set* set : {&w.totals_, w.interval_.get()}) ++set->retries;
  }
  t.write_ns = now_ns();
  // HTTP/2: the connection its stream goes on, known by its local port (libcurl tells the socket
  // only once a transfer has ended): the streams in flight there now, this one included.
  if (w.cfg_.http2 && t.stream_on < 0 && local_port > 0 && local_port < 65536) {
    if (w.streams_on_.empty()) w.streams_on_.resize(65536, 0);
    t.stream_on = local_port;
    const std::int64_t now_on = ++w.streams_on_[static_cast<std::size_t>(local_port)];
    if (t.measured)
      for (sample_set* set : {&w.totals_, w.interval_.get()}) set->streams_peak = std::max(set->streams_peak, now_on);
  }
  return CURL_PREREQFUNC_OK;
}

void curl_worker::stream_ended(transfer& t) {
  if (t.stream_on < 0) return;
  auto& on = streams_on_[static_cast<std::size_t>(t.stream_on)];
  if (on > 0) --on;
  t.stream_on = -1;
}

int curl_worker::on_timer(CURLM*, long timeout_ms, void* self) {
  auto& w = *static_cast<curl_worker*>(self);
  w.curl_timer_.cancel();
  if (timeout_ms < 0) return 0;
  if (timeout_ms == 0) {
    // Not from inside libcurl's own call: at the loop's next turn.
    if (!w.timeout_posted_) {
      w.timeout_posted_ = true;
      asio::post(w.ioc_, [&w] {
        w.timeout_posted_ = false;
        w.on_curl_timeout();
      });
    }
    return 0;
  }
  w.curl_timer_.expires_after(std::chrono::milliseconds(timeout_ms));
  w.curl_timer_.async_wait([&w](const error_code& ec) {
    if (!ec) w.on_curl_timeout();
  });
  return 0;
}

void curl_worker::on_curl_timeout() {
  int running = 0;
  curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done();
}

std::size_t curl_worker::on_header(char* data, std::size_t size, std::size_t n, void* tp) {
  auto& t = *static_cast<transfer*>(tp);
  const std::int64_t now = now_ns();
  const std::size_t len = size * n;
  const std::string_view line(data, len);
  // Every response's status line (1xx ones too: the last is the final response's first byte).
  if (line.substr(0, 5) == "HTTP/") {
    t.head_ns = now;
    t.cached = http::cache_status::none;
    t.retry_after_s = -1;
    t.grpc_status = -1;
    t.in_body = false;
  } else if (t.in_body) {  // trailer fields (chunked HTTP/1.1, HTTP/2): neither the head nor the body
    if (t.owner->s_.grpc && t.grpc_status == -1) t.grpc_status = grpc_status_of(line);
    t.last_ns = now;
    return len;
  } else {
    if (t.owner->s_.grpc && t.grpc_status == -1) t.grpc_status = grpc_status_of(line);  // a trailers-only response
    if (t.cached == http::cache_status::none) t.cached = x_cache_of(line);
    if (t.retry_after_s < 0) t.retry_after_s = retry_after_of(line);
  }
  if (t.verifying) append_verify_head(t.verify_raw, line);
  if (t.owner->follow_on_) {  // a 202's Location, a poll's state: the final response's head
    if (line.substr(0, 5) == "HTTP/") t.follow_raw.clear();
    if (t.follow_raw.size() + len <= follow_max_capture) t.follow_raw.append(line);
  }
  t.last_ns = now;  // a response without a body ends with its head
  return len;
}

std::size_t curl_worker::on_body(char* data, std::size_t size, std::size_t n, void* tp) {
  auto& t = *static_cast<transfer*>(tp);
  t.last_ns = now_ns();
  t.in_body = true;
  if (t.verifying) t.verify_raw.append(data, size * n);  // kept only for --verify
  if (t.following && t.follow_raw.size() < follow_max_capture)  // a poll's body: the job's state
    t.follow_raw.append(data, std::min(size * n, follow_max_capture - t.follow_raw.size()));
  return size * n;
}

void curl_worker::check_done() {
  int left = 0;
  while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    transfer* t = nullptr;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &t);
    on_done(*t, m->data.result);
  }
}

// ---- requests ----

transfer* curl_worker::free_slot() {
  // The cap counts transfers handed to libcurl: a slot waiting out a retry's backoff holds no
  // connection, so there may be more slots than the cap, never more busy ones.
  if (at_cap()) return nullptr;
  if (!free_.empty()) {
    transfer* t = free_.back();
    free_.pop_back();
    return t;
  }
  if (slots_.size() >= max_slots_ + static_cast<std::size_t>(retry_waiting_)) return nullptr;
  transfer& t = slots_.emplace_back(ioc_);
  t.easy = curl_easy_init();
  CURL* e = t.easy;
  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
  t.owner = this;
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &curl_worker::on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &curl_worker::on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &curl_worker::on_prereq);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, &t);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &curl_worker::on_close_socket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(cfg_.connect_timeout.count() / 1'000'000));
  // libcurl's timeout covers the whole transfer, a connect included.
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg_.request_timeout.count() / 1'000'000));
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                   !cfg_.http2 ? CURL_HTTP_VERSION_1_1
                               : s_.tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
  if (cfg_.http2) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);  // a stream on a connection rather than a new one
  if (s_.tls) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, cfg_.insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, cfg_.insecure ? 0L : 2L);
    if (!cfg_.cacert.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, cfg_.cacert.c_str());
    if (share_) curl_easy_setopt(e, CURLOPT_SHARE, share_);
    else curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);  // no resumption: a full handshake each time
  }
  if (cfg_.keepalive == keepalive_policy::new_connection) {
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  }
  if (resolve_) curl_easy_setopt(e, CURLOPT_RESOLVE, resolve_);
  return &t;
}

void curl_worker::start(transfer& t, std::int64_t intended) {
  const std::int64_t now = now_ns();
  advance(now);
  const std::size_t i = s_.mix->pick_index(rng_);
  const rendered_request rendered = s_.mix->at(i);
  // A request with `{uuid}`s goes out from the handle's own copy, with a fresh UUID per logical
  // request. The copy is made when the handle's request changes (a mix of several such requests
  // or keys makes one per change; a single one, once).
  curl_stamped_request* own = nullptr;
  bool copy_failed = false;
  if (!rendered.uuids.empty()) {
    if (t.stamped_index != i || !t.stamped) {
      t.stamped = std::make_unique<curl_stamped_request>();
      t.stamped_index = i;
      if (!s_.curl->stamped_copy(rendered, *t.stamped)) t.stamped.reset();
    }
    own = t.stamped.get();
    copy_failed = own == nullptr;
    if (own) {
      own->stamp(rng_);
      t.req = static_cast<std::size_t>(-1);  // the options below point at the copy
    }
  }
  if (i != t.req) {  // options change only when the request does
    const curl_request& r = own ? own->req : (*s_.curl)[i];
    curl_easy_setopt(t.easy, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, r.headers);
    if (!r.body.empty()) {
      curl_easy_setopt(t.easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      curl_easy_setopt(t.easy, CURLOPT_POSTFIELDS, r.body.data());
      t.body_set = true;
    } else if (t.body_set) {
      curl_easy_setopt(t.easy, CURLOPT_HTTPGET, 1L);  // back to no body
      t.body_set = false;
    }
    curl_easy_setopt(t.easy, CURLOPT_NOBODY, r.head ? 1L : 0L);
    curl_easy_setopt(t.easy, CURLOPT_CUSTOMREQUEST, r.method.empty() || r.head ? nullptr : r.method.c_str());
    t.req = own ? static_cast<std::size_t>(-1) : i;
  }
  t.intended_ns = intended == 0 ? now : intended;
  t.add_ns = now;
  t.write_ns = t.head_ns = t.last_ns = t.first_write_ns = 0;
  if (t.stale_resent && cfg_.keepalive != keepalive_policy::new_connection)
    curl_easy_setopt(t.easy, CURLOPT_FRESH_CONNECT, 0L);  // set for the stale resend only
  t.resend_refused = t.stale_resent = false;
  t.cached = http::cache_status::none;
  t.grpc_status = -1;
  t.idempotent = rendered.idempotent;
  t.policy_retries = 0;
  t.measured = s_.recorded(t.intended_ns, phase_, t.carried);
  t.verifying = cfg_.verify;  // a warm-up request may still be carried into the measured phase
  t.verify_raw.clear();
  t.follow_raw.clear();
  t.in_body = false;
  t.bytes_out = (*s_.curl)[i].bytes_out;
  if (t.measured) {
    for (sample_set* set : {&totals_, interval_.get()}) {
      ++set->sent;
      set->bytes_out += t.bytes_out;
    }
  }
  ++in_flight_;
  if (copy_failed) {
    t.busy = true;
    on_done(t, CURLE_OUT_OF_MEMORY);
    return;
  }
  add(t);
}

void curl_worker::add(transfer& t) {
  if (h2c_) {
    curl_easy_setopt(t.easy, CURLOPT_HTTP_VERSION,
                     h2c_open_ ? CURL_HTTP_VERSION_2_0 : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    h2c_open_ = true;
  }
  t.busy = true;
  t.added = curl_multi_add_handle(multi_, t.easy) == CURLM_OK;
  if (!t.added) on_done(t, CURLE_OUT_OF_MEMORY);
}

void curl_worker::on_done(transfer& t, CURLcode code) {
  const std::int64_t now = now_ns();
  advance(now);  // first: a phase change must still see it outstanding (carried in)
  const bool ran = t.added;  // handed to libcurl (else nothing of it is libcurl's to report)
  // keepalive max:K: the connection it used (while the handle is still in the multi handle,
  // which knows it), closed once it has carried K requests.
  curl_socket_t used = CURL_SOCKET_BAD;
  if (ran && cfg_.keepalive == keepalive_policy::max_requests) curl_easy_getinfo(t.easy, CURLINFO_ACTIVESOCKET, &used);
  if (ran) curl_multi_remove_handle(multi_, t.easy);
  stream_ended(t);
  if (used != CURL_SOCKET_BAD && used >= 0) {
    const auto i = static_cast<std::size_t>(used);
    if (i >= requests_on_.size()) requests_on_.resize(i + 1, 0);
    if (++requests_on_[i] >= cfg_.max_requests_per_connection) ::shutdown(used, SHUT_RDWR);
  }
  t.added = t.busy = false;
  --in_flight_;
  curl_off_t lookup = 0, connect = 0, tls = 0, start_transfer = 0, size_down = 0;
  long connects = 0, status = 0, head_bytes = 0, os_errno = 0;
  if (ran) {
    curl_easy_getinfo(t.easy, CURLINFO_NAMELOOKUP_TIME_T, &lookup);
    curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connect);
    curl_easy_getinfo(t.easy, CURLINFO_APPCONNECT_TIME_T, &tls);
    curl_easy_getinfo(t.easy, CURLINFO_NUM_CONNECTS, &connects);
  }
  // The write (connect and TLS before it, as the Asio worker's write follows its connect).
  const bool written = t.write_ns != 0;
  const std::int64_t write_ns = written ? t.write_ns : t.add_ns;
  // The stale keep-alive resend (see on_prereq) for a reused connection that ended on the send
  // (the server's close came first, the write met EPIPE): libcurl resends only when it sees the
  // end while reading, so this one is ours. Once, for an idempotent request, on a new connection
  // (not over h2c, where a new connection must come from the prior-knowledge transfer: see h2c_).
  if (ran && connects == 0 && t.head_ns == 0 && t.idempotent && !t.stale_resent && !policy_takes_lost(t) && !h2c_ &&
      phase_ != phase::done && (code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR || code == CURLE_GOT_NOTHING)) {
    t.stale_resent = true;
    if (t.measured)
      for (sample_set* set : {&totals_, interval_.get()}) ++set->retries;
    t.add_ns = now;
    t.write_ns = t.head_ns = t.last_ns = 0;
    t.cached = http::cache_status::none;
    t.in_body = false;
    t.verify_raw.clear();
    ++in_flight_;  // still unanswered
    curl_easy_setopt(t.easy, CURLOPT_FRESH_CONNECT, 1L);
    add(t);
    return;
  }
  if (code == CURLE_OK && ran) {
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t.easy, CURLINFO_HEADER_SIZE, &head_bytes);
    curl_easy_getinfo(t.easy, CURLINFO_SIZE_DOWNLOAD_T, &size_down);
  }
  // [load] retry: an idempotent request answered with a retried status goes again after its
  // backoff (as the Asio worker: its answer so far is no final one); with "reset" in the policy's
  // statuses, so does one whose connection ended before any byte of its answer (an idempotent one
  // on a reused connection was already resent once, by libcurl: see on_prereq; a resend refused
  // there is such an ending too, so `unsafe = true` covers it).
  const bool lost = ran && t.head_ns == 0 &&
                    (code == CURLE_GOT_NOTHING || code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR ||
                     t.resend_refused);
  // [load] follow: a 202's work is polled for, and the request completes when a poll finds it
  // done. A poll is no retry, and follow judges a poll's answer.
  const follow_step step =
      follow_on_ && code == CURLE_OK && phase_ != phase::done ? follow_next(t, status, now) : follow_step::none;
  const bool poll = step == follow_step::poll;
  // A poll's lost answer is retried as any lost answer the policy covers (on_prereq and the stale
  // resend left it to the policy), as the Asio worker's retry_reset does.
  const bool again = !poll && cfg_.retry.enabled() && phase_ != phase::done &&
                     (code == CURLE_OK ? !t.following && should_retry(cfg_.retry, t.idempotent, static_cast<int>(status),
                                                                      t.policy_retries)
                                       : lost && policy_takes_lost(t));
  if (!t.measured) {
    if (connects > 0 && code == CURLE_OK) ++totals_.connections_warmup;
  } else {
    if (connects > 0 && connect > 0) {
      for (sample_set* set : {&totals_, interval_.get()}) {
        set->connect.record((connect - lookup) * 1000);
        if (tls > connect) set->tls_handshake.record((tls - connect) * 1000);
        ++set->connections_opened;
      }
    }
    if (s_.open && written && t.first_write_ns == 0)  // the first attempt's (a retry's or a poll's is no send lag)
      for (sample_set* set : {&totals_, interval_.get()}) set->send_lag.record(write_ns - t.intended_ns);
    if (code == CURLE_OK && (again || poll)) {  // no final answer yet: its bytes count, its status not
      for (sample_set* set : {&totals_, interval_.get()}) set->bytes_in += head_bytes + size_down;
    } else if (code == CURLE_OK && step == follow_step::timed_out) {
      // Its work not done within the follow timeout: given up, its latency a lower bound.
      for (sample_set* set : {&totals_, interval_.get()}) {
        set->bytes_in += head_bytes + size_down;
        ++set->errors.follow_timeout;
        record_given_up(*set, t.intended_ns, t.first_write_ns != 0 ? t.first_write_ns : write_ns, t.accept_head_ns,
                        t.last_ns != 0 ? t.last_ns : now);
      }
      last_measured_end_ns_ = std::max(last_measured_end_ns_, now);
    } else if (code == CURLE_OK) {
      curl_easy_getinfo(t.easy, CURLINFO_STARTTRANSFER_TIME_T, &start_transfer);
      response_outcome r;
      r.status = static_cast<int>(status);
      r.verified = !t.verifying || verify_response(t.verify_raw, cfg_.verify_length);
      r.grpc = s_.grpc;
      r.grpc_status = t.grpc_status;
      r.ok = s_.success.contains(r.status) && r.verified &&
             (!r.grpc || classify_grpc(r.status, r.grpc_status) == grpc_outcome::ok);
      r.cached = t.cached;
      r.wire_bytes = head_bytes + size_down;  // body bytes after transfer decoding (chunk framing not counted)
      r.intended_ns = t.intended_ns;
      r.write_ns = t.first_write_ns != 0 ? t.first_write_ns : write_ns;
      r.first_byte_ns = t.following ? t.accept_head_ns : t.head_ns != 0 ? t.head_ns : now;
      r.last_byte_ns = t.last_ns != 0 ? t.last_ns : now;
      for (sample_set* set : {&totals_, interval_.get()}) {
        record_response(*set, r);
        set->curl_start_transfer.record(start_transfer * 1000);
        if (t.policy_retries > 0) {
          if (r.ok) ++set->retried_succeeded;
          else if (cfg_.retry.retries_status(r.status)) ++set->retries_exhausted;
        }
        if (step == follow_step::done) ++set->followed;
      }
      last_measured_end_ns_ = std::max(last_measured_end_ns_, r.last_byte_ns);
    } else if (!again) {
      curl_easy_getinfo(t.easy, CURLINFO_OS_ERRNO, &os_errno);
      // A resend stopped in on_prereq; over HTTP/2 also a refused stream libcurl chose not to
      // resend (it reports it as a receive error without an errno): the stream was reset.
      const bool refused_stream = cfg_.http2 && code == CURLE_RECV_ERROR && os_errno == 0 && t.head_ns == 0;
      const err what = t.resend_refused || refused_stream
                           ? (cfg_.http2 ? err::reset : err::closed_mid_response)
                           : curl_error_class(code, os_errno, written);
      for (sample_set* set : {&totals_, interval_.get()}) {
        count_error(set->errors, what);
        // Given up at a timeout: a lower bound of its latency, as the Asio worker records it.
        if (what == err::read_timeout || what == err::connect_timeout)
          record_given_up(*set, t.intended_ns, t.first_write_ns != 0 ? t.first_write_ns : write_ns,
                          t.following ? t.accept_head_ns : t.head_ns != 0 ? t.head_ns : now, now);
      }
      last_measured_end_ns_ = std::max(last_measured_end_ns_, now);
    }
  }
  if (again || poll) {
    if (t.first_write_ns == 0) t.first_write_ns = write_ns;
    if (again) ++t.policy_retries;
    const std::chrono::nanoseconds delay =
        poll ? cfg_.follow.every
             : retry_delay(cfg_.retry, backoff_, static_cast<unsigned>(t.policy_retries), code == CURLE_OK ? t.retry_after_s : -1);
    t.retry_wait = true;
    ++retry_waiting_;
    ++in_flight_;  // still unanswered
    t.timer.expires_after(delay);
    t.timer.async_wait([this, &t](const error_code& ec) {
      if (!ec && phase_ != phase::done) resend(t);
    });
    if (s_.open) use_freed_capacity();  // it holds no connection while it waits
    return;
  }
  t.measured = t.carried = false;
  if (t.following) {  // the handle's options are the poll's: the next request sets its own
    t.following = false;
    t.req = static_cast<std::size_t>(-1);
  }
  next_for(t, code == CURLE_COULDNT_CONNECT || (code == CURLE_OPERATION_TIMEDOUT && !written));
}

}  // namespace perflab::loadgen::detail::curl_engine
