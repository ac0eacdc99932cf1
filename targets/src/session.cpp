#include <perflab/targets/session.hpp>

#include <perflab/db/call.hpp>
#include <perflab/resilience/waiting_room.hpp>
#include <perflab/upstream/service.hpp>

#include <algorithm>
#include <cstring>
#include <new>

namespace perflab::targets {

namespace {

// Largest buffer a request may need: request line + headers + decoded body, and slack for the
// chunk framing not yet decoded and a pipelined request behind it. Framing already decoded is
// given back (request_parser::compact), so the body limit counts decoded bytes, however small
// the chunks.
std::size_t max_buffer(const http::request_limits& l) {
  return l.max_request_line + l.max_header_bytes + static_cast<std::size_t>(l.max_body) + 64 * 1024;
}

bool is_accept_encoding(std::string_view name) noexcept {
  constexpr std::string_view want = "accept-encoding";
  if (name.size() != want.size()) return false;
  for (std::size_t i = 0; i < want.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != want[i]) return false;
  }
  return true;
}

// The coding the request's Accept-Encoding field lines (one list, however many lines) accept
// among the policy's.
encode::coding accepted_coding(const http::request_parser& parser, const encode::policy& policy) noexcept {
  encode::accept_encoding accepted;
  for (const auto& h : parser.headers())
    if (is_accept_encoding(h.name)) encode::parse_accept(h.value, accepted);
  return encode::choose(accepted, policy.offered());
}

bool is_push(endpoint ep) noexcept {
  return ep == endpoint::publish || ep == endpoint::messages || ep == endpoint::poll || ep == endpoint::events ||
         ep == endpoint::ws;
}

}  // namespace

server_context::server_context(server_config c)
    : config(std::move(c)), cache(std::make_unique<cache::read_through>(config.cache)), contention(config.contention) {
  if (config.cache_prewarm > 0) cache->prewarm(config.cache_prewarm, now_ns());
  const bool blocking = config.which == model::thread_per_request || config.which == model::thread_pool;
  if (config.cache_remote && blocking) remote_pool = std::make_unique<cache::redis_pool>(*config.cache_remote, remote_stats);
  if (config.encoding.enabled() && config.encoding.static_bodies) encoded_bodies = std::make_unique<encode::static_cache>();
  if (config.rate_limit) limiter = std::make_unique<resilience::keyed_limiter>(*config.rate_limit);
  push = std::make_unique<push::hub>(config.push);
  if (config.upstream) upstream = std::make_unique<upstream::service>(*config.upstream);
  if (config.waiting_room) room = std::make_unique<resilience::waiting_room>(*config.waiting_room);
  if (config.fault_profile || config.admin) faults = std::make_unique<fault::injector>(config.fault_profile.value_or(fault::profile{}));
  if (config.auth.enabled()) auth = std::make_unique<auth_gate>(config.auth, blocking);
  if (config.db.given) database();  // before listening: an unreachable server stops the start
  if (contention::needs_server(config.contention.strategy)) contention.stocks();  // the same (redis, pg-*)
  contention.remote_keys();  // --idempotency-store redis:// or postgres://: the same
  contention.order_outbox();  // --outbox-db: the same
  contention.redis_jobs();    // --job-queue-backend redis: the same
}

server_context::~server_context() = default;

db::service& server_context::database() {
  std::call_once(db_once_, [this] {
    db_ = std::make_unique<db::service>(config.db);
    db_open_.store(db_.get(), std::memory_order_release);
  });
  return *db_;
}

void read_buffer::grow(std::size_t want, std::size_t keep, std::size_t max) {
  if (!lent_) {
    data_ = buffer_pool::local().lend_filled();
    lent_ = true;
  }
  std::size_t cap = data_.size();
  while (cap < want) cap *= 2;
  cap = std::min(cap, max);
  (void)keep;  // resize keeps every byte, the first keep among them
  if (cap > data_.size()) data_.resize(cap);
}

void read_buffer::release() noexcept {
  if (!lent_) return;
  lent_ = false;
  buffer_pool::local().give_back(data_);  // a buffer that grew past the pool's bound is freed
}

session::session(server_context& ctx) : ctx_(ctx) {
  if (ctx.config.link.enabled()) link_ = std::make_unique<encode::link_shaper>(ctx.config.link);
}

session::~session() {
  if (out_lent_) buffer_pool::local().give_back(out_);  // even with output unwritten: counted back
  // A connection that ends during a /sleep or an origin call (stop deadline, error) still ends
  // its request, and releases whoever waits for its origin call.
  if (waiting_) ctx_.stats.request_finished();
  if (waiting_ && cache_ && cache_->wait == cache_wait::origin) ctx_.cache->abandon(cache_->key, cache_->begin);
  leave_room();
  if (waiting_) end_contention();  // an order's key is freed for a retry
  end_push();                       // a held poll or a stream leaves its topic
}

std::span<char> session::read_space() noexcept {
  if (end_ == buf_.capacity() && started_) {
    // A chunked body fills the buffer: first take back the framing already decoded.
    end_ -= parser_->compact(std::span<char>(buf_.data() + begin_, end_ - begin_));
  }
  if (end_ == buf_.capacity()) {
    if (begin_ > 0) {
      // Move the partial request to the front; the parser re-bases its views on the next parse().
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    } else {
      try {
        buf_.grow(end_ + 1, end_, max_buffer(ctx_.config.limits));
      } catch (const std::bad_alloc&) {
        ctx_.stats.allocation_failed();
        return {};  // out of memory: the model closes the connection
      }
    }
  }
  return {buf_.data() + end_, buf_.capacity() - end_};
}

bool session::idle() const noexcept {
  // A lone CR may be the start of an empty line (CRLF) a client sends between requests.
  return begin_ == end_ || (!started_ && end_ - begin_ == 1 && buf_.data()[begin_] == '\r');
}

void session::commit(std::size_t n) noexcept {
  ctx_.stats.bytes_read(n);
  if (idle()) request_start_ns_ = now_ns();
  end_ += n;
}

std::int64_t session::read_deadline_ns() const noexcept {
  // A WebSocket stream reads frames, not requests: never the header deadline (and its 408).
  if (idle() || (push_ && push_->ws)) return now_ns() + std::chrono::nanoseconds(ctx_.config.idle_timeout).count();
  return request_start_ns_ + std::chrono::nanoseconds(ctx_.config.header_timeout).count();
}

bool session::keep_open(bool client_keep_alive) const noexcept {
  return client_keep_alive && !ctx_.stopping.load(std::memory_order_relaxed);
}

session::output_view session::output() const noexcept {
  output_view v;
  // A dripped body's held bytes are the output's tail: only what is released before them shows.
  std::uint64_t release = unwritten() - drip_held_;
  v.buffered = std::string_view(out_).substr(out_pos_, static_cast<std::size_t>(release));
  release -= v.buffered.size();
  if (release > 0) v.streamed = filler(stream_pos_, std::min<std::uint64_t>(stream_left_, release));
  return v;
}

void session::output_written(std::size_t n) noexcept {
  ctx_.stats.bytes_written(n);
  const std::size_t buffered = std::min(n, out_.size() - out_pos_);
  out_pos_ += buffered;
  n -= buffered;
  if (out_pos_ == out_.size()) return_output();  // written: the buffer goes back to the pool
  const auto streamed = std::min<std::uint64_t>(n, stream_left_);
  stream_left_ -= streamed;
  stream_pos_ += streamed;
}

void session::lend_output() noexcept {
  if (out_lent_) return;
  try {
    std::string b = buffer_pool::local().lend();
    b.append(out_, out_pos_);  // what a plain out_ still held (its memory was none of the pool's)
    out_.swap(b);
    out_pos_ = 0;
    out_lent_ = true;
  } catch (const std::bad_alloc&) {
    ctx_.stats.allocation_failed();  // out_ stays a plain string; appending to it may fail later
  }
}

void session::return_output() noexcept {
  if (out_pos_ != out_.size()) return;  // something is still to be written
  out_pos_ = 0;
  if (out_lent_) {
    out_lent_ = false;
    out_.clear();
    buffer_pool::local().give_back(out_);
  } else {
    std::string().swap(out_);
  }
}

void session::go_idle() noexcept {
  begin_ = end_ = 0;
  buf_.release();
  parser_.reset();
  return_output();  // unless a response is still to be written
}

void session::answer_error(int status, bool parse_error) noexcept {
  closing_ = true;
  lend_output();
  const std::size_t mark = out_.size();
  try {
    // A HEAD request gets no body (RFC 9110 9.3.2), even on an error. Read from the buffer,
    // not parser_->method(): the buffer may have moved since the last parse() re-based it.
    const bool head = end_ - begin_ >= 5 && std::memcmp(buf_.data() + begin_, "HEAD ", 5) == 0;
    std::string detail;
    if (parse_error) detail = http::make_error_code(parser_->error()).message();
    write_error(status, out_, head, detail);
  } catch (...) {
    out_.resize(mark);  // no memory even for the error page: the connection just closes
    ctx_.stats.allocation_failed();
  }
  ctx_.stats.record(endpoint::invalid, status, std::chrono::nanoseconds(0));
}

bool session::on_timeout() noexcept {
  if (idle() || closing_ || (push_ && push_->ws)) return false;  // no 408 inside a WebSocket stream
  answer_error(408);
  return true;
}

void session::maybe_send_continue() noexcept {
  // A client that sent "Expect: 100-continue" waits for this before sending the body (curl
  // waits a second otherwise). Once per request, when the head is there and the body is not.
  if (continue_sent_ || !parser_->head_complete() || !parser_->expect_continue()) return;
  lend_output();
  try {
    out_.append("HTTP/1.1 100 Continue\r\n\r\n");
  } catch (...) {
    ctx_.stats.allocation_failed();  // the client sends the body after its own wait anyway
  }
  continue_sent_ = true;
}

void session::skip_empty_lines() noexcept {
  // RFC 9112 2.2: a server ignores empty lines before a request line (some clients send a CRLF
  // after a body). Skipped here so they neither start a header deadline nor count as a request.
  if (started_) return;
  const char* b = buf_.data();
  while (begin_ < end_) {
    if (b[begin_] == '\n') {
      ++begin_;
    } else if (b[begin_] == '\r' && begin_ + 1 < end_ && b[begin_ + 1] == '\n') {
      begin_ += 2;
    } else {
      break;
    }
  }
}

void session::respond(const dispatch& d, const request_view& req, bool keep, std::int64_t start) noexcept {
  cors_decided_ = false;  // the next request is decided afresh
  const response_context rctx{.stats = &ctx_.stats,
                              .model = to_string(ctx_.config.which),
                              .cache = ctx_.cache.get(),
                              .remote = ctx_.config.cache_remote ? &ctx_.remote_stats : nullptr,
                              .cached = cache_ ? &cache_->reply : nullptr,
                              .encoding = &ctx_.config.encoding,
                              .encode_stats = &ctx_.encode_stats,
                              .db = ctx_.database_if_open(),
                              .db_result = db_ ? &db_->reply : nullptr,
                              .encoded_bodies = ctx_.encoded_bodies.get(),
                              .limiter = ctx_.limiter.get(),
                              .proxied = proxy_ ? &proxy_->reply : nullptr,
                              .upstream = ctx_.upstream.get(),
                              .room = ctx_.room.get(),
                              .contention = &ctx_.contention,
                              .contended = is_push(d.ep) ? (push_ ? &push_->reply : nullptr)
                                                         : contention_ ? &contention_->reply
                                                                       : nullptr,
                              .push = ctx_.push.get(),
                              .faults = ctx_.faults.get(),
                              .auth = ctx_.auth.get(),
                              .api = &ctx_.api_stats,
                              .cors = ctx_.config.cors ? &ctx_.cors_stats : nullptr,
                              .fields = cors_fields_};  // --cors: an allowed Origin's Access-Control-Allow-Origin
  lend_output();
  const std::size_t mark = out_.size();
  response_info info;
  try {
    info = write_response(d, req, keep, rctx, out_);
    if (rate_ && !rate_->headers.empty()) {
      // The limiter's lines go in every response it decided, whatever wrote its head.
      if (const auto head_end = out_.find("\r\n\r\n", mark); head_end != std::string::npos)
        out_.insert(head_end + 2, rate_->headers);
    }
    if (room_ && !room_->headers.empty()) {
      if (const auto head_end = out_.find("\r\n\r\n", mark); head_end != std::string::npos)
        out_.insert(head_end + 2, room_->headers);
      room_->headers.clear();
    }
  } catch (...) {
    // std::bad_alloc while building the body: drop the partial response, answer 503 and close.
    out_.resize(mark);
    ctx_.stats.allocation_failed();
    info = {503, 0};
    keep = false;
    try {
      write_error(503, out_);
    } catch (...) {
      out_.resize(mark);
    }
  }
  cors_fields_.clear();
  leave_room();  // the next waiter's turn
  if (fault_ && fault_->decision.reset_after) {
    drop_response(mark, info);  // --fault-profile's reset-after (session_fault.cpp)
    keep = false;
  }
  ctx_.stats.request_finished();
  ctx_.stats.record(d.ep, info.status, std::chrono::nanoseconds(now_ns() - start));
  ++answered_;
  stream_left_ = info.stream;
  stream_pos_ = 0;
  if (fault_ && fault_->decision.drip_bytes > 0) hold_body(mark);  // --fault-profile's drip (session_fault.cpp)
  if (!keep) closing_ = true;
}

session::step session::process() noexcept {
  if (cache_ && cache_->next != cache_next::none) {  // a /cache request's next part (session_cache.cpp)
    if (auto st = continue_cache()) return *st;
  }
  if (push_ && push_->streaming) return stream_step();  // an SSE stream is the connection's last response
  if (push_ && push_->ws) return ws_step();             // so is a WebSocket stream
  for (;;) {
    if (drip_held_ > 0) {  // a dripped body goes out before anything else
      if (auto st = next_drip()) return *st;
    }
    if (closing_) return {aborting() ? next::reset : next::close};
    skip_empty_lines();
    if (idle()) {
      // Nothing buffered: the connection waits with no buffer (the next read borrows one).
      if (begin_ == end_ && !waiting_) go_idle();
      if (ctx_.stopping.load(std::memory_order_relaxed)) return {next::close};
      return {next::read};
    }
    // Pipelined requests wait until the client has taken most of what is already answered, so
    // a client that sends many requests and reads nothing cannot make the server hold all the
    // responses. A streamed body must be written before anything can follow it.
    if (stream_left_ > 0 || unwritten() > output_bound) return {next::more};

    http::parse_status status;
    try {
      // The parser exists only while a request is being read and answered (see go_idle()).
      if (!parser_) parser_ = std::make_unique<http::request_parser>(ctx_.config.limits);
      started_ = true;
      status = parser_->parse(std::span<char>(buf_.data() + begin_, end_ - begin_));
    } catch (const std::bad_alloc&) {  // no memory for the parser or its header table
      ctx_.stats.allocation_failed();
      answer_error(503);
      continue;
    }
    if (status == http::parse_status::need_more) {
      if (end_ - begin_ >= max_buffer(ctx_.config.limits)) {
        // The parser's limits stop a request before this; never spin on a full buffer anyway.
        answer_error(parser_->head_complete() ? 413 : 431);
        continue;
      }
      maybe_send_continue();
      return {next::read};
    }
    if (status == http::parse_status::error) {
      // The framing can no longer be trusted: answer and close.
      answer_error(parser_->error_status(), true);
      continue;
    }

    std::int64_t start = now_ns();
    request_view req{parser_->method(), parser_->path(),          parser_->query(),
                     parser_->body(),   parser_->version_minor(), parser_->keep_alive()};
    // Only when compression is on: otherwise the header list is not even walked.
    if (ctx_.config.encoding.enabled()) req.accepted = accepted_coding(*parser_, ctx_.config.encoding);
    dispatch d = resolve(req.method, req.path, req.query);
    const bool keep = keep_open(req.keep_alive);
    const std::size_t consumed = parser_->consumed();
    continue_sent_ = false;
    // A CORS preflight (session_cors.cpp) and /admin/* (session_fault.cpp) are answered here,
    // neither limited nor faulted. CORS is decided once per request (a request comes back here
    // after each wait: auth's lookup, the limiter's, the room's, the fault's).
    const bool preflight = ctx_.config.cors && !cors_decided_ && answer_cors(d, req, keep, start);
    const bool admin = !preflight && ctx_.config.admin && req.path.starts_with("/admin/");
    if (admin) answer_admin(req, keep, start);
    if (preflight || admin) {
      next_request(consumed, start);
      continue;
    }
    if (ctx_.auth) {  // --auth (session_auth.cpp): credentials before anything else decides
      const auto a = authenticate(d, req, keep, start);
      if (a == auth_step::wait) return {next::call};  // session-redis's lookup, then this request again
      if (a == auth_step::answered) {
        next_request(consumed, start);
        continue;
      }
    }
    // The front door first (the limiter, then the waiting room), each decided once per request
    // (a request comes back here after each wait: the limiter's, the room's, the fault's); then
    // the faults, which play the dependency behind it.
    // The front door changes a request's status only to refuse it (429, 503).
    const int routed_status = d.status;
    if (ctx_.limiter && !room_waiting() && !fault_delayed()) {
      if (auto st = rate_limit(d, start)) return *st;  // a leaky bucket's delay, then this request again
    }
    if (ctx_.room && d.status == 200 && !fault_delayed()) {
      if (auto st = enter_room(d, start)) return *st;  // queued: the wait, then this request again
    }
    if (ctx_.faults) {
      const bool refused = d.status != routed_status;
      if (auto st = apply_fault(d, req.path, refused, start)) return *st;  // a latency wait, or a reset
    }
    if (auth_) auth_->passed = false;  // the handler starts: the next request is checked again
    ctx_.stats.request_started();
    if (d.status == 200) make_feature_state(d);  // no memory for it: d is a 503 now

    if (d.ep == endpoint::sleep && d.status == 200) {
      defer(d, req, keep, start, consumed);  // the wait is the model's
      return {next::wait, std::chrono::milliseconds(d.arg)};
    }
    if (d.ep == endpoint::cache && d.status == 200) {
      cache_->key.assign(d.key);  // within max_cache_key: no allocation once the buffer has grown
      defer(d, req, keep, start, consumed);
      if (auto st = start_cache_lookup()) return *st;
      if (begin_ != end_) request_start_ns_ = start;  // answered from the cache; see below
      continue;
    }
    if (d.status == 200 && (d.ep == endpoint::db_query || d.ep == endpoint::items || d.ep == endpoint::db_terminate)) {
      defer(d, req, keep, start, consumed);
      if (auto st = start_db(d)) return *st;
      if (begin_ != end_) request_start_ns_ = start;  // answered at once; see below
      continue;
    }
    if (d.status == 200 && d.ep == endpoint::proxy) {
      if (auto st = start_proxy(d, req)) {  // the call copies what it needs of the request first
        defer(d, req, keep, start, consumed);
        return *st;
      }
    }
    if (d.status == 200 && (d.ep == endpoint::stock || d.ep == endpoint::stock_buy || d.ep == endpoint::orders ||
                            d.ep == endpoint::jobs || d.ep == endpoint::job)) {
      if (auto st = start_contention(d, req)) {  // a single-writer buy or an order's work first
        defer(d, req, keep, start, consumed);
        return *st;
      }
    }
    if (d.status == 200 && (d.ep == endpoint::publish || d.ep == endpoint::messages || d.ep == endpoint::poll ||
                            d.ep == endpoint::events || d.ep == endpoint::ws)) {
      if (auto st = start_push(d, req, start)) {
        if (push_->ws) {  // the 101 is out; the bytes after the handshake are the client's first frames
          parser_->reset();
          started_ = false;
          begin_ += consumed;
          if (begin_ == end_) begin_ = end_ = 0;
          return *st;
        }
        if (push_->streaming) {  // the stream's head is out; nothing after this request is read
          parser_->reset();
          started_ = false;
          begin_ = end_ = 0;
          return *st;
        }
        defer(d, req, keep, start, consumed);  // a long poll held until a message or its timeout
        return *st;
      }
    }
    if (d.status == 200 && d.ep == endpoint::cache_delete) cache_->reply.erased = ctx_.cache->erase(d.key);
    if (d.status == 200 && d.ep == endpoint::cache_purge) cache_->reply.purged = ctx_.cache->purge();
    if (d.status == 200 && (d.ep == endpoint::cache_delete || d.ep == endpoint::cache_purge) && ctx_.config.cache_remote)
      return start_remote_invalidation(d, req, keep, start, consumed);  // Redis too, then the answer

    respond(d, req, keep, start);
    parser_->reset();
    started_ = false;
    begin_ += consumed;
    if (begin_ == end_) {
      begin_ = end_ = 0;
    } else {
      request_start_ns_ = start;  // a pipelined request follows; its header deadline starts now
    }
  }
}

void session::next_request(std::size_t consumed, std::int64_t start) noexcept {
  cors_decided_ = false;
  parser_->reset();
  started_ = false;
  begin_ += consumed;
  if (begin_ == end_) begin_ = end_ = 0;
  else request_start_ns_ = start;
}

bool session::make_feature_state(dispatch& d) noexcept {
  try {
    switch (d.ep) {
      case endpoint::cache:
      case endpoint::cache_delete:
      case endpoint::cache_purge:
        made(cache_);
        if (d.ep == endpoint::cache && ctx_.config.db.given) made(db_);  // the origin is a query
        break;
      case endpoint::db_query:
      case endpoint::items:
      case endpoint::db_terminate: made(db_); break;
      case endpoint::proxy:
        if (ctx_.upstream) made(proxy_);
        break;
      case endpoint::stock:
      case endpoint::stock_buy:
      case endpoint::orders:
      case endpoint::jobs:
      case endpoint::job: made(contention_); break;
      case endpoint::publish:
      case endpoint::messages:
      case endpoint::poll:
      case endpoint::events:
      case endpoint::ws: made(push_); break;
      default: break;
    }
    return true;
  } catch (const std::bad_alloc&) {
    ctx_.stats.allocation_failed();
    d.status = 503;
    return false;
  }
}

void session::defer(const dispatch& d, const request_view& req, bool keep, std::int64_t start,
                    std::size_t consumed) noexcept {
  waiting_ = true;
  pending_ = d;
  pending_.key = {};
  pending_minor_ = static_cast<std::uint8_t>(req.version_minor);
  pending_accepted_ = req.accepted;
  pending_keep_alive_ = keep;
  pending_start_ns_ = start;
  started_ = false;
  begin_ += consumed;
  if (begin_ == end_) {  // nothing behind it: the wait holds no read buffer
    begin_ = end_ = 0;
    buf_.release();
    parser_.reset();
  } else {
    parser_->reset();
  }
}

void session::finish_wait() noexcept {
  if (!waiting_) return;
  if (cache_ && cache_->wait != cache_wait::none && !finish_cache_wait()) return;  // retried at the next process()
  if (db_ && db_->waiting) finish_db();
  if (proxy_ && proxy_->waiting) finish_proxy();
  if (push_ && push_->waiting) finish_push();
  if (contention_ && contention_->wait != contention_wait::none) finish_contention();
  waiting_ = false;
  // A stop that came during the wait turns this into the connection's last response.
  respond(pending_, pending_request(), keep_open(pending_keep_alive_), pending_start_ns_);
  // A request pipelined behind the wait: its header deadline starts now, not when the waiting
  // request came in (a long /sleep would otherwise time it out at once with a 408).
  if (begin_ != end_) request_start_ns_ = now_ns();
}

}  // namespace perflab::targets
