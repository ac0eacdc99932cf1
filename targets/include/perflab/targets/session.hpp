#pragma once
// One HTTP/1.1 connection without the I/O ("sans-I/O"): the model reads bytes into
// read_space(), commits them, and calls process(), which parses the buffered requests
// (pipelining), answers them in order into output(), and says what the connection must do next:
// read more, wait (the /sleep handler's wait, which the model supplies), close, or come back for
// more once the output is written. Every model runs the same loop:
//
//     for (;;) {
//       step s = sess.process();
//       while (sess.output_pending()) { write some of sess.output(); sess.output_written(n); }
//       switch (s.what) { read: read into read_space(), commit(n);
//                         wait: wait s.wait, finish_wait();  close: close;  more: (loop)
//                         reset: abort (RST)
//                         join: wait for sess.joined_flight(), finish_wait()
//                         remote: run sess.remote_request() on Redis, finish_remote(), finish_wait() }
//     }
//
// so a difference between models comes from the concurrency alone. Writes have a deadline on
// progress: a connection whose client takes no byte for config.send_timeout is closed.
//
// Memory per connection stays bounded whatever the client sends: pipelined requests are answered
// only while less than output_bound bytes wait to be written (nginx answers them one at a time),
// large /bytes bodies are streamed from a shared block, and buffers that grew past keep_capacity
// for one large request or response are released once it is done. An allocation that fails
// becomes a 503 with Connection: close (or a close when even that cannot be built), counted in
// metrics; no exception leaves process() or finish_wait().
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <perflab/cache/read_through.hpp>
#include <perflab/cache/redis_pool.hpp>
#include <perflab/cache/remote.hpp>
#include <perflab/contention/service.hpp>
#include <perflab/core/clock.hpp>
#include <perflab/core/http.hpp>
#include <perflab/db/service.hpp>
#include <perflab/encode/link.hpp>
#include <perflab/encode/static_cache.hpp>
#include <perflab/encode/stats.hpp>
#include <perflab/fault/injector.hpp>
#include <perflab/push/hub.hpp>
#include <perflab/push/websocket.hpp>
#include <perflab/resilience/limiter.hpp>
#include <perflab/targets/buffer_pool.hpp>
#include <perflab/targets/config.hpp>
#include <perflab/targets/handlers.hpp>
#include <perflab/targets/metrics.hpp>

namespace perflab::db {
class call;  // perflab/db/call.hpp: included by the models that run it (it brings in Asio)
}
namespace perflab::upstream {
class service;  // perflab/upstream/service.hpp
}
namespace perflab::resilience {
class waiting_room;  // perflab/resilience/waiting_room.hpp
}
namespace boost::asio {
class io_context;
}

namespace perflab::targets {

// State shared by all connections of one server.
struct server_context {
  // Builds the cache from config.cache and pre-warms it (config.cache_prewarm).
  explicit server_context(server_config c);
  ~server_context();
  server_config config;
  metrics stats;
  std::unique_ptr<cache::read_through> cache;  // /cache/{key}'s cache and origin (always present)
  cache::remote_stats remote_stats;            // the remote cache's counters (all its clients)
  // The blocking models' Redis client (config.cache_remote with a thread model; the event-loop
  // models have one asynchronous client per loop instead).
  std::unique_ptr<cache::redis_pool> remote_pool;
  encode::stats encode_stats;                  // response compression counters (/metrics)
  std::unique_ptr<encode::static_cache> encoded_bodies;  // --gzip-static's cache (null: off)
  std::unique_ptr<resilience::keyed_limiter> limiter;    // --rate-limit (null: none)
  std::unique_ptr<upstream::service> upstream;           // --upstream: /proxy's client (null: none)
  std::unique_ptr<resilience::waiting_room> room;        // --waiting-room (null: none)
  contention::service contention;  // /stock, /orders, /jobs (each part built at its first use)
  std::unique_ptr<push::hub> push;  // /publish, /messages, /poll, /events (always present)
  std::unique_ptr<fault::injector> faults;               // --fault-profile or --admin (null: neither)
  std::unique_ptr<auth_gate> auth;                       // --auth (null: none)
  api::api_stats api_stats;  // /api/orders/{id} and /graphql (/metrics)
  cors::stats cors_stats;    // --cors: preflights and CORS requests (/metrics)
  std::atomic<bool> stopping{false};  // graceful stop: answer what is in flight, then close

  // The database and its pool: opened here when --db was given (throws db::unavailable when it
  // cannot be reached), else at the first /db request (then it may throw std::bad_alloc).
  db::service& database();
  // Null until the database is open (for /metrics).
  const db::service* database_if_open() const noexcept { return db_open_.load(std::memory_order_acquire); }

 private:
  std::once_flag db_once_;
  std::unique_ptr<db::service> db_;
  std::atomic<db::service*> db_open_{nullptr};
};

// A connection's read buffer: none while the connection is idle; a buffer_pool block (4 KiB)
// when bytes arrive, doubled when a request needs more, up to max; given back to the pool once
// nothing is buffered. It may move when it grows or compacts: the request parser re-bases its
// views on the next parse().
class read_buffer {
 public:
  static constexpr std::size_t initial_capacity = buffer_pool::block_size;
  read_buffer() = default;
  ~read_buffer() { release(); }
  read_buffer(const read_buffer&) = delete;
  read_buffer& operator=(const read_buffer&) = delete;
  char* data() noexcept { return data_.data(); }
  const char* data() const noexcept { return data_.data(); }
  // 0 while no buffer is lent.
  std::size_t capacity() const noexcept { return lent_ ? data_.size() : 0; }
  // Grows to at least want bytes (capped at max), keeping the first keep bytes; the first call
  // borrows the buffer from this thread's pool. Throws std::bad_alloc.
  void grow(std::size_t want, std::size_t keep, std::size_t max);
  // Gives the buffer back (nothing may be buffered in it any more).
  void release() noexcept;

 private:
  std::string data_;
  bool lent_ = false;
};

// Work a parked request waits for (next::call): a /proxy call, a place in the waiting room. The
// model runs it its own way: blocking on a thread model; on an event loop, asynchronously on the
// loop's io_context, done(keep) coming on the loop when it is over (maybe before async_run
// returns). keep is the connection: every pending wait holds it; done must not own it.
class deferred {
 public:
  virtual ~deferred() = default;
  virtual void run_blocking() = 0;
  using done_fn = std::function<void(std::shared_ptr<void> keep)>;
  virtual void async_run(boost::asio::io_context& ioc, std::shared_ptr<void> keep, done_fn done) = 0;
};

class session {
 public:
  enum class next {
    read,   // write the output, then read more
    wait,   // write the output, wait step.wait (the model's /sleep), finish_wait(), process()
    close,  // write the output, then close (lingering: see the models)
    reset,  // close at once with a TCP reset (SO_LINGER {1, 0}, then close): a fault's reset,
            // which the client sees as ECONNRESET, never as an orderly end (FIN)
    more,   // write the output, then process() again: requests wait behind the unwritten output
    join,   // write the output, wait until joined_flight() ends (another request's origin call for
            // the same key: blocking flight::wait, or flight::subscribe on an event loop), then
            // finish_wait(), process()
    db,     // write the output, run db_call() (blocking run_blocking, or async_run on an event
            // loop), then finish_wait(), process()
    remote,  // write the output, run remote_request() on the remote cache (redis_pool blocking, or
             // redis_asio on an event loop), hand its result to finish_remote(), then
             // finish_wait(), process()
    call,  // write the output, run deferred_call() (blocking run_blocking, or async_run on an event
           // loop), then finish_wait(), process()
    handoff,  // write the output, wait until handoff() is answered by the thread it was handed to
              // (the single-writer stock's owner, a job worker: handoff::wait, or subscribe with
              // a post back to the loop), then finish_wait(), process()
  };
  struct step {
    next what = next::read;
    std::chrono::microseconds wait{0};  // next::wait: how long (/sleep, a cache miss's origin call)
  };
  // The next bytes to write: buffered response bytes, then a slice of a streamed body (either
  // may be empty). Write them in that order, in one gather write or two.
  struct output_view {
    std::string_view buffered;
    std::string_view streamed;
    bool empty() const noexcept { return buffered.empty() && streamed.empty(); }
    std::size_t size() const noexcept { return buffered.size() + streamed.size(); }
  };

  // process() answers no further pipelined request while more than this waits to be written.
  static constexpr std::size_t output_bound = 32 * 1024;
  // A response or read buffer that grew past this is released when it is no longer needed.
  static constexpr std::size_t keep_capacity = 64 * 1024;

  explicit session(server_context& ctx);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // Where the next read goes (never empty while process() asks for a read, unless memory ran
  // out: then the model closes the connection).
  std::span<char> read_space() noexcept;
  // The connection's socket, once, before the first process(): its peer address keys
  // --rate-limit's key=ip (getpeername; nothing is read otherwise).
  void set_peer(int fd) noexcept;

  // n bytes arrived in read_space().
  void commit(std::size_t n) noexcept;
  // Answers buffered requests (see the file comment).
  step process() noexcept;
  // After a wait or join step: append the deferred response; then call process() again.
  void finish_wait() noexcept;
  // During a join step: the origin call this connection waits for (valid until finish_wait()).
  cache::flight* joined_flight() const noexcept { return cache_->begin.shared.get(); }
  // During a db step: the database call to run (valid until finish_wait()).
  db::call* db_call() const noexcept { return db_ ? db_->call.get() : nullptr; }
  // During a call step: what to run (valid until finish_wait()).
  deferred* deferred_call() const noexcept { return call_; }
  // During a remote step: what to ask the remote cache (views valid until finish_wait()).
  const cache::remote_request& remote_request() const noexcept { return cache_->remote_req; }
  // During a handoff step: the buy or job another thread answers (valid until finish_wait()).
  contention::handoff* handoff() const noexcept { return contention_->handoff.get(); }
  // The remote step's result (value: a get's hit, copied); then finish_wait().
  void finish_remote(cache::remote_status st, std::string_view value) noexcept;

  output_view output() const noexcept;
  // n bytes of output() were written (n may be less than it held).
  void output_written(std::size_t n) noexcept;
  bool output_pending() const noexcept { return unwritten() > drip_held_; }

  // No request is partly buffered (nothing, or only empty lines a client may send between
  // requests): an idle keep-alive wait, not a header wait.
  bool idle() const noexcept;
  // When the first byte of the buffered partial request arrived (valid if !idle()).
  std::int64_t request_started_ns() const noexcept { return request_start_ns_; }
  // The read deadline, in now_ns() time: header timeout from the request's first byte if a
  // request is partly read, else the idle timeout from now.
  std::int64_t read_deadline_ns() const noexcept;
  // The read deadline passed. With a partial request buffered, appends 408 (and the connection
  // must close after writing it); returns whether a response was written.
  bool on_timeout() noexcept;

  std::size_t requests_answered() const noexcept { return answered_; }
  // Bytes of buffer this connection holds now (read and response buffers).
  std::size_t buffer_capacity() const noexcept { return buf_.capacity() + out_.capacity(); }
  // Whether the connection holds a read buffer now. An idle one holds none: its model may wait
  // for the socket to be readable before it calls read_space() (nginx's idle wait).
  bool holds_read_buffer() const noexcept { return buf_.capacity() > 0; }
  // The connection's slow link (--link-rate, --link-latency), made with the session when one is
  // configured; null otherwise. Every model paces its writes through it.
  encode::link_shaper* link() noexcept { return link_.get(); }

 private:
  void respond(const dispatch& d, const request_view& req, bool keep, std::int64_t start) noexcept;
  // Appends an error response (no body for HEAD; the parser's message in it for parse errors)
  // and makes this the connection's last.
  void answer_error(int status, bool parse_error = false) noexcept;
  void maybe_send_continue() noexcept;
  void skip_empty_lines() noexcept;
  bool keep_open(bool client_keep_alive) const noexcept;
  // Keeps what a deferred response needs (not views into the buffer) and consumes the request.
  void defer(const dispatch& d, const request_view& req, bool keep, std::int64_t start, std::size_t consumed) noexcept;
  // GET/HEAD /cache/{key} (session_cache.cpp): a hit is answered at once (nullopt); a miss
  // returns the wait for its origin call, or the join of another request's call.
  std::optional<step> start_cache_lookup() noexcept;
  // With a remote cache: the local store (if any), then a remote get.
  std::optional<step> start_remote_lookup() noexcept;
  // A leader's origin call: the --origin-latency wait, or with --db a query through the pool.
  std::optional<step> origin_step() noexcept;
  // The next part of a /cache request after a wait that did not end it (cache_next_).
  std::optional<step> continue_cache() noexcept;
  // DELETE /cache/{key} and PURGE /cache with a remote cache: the local part is done; the remote
  // one is a remote step, answered in finish_cache_wait.
  step start_remote_invalidation(const dispatch& d, const request_view& req, bool keep, std::int64_t start,
                                 std::size_t consumed) noexcept;
  // After the wait or join: the response from the origin's value (false: the flight was
  // abandoned, the lookup starts again at the next process()).
  bool finish_cache_wait() noexcept;
  // /db/query, /items/{id}, /db/terminate (session_db.cpp): a call prepared for the model to
  // run (next::db), or nullopt when answered at once (terminate; no database: 503).
  std::optional<step> start_db(const dispatch& d) noexcept;
  // After the call: its status and body for the response.
  void finish_db() noexcept;
  // /proxy/{path} (session_proxy.cpp): the call prepared from the parsed request (before defer()
  // consumes it) and the upstream step; nullopt when answered at once (no --upstream: 404).
  std::optional<step> start_proxy(dispatch& d, const request_view& req) noexcept;
  void finish_proxy() noexcept;
  // --waiting-room (session_room.cpp): admitted (nullopt, in_room_ set), refused or timed out
  // (d becomes a 503 with Retry-After), or queued: the wait to run (the request stays parsed and
  // is handled by the process() after it). leave_room(): the request in service is answered.
  std::optional<step> enter_room(dispatch& d, std::int64_t& start) noexcept;
  void leave_room() noexcept;
  // --rate-limit (session_limit.cpp): the decision for the parsed request, its headers kept in
  // rate_headers_ for its response. Refused: d becomes a 429. Delayed: the wait to return (the
  // request stays parsed and is handled by the process() after it).
  std::optional<step> rate_limit(dispatch& d, std::int64_t& start) noexcept;
  std::string_view rate_key() const noexcept;
  // /stock, /orders, /jobs (session_contention.cpp): the reply worked out at once (nullopt), or
  // the wait it needs first (a single-writer buy or a --job-reply done job: handoff; an order's
  // work: wait), after which
  // finish_contention() works it out. end_contention(): the connection ended during the wait.
  std::optional<step> start_contention(const dispatch& d, const request_view& req) noexcept;
  std::optional<step> decide_contention(const dispatch& d, const request_view& req) noexcept;
  void finish_contention() noexcept;
  void end_contention() noexcept;
  // The reply of a keyed order that does no work: replay (marked), in flight (409), mismatch (422).
  // The Redis job queue's answer (POST /jobs, or GET /jobs/{id} when lookup) as the reply (may throw bad_alloc).
  void finish_redis_job(bool lookup);
  void no_work_reply(contention::idempotency_store::verdict v, contention::idempotency_store::stored_response&& stored);
  // /publish, /messages, /poll, /events (session_push.cpp): answered at once (nullopt, the reply in
  // contention_reply_), a long poll held (next::call: then finish_push()), or an SSE stream begun
  // (its head written, streaming_ set: the step of its first wait or its end).
  std::optional<step> start_push(dispatch& d, const request_view& req, std::int64_t start) noexcept;
  void write_messages(std::string_view topic, const push::hub::read_result& r);
  void finish_push_reply() noexcept;
  // After a long poll's wait: the messages it got (none: timed out) as its reply.
  void finish_push() noexcept;
  // The connection ends (or a stream does): its subscription leaves the hub.
  void end_push() noexcept;
  void start_stream(const request_view& req, std::int64_t start, bool gap);
  // A stream's next part: the events queued since (or a heartbeat), then the wait for more; or its end.
  step stream_step() noexcept;
  // GET /ws/{topic} (session_ws.cpp): whether the request is a valid WebSocket handshake (else
  // its 4xx is in contention_reply_); the 101 and the stream's start; a stream's next part: the
  // client's frames answered, the messages queued since as text frames (or a ping after a
  // heartbeat of silence), then the wait for more or for the client's next bytes; or its end.
  bool ws_handshake() noexcept;
  void start_ws(const request_view& req, std::int64_t start, std::shared_ptr<push::subscription> sub);
  step ws_step() noexcept;
  // The client's buffered frames: pongs, the close handshake, or a close for a malformed frame.
  void ws_read_frames() noexcept;
  // --fault-profile (session_fault.cpp): the parsed request's fault. A latency: the wait to
  // return (the request stays parsed and is handled by the process() after it, not decided
  // again). A reset: abort the connection without a response (next::reset). An error: d becomes
  // that status. A drip: kept in fault_ for respond(), which holds the body back for next_drip().
  // A reset-after: kept for respond(), which lets the handler run and drops its response
  // (drop_response()), so the connection ends with next::reset after the work was done.
  // refused: the front door (rate limiter, waiting room) turned the request away, so it never
  // reached the "dependency": no decision. Each fault is counted when applied, not when decided.
  std::optional<step> apply_fault(dispatch& d, std::string_view path, bool refused, std::int64_t& start) noexcept;
  // /admin/* with --admin: POST /admin/fault (body: a spec) sets the profile, GET shows it.
  void answer_admin(const request_view& req, bool keep, std::int64_t start) noexcept;
  // A request answered before routing (admin, auth) is consumed; the next one's deadline starts.
  void next_request(std::size_t consumed, std::int64_t start) noexcept;
  // --auth (session_auth.cpp): the parsed request's credentials, checked before the front door.
  // pass: go on (also for /metrics, /health, and a request back from a later wait). answered: a
  // 401 (or 503, or POST /auth/login's answer) is in the output. wait: session-redis asks Redis
  // (next::call); the request stays parsed and the process() after it decides, timed from its
  // arrival.
  enum class auth_step : std::uint8_t { pass, answered, wait };
  auth_step authenticate(const dispatch& d, const request_view& req, bool keep, std::int64_t& start) noexcept;
  auth_step auth_refuse(auth::errc why, const request_view& req, bool keep, std::int64_t start, endpoint ep) noexcept;
  auth_step auth_login(const request_view& req, bool keep, std::int64_t start) noexcept;
  auth_step auth_logged_in(bool stored, const request_view& req, bool keep, std::int64_t start) noexcept;
  void write_auth_answer(int status, std::string_view headers, std::string_view body, const request_view& req, bool keep,
                         std::int64_t start, endpoint ep) noexcept;
  // --cors (session_cors.cpp): a preflight is answered here (true: 204 or 403, the request is
  // done); another request with an Origin keeps its response fields in cors_fields_ for respond().
  bool answer_cors(const dispatch& d, const request_view& req, bool keep, std::int64_t start) noexcept;
  // A dripped body: releases its next slice to output(); the wait until the slice after it, or
  // nullopt once the body is all out.
  std::optional<step> next_drip() noexcept;
  // respond()'s part of a drip: the body after the head at out_[mark..] (and any streamed part)
  // is held back where it is (drip_held_), never copied: a /bytes body may be 64 MiB.
  void hold_body(std::size_t mark) noexcept;
  // respond()'s part of a reset-after: the response at out_[mark..] is dropped, the request
  // recorded with status "other" (no answer reached the client), and the connection set to abort.
  void drop_response(std::size_t mark, response_info& info) noexcept;
  bool aborting() const noexcept { return fault_ && fault_->aborting; }
  std::size_t unwritten() const noexcept { return out_.size() - out_pos_ + stream_left_; }
  // The response buffer from this thread's pool before a response may be appended (without
  // one, out_ grows as a plain string), and back once everything in it is written.
  void lend_output() noexcept;
  void return_output() noexcept;
  // Nothing buffered, nothing to write, no wait: give back the buffers and free the parser.
  void go_idle() noexcept;

  // State of the features a request may use besides the plain endpoints, each made at its
  // feature's first use on this connection and kept until the connection ends (a /hello
  // connection holds none of it: 8 bytes per feature instead of ~850 bytes in all).
  // The pending /cache request: what it waits for, what process() does first when its wait did
  // not end it (look it up again: its flight was abandoned; call the origin: the remote cache
  // missed or failed; store the origin's value in the remote cache), its key (a copy), the
  // remote step's request and result, and the cache's answer handed to the response writer.
  enum class cache_wait : std::uint8_t { none, origin, flight, remote };
  enum class cache_next : std::uint8_t { none, lookup, origin, remote_set };
  struct cache_state {
    cache_wait wait = cache_wait::none;
    cache_next next = cache_next::none;
    cache::remote_status remote_status = cache::remote_status::error;
    cache::remote_request remote_req{};
    std::string key;
    std::string value;  // reused: the value of the current /cache response
    cache::read_through::begin_result begin{};
    cache_reply reply{};
  };
  // The pending database request: the call (made at this connection's first /db request, or its
  // first /cache origin call with --db) and the outcome handed to the response writer.
  struct db_state {
    std::unique_ptr<db::call> call;
    bool waiting = false;
    db_reply reply{};
  };
  // The pending /proxy request: the call (made at this connection's first /proxy request).
  struct proxy_state {
    std::unique_ptr<deferred> call;
    bool waiting = false;
    proxy_reply reply{};
  };
  // --waiting-room: this connection's wait (made at its first queued request), whether the
  // current request is in service (leaves the room when answered) or back from a wait, its
  // place on entry and arrival, and its X-Queue-Position / Retry-After lines.
  struct room_state {
    std::unique_ptr<deferred> wait;
    bool in_room = false;
    bool waiting = false;
    std::uint32_t position = 0;
    std::int64_t start_ns = 0;
    std::string headers;
  };
  // --rate-limit: the peer's address (key=ip), the current request's X-RateLimit-* (and
  // Retry-After) lines, and a request decided before its leaky-bucket delay with its arrival.
  struct rate_state {
    std::string peer;
    std::string headers;
    bool delayed = false;
    std::int64_t start_ns = 0;
  };
  // /stock, /orders, /jobs: what a deferred request waits for, the reply handed to the response
  // writer (its body and extra header lines built in reused buffers), the connection's handoff
  // (made at its first single-writer buy), and the pending order's key and request fingerprint.
  // keyed: an order with a key run whole by the remote key store's worker (--idempotency-store).
  // outbox: an order written with its event by the outbox's writers (--outbox-db).
  // redis_job, redis_lookup: POST /jobs and GET /jobs/{id} asked of the Redis queue's clients.
  enum class contention_wait : std::uint8_t { none, buy, job, order, keyed, outbox, redis_job, redis_lookup };
  struct contention_state {
    contention_wait wait = contention_wait::none;
    contention_reply reply{};
    std::string body;
    std::string headers;
    std::shared_ptr<contention::handoff> handoff;
    std::uint64_t buy_item = 0;
    std::int64_t buy_qty = 0;
    std::string order_key;  // empty: an order without a key
  };
  // Push: the connection's wait for its subscription (made at its first long poll or stream),
  // the held poll's topic and gap, messages taken and the JSON reply built in reused buffers,
  // and a stream's state (the connection's last response) and next heartbeat, in now_ns() time.
  struct push_state {
    std::unique_ptr<deferred> wait;
    bool waiting = false;
    bool gap = false;
    bool streaming = false;
    std::string topic;
    std::vector<push::message_ptr> messages;
    std::string body;
    contention_reply reply{};  // handed to the response writer as /stock's is
    std::int64_t heartbeat_due_ns = 0;
    std::uint64_t last_at_subscribe = 0;  // a long poll: the topic's last number when it subscribed
    // A WebSocket stream (the connection's last "response": after the 101 only frames), its
    // handshake's accept value while the 101 is written, and the reader of the client's frames.
    bool ws = false;
    std::string ws_accept;
    push::ws::frame_reader ws_reader;
  };
  // --fault-profile: the current request's decision, and whether its latency was waited (then it
  // is handled from its arrival, start_ns).
  struct fault_state {
    fault::decision decision{};
    bool delayed = false;
    bool aborting = false;  // reset-after: the response was dropped, the connection ends with an RST
    std::int64_t start_ns = 0;
  };
  // --auth: the current request passed (until its handler starts: it may come back from the
  // limiter's, the room's or a fault's wait), or waits for Redis (the command, made at this
  // connection's first lookup; a login's session id and user while its SET runs).
  struct auth_conn {
    std::unique_ptr<deferred> redis;
    bool passed = false;
    bool waiting = false;
    bool login = false;
    std::int64_t start_ns = 0;
    std::string sid;
    std::string headers;
  };
  // p's state, made now if this is its first use. Throws std::bad_alloc.
  template <class T>
  static T& made(std::unique_ptr<T>& p) {
    if (!p) p = std::make_unique<T>();
    return *p;
  }
  // The state the routed request's endpoint needs, made before it is handled; false (d is then a
  // 503, counted) when there was no memory for it.
  bool make_feature_state(dispatch& d) noexcept;
  bool room_waiting() const noexcept { return room_ && room_->waiting; }
  bool fault_delayed() const noexcept { return fault_ && fault_->delayed; }
  // The deferred request as respond() needs it (its views are gone; version and coding kept).
  request_view pending_request() const noexcept {
    request_view r;
    r.version_minor = pending_minor_;
    r.accepted = pending_accepted_;
    return r;
  }

  // Largest members first, the flags packed at the end: the session is part of every
  // connection, idle or not.
  server_context& ctx_;
  std::unique_ptr<http::request_parser> parser_;  // while a request is in flight (null when idle)
  read_buffer buf_;
  std::string out_;                // response bytes; out_pos_ of them are written
  dispatch pending_{};             // a request waiting for a wait step (/sleep, /cache, ...)
  std::size_t begin_ = 0;          // first byte of the current request
  std::size_t end_ = 0;            // end of received bytes
  std::size_t out_pos_ = 0;
  std::uint64_t stream_left_ = 0;  // streamed /bytes body still to write after out_
  std::uint64_t stream_pos_ = 0;   // its offset (the pattern's phase)
  int fd_ = -1;                    // the connection's socket (set_peer), watched while a WebSocket stream waits
  // --fault-profile's drip: the bytes of a dripped body not yet released to output(): the last
  // drip_held_ bytes of the output (out_'s tail, then the streamed part).
  std::uint64_t drip_held_ = 0;
  std::size_t answered_ = 0;
  std::int64_t request_start_ns_ = 0;
  std::int64_t pending_start_ns_ = 0;
  deferred* call_ = nullptr;  // what a call step runs
  std::unique_ptr<encode::link_shaper> link_;  // --link-rate, --link-latency (null: not shaped)
  std::unique_ptr<cache_state> cache_;
  std::unique_ptr<db_state> db_;
  std::unique_ptr<proxy_state> proxy_;
  std::unique_ptr<room_state> room_;
  std::unique_ptr<rate_state> rate_;
  std::unique_ptr<contention_state> contention_;
  std::unique_ptr<push_state> push_;
  std::unique_ptr<fault_state> fault_;
  std::unique_ptr<auth_conn> auth_;
  std::string cors_fields_;  // --cors: the current request's Access-Control-Allow-Origin (and Vary) lines
  bool cors_decided_ = false;  // --cors: decided (and counted) for the current request
  encode::coding pending_accepted_ = encode::coding::identity;
  std::uint8_t pending_minor_ = 1;
  bool pending_keep_alive_ = false;
  bool started_ = false;        // the parser has seen bytes of the current request
  bool out_lent_ = false;       // out_ is a buffer_pool buffer
  bool closing_ = false;        // a response said Connection: close; nothing more is answered
  bool continue_sent_ = false;  // "100 Continue" already sent for the current request
  bool waiting_ = false;        // a request waits for the model's wait primitive (or a flight)
};

}  // namespace perflab::targets
