// --fault-profile and --admin in the session, without sockets: a latency is a wait before the
// request is handled (once), an error is the response's status on a kept connection, a reset is
// a close with nothing written, a drip writes the body a slice per wait, /metrics, /health and
// /admin/* are never faulted, and POST /admin/fault changes the profile (400 with the reason for
// a bad spec, 404 without --admin).
#include <perflab/targets/session.hpp>

#include <gtest/gtest.h>

#include "session_harness.hpp"

#include <perflab/resilience/waiting_room.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace perflab::targets {
namespace {

using namespace std::chrono_literals;

using harness = session_harness;

server_config faulty(std::string_view spec, bool admin = false) {
  server_config cfg;
  auto p = fault::parse_profile(spec);
  EXPECT_TRUE(p) << p.error();
  cfg.fault_profile = *p;
  cfg.admin = admin;
  return cfg;
}

const std::string fault_hello_req = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string fault_health_req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string metrics_req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

TEST(SessionFault, LatencyIsOneWaitPerRequestAndMetricsAndHealthAreExempt) {
  harness h(faulty("latency=fixed:7ms"));
  EXPECT_EQ(h.feed(fault_hello_req + fault_health_req + fault_hello_req + metrics_req).what, session::next::read);
  EXPECT_EQ(h.statuses(), (std::vector<int>{200, 200, 200, 200}));
  EXPECT_EQ(h.waits, (std::vector<std::chrono::microseconds>{7ms, 7ms}));
  EXPECT_EQ(h.ctx->faults->stats().delayed, 2u);
  EXPECT_EQ(h.ctx->stats.in_flight(), 0);
  EXPECT_NE(h.out.find("perflab_fault_delayed_total 2\n"), std::string::npos);
  EXPECT_NE(h.out.find("perflab_fault_profile_info{spec=\"latency=fixed:7ms\"} 1\n"), std::string::npos);
}

TEST(SessionFault, ErrorIsTheStatusOnAKeptConnection) {
  harness h(faulty("error=1:502"));
  EXPECT_EQ(h.feed(fault_hello_req + fault_hello_req + fault_health_req).what, session::next::read);
  EXPECT_EQ(h.statuses(), (std::vector<int>{502, 502, 200}));
  EXPECT_EQ(h.out.find("Connection: close"), std::string::npos);
  EXPECT_EQ(h.ctx->faults->stats().errors, 2u);
}

TEST(SessionFault, ResetAbortsWithoutAResponseAfterTheLatency) {
  harness h(faulty("reset=1;latency=fixed:3ms"));
  // next::reset, not next::close: the models abort (an RST), they do not linger after a FIN.
  EXPECT_EQ(h.feed(fault_hello_req + fault_hello_req).what, session::next::reset);
  EXPECT_TRUE(h.out.empty()) << h.out;
  EXPECT_EQ(h.waits, (std::vector<std::chrono::microseconds>{3ms}));
  EXPECT_EQ(h.ctx->faults->stats().resets, 1u);
}

TEST(SessionFault, DripWritesTheBodyASlicePerInterval) {
  harness h(faulty("drip=4B/2ms"));
  // "Hello, World!" is 13 bytes: the head with 4, then 4, 4, 1 after a wait each.
  EXPECT_EQ(h.feed(fault_hello_req + fault_health_req).what, session::next::read);
  EXPECT_EQ(h.statuses(), (std::vector<int>{200, 200}));
  EXPECT_NE(h.out.find("\r\n\r\nHello, World!HTTP/1.1 200"), std::string::npos) << h.out;
  EXPECT_EQ(h.waits, (std::vector<std::chrono::microseconds>{2ms, 2ms, 2ms}));
  ASSERT_GE(h.writes.size(), 5u);  // nothing, the head with 4 bytes, 4, 4, 1 and the /health response
  EXPECT_EQ(h.writes[2], 4u);
  EXPECT_EQ(h.writes[3], 4u);
  EXPECT_EQ(h.ctx->faults->stats().dripped, 1u);
}

TEST(SessionFault, DripCoversAStreamedBody) {
  harness h(faulty("drip=20000B/1ms"));
  EXPECT_EQ(h.feed("GET /bytes/50000 HTTP/1.1\r\nHost: x\r\n\r\n").what, session::next::read);
  EXPECT_EQ(h.waits.size(), 2u);  // 20000 + 20000 + 10000
  const auto head_end = h.out.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  EXPECT_EQ(h.out.size() - head_end - 4, 50000u);
}

// One request into a session, without the harness's automatic waits: the step process() asks for.
session::step send(session& s, std::string_view bytes) {
  auto space = s.read_space();
  EXPECT_GE(space.size(), bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  s.commit(bytes.size());
  return s.process();
}

TEST(SessionFault, FaultsAreCountedWhenAppliedNotWhenDecided) {
  // The connection ends during the latency: the reset or error decided with it never happens.
  for (const std::string spec : {"reset=1;latency=fixed:50ms", "error=1:502;latency=fixed:50ms"}) {
    SCOPED_TRACE(spec);
    auto ctx = std::make_unique<server_context>(faulty(spec));
    {
      session s(*ctx);
      EXPECT_EQ(send(s, fault_hello_req).what, session::next::wait);
    }
    const auto st = ctx->faults->stats();
    EXPECT_EQ(st.decided, 1u);
    EXPECT_EQ(st.delayed, 1u);  // the wait began
    EXPECT_EQ(st.resets, 0u);
    EXPECT_EQ(st.errors, 0u);
  }
  // A drip on a response without a body (HEAD) drips nothing.
  harness h(faulty("drip=4B/2ms"));
  EXPECT_EQ(h.feed("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n").what, session::next::read);
  EXPECT_EQ(h.statuses(), (std::vector<int>{200}));
  EXPECT_TRUE(h.waits.empty());
  EXPECT_EQ(h.ctx->faults->stats().dripped, 0u);
}

TEST(SessionFault, AWaitingRoomRefusalGetsNoFaultDecision) {
  // Room of 1 with a queue of 1: A is in service (its fault latency), C waits, B is turned away
  // with the room's 503, not the fault's: no latency, no error status, not decided.
  server_config cfg = faulty("latency=fixed:50ms;error=1:502");
  auto room = resilience::parse_waiting_room("1,max-wait=5s,queue=1");
  ASSERT_TRUE(room) << room.error();
  cfg.waiting_room = *room;
  server_context ctx(std::move(cfg));
  session a(ctx), c(ctx), b(ctx);
  EXPECT_EQ(send(a, fault_hello_req).what, session::next::wait);
  EXPECT_EQ(send(c, fault_hello_req).what, session::next::call);
  EXPECT_EQ(send(b, fault_hello_req).what, session::next::read);
  ASSERT_TRUE(b.output_pending());
  const auto out = b.output();
  const std::string text = std::string(out.buffered) + std::string(out.streamed);
  EXPECT_EQ(text.rfind("HTTP/1.1 503 ", 0), 0u) << text;
  EXPECT_NE(text.find("Retry-After: 5\r\n"), std::string::npos) << text;
  const auto st = ctx.faults->stats();
  EXPECT_EQ(st.decided, 1u);  // A only
  EXPECT_EQ(st.delayed, 1u);
  EXPECT_EQ(st.errors, 0u);
}

TEST(SessionFault, DripOfA64MiBBodyIsReleasedFromTheSharedBlockNotCopied) {
  // drip=8MiB/1ms over /bytes/64MiB: 8 slices, each written from the filler block's view (never
  // a 64 MiB copy in the connection), the connection's buffers staying small throughout.
  auto ctx = std::make_unique<server_context>(faulty("drip=8MiB/1ms"));
  session s(*ctx);
  auto st = send(s, "GET /bytes/67108864 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::uint64_t body = 0, waits = 0;
  bool head = true;
  for (;;) {
    while (s.output_pending()) {
      const auto o = s.output();
      if (!o.streamed.empty()) {
        const auto offset = o.streamed.data() - filler(0, 1).data();  // a view into the shared block
        EXPECT_TRUE(offset >= 0 && offset < 26) << offset;
        EXPECT_LE(o.streamed.size(), filler_slice);
      }
      if (head) {
        const auto end = o.buffered.find("\r\n\r\n");
        ASSERT_NE(end, std::string_view::npos);
        body += o.buffered.size() - end - 4;
        head = false;
      } else {
        body += o.buffered.size();
      }
      body += o.streamed.size();
      s.output_written(o.size());
      EXPECT_LT(s.buffer_capacity(), 1u << 20);
    }
    if (st.what != session::next::wait) break;
    ++waits;
    s.finish_wait();
    st = s.process();
  }
  EXPECT_EQ(st.what, session::next::read);
  EXPECT_EQ(body, 64u << 20);
  EXPECT_EQ(waits, 7u);  // 8 slices, a wait between each two
  EXPECT_EQ(ctx->faults->stats().dripped, 1u);
}

TEST(SessionFaultAdmin, PostChangesTheProfileAndABadSpecIs400WithTheReason) {
  harness h(faulty("none", true));
  EXPECT_EQ(h.feed(fault_hello_req + post("/admin/fault", "error=1:503") + fault_hello_req +
                   post("/admin/fault", "error=2") + fault_hello_req + post("/admin/fault", "") + fault_hello_req +
                   "GET /admin/fault HTTP/1.1\r\nHost: x\r\n\r\n")
                .what,
            session::next::read);
  EXPECT_EQ(h.statuses(), (std::vector<int>{200, 200, 503, 400, 503, 200, 200, 200}));
  EXPECT_NE(h.out.find("fault profile: error=1:503\n"), std::string::npos);
  EXPECT_NE(h.out.find("400 Bad Request: \"error=2\": rate"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("fault profile: none\n"), std::string::npos);
  EXPECT_EQ(h.ctx->faults->stats().profile_changes, 2u);
  EXPECT_EQ(h.ctx->stats.requests(endpoint::admin, 200), 3u);
  EXPECT_EQ(h.ctx->stats.requests(endpoint::admin, 400), 1u);
}

TEST(SessionFaultAdmin, PushDisconnectEndsEverySubscriptionAndIsPostOnly) {
  harness h(faulty("none", true));
  auto sub = h.ctx->push->subscribe("t", std::nullopt);
  ASSERT_TRUE(sub);
  EXPECT_EQ(h.feed(post("/admin/push/disconnect", "") + "GET /admin/push/disconnect HTTP/1.1\r\nHost: x\r\n\r\n" +
                   post("/admin/push/disconnect", ""))
                .what,
            session::next::read);
  EXPECT_EQ(h.statuses(), (std::vector<int>{200, 405, 200}));
  EXPECT_NE(h.out.find("disconnected: 1\n"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("disconnected: 0\n"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("Allow: POST\r\n"), std::string::npos);
  EXPECT_TRUE(sub->sub->closed());
}

TEST(SessionFaultAdmin, AdminPathsAreNeverFaultedAndAre404WithoutAdmin) {
  harness with(faulty("error=1:503", true));
  EXPECT_EQ(with.feed("GET /admin/fault HTTP/1.1\r\nHost: x\r\n\r\n" + post("/admin/other", "")).what, session::next::read);
  EXPECT_EQ(with.statuses(), (std::vector<int>{200, 404}));
  harness without(faulty("none"));
  EXPECT_EQ(without.feed(post("/admin/fault", "error=1")).what, session::next::read);
  EXPECT_EQ(without.statuses(), (std::vector<int>{404}));
  EXPECT_FALSE(without.ctx->faults->current().active());
}

}  // namespace
}  // namespace perflab::targets

namespace perflab::targets {
namespace {

// reset-after: the handler runs (the order is created, its key's response stored), then the
// connection is aborted with nothing written; a repeat of the key on a new connection replays.
TEST(SessionFault, ResetAfterDoesTheWorkThenAbortsWithoutTheAnswer) {
  auto ctx = std::make_unique<server_context>(faulty("reset-after=1"));
  const std::string order =
      "POST /orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k-1\r\nContent-Length: 2\r\n\r\n{}";
  {
    session s(*ctx);
    std::string out;
    auto st = send_only(s, order);
    while (s.output_pending()) {
      out.append(s.output().buffered);
      s.output_written(s.output().size());
    }
    EXPECT_EQ(st.what, session::next::reset) << "an RST, not an orderly close";
    EXPECT_TRUE(out.empty()) << out;
  }
  EXPECT_EQ(ctx->contention.orders_created(), 1u) << "the work was done before the reset";
  EXPECT_EQ(ctx->faults->stats().resets_after, 1u);
  EXPECT_EQ(ctx->faults->stats().resets, 0u);
  ctx->faults->set(*fault::parse_profile("none"));
  session again(*ctx);
  send_only(again, order);
  std::string out;
  while (again.output_pending()) {
    out.append(again.output().buffered);
    again.output_written(again.output().size());
  }
  EXPECT_NE(out.find("HTTP/1.1 201"), std::string::npos) << out;
  EXPECT_EQ(ctx->contention.orders_created(), 1u) << "the retry with the same key replays";
}

TEST(SessionFault, ResetAfterSharesTheOutcomeDrawWithResetAndError) {
  auto p = fault::parse_profile("reset=0.1;reset-after=0.2;error=0.3:502");
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->spec, "error=0.3:502;reset=0.1;reset-after=0.2");
  int resets = 0, after = 0, errors = 0;
  for (std::uint64_t n = 0; n < 20000; ++n) {
    const auto d = fault::decide(*p, n);
    resets += d.reset;
    after += d.reset_after;
    errors += d.status == 502;
    EXPECT_LE(d.reset + d.reset_after + (d.status != 0), 1);
  }
  EXPECT_NEAR(resets / 20000.0, 0.1, 0.01);
  EXPECT_NEAR(after / 20000.0, 0.2, 0.01);
  EXPECT_NEAR(errors / 20000.0, 0.3, 0.01);
  EXPECT_FALSE(fault::parse_profile("reset=0.5;reset-after=0.6")) << "rates over 1";
}

}  // namespace
}  // namespace perflab::targets
