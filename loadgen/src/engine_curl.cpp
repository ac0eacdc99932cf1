// The curl worker (see engine_curl_worker.hpp): libcurl's callbacks, socket readiness on the
// Asio loop, a request's hand-over to libcurl and its completion and recording; then the
// schedule and phases, whose rules are the Asio worker's (engine_asio_phases.cpp says why each
// one is so; libcurl keeps the timeouts). One file: each one that includes Asio costs seconds
// of build.
#include <poll.h>
#include <sys/prctl.h>

#include <string>
#include <string_view>

#include "engine_curl_worker.hpp"

namespace perflab::loadgen::detail::curl_engine {

curl_worker::curl_worker(const shared_setup& s, int index, int workers, std::int64_t connections, std::int64_t quota)
    : s_(s),
      cfg_(*s.cfg),
      index_(index),
      ioc_(1),
      curl_timer_(ioc_),
      arrival_timer_(ioc_),
      housekeeping_(ioc_),
      schedule_(*s.profile, s.cfg->arrival == "poisson", index, workers, s.cfg->seed, s.rank, s.ranks),
      rng_(s.cfg->seed ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(index + 1))),
      quota_(quota),
      interval_(std::make_unique<sample_set>()) {
  const std::int64_t streams = cfg_.http2 ? cfg_.max_streams : 1;
  // Open loop: `connections` is the cap, and each connection carries up to `streams` requests.
  // Closed loop: `connections` clients, sharing connections `streams` at a time.
  const std::int64_t conns = s_.open ? connections : (connections + streams - 1) / streams;
  max_slots_ = static_cast<std::size_t>(s_.open ? connections * streams : connections);
  multi_ = curl_multi_init();
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
int curl_worker::on_prereq(void* tp, char*, char*, int, int) {
  static_cast<transfer*>(tp)->write_ns = now_ns();
  return CURL_PREREQFUNC_OK;
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
  // Every response's status line (1xx ones too: the last is the final response's first byte).
  if (std::string_view(data, len).substr(0, 5) == "HTTP/") t.head_ns = now;
  t.last_ns = now;  // a response without a body ends with its head
  return len;
}

std::size_t curl_worker::on_body(char*, std::size_t size, std::size_t n, void* tp) {
  static_cast<transfer*>(tp)->last_ns = now_ns();
  return size * n;  // the body is not kept
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
  if (!free_.empty()) {
    transfer* t = free_.back();
    free_.pop_back();
    return t;
  }
  if (slots_.size() >= max_slots_) return nullptr;
  transfer& t = slots_.emplace_back(ioc_);
  t.easy = curl_easy_init();
  CURL* e = t.easy;
  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
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
  if (i != t.req) {  // options change only when the request does
    const curl_request& r = (*s_.curl)[i];
    curl_easy_setopt(t.easy, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, r.headers);
    if (!r.body.empty()) {
      curl_easy_setopt(t.easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      curl_easy_setopt(t.easy, CURLOPT_POSTFIELDS, r.body.data());
    } else if (t.req != static_cast<std::size_t>(-1) && !(*s_.curl)[t.req].body.empty()) {
      curl_easy_setopt(t.easy, CURLOPT_HTTPGET, 1L);  // back to no body
    }
    curl_easy_setopt(t.easy, CURLOPT_NOBODY, r.head ? 1L : 0L);
    curl_easy_setopt(t.easy, CURLOPT_CUSTOMREQUEST, r.method.empty() || r.head ? nullptr : r.method.c_str());
    t.req = i;
  }
  t.intended_ns = intended == 0 ? now : intended;
  t.add_ns = now;
  t.write_ns = t.head_ns = t.last_ns = 0;
  t.measured = s_.recorded(t.intended_ns, phase_, t.carried);
  if (t.measured) {
    const std::int64_t bytes = (*s_.curl)[i].bytes_out;
    for (sample_set* set : {&totals_, interval_.get()}) {
      ++set->sent;
      set->bytes_out += bytes;
    }
  }
  t.busy = true;
  ++in_flight_;
  if (curl_multi_add_handle(multi_, t.easy) != CURLM_OK) on_done(t, CURLE_OUT_OF_MEMORY);
}

void curl_worker::on_done(transfer& t, CURLcode code) {
  const std::int64_t now = now_ns();
  curl_multi_remove_handle(multi_, t.easy);
  t.busy = false;
  --in_flight_;
  advance(now);
  curl_off_t lookup = 0, connect = 0, tls = 0, start_transfer = 0, size_down = 0;
  long connects = 0, status = 0, head_bytes = 0, os_errno = 0;
  curl_easy_getinfo(t.easy, CURLINFO_NAMELOOKUP_TIME_T, &lookup);
  curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connect);
  curl_easy_getinfo(t.easy, CURLINFO_APPCONNECT_TIME_T, &tls);
  curl_easy_getinfo(t.easy, CURLINFO_NUM_CONNECTS, &connects);
  // The write (connect and TLS before it, as the Asio worker's write follows its connect).
  const bool written = t.write_ns != 0;
  const std::int64_t write_ns = written ? t.write_ns : t.add_ns;
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
    if (s_.open && written)
      for (sample_set* set : {&totals_, interval_.get()}) set->send_lag.record(write_ns - t.intended_ns);
    if (code == CURLE_OK) {
      curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
      curl_easy_getinfo(t.easy, CURLINFO_HEADER_SIZE, &head_bytes);
      curl_easy_getinfo(t.easy, CURLINFO_SIZE_DOWNLOAD_T, &size_down);
      curl_easy_getinfo(t.easy, CURLINFO_STARTTRANSFER_TIME_T, &start_transfer);
      response_outcome r;
      r.status = static_cast<int>(status);
      r.ok = s_.success.contains(r.status);
      r.wire_bytes = head_bytes + size_down;  // body bytes after transfer decoding (chunk framing not counted)
      r.intended_ns = t.intended_ns;
      r.write_ns = write_ns;
      r.first_byte_ns = t.head_ns != 0 ? t.head_ns : now;
      r.last_byte_ns = t.last_ns != 0 ? t.last_ns : now;
      for (sample_set* set : {&totals_, interval_.get()}) {
        record_response(*set, r);
        set->curl_start_transfer.record(start_transfer * 1000);
      }
      last_measured_end_ns_ = std::max(last_measured_end_ns_, r.last_byte_ns);
    } else {
      curl_easy_getinfo(t.easy, CURLINFO_OS_ERRNO, &os_errno);
      const err what = curl_error_class(code, os_errno, written);
      for (sample_set* set : {&totals_, interval_.get()}) {
        count_error(set->errors, what);
        // Given up at a timeout: a lower bound of its latency, as the Asio worker records it.
        if (what == err::read_timeout || what == err::connect_timeout)
          record_given_up(*set, t.intended_ns, write_ns, t.head_ns != 0 ? t.head_ns : now, now);
      }
      last_measured_end_ns_ = std::max(last_measured_end_ns_, now);
    }
  }
  t.measured = t.carried = false;
  next_for(t, code == CURLE_COULDNT_CONNECT || (code == CURLE_OPERATION_TIMEDOUT && !written));
}

// What a slot does after its request: open loop, the earliest queued arrival or back to the free
// list; closed loop, its next request after the think time.
void curl_worker::next_for(transfer& t, bool connect_failed) {
  if (phase_ == phase::draining || phase_ == phase::done) {
    if (phase_ == phase::draining) maybe_finish(now_ns());
    return;
  }
  if (s_.open) {
    if (!pending_.empty())
      start(t, pending_.pop());
    else
      free_.push_back(&t);
  } else {
    closed_loop_wait(t, connect_failed ? reconnect_backoff_ns : cfg_.think_time.count());
  }
}

// ---- the schedule ----

void curl_worker::run() {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // as the Asio worker: timer precision
  if (s_.open) {
    next_due_ = due_abs(schedule_.next());
    arm_arrival();
  } else {
    const std::int64_t now = now_ns();
    for (auto& t : slots_) closed_loop_wait(t, s_.run_start_ns - now);
  }
  arm_housekeeping();
  ioc_.run();
}

void curl_worker::arm_arrival() {
  if (next_due_ == never || next_due_ >= s_.measure_end_ns) return;
  // As the Asio worker: the timer fires spin_window early and the rest is polled.
  if (next_due_ - now_ns() < cfg_.spin_window.count()) {
    asio::post(ioc_, [this] {
      if (phase_ != phase::draining && phase_ != phase::done && send_due()) arm_arrival();
    });
    return;
  }
  arrival_timer_.expires_at(steady::time_point(nanos(next_due_ - cfg_.spin_window.count())));
  arrival_timer_.async_wait([this](const error_code& ec) {
    if (!ec && phase_ != phase::draining && phase_ != phase::done && send_due()) arm_arrival();
  });
}

bool curl_worker::send_due() {
  std::int64_t now = now_ns();
  while (next_due_ <= now && next_due_ < s_.measure_end_ns) {
    if (s_.in_window(next_due_) && quota_ > 0 && quota_used_ >= quota_) {
      begin_drain(false);
      return false;
    }
    const std::int64_t due = next_due_;
    if (s_.in_window(due)) ++quota_used_;
    next_due_ = due_abs(schedule_.next());
    issue(due);
    now = now_ns();
  }
  return true;
}

void curl_worker::issue(std::int64_t due) {
  if (transfer* t = free_slot())
    start(*t, due);
  else
    pending_.push(due);  // every slot busy (the connection cap): its clock is running
}

void curl_worker::closed_loop_wait(transfer& t, std::int64_t delay_ns) {
  const auto go = [this, &t] {
    if (phase_ == phase::draining || phase_ == phase::done) return;
    const std::int64_t now = now_ns();
    advance(now);
    if (now >= s_.measure_end_ns || (quota_ > 0 && quota_used_ >= quota_)) {
      begin_drain(false);
      return;
    }
    if (s_.in_window(now)) ++quota_used_;
    start(t, 0);
  };
  if (delay_ns <= 0) {
    asio::post(ioc_, go);  // not inside libcurl's completion processing
    return;
  }
  t.timer.expires_after(nanos(delay_ns));
  t.timer.async_wait([go](const error_code& ec) {
    if (!ec) go();
  });
}

// ---- phases and intervals (as the Asio worker: engine_asio_phases.cpp says why) ----

void curl_worker::advance(std::int64_t t) {
  if (phase_ == phase::warmup && t >= s_.measure_start_ns) enter_measured();
  while (interval_index_ < s_.intervals && phase_ != phase::warmup && t >= s_.interval_end(interval_index_))
    close_interval(s_.interval_end(interval_index_));
}

void curl_worker::enter_measured() {
  phase_ = phase::measured;
  for (auto& t : slots_)
    if (t.busy && !t.measured) {
      t.measured = t.carried = true;
      ++totals_.carried_in;
    }
  totals_.carried_in += static_cast<std::int64_t>(pending_.size());
}

void curl_worker::close_interval(std::int64_t end) {
  const std::int64_t start = s_.measure_start_ns + interval_index_ * second_ns;
  interval_->stalled = outstanding_since_before(start);
  const bool last_measured = interval_index_ + 1 >= s_.intervals || end < s_.interval_end(interval_index_);
  if (last_measured) {
    std::int64_t n = static_cast<std::int64_t>(pending_.count_before(s_.measure_start_ns));
    for (const auto& t : slots_) n += t.busy && t.carried ? 1 : 0;
    totals_.stalled = n;
  }
  hand_off(end, false, last_measured ? s_.intervals : interval_index_ + 1);
}

std::int64_t curl_worker::outstanding_since_before(std::int64_t t) const noexcept {
  std::int64_t n = static_cast<std::int64_t>(pending_.count_before(t));
  for (const auto& x : slots_) n += x.busy && x.intended_ns < t ? 1 : 0;
  return n;
}

void curl_worker::hand_off(std::int64_t end, bool last, std::int64_t next) {
  interval_->index = interval_index_;
  interval_->end_ns = end;
  interval_->in_flight = in_flight_ + static_cast<std::int64_t>(pending_.size());
  interval_ = s_.coll->hand_off(index_, std::move(interval_), last);
  interval_index_ = next;
}

void curl_worker::arm_housekeeping() {
  housekeeping_.expires_after(housekeeping_period);
  housekeeping_.async_wait([this](const error_code& ec) {
    if (!ec) on_housekeeping();
  });
}

// Timeouts are libcurl's (CURLOPT_TIMEOUT_MS); the tick ends phases and notices interrupts.
void curl_worker::on_housekeeping() {
  const std::int64_t now = now_ns();
  advance(now);
  if (phase_ != phase::draining) {
    if (interrupt_flag().load(std::memory_order_relaxed)) {
      interrupted_ = true;
      signals_at_interrupt_ = interrupt_signals();
      begin_drain(true);
    } else if (s_.stop_early.load(std::memory_order_relaxed) || now >= s_.measure_end_ns) {
      if (s_.open) send_due();  // arrivals already due go out, late, rather than unsent
      begin_drain(false);
    }
  } else if (interrupt_flag().load(std::memory_order_relaxed) &&
             (!interrupted_ || interrupt_signals() > signals_at_interrupt_)) {
    interrupted_ = true;  // Ctrl-C while draining: stop waiting
    drain_deadline_ns_ = now;
  }
  if (phase_ == phase::done) return;
  if (phase_ == phase::draining && maybe_finish(now)) return;
  arm_housekeeping();
}

void curl_worker::begin_drain(bool interrupted) {
  if (phase_ == phase::draining || phase_ == phase::done) return;
  interrupted_ = interrupted_ || interrupted;
  const bool in_warmup = phase_ == phase::warmup;
  const std::int64_t now = now_ns();
  if (!in_warmup) {
    advance(now);
    if (interval_index_ < s_.intervals) close_interval(now);
  } else {
    interval_index_ = s_.intervals;  // nothing of the warm-up is kept
  }
  phase_ = phase::draining;
  stop_ns_ = now;
  s_.coll->note_draining();
  drain_deadline_ns_ = stop_ns_ + s_.drain_after_stop_ns(in_warmup, interrupted_);
  arrival_timer_.cancel();
  // Measured arrivals never handed to libcurl are counted, not dropped (as the Asio worker).
  while (!pending_.empty()) {
    const std::int64_t due = pending_.pop();
    if (!in_warmup && due < s_.measure_end_ns)
      for (sample_set* set : {&totals_, interval_.get()}) record_unsent(*set, due, now);
  }
  const bool quota_reached = quota_ > 0 && quota_used_ >= quota_;
  while (s_.open && !quota_reached && next_due_ != never && next_due_ <= now && next_due_ < s_.measure_end_ns) {
    if (s_.in_window(next_due_))
      for (sample_set* set : {&totals_, interval_.get()}) record_unsent(*set, next_due_, now);
    next_due_ = due_abs(schedule_.next());
  }
  for (auto& t : slots_) t.timer.cancel();
}

bool curl_worker::maybe_finish(std::int64_t now) {
  if (phase_ != phase::draining) return false;
  if (in_flight_ > 0 && now < drain_deadline_ns_) return false;
  phase_ = phase::done;
  // Unanswered at the drain deadline: counted, and recorded as lower bounds of their latency.
  for (auto& t : slots_) {
    if (!t.busy) continue;
    if (t.measured)
      for (sample_set* set : {&totals_, interval_.get()}) {
        ++set->abandoned;
        record_given_up(*set, t.intended_ns, t.write_ns != 0 ? t.write_ns : t.add_ns, t.head_ns != 0 ? t.head_ns : now,
                        now);
      }
    curl_multi_remove_handle(multi_, t.easy);
    t.busy = false;
    --in_flight_;
  }
  hand_off(now, true, interval_index_);
  arrival_timer_.cancel();
  housekeeping_.cancel();
  curl_timer_.cancel();
  ioc_.stop();
  return true;
}

}  // namespace perflab::loadgen::detail::curl_engine

namespace perflab::loadgen::detail {

std::unique_ptr<load_worker> make_curl_worker(const shared_setup& s, int index, int workers,
                                              std::int64_t connections, std::int64_t quota) {
  return std::make_unique<curl_engine::curl_worker>(s, index, workers, connections, quota);
}

}  // namespace perflab::loadgen::detail
