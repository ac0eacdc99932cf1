// session's part of the WebSocket stream (GET /ws/{topic}; the codec is perflab::push::ws). The
// handshake is checked with the other push arguments (session_push.cpp); once its 101 is out the
// connection carries only frames, like an SSE stream its last response:
//
// - each hub message is a text frame holding the same JSON an SSE event's data line holds
//   ({"seq":N,"ts":NS,"data":"..."}), so a client resumes as a poll does, with ?after=SEQ;
// - after a heartbeat of silence the server sends a ping (a client that went away is noticed at
//   that write, as SSE's heartbeat comment is);
// - the client's frames are read whenever its socket becomes readable during the wait (push_wait
//   watches it), so a ping is answered with a pong and a close with a close at once, not at the
//   next message; a malformed frame gets a close with its code (1002, 1009) and the connection ends;
// - a slow consumer (its queue overflowed, counted by the hub) gets a close with 1013 "try again
//   later": the server is shedding load and the client may reconnect (and resume from after=),
//   as an SSE client does after its stream ends; the server's stop sends 1001 "going away".
#include <perflab/targets/session.hpp>

#include "push_wait.hpp"

#include <iterator>

#include <fmt/format.h>

#include <perflab/core/text.hpp>

namespace perflab::targets {

using detail::push_wait;
namespace ws = push::ws;

namespace {

// The value of the request's header `name` (the first line of it), or nullopt.
std::optional<std::string_view> ws_header(const http::request_parser& parser, std::string_view name) noexcept {
  for (const auto& h : parser.headers())
    if (iequals(h.name, name)) return trim(h.value);
  return std::nullopt;
}

}  // namespace

bool session::ws_handshake() noexcept {
  const ws::handshake_request hr{parser_->method(), ws_header(*parser_, "upgrade"), ws_header(*parser_, "connection"),
                                 ws_header(*parser_, "sec-websocket-key"), ws_header(*parser_, "sec-websocket-version")};
  try {
    auto v = ws::check_handshake(hr);
    if (v.status == 101) {
      push_->ws_accept = std::move(v.accept);
      return true;
    }
    push_->reply.status = v.status;
    if (v.version_header) push_->reply.headers = "Sec-WebSocket-Version: 13\r\n";  // the 426 names the version spoken
    fmt::format_to(std::back_inserter(push_->body), "{{\"error\":\"{}\"}}\n", v.error);
  } catch (...) {
    ctx_.stats.allocation_failed();
    push_->body.clear();
    push_->reply.status = 503;
    push_->reply.headers = {};
  }
  return false;
}

void session::start_ws(const request_view& req, std::int64_t start, std::shared_ptr<push::subscription> sub) {
  if (!push_->wait) push_->wait = std::make_unique<push_wait>();
  auto& w = static_cast<push_wait&>(*push_->wait);
  w.arm(std::move(sub), 0);
  w.watch(fd_);
  push_->ws = true;  // first: a 101 cut short by bad_alloc ends the connection (start_push's catch)
  lend_output();
  fmt::format_to(std::back_inserter(out_),
                 "HTTP/1.{} 101 Switching Protocols\r\nDate: {}\r\nServer: {}\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                 req.version_minor, http_date(), server_name, push_->ws_accept);
  ctx_.stats.request_finished();  // the stream is not a request in flight: counted as answered when it starts
  ctx_.stats.record(endpoint::ws, 101, std::chrono::nanoseconds(now_ns() - start));
  ++answered_;
  push_->heartbeat_due_ns = now_ns() + ctx_.push->config().heartbeat.count();
}

void session::ws_read_frames() noexcept {
  try {
    while (begin_ < end_ && !closing_) {
      const auto r = push_->ws_reader.next(std::span<char>(buf_.data() + begin_, end_ - begin_));
      if (r.what == ws::frame_reader::result::kind::need_more) break;
      if (r.what == ws::frame_reader::result::kind::error) {
        ws::append_close(r.error, out_);  // the connection fails (RFC 6455 7.1.7): close, then end
        closing_ = true;
        break;
      }
      begin_ += r.consumed;
      if (r.f.op == ws::opcode::ping) {
        ws::append_frame(ws::opcode::pong, r.f.payload, out_);
      } else if (r.f.op == ws::opcode::close) {
        // The closing handshake: echo the client's code (none: an empty close), then end.
        const auto c = ws::parse_close_payload(r.f.payload);
        if (!c.valid) ws::append_close(ws::close_code::protocol_error, out_);
        else ws::append_frame(ws::opcode::close, r.f.payload.substr(0, c.code ? 2 : 0), out_);
        closing_ = true;
      }  // pongs, and data messages (the server reads none), are discarded
    }
  } catch (...) {  // std::bad_alloc appending a reply: the connection just ends
    ctx_.stats.allocation_failed();
    closing_ = true;
  }
  if (begin_ == end_) {  // nothing buffered: the wait holds no read buffer
    begin_ = end_ = 0;
    buf_.release();
  }
}

session::step session::ws_step() noexcept {
  auto& w = static_cast<push_wait&>(*push_->wait);
  lend_output();
  const bool client_spoke = w.readable();
  ws_read_frames();
  auto* sub = w.sub();
  auto end_with = [&](std::optional<ws::close_code> code) {
    if (code) {
      try {
        ws::append_close(*code, out_);
      } catch (...) {
        ctx_.stats.allocation_failed();
      }
    }
    end_push();
    closing_ = true;
    return step{next::close};
  };
  if (closing_) return end_with(std::nullopt);  // the close frame is written
  if (!sub || ctx_.stopping.load(std::memory_order_relaxed) || sub->closed()) return end_with(ws::close_code::going_away);
  if (sub->dropped()) return end_with(ws::close_code::try_again_later);
  try {
    push_->messages.clear();
    sub->take(push_->messages);
    const std::int64_t now = now_ns();
    for (const auto& m : push_->messages) {
      push_->body.clear();
      push::append_message_json(*m, push_->body);
      ws::append_frame(ws::opcode::text, push_->body, out_);
    }
    if (!push_->messages.empty()) {
      push_->heartbeat_due_ns = now + ctx_.push->config().heartbeat.count();
    } else if (now >= push_->heartbeat_due_ns) {
      ws::append_frame(ws::opcode::ping, {}, out_);  // the client's pong is discarded when it comes
      push_->heartbeat_due_ns = now + ctx_.push->config().heartbeat.count();
    }
    push_->messages.clear();
  } catch (...) {
    ctx_.stats.allocation_failed();
    return end_with(std::nullopt);
  }
  // The socket was readable: read what the client sent (or its end) before waiting again.
  w.arm(w.release(), push_->heartbeat_due_ns);
  if (client_spoke) return {next::read};
  call_ = push_->wait.get();
  return {next::call};
}

}  // namespace perflab::targets
