// session's part of push delivery (perflab::push's hub): POST /publish/{topic}, short polling
// (GET /messages/{topic}?after=SEQ), long polling (GET /poll/{topic}?after=SEQ&timeout=D) and SSE
// (GET /events/{topic}); the WebSocket stream (GET /ws/{topic}) starts here too, and goes on in
// session_ws.cpp. Arguments are checked here (a clear 400 in JSON); waiting is the model's
// (next::call, as /proxy and the waiting room): a blocking thread waits on the subscription's
// condition variable, an event loop parks on its timer and the publisher's notification posts to
// the loop. So a held poll or an idle stream costs a thread on the blocking models and only
// memory on the event loops: that difference is what the push experiments measure.
//
// An SSE stream is the connection's last response: a head without Content-Length ("Connection:
// close": the body ends when the connection does), "retry:", the history after Last-Event-ID, then
// one event per message ("id: SEQ", "data: {json}") and a comment line after heartbeat of silence.
// The stream ends when the subscriber is dropped (its queue overflowed: a comment says so) or the
// server stops; a client that went away is noticed at the next write (an event or a heartbeat).
#include <perflab/targets/session.hpp>

#include "push_wait.hpp"

#include <iterator>

#include <fmt/format.h>

#include <perflab/core/text.hpp>
#include <perflab/core/units.hpp>
#include <perflab/push/hub.hpp>

namespace perflab::targets {

using detail::push_wait;

namespace {

constexpr std::size_t default_limit = 100;   // /messages: messages per answer unless ?limit=
constexpr std::size_t max_limit = 10000;
constexpr auto default_poll = std::chrono::seconds(30);

// "/publish/news" -> "news" (the prefix is known from the endpoint).
std::string_view topic_of(std::string_view path) noexcept {
  const auto slash = path.find('/', 1);
  return slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
}

std::string_view last_event_id(const http::request_parser& parser, bool& present) noexcept {
  for (const auto& h : parser.headers())
    if (iequals(h.name, "last-event-id")) {
      present = true;
      return trim(h.value);
    }
  return {};
}

}  // namespace

std::optional<session::step> session::start_push(dispatch& d, const request_view& req, std::int64_t start) noexcept {
  push_->body.clear();
  push_->reply = {};
  auto answer = [this]<class... A>(int status, fmt::format_string<A...> f, A&&... args) {
    push_->reply.status = status;
    fmt::format_to(std::back_inserter(push_->body), f, std::forward<A>(args)...);
  };
  std::optional<step> st;
  try {
    auto& hub = *ctx_.push;
    const auto topic = topic_of(req.path);
    auto refused = [&](push::hub::errc e) {
      if (e == push::hub::errc::too_large)
        answer(413, "{{\"error\":\"a message is at most {} bytes\"}}\n", hub.config().max_message);
      else
        answer(503, "{{\"error\":\"too many topics (at most {})\"}}\n", hub.config().max_topics);
    };
    std::uint64_t after = 0;
    const auto after_text = query_param(req.query, "after");
    const bool after_given = req.query.find("after=") != std::string_view::npos;
    if (!push::valid_topic(topic)) {
      answer(400, "{{\"error\":\"a topic is 1 to 128 characters of A-Z a-z 0-9 . _ -\"}}\n");
    } else if (after_given && !parse_u64(after_text, after)) {
      answer(400, "{{\"error\":\"after must be a sequence number (a whole number >= 0)\"}}\n");
    } else if (d.ep == endpoint::publish) {
      if (auto m = hub.publish(topic, req.body, now_ns()))
        answer(200, "{{\"topic\":\"{}\",\"seq\":{},\"ts\":{}}}\n", topic, (*m)->seq, (*m)->publish_ns);
      else
        refused(m.error());
    } else if (d.ep == endpoint::messages) {
      std::uint64_t limit = default_limit;
      if (const auto l = query_param(req.query, "limit"); !l.empty() && (!parse_u64(l, limit) || limit < 1 || limit > max_limit)) {
        answer(400, "{{\"error\":\"limit must be a whole number from 1 to {}\"}}\n", max_limit);
      } else {
        push_->messages.clear();
        if (auto r = hub.read(topic, after, limit, push_->messages)) write_messages(topic, *r);
        else refused(r.error());
      }
    } else if (d.ep == endpoint::poll) {
      auto timeout = std::chrono::nanoseconds(default_poll);
      bool bad_timeout = false;
      if (const auto t = query_param(req.query, "timeout"); !t.empty() || req.query.find("timeout=") != std::string_view::npos) {
        auto parsed = units::parse_duration(t);
        bad_timeout = !parsed || *parsed > hub.config().max_poll;
        if (!bad_timeout) timeout = *parsed;
      }
      auto s = bad_timeout ? tl::expected<push::hub::subscribed, push::hub::errc>{}
                           : hub.subscribe(topic, after_given ? std::optional(after) : std::nullopt);
      if (bad_timeout) {
        answer(400, "{{\"error\":\"timeout must be a duration up to {}, e.g. 30s\"}}\n",
               units::format_duration(hub.config().max_poll));
      } else if (!s) {
        refused(s.error());
      } else {
        if (!push_->wait) push_->wait = std::make_unique<push_wait>();
        auto& w = static_cast<push_wait&>(*push_->wait);
        w.arm(std::move(s->sub), now_ns() + timeout.count());
        push_->gap = s->at.gap;
        push_->last_at_subscribe = s->at.last;
        push_->topic.assign(topic);
        if (push_->gap || timeout.count() == 0 || ctx_.stopping.load(std::memory_order_relaxed)) {
          finish_push();  // answered at once: a gap to report, no wait asked for, or the stop
        } else {
          std::vector<push::message_ptr> probe;
          w.sub()->take(probe);
          if (!probe.empty()) {
            push_->messages = std::move(probe);
            finish_push();  // newer messages exist: at once
          } else {
            push_->waiting = true;
            call_ = push_->wait.get();
            st = step{next::call};
          }
        }
      }
    } else if (d.ep == endpoint::ws) {
      if (!ws_handshake()) {
        // its 4xx is written
      } else if (auto s = hub.subscribe(topic, after_given ? std::optional(after) : std::nullopt); !s) {
        refused(s.error());
      } else {
        start_ws(req, start, std::move(s->sub));
        st = step{next::more};  // the 101 first; then the frames after the request (session.cpp)
      }
    } else {  // events
      bool present = false;
      const auto id_text = last_event_id(*parser_, present);
      std::uint64_t last_id = 0;
      if (present && !parse_u64(id_text, last_id)) {
        answer(400, "{{\"error\":\"Last-Event-ID must be a sequence number (a whole number >= 0)\"}}\n");
      } else if (auto s = hub.subscribe(topic, present ? std::optional(last_id) : after_given ? std::optional(after) : std::nullopt); !s) {
        refused(s.error());
      } else {
        if (!push_->wait) push_->wait = std::make_unique<push_wait>();
        static_cast<push_wait&>(*push_->wait).arm(std::move(s->sub), 0);
        start_stream(req, start, s->at.gap);
        st = stream_step();
      }
    }
  } catch (...) {
    ctx_.stats.allocation_failed();  // answered 503 with no body; a stream half begun just closes
    push_->body.clear();
    push_->reply.status = 503;
    push_->reply.headers = {};
    end_push();
    if (push_->streaming || push_->ws) {
      closing_ = true;
      st = step{next::close};
    }
  }
  finish_push_reply();
  return st;
}

void session::finish_push_reply() noexcept {
  // The views last: the body may have grown (moved) while it was built.
  push_->reply.body = push_->body;
  // reply.headers: empty (start_push resets the reply), or the handshake's Sec-WebSocket-Version.
}

void session::write_messages(std::string_view topic, const push::hub::read_result& r) {
  push_->reply.status = 200;
  auto it = std::back_inserter(push_->body);
  fmt::format_to(it, "{{\"topic\":\"{}\",\"last\":{},\"gap\":{},\"messages\":[", topic, r.last, r.gap);
  for (std::size_t i = 0; i < push_->messages.size(); ++i) {
    if (i) push_->body.push_back(',');
    push::append_message_json(*push_->messages[i], push_->body);
  }
  push_->body.append("]}\n");
  push_->messages.clear();
}

void session::finish_push() noexcept {
  push_->waiting = false;
  auto& w = static_cast<push_wait&>(*push_->wait);
  auto sub = w.release();
  if (!sub) return;
  try {
    // Out of the topic first, then what was queued: nothing can arrive after the take. With
    // nothing taken, nothing was published while the poll was subscribed, so the topic's last
    // number then is still the client's next after= (a fresh read could name a message published
    // since, which this answer does not carry: the client would skip it).
    ctx_.push->unsubscribe(*sub);
    sub->take(push_->messages);
    push::hub::read_result r;
    r.gap = push_->gap;
    r.last = push_->messages.empty() ? push_->last_at_subscribe : push_->messages.back()->seq;
    push_->body.clear();
    write_messages(push_->topic, r);
  } catch (...) {
    ctx_.stats.allocation_failed();
    push_->reply.status = 503;
    push_->body.clear();
  }
  finish_push_reply();
}

void session::end_push() noexcept {
  if (!push_) return;
  push_->waiting = false;
  if (!push_->wait) return;
  if (auto sub = static_cast<push_wait&>(*push_->wait).release()) ctx_.push->unsubscribe(*sub);
}

void session::start_stream(const request_view& req, std::int64_t start, bool gap) {
  push_->streaming = true;
  auto it = std::back_inserter(out_);
  fmt::format_to(it,
                 "HTTP/1.{} 200 OK\r\nDate: {}\r\nServer: {}\r\nContent-Type: text/event-stream\r\n"
                 "Cache-Control: no-cache\r\nConnection: close\r\n\r\nretry: {}\n\n",
                 req.version_minor, http_date(), server_name, ctx_.push->config().retry.count());
  // Messages after the client's Last-Event-ID are no longer all in the history: say so (the
  // client sees the jump in the ids too).
  if (gap) out_.append(": gap: some messages after Last-Event-ID have left the history\n\n");
  ctx_.stats.request_finished();  // the stream is not a request in flight: counted as answered when it starts
  ctx_.stats.record(endpoint::events, 200, std::chrono::nanoseconds(now_ns() - start));
  ++answered_;
  push_->heartbeat_due_ns = now_ns() + ctx_.push->config().heartbeat.count();
}

session::step session::stream_step() noexcept {
  auto& w = static_cast<push_wait&>(*push_->wait);
  auto* sub = w.sub();
  if (!sub || ctx_.stopping.load(std::memory_order_relaxed) || sub->closed()) {
    end_push();
    closing_ = true;
    return {next::close};
  }
  if (sub->dropped()) {
    try {
      out_.append(": dropped: this subscriber fell a queue behind; reconnect with Last-Event-ID\n\n");
    } catch (...) {
    }
    end_push();
    closing_ = true;
    return {next::close};
  }
  try {
    push_->messages.clear();
    sub->take(push_->messages);
    const std::int64_t now = now_ns();
    for (const auto& m : push_->messages) {
      fmt::format_to(std::back_inserter(out_), "id: {}\ndata: ", m->seq);
      push::append_message_json(*m, out_);
      out_.append("\n\n");
    }
    if (!push_->messages.empty()) {
      push_->heartbeat_due_ns = now + ctx_.push->config().heartbeat.count();
    } else if (now >= push_->heartbeat_due_ns) {
      out_.append(":\n\n");  // a heartbeat: a comment line, ignored by the client's parser
      push_->heartbeat_due_ns = now + ctx_.push->config().heartbeat.count();
    }
    push_->messages.clear();
  } catch (...) {
    ctx_.stats.allocation_failed();
    end_push();
    closing_ = true;
    return {next::close};
  }
  w.arm(w.release(), push_->heartbeat_due_ns);
  call_ = push_->wait.get();
  return {next::call};
}

void write_push_prometheus(const push::hub& hub, std::string& out) {
  const auto s = hub.stats();
  fmt::format_to(std::back_inserter(out),
                 "# HELP perflab_push_published_total Messages published to the topic hub.\n"
                 "# TYPE perflab_push_published_total counter\nperflab_push_published_total {}\n"
                 "# HELP perflab_push_queued_total Message copies queued to subscribers (fan-out).\n"
                 "# TYPE perflab_push_queued_total counter\nperflab_push_queued_total {}\n"
                 "# HELP perflab_push_dropped_subscribers_total Subscribers dropped because their queue was full.\n"
                 "# TYPE perflab_push_dropped_subscribers_total counter\nperflab_push_dropped_subscribers_total {}\n"
                 "# HELP perflab_push_refused_topics_total Requests refused because the hub had too many topics.\n"
                 "# TYPE perflab_push_refused_topics_total counter\nperflab_push_refused_topics_total {}\n"
                 "# HELP perflab_push_disconnected_total Subscriptions ended by the server (its stop, POST /admin/push/disconnect).\n"
                 "# TYPE perflab_push_disconnected_total counter\nperflab_push_disconnected_total {}\n"
                 "# HELP perflab_push_subscribers Subscribers now (SSE streams and held long polls).\n"
                 "# TYPE perflab_push_subscribers gauge\nperflab_push_subscribers {}\n"
                 "# HELP perflab_push_topics Topics in the hub.\n"
                 "# TYPE perflab_push_topics gauge\nperflab_push_topics {}\n",
                 s.published, s.queued, s.dropped_subscribers, s.refused_topics, s.disconnected, s.subscribers, s.topics);
}

}  // namespace perflab::targets
