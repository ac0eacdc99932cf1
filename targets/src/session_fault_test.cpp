// --fault-profile and --admin in the session, without sockets: a latency is a wait before the
// request is handled (once), an error is the response's status on a kept connection, a reset is
// a close with nothing written, a drip writes the body a slice per wait, /metrics, /health and
// /admin/* are never faulted, and POST /admin/fault changes the profile (400 with the reason for
// a bad spec, 404 without --admin).
#include <perflab/targets/session.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace perflab::targets {
namespace {

using namespace std::chrono_literals;

// Drives a session as every model does, without sockets (as session_test.cpp's harness).
struct harness {
  explicit harness(server_config cfg) : ctx(std::make_unique<server_context>(std::move(cfg))), s(*ctx) {}

  session::step feed(std::string_view bytes) {
    session::step st = drain(s.process());
    while (!bytes.empty() && st.what == session::next::read) {
      auto space = s.read_space();
      const auto n = std::min(bytes.size(), space.size());
      std::memcpy(space.data(), bytes.data(), n);
      s.commit(n);
      bytes.remove_prefix(n);
      st = drain(s.process());
    }
    return st;
  }
  session::step drain(session::step st) {
    for (;;) {
      std::size_t wrote = 0;
      while (s.output_pending()) {
        const auto o = s.output();
        out.append(o.buffered).append(o.streamed);
        wrote += o.size();
        s.output_written(o.size());
      }
      writes.push_back(wrote);
      if (st.what == session::next::wait) {
        waits.push_back(st.wait);
        s.finish_wait();
      } else if (st.what != session::next::more) {
        return st;
      }
      st = s.process();
    }
  }
  std::vector<int> statuses() const {
    std::vector<int> v;
    for (std::size_t p = 0; (p = out.find("HTTP/1.1 ", p)) != std::string::npos; p += 9)
      v.push_back(std::atoi(out.c_str() + p + 9));
    return v;
  }

  std::unique_ptr<server_context> ctx;
  session s;
  std::string out;
  std::vector<std::chrono::microseconds> waits;
  std::vector<std::size_t> writes;  // bytes written before each step was followed
};

server_config faulty(std::string_view spec, bool admin = false) {
  server_config cfg;
  auto p = fault::parse_profile(spec);
  EXPECT_TRUE(p) << p.error();
  cfg.fault_profile = *p;
  cfg.admin = admin;
  return cfg;
}

const std::string hello = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string health = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string metrics_req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

std::string post(std::string_view path, std::string_view body) {
  return "POST " + std::string(path) + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

TEST(SessionFault, LatencyIsOneWaitPerRequestAndMetricsAndHealthAreExempt) {
  harness h(faulty("latency=fixed:7ms"));
  EXPECT_EQ(h.feed(hello + health + hello + metrics_req).what, session::next::read);
  EXPECT_EQ(h.statuses(), (std::vector<int>{200, 200, 200, 200}));
  EXPECT_EQ(h.waits, (std::vector<std::chrono::microseconds>{7ms, 7ms}));
  EXPECT_EQ(h.ctx->faults->stats().delayed, 2u);
  EXPECT_EQ(h.ctx->stats.in_flight(), 0);
  EXPECT_NE(h.out.find("perflab_fault_delayed_total 2\n"), std::string::npos);
  EXPECT_NE(h.out.find("perflab_fault_profile_info{spec=\"latency=fixed:7ms\"} 1\n"), std::string::npos);
}

TEST(SessionFault, ErrorIsTheStatusOnAKeptConnection) {
  harness h(faulty("error=1:502"));
  EXPECT_EQ(h.feed(hello + hello + health).what, session::next::read);
  EXPECT_EQ(h.statuses(), (std::vector<int>{502, 502, 200}));
  EXPECT_EQ(h.out.find("Connection: close"), std::string::npos);
  EXPECT_EQ(h.ctx->faults->stats().errors, 2u);
}

TEST(SessionFault, ResetClosesWithoutAResponseAfterTheLatency) {
  harness h(faulty("reset=1;latency=fixed:3ms"));
  EXPECT_EQ(h.feed(hello + hello).what, session::next::close);
  EXPECT_TRUE(h.out.empty()) << h.out;
  EXPECT_EQ(h.waits, (std::vector<std::chrono::microseconds>{3ms}));
  EXPECT_EQ(h.ctx->faults->stats().resets, 1u);
}

TEST(SessionFault, DripWritesTheBodyASlicePerInterval) {
  harness h(faulty("drip=4B/2ms"));
  // "Hello, World!" is 13 bytes: the head with 4, then 4, 4, 1 after a wait each.
  EXPECT_EQ(h.feed(hello + health).what, session::next::read);
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

TEST(SessionFaultAdmin, PostChangesTheProfileAndABadSpecIs400WithTheReason) {
  harness h(faulty("none", true));
  EXPECT_EQ(h.feed(hello + post("/admin/fault", "error=1:503") + hello + post("/admin/fault", "error=2") + hello +
                   post("/admin/fault", "") + hello + "GET /admin/fault HTTP/1.1\r\nHost: x\r\n\r\n")
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
