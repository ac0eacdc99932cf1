// session's part of --auth (auth_gate.hpp): every request but /metrics, /health and /admin/* shows
// its credentials before the front door (rate limiter, waiting room) and the faults decide it.
// JWT schemes verify the Authorization: Bearer token on the spot (perflab::auth); session-local
// looks the sid cookie up in the server's map; session-redis asks Redis (GET perflab:session:<sid>)
// as a deferred call (next::call, as /proxy and the waiting room): the blocking pool on the thread
// models, the loop's asynchronous client on the event loops, bounded by --auth-redis-timeout. The
// request stays parsed in the buffer meanwhile, and the process() after the call decides it.
// POST /auth/login?user=NAME (session schemes) makes a session: Set-Cookie: sid=...
#include <perflab/targets/session.hpp>

#include <utility>  // GCC 12: before any boost/asio header that pulls in awaitable

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <iterator>

#include <fmt/format.h>

#include <perflab/cache/redis_asio.hpp>
#include <perflab/cache/redis_pool.hpp>
#include <perflab/core/text.hpp>

namespace perflab::targets {

namespace {

// session-redis: one connection's command to the session store, run by the model.
class redis_session_call final : public deferred, public cache::remote_waiter {
 public:
  explicit redis_session_call(auth_gate& gate) : gate_(gate) {}

  // A lookup (GET) of sid, or a login's SET of sid -> user (with the session's TTL).
  void prepare(cache::remote_op op, std::string_view sid, std::string_view user) {
    key_.assign("session:");
    key_.append(sid);
    value_.assign(user);
    req_ = cache::remote_request{op, key_, value_};
    status_ = cache::remote_status::error;
  }
  cache::remote_status status() const noexcept { return status_; }

  void run_blocking() override {
    status_ = gate_.pool() ? gate_.pool()->run(req_, got_) : cache::remote_status::error;
  }

  void async_run(boost::asio::io_context& ioc, std::shared_ptr<void> keep, done_fn done) override {
    cache::redis_asio* client = gate_.loop_client(ioc);
    if (!client || !client->submit(req_, this)) {  // not connected now: refused at once (counted)
      status_ = cache::remote_status::error;
      return done(std::move(keep));
    }
    ioc_ = &ioc;
    keep_ = std::move(keep);
    done_ = std::move(done);
  }

  void on_remote(cache::remote_status st, std::string_view) noexcept override {
    status_ = st;
    // Posted, not called: the session's next step may send another command from inside this
    // client's reply handling.
    auto keep = std::move(keep_);
    auto done = std::move(done_);
    try {
      boost::asio::post(*ioc_, [k = std::move(keep), d = std::move(done)]() mutable { d(std::move(k)); });
    } catch (...) {
      if (done) done(std::move(keep));  // no memory for the post: go on here
    }
  }

 private:
  auth_gate& gate_;
  std::string key_, value_, got_;
  cache::remote_request req_{};
  cache::remote_status status_ = cache::remote_status::error;
  boost::asio::io_context* ioc_ = nullptr;
  std::shared_ptr<void> keep_;
  done_fn done_;
};

// The token of "Authorization: Bearer <token>" (the scheme's name in any case), or empty.
std::string_view bearer_token(const http::request_parser& p) noexcept {
  for (const auto& h : p.headers()) {
    if (!iequals(h.name, "authorization")) continue;
    std::string_view v = h.value;
    if (v.size() < 7 || !iequals(v.substr(0, 6), "bearer") || v[6] != ' ') return {};
    v.remove_prefix(7);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    return v;
  }
  return {};
}

// The value of the sid cookie among the request's Cookie lines ("a=1; sid=...; b=2"), or empty.
std::string_view sid_cookie(const http::request_parser& p) noexcept {
  for (const auto& h : p.headers()) {
    if (!iequals(h.name, "cookie")) continue;
    std::string_view v = h.value;
    while (!v.empty()) {
      const auto semi = v.find(';');
      std::string_view pair = v.substr(0, semi);
      v = semi == std::string_view::npos ? std::string_view{} : v.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      if (pair.starts_with("sid=")) return pair.substr(4);
    }
  }
  return {};
}

std::int64_t wall_seconds() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

constexpr std::size_t max_user_name = 256;

}  // namespace

session::auth_step session::authenticate(const dispatch& d, const request_view& req, bool keep,
                                         std::int64_t& start) noexcept {
  if (d.ep == endpoint::metrics || d.ep == endpoint::health) return auth_step::pass;  // how the lab sees the server
  auth_gate& gate = *ctx_.auth;
  try {
    made(auth_);
  } catch (const std::bad_alloc&) {
    ctx_.stats.allocation_failed();
    write_auth_answer(503, {}, "503 Service Unavailable\n", req, false, start, d.ep);
    return auth_step::answered;
  }
  if (auth_->passed) return auth_step::pass;  // decided before a limiter's, room's or fault's wait
  const auto s = gate.config().scheme;
  if (auth_->waiting) {  // back from Redis: decided now, timed from its arrival
    auth_->waiting = false;
    start = auth_->start_ns;
    const auto st = static_cast<redis_session_call&>(*auth_->redis).status();
    if (auth_->login) return auth_logged_in(st == cache::remote_status::ok, req, keep, start);
    if (st == cache::remote_status::error) return auth_refuse(auth::errc::unavailable, req, keep, start, d.ep);
    if (st != cache::remote_status::hit) return auth_refuse(auth::errc::unknown_session, req, keep, start, d.ep);
    gate.stats().accepted.fetch_add(1, std::memory_order_relaxed);
    auth_->passed = true;
    return auth_step::pass;
  }
  if (auth::is_session(s) && req.path == "/auth/login") return auth_login(req, keep, start);

  if (gate.config().verifier) {  // jwt-*
    const auto token = bearer_token(*parser_);
    if (token.empty()) return auth_refuse(auth::errc::missing, req, keep, start, d.ep);
    if (auto ok = gate.config().verifier->verify(token, wall_seconds()); !ok)
      return auth_refuse(ok.error(), req, keep, start, d.ep);
  } else {  // session-*
    const auto sid = sid_cookie(*parser_);
    if (sid.empty()) return auth_refuse(auth::errc::missing, req, keep, start, d.ep);
    if (!auth::is_session_id(sid)) return auth_refuse(auth::errc::unknown_session, req, keep, start, d.ep);
    if (s == auth::scheme::session_redis) {
      try {
        if (!auth_->redis) auth_->redis = std::make_unique<redis_session_call>(gate);
        static_cast<redis_session_call&>(*auth_->redis).prepare(cache::remote_op::get, sid, {});
      } catch (const std::bad_alloc&) {
        ctx_.stats.allocation_failed();
        return auth_refuse(auth::errc::unavailable, req, keep, start, d.ep);
      }
      auth_->waiting = true;
      auth_->login = false;
      auth_->start_ns = start;
      call_ = auth_->redis.get();
      return auth_step::wait;
    }
    if (!gate.local().find(sid, now_ns())) return auth_refuse(auth::errc::unknown_session, req, keep, start, d.ep);
  }
  gate.stats().accepted.fetch_add(1, std::memory_order_relaxed);
  auth_->passed = true;
  return auth_step::pass;
}

session::auth_step session::auth_refuse(auth::errc why, const request_view& req, bool keep, std::int64_t start,
                                        endpoint ep) noexcept {
  ctx_.auth->stats().reject(why);
  try {
    auth_->headers.clear();
    if (why == auth::errc::unavailable) {  // not the client's fault: try again shortly
      auth_->headers.append("Retry-After: 1\r\n");
      write_auth_answer(503, auth_->headers, "503 Service Unavailable: the session store is unavailable\n", req, keep,
                        start, ep);
      return auth_step::answered;
    }
    // RFC 6750 3.1: no error code when the request had no credentials at all.
    if (why == auth::errc::missing) {
      auth_->headers.append("WWW-Authenticate: Bearer realm=\"perflab\"\r\n");
    } else {
      fmt::format_to(std::back_inserter(auth_->headers),
                     "WWW-Authenticate: Bearer realm=\"perflab\", error=\"invalid_token\", error_description=\"{}\"\r\n",
                     auth::describe(why));
    }
    const auto body = fmt::format("401 Unauthorized: {}\n", auth::describe(why));
    write_auth_answer(401, auth_->headers, body, req, keep, start, ep);
  } catch (...) {
    ctx_.stats.allocation_failed();
    write_auth_answer(503, {}, {}, req, false, start, ep);
  }
  return auth_step::answered;
}

session::auth_step session::auth_login(const request_view& req, bool keep, std::int64_t start) noexcept {
  auth_gate& gate = *ctx_.auth;
  if (req.method != "POST") {
    write_auth_answer(405, "Allow: POST\r\n", "405 Method Not Allowed\n", req, keep, start, endpoint::login);
    return auth_step::answered;
  }
  const auto user = query_param(req.query, "user");
  if (user.empty() || user.size() > max_user_name) {
    gate.stats().login_failures.fetch_add(1, std::memory_order_relaxed);
    write_auth_answer(400, {}, "400 Bad Request: POST /auth/login?user=NAME (1 to 256 bytes)\n", req, keep, start,
                      endpoint::login);
    return auth_step::answered;
  }
  try {
    auto sid = auth::new_session_id();
    if (!sid) return auth_logged_in(false, req, keep, start);
    auth_->sid = std::move(*sid);
    if (gate.config().scheme == auth::scheme::session_local) {
      const auto now = now_ns();
      const bool stored = gate.local().put(auth_->sid, user, now, now + std::chrono::nanoseconds(gate.config().session_ttl).count());
      return auth_logged_in(stored, req, keep, start);
    }
    if (!auth_->redis) auth_->redis = std::make_unique<redis_session_call>(gate);
    static_cast<redis_session_call&>(*auth_->redis).prepare(cache::remote_op::set, auth_->sid, user);
  } catch (const std::bad_alloc&) {
    ctx_.stats.allocation_failed();
    return auth_logged_in(false, req, false, start);
  }
  auth_->waiting = true;
  auth_->login = true;
  auth_->start_ns = start;
  call_ = auth_->redis.get();
  return auth_step::wait;
}

session::auth_step session::auth_logged_in(bool stored, const request_view& req, bool keep, std::int64_t start) noexcept {
  auth_->login = false;
  if (!stored) {
    ctx_.auth->stats().login_failures.fetch_add(1, std::memory_order_relaxed);
    write_auth_answer(503, "Retry-After: 1\r\n", "503 Service Unavailable: the session could not be stored\n", req, keep,
                      start, endpoint::login);
    return auth_step::answered;
  }
  ctx_.auth->stats().logins.fetch_add(1, std::memory_order_relaxed);
  try {
    auth_->headers.clear();
    fmt::format_to(std::back_inserter(auth_->headers), "Set-Cookie: sid={}; HttpOnly; Path=/; Max-Age={}\r\n", auth_->sid,
                   ctx_.auth->config().session_ttl.count());
    write_auth_answer(200, auth_->headers, "logged in\n", req, keep, start, endpoint::login);
  } catch (...) {
    ctx_.stats.allocation_failed();
    write_auth_answer(503, {}, {}, req, false, start, endpoint::login);
  }
  return auth_step::answered;
}

void session::write_auth_answer(int status, std::string_view headers, std::string_view body, const request_view& req,
                                bool keep, std::int64_t start, endpoint ep) noexcept {
  lend_output();
  const std::size_t mark = out_.size();
  try {
    fmt::format_to(std::back_inserter(out_),
                   "HTTP/1.{} {} {}\r\nDate: {}\r\nServer: {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}",
                   req.version_minor, status, http::reason_phrase(status), http_date(), server_name, body.size(), headers);
    if (!keep) out_.append("Connection: close\r\n");
    else if (req.version_minor == 0) out_.append("Connection: keep-alive\r\n");
    out_.append("\r\n");
    if (req.method != "HEAD") out_.append(body);
  } catch (...) {
    out_.resize(mark);  // no memory even for this: the connection just closes
    ctx_.stats.allocation_failed();
    keep = false;
  }
  ctx_.stats.record(ep, status, std::chrono::nanoseconds(now_ns() - start));
  ++answered_;
  if (!keep) closing_ = true;
}

}  // namespace perflab::targets
