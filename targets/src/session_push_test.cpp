// session's push endpoints without sockets: argument checks (a 400, never a crash), a long poll
// answered at once or held to its timeout, an SSE stream resumed from Last-Event-ID, and a slow
// stream dropped at its queue bound; a WebSocket's handshake, its frames and its slow consumer's
// close. The waits run as a blocking model runs them (run_blocking).
#include <perflab/targets/session.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "session_harness.hpp"

namespace perflab::targets {
namespace {

// One session; the test plays the model: writes the output, runs call steps with run_blocking.
struct push_harness {
  explicit push_harness(push::hub_config hub = {}) : ctx(make_ctx(hub)), s(*ctx) {}
  static std::unique_ptr<server_context> make_ctx(push::hub_config hub) {
    server_config c;
    c.push = hub;
    return std::make_unique<server_context>(std::move(c));
  }
  // Sends raw and follows the steps until the session reads, closes, or (hold) parks on a call.
  session::step send(std::string_view raw, bool hold = false) {
    auto space = s.read_space();
    std::memcpy(space.data(), raw.data(), raw.size());
    s.commit(raw.size());
    return follow(s.process(), hold);
  }
  session::step follow(session::step st, bool hold) {
    for (;;) {
      while (s.output_pending()) {
        const auto o = s.output();
        out.append(o.buffered).append(o.streamed);
        s.output_written(o.size());
      }
      if (st.what != session::next::call || hold) return st;
      s.deferred_call()->run_blocking();
      s.finish_wait();
      st = s.process();
    }
  }
  std::unique_ptr<server_context> ctx;
  session s;
  std::string out;
};

std::string get(std::string_view target, std::string_view extra = {}) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}
TEST(SessionPush, MalformedArgumentsAre400WithAReason) {
  struct row {
    std::string request;
    int status;
    const char* says;
  };
  const row rows[] = {
      {get("/messages/t?after=x"), 400, "after must be"},
      {get("/messages/t?after="), 400, "after must be"},
      {get("/poll/t?after=-1"), 400, "after must be"},
      {get("/poll/t?timeout=forever"), 400, "timeout must be"},
      {get("/poll/t?timeout=2h"), 400, "timeout must be"},  // over max-poll
      {get("/events/t", "Last-Event-ID: abc\r\n"), 400, "Last-Event-ID must be"},
      {get("/events/t", "Last-Event-ID: 12x\r\n"), 400, "Last-Event-ID must be"},
      {get("/messages/t?limit=0"), 400, "limit must be"},
      {post("/publish/a%20b", "x"), 400, "a topic is"},
      {post("/publish/", "x"), 400, "a topic is"},
      {get("/publish/t"), 405, ""},
  };
  for (const auto& r : rows) {
    push_harness h;
    const auto st = h.send(r.request);
    EXPECT_EQ(st.what, session::next::read) << r.request;
    EXPECT_TRUE(h.out.starts_with("HTTP/1.1 " + std::to_string(r.status))) << r.request << "\n" << h.out;
    EXPECT_NE(h.out.find(r.says), std::string::npos) << h.out;
  }
}

TEST(SessionPush, PublishThenShortPollFromASequenceNumber) {
  push_harness h;
  h.send(post("/publish/news", "one"));
  h.send(post("/publish/news", "two \"quoted\""));
  EXPECT_NE(h.out.find(R"({"topic":"news","seq":2,"ts":)"), std::string::npos) << h.out;
  h.out.clear();
  h.send(get("/messages/news?after=1"));
  EXPECT_NE(h.out.find(R"({"topic":"news","last":2,"gap":false,"messages":[{"seq":2,"ts":)"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find(R"("data":"two \"quoted\""}]})"), std::string::npos) << h.out;
}

TEST(SessionPush, LongPollAnswersAtOnceWhenNewerMessagesExist) {
  push_harness h;
  h.send(post("/publish/t", "m"));
  h.out.clear();
  const auto st = h.send(get("/poll/t?after=0&timeout=30s"), /*hold=*/true);
  EXPECT_EQ(st.what, session::next::read);  // not parked
  EXPECT_NE(h.out.find(R"("messages":[{"seq":1,)"), std::string::npos) << h.out;
  EXPECT_EQ(h.ctx->push->stats().subscribers, 0u);  // the poll's subscription is gone
}

TEST(SessionPush, IdleLongPollIsHeldToItsTimeoutThenAnswersEmpty) {
  push_harness h;
  const auto t0 = std::chrono::steady_clock::now();
  const auto st = h.send(get("/poll/t?after=0&timeout=50ms"));
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(st.what, session::next::read);
  EXPECT_GE(waited, std::chrono::milliseconds(50));
  EXPECT_NE(h.out.find(R"({"topic":"t","last":0,"gap":false,"messages":[]})"), std::string::npos) << h.out;
}

TEST(SessionPush, HeldLongPollEndsWithThePublishedMessage) {
  push_harness h;
  const auto st = h.send(get("/poll/t?timeout=30s"), /*hold=*/true);
  ASSERT_EQ(st.what, session::next::call);
  EXPECT_EQ(h.ctx->push->stats().subscribers, 1u);
  ASSERT_TRUE(h.ctx->push->publish("t", "late", 5));
  h.follow(st, false);  // the wait returns at once: the message is queued
  EXPECT_NE(h.out.find(R"("messages":[{"seq":1,"ts":5,"data":"late"}])"), std::string::npos) << h.out;
}

TEST(SessionPush, SseResumesAfterLastEventIdThenStreamsNewMessages) {
  push_harness h;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.ctx->push->publish("t", "m", i));
  const auto st = h.send(get("/events/t", "Last-Event-ID: 1\r\n"), /*hold=*/true);
  ASSERT_EQ(st.what, session::next::call);
  EXPECT_TRUE(h.out.starts_with("HTTP/1.1 200 OK\r\n")) << h.out;
  EXPECT_NE(h.out.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(h.out.find("\r\n\r\nretry: 1000\n\nid: 2\ndata: {\"seq\":2,"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("id: 3\ndata: {\"seq\":3,"), std::string::npos) << h.out;
  EXPECT_EQ(h.out.find("id: 1\n"), std::string::npos);
  h.out.clear();
  ASSERT_TRUE(h.ctx->push->publish("t", "new", 9));
  h.s.deferred_call()->run_blocking();  // returns at once: the message is queued
  h.s.finish_wait();
  h.follow(h.s.process(), true);
  EXPECT_EQ(h.out, "id: 4\ndata: {\"seq\":4,\"ts\":9,\"data\":\"new\"}\n\n");
}

TEST(SessionPush, SlowStreamIsDroppedAtItsQueueBoundAndTold) {
  push::hub_config c;
  c.queue = 2;
  push_harness h(c);
  const auto st = h.send(get("/events/t"), /*hold=*/true);
  ASSERT_EQ(st.what, session::next::call);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.ctx->push->publish("t", "m", i));  // the stream takes none
  h.s.finish_wait();
  const auto end = h.follow(h.s.process(), true);
  EXPECT_EQ(end.what, session::next::close);
  EXPECT_NE(h.out.find(": dropped"), std::string::npos) << h.out;
  EXPECT_EQ(h.ctx->push->stats().dropped_subscribers, 1u);
  EXPECT_EQ(h.ctx->push->stats().subscribers, 0u);
}

TEST(SessionPush, WebSocketAnswersAPingStreamsMessagesAndClosesASlowConsumerWith1013) {
  push::hub_config c;
  c.queue = 2;
  push_harness h(c);
  ASSERT_TRUE(h.ctx->push->publish("t", "old", 1));
  // A masked ping "hi" in the same bytes as the handshake: the client's first frame.
  const std::string ping = std::string("\x89\x82\x01\x02\x03\x04", 6) + static_cast<char>('h' ^ 1) + static_cast<char>('i' ^ 2);
  auto st = h.send(get("/ws/t?after=0",
                       "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n") + ping,
                   /*hold=*/true);
  while (st.what == session::next::more) st = h.follow(h.s.process(), true);
  ASSERT_EQ(st.what, session::next::call);
  EXPECT_TRUE(h.out.starts_with("HTTP/1.1 101 Switching Protocols\r\n")) << h.out;
  EXPECT_NE(h.out.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos) << h.out;
  // The pong (unmasked, its payload echoed), then the history after 0 as one text frame.
  const std::string msg = R"({"seq":1,"ts":1,"data":"old"})";
  EXPECT_EQ(h.out.substr(h.out.find("\r\n\r\n") + 4),
            std::string("\x8a\x02hi", 4) + "\x81" + static_cast<char>(msg.size()) + msg);
  EXPECT_EQ(h.ctx->push->stats().subscribers, 1u);
  h.out.clear();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.ctx->push->publish("t", "m", i));  // the stream takes none: dropped
  h.s.finish_wait();
  EXPECT_EQ(h.follow(h.s.process(), true).what, session::next::close);
  EXPECT_EQ(h.out, std::string("\x88\x02\x03\xf5", 4)) << "1013: try again later";
  EXPECT_EQ(h.ctx->push->stats().dropped_subscribers, 1u);
  EXPECT_EQ(h.ctx->push->stats().subscribers, 0u);
}

}  // namespace
}  // namespace perflab::targets
