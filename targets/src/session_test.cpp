#include <perflab/targets/session.hpp>

#include <gtest/gtest.h>

#include "session_harness.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace perflab::targets {
namespace {

using harness = session_harness;

struct robustness_case {
  const char* name;
  std::string request;
  int status;
  bool closes;
};

std::vector<robustness_case> robustness_cases() {
  return {
      {"hello", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 200, false},
      {"not found", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404, false},
      {"method not allowed", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, false},
      {"unknown method", "BREW /hello HTTP/1.1\r\nHost: x\r\n\r\n", 501, false},
      {"headers too large", "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n", 431, true},
      {"request line too long", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, true},
      {"body too large", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413, true},
      {"content-length with transfer-encoding",
       "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true},
      {"transfer coding without chunked", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400, true},
      {"unknown coding before chunked", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
       true},
      {"transfer-encoding in http/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true},
      {"missing host", "GET /hello HTTP/1.1\r\n\r\n", 400, true},
      {"absolute-form", "GET http://x/hello HTTP/1.1\r\nHost: x\r\n\r\n", 200, false},
      {"options *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 200, false},
      {"unknown expectation", "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: x\r\nContent-Length: 1\r\n\r\nx", 417, true},
      {"garbage", "\x16\x03\x01\x02\x01 hello\r\n\r\n", 400, true},
      {"header without colon", "GET /hello HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, true},
      {"bad content-length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n", 400, true},
      {"connection close", "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200, true},
      {"http/1.0 default close", "GET /hello HTTP/1.0\r\n\r\n", 200, true},
      {"http/1.0 keep-alive", "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, false},
  };
}

TEST(SessionRobustness, AnswersEachCaseAndClosesWhenFramingIsLost) {
  for (const auto& c : robustness_cases()) {
    for (std::size_t piece : {std::size_t{1} << 20, std::size_t{7}}) {
      SCOPED_TRACE(std::string(c.name) + " piece=" + std::to_string(piece));
      harness h;
      const auto st = h.feed(c.request, piece);
      ASSERT_EQ(h.statuses(), std::vector<int>{c.status}) << h.out;
      EXPECT_EQ(st.what, c.closes ? session::next::close : session::next::read);
      EXPECT_EQ(h.out.find("Connection: close") != std::string::npos, c.closes) << h.out;
    }
  }
}

TEST(SessionHead, ErrorAnswersToHeadHaveNoBody) {
  harness bad;
  bad.feed("HEAD /hello HTTP/1.1\r\nHost: x\r\nBad Field\r\n\r\n");
  ASSERT_EQ(bad.statuses(), std::vector<int>{400});
  EXPECT_TRUE(bad.out.ends_with("\r\n\r\n")) << bad.out;
  harness slow;
  slow.feed("HEAD /hello HTTP/1.1\r\nHost: x\r\n");
  ASSERT_TRUE(slow.s.on_timeout());
  slow.drain(slow.s.process());
  ASSERT_EQ(slow.statuses(), std::vector<int>{408});
  EXPECT_TRUE(slow.out.ends_with("\r\n\r\n")) << slow.out;
}

TEST(SessionEmptyLines, ACrlfAfterABodyIsNotARequest) {
  // RFC 9112 2.2: ignored, so it neither starts a header deadline (408) nor waits for more.
  // The tail after the body, and what completes it before the next request ("\r" may be the
  // first half of a CRLF whose LF comes in the next read).
  for (const auto& [tail, rest] : {std::pair{"\r\n", ""}, {"\n", ""}, {"\r\n\r\n", ""}, {"\r", "\n"}}) {
    SCOPED_TRACE(testing::PrintToString(tail));
    harness h;
    EXPECT_EQ(h.feed(std::string("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi") + tail).what,
              session::next::read);
    EXPECT_EQ(h.statuses(), std::vector<int>{200});
    EXPECT_TRUE(h.s.idle());
    EXPECT_FALSE(h.s.on_timeout());  // an idle timeout: close quietly, no 408
    h.feed(std::string(rest) + "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(h.statuses(), (std::vector<int>{200, 200}));
  }
}

TEST(SessionBody, ChunkedBodyLimitCountsDecodedBytes) {
  // 1,000,000 bytes in 8-byte chunks is 1,625,000 bytes on the wire, more than the buffer may
  // hold; the framing is given back as it is decoded.
  std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 125000; ++i) req += "8\r\n" + std::string(8, static_cast<char>('a' + i % 26)) + "\r\n";
  req += "0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  harness h;
  EXPECT_EQ(h.feed(req, 65536).what, session::next::read);
  ASSERT_EQ(h.statuses(), (std::vector<int>{200, 200})) << h.out.substr(0, 300);
  EXPECT_NE(h.out.find("\r\nContent-Length: 1000000\r\n"), std::string::npos);
}

TEST(SessionPipelining, AnswersInOrderAcrossSplits) {
  const std::string reqs =
      "GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nping"
      "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{5}, std::size_t{1000}}) {
    harness h;
    EXPECT_EQ(h.feed(reqs, piece).what, session::next::read);
    EXPECT_EQ(h.statuses(), (std::vector<int>{200, 404, 200, 200})) << h.out;
    const auto ping = h.out.find("ping");
    const auto hello = h.out.find("Hello, World!");
    EXPECT_NE(ping, std::string::npos);
    EXPECT_LT(h.out.find("abc"), ping);
    EXPECT_LT(ping, hello);
    EXPECT_EQ(h.s.requests_answered(), 4u);
  }
}

TEST(SessionPipelining, NothingAfterConnectionCloseIsAnswered) {
  harness h;
  const auto st = h.feed("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(st.what, session::next::close);
  EXPECT_EQ(h.statuses(), std::vector<int>{200});
}

TEST(SessionBody, DecodesChunkedRequestBodies) {
  harness h;
  h.feed("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n8\r\n, World!\r\n0\r\n\r\n", 3);
  ASSERT_EQ(h.statuses(), std::vector<int>{200}) << h.out;
  EXPECT_NE(h.out.find("Content-Length: 13\r\n"), std::string::npos);
  EXPECT_TRUE(h.out.ends_with("\r\n\r\nHello, World!"));
}

TEST(SessionBuffer, GrowsAndMovesWhileAChunkedBodyIsHalfDecoded) {
  // A small request first, so the large one starts mid-buffer and gets moved, then the buffer
  // doubles several times while chunks are being decoded in place.
  std::string body;
  for (int i = 0; i < 100000; ++i) body.push_back(static_cast<char>('A' + i % 26));
  std::string req = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t off = 0; off < body.size(); off += 1000) req += "3e8\r\n" + body.substr(off, 1000) + "\r\n";
  req += "0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::size_t piece : {std::size_t{1500}, std::size_t{65536}}) {
    harness h;
    EXPECT_EQ(h.feed(req, piece).what, session::next::read);
    ASSERT_EQ(h.statuses(), (std::vector<int>{200, 200, 200}));
    EXPECT_NE(h.out.find("\r\n\r\n" + body + "HTTP/1.1 200"), std::string::npos);
  }
}

TEST(SessionBody, AnswersExpectContinueBeforeTheBody) {
  harness h;
  h.feed("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(h.out, "HTTP/1.1 100 Continue\r\n\r\n");
  h.feed("ping");
  EXPECT_TRUE(h.out.ends_with("\r\n\r\nping"));
  EXPECT_EQ(h.statuses(), (std::vector<int>{100, 200}));
}

TEST(SessionWait, SleepIsDeferredToTheModelAndKeepsOrder) {
  harness h;
  h.feed("GET /sleep?ms=25 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(h.waits.size(), 1u);
  EXPECT_EQ(h.waits[0], std::chrono::milliseconds(25));
  EXPECT_EQ(h.statuses(), (std::vector<int>{200, 200}));
  EXPECT_LT(h.out.find("slept 25 ms"), h.out.find("Hello, World!"));
}

TEST(SessionTimeout, PartialRequestGets408IdleGetsNothing) {
  harness idle;
  idle.feed("");
  EXPECT_FALSE(idle.s.on_timeout());
  EXPECT_TRUE(idle.s.output().empty());

  harness slow;
  EXPECT_EQ(slow.feed("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ").what, session::next::read);
  EXPECT_FALSE(slow.s.idle());
  EXPECT_TRUE(slow.s.on_timeout());
  EXPECT_EQ(slow.drain(slow.s.process()).what, session::next::close);
  EXPECT_EQ(slow.statuses(), std::vector<int>{408});
  EXPECT_NE(slow.out.find("Connection: close"), std::string::npos);
}

TEST(SessionDeadline, HeaderDeadlineCountsFromTheFirstByte) {
  server_config cfg;
  cfg.header_timeout = std::chrono::milliseconds(500);
  cfg.idle_timeout = std::chrono::seconds(60);
  harness h(cfg);
  const auto before = now_ns();
  const auto idle_deadline = h.s.read_deadline_ns();
  EXPECT_GE(idle_deadline - before, 59'000'000'000);
  h.feed("GET /hel");
  const auto d1 = h.s.read_deadline_ns();
  EXPECT_LE(d1 - before, 600'000'000);
  h.feed("lo HTTP/1.1\r\nHost: x\r\nA: b\r\n");
  EXPECT_EQ(h.s.read_deadline_ns(), d1);  // more bytes do not extend it (slowloris)
}

TEST(SessionDeadline, RequestPipelinedBehindAWaitGetsItsOwnHeaderDeadline) {
  server_config cfg;
  cfg.header_timeout = std::chrono::milliseconds(30);
  harness h(cfg);
  // A /sleep and the first half of the next request, in one read.
  const auto st = h.s.process();
  ASSERT_EQ(st.what, session::next::read);
  const std::string bytes = "GET /sleep?ms=50 HTTP/1.1\r\nHost: x\r\n\r\nGET /hel";
  std::memcpy(h.s.read_space().data(), bytes.data(), bytes.size());
  h.s.commit(bytes.size());
  ASSERT_EQ(h.s.process().what, session::next::wait);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the model's wait
  const auto waited = now_ns();
  h.s.finish_wait();
  EXPECT_EQ(h.drain(h.s.process()).what, session::next::read);
  // The half request's 30 ms count from the end of the wait, not from the /sleep's arrival.
  EXPECT_GE(h.s.read_deadline_ns(), waited + 30'000'000);
  EXPECT_EQ(h.feed("lo HTTP/1.1\r\nHost: x\r\n\r\n").what, session::next::read);
  EXPECT_EQ(h.statuses(), (std::vector<int>{200, 200}));
}

TEST(SessionStop, AnswersInFlightWithCloseThenStops) {
  harness h;
  h.feed("GET /hello HTTP/1.1\r\nHost: x\r\n");
  h.ctx->stopping = true;
  const auto st = h.feed("\r\n");
  EXPECT_EQ(st.what, session::next::close);
  EXPECT_EQ(h.statuses(), std::vector<int>{200});
  EXPECT_NE(h.out.find("Connection: close"), std::string::npos);

  harness idle;
  idle.ctx->stopping = true;
  EXPECT_EQ(idle.s.process().what, session::next::close);
}

TEST(SessionMetrics, CountsRequestsByEndpointAndStatus) {
  harness h;
  h.feed("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(h.ctx->stats.requests(endpoint::hello, 200), 2u);
  EXPECT_EQ(h.ctx->stats.requests(endpoint::not_found, 404), 1u);
  EXPECT_EQ(h.ctx->stats.in_flight(), 0);
}

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t p = 0; (p = text.find(what, p)) != std::string_view::npos; p += what.size()) ++n;
  return n;
}

TEST(SessionOutput, PipelinedRequestsWaitWhileTheOutputIsUnwritten) {
  // 51 requests for 8 MiB each in one read: answered one at a time as the client takes them.
  constexpr int n = 51;
  constexpr std::uint64_t size = 8 << 20;
  std::string reqs;
  for (int i = 0; i < n; ++i) reqs += "GET /bytes/" + std::to_string(size) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  harness h;
  ASSERT_EQ(h.s.process().what, session::next::read);
  std::memcpy(h.s.read_space().data(), reqs.data(), reqs.size());
  h.s.commit(reqs.size());
  std::uint64_t written = 0, heads = 0;
  std::size_t most_held = 0;
  session::step st = h.s.process();
  for (int guard = 0; guard < 1'000'000; ++guard) {
    most_held = std::max(most_held, h.s.buffer_capacity());
    while (h.s.output_pending()) {
      const auto o = h.s.output();
      // What a write hands the kernel at once is bounded too: the buffered heads and one slice.
      EXPECT_LE(o.size(), session::output_bound + filler_slice);
      heads += count(o.buffered, "HTTP/1.1 200 OK");
      written += o.streamed.size();
      h.s.output_written(o.size());
    }
    if (st.what != session::next::more) break;
    st = h.s.process();
  }
  EXPECT_EQ(st.what, session::next::read);
  EXPECT_EQ(h.s.requests_answered(), static_cast<std::size_t>(n));
  EXPECT_EQ(heads, static_cast<std::uint64_t>(n));
  EXPECT_EQ(written, n * size);
  EXPECT_LE(most_held, 2 * session::keep_capacity) << "the connection held the responses at once";
}

TEST(SessionOutput, BatchesSmallPipelinedResponsesUpToTheBound) {
  std::string reqs;
  for (int i = 0; i < 2000; ++i) reqs += "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  harness h;
  ASSERT_EQ(h.s.process().what, session::next::read);
  std::size_t answered = 0, writes = 0;
  while (!reqs.empty() || h.s.output_pending()) {
    auto space = h.s.read_space();
    const auto k = std::min(space.size(), reqs.size());
    std::memcpy(space.data(), reqs.data(), k);
    h.s.commit(k);
    reqs.erase(0, k);
    for (auto st = h.s.process();; st = h.s.process()) {
      while (h.s.output_pending()) {
        const auto o = h.s.output();
        EXPECT_LE(o.buffered.size(), session::output_bound + 512);
        answered += count(o.buffered, "Hello, World!");
        ++writes;
        h.s.output_written(o.size());
      }
      if (st.what != session::next::more) break;
    }
  }
  EXPECT_EQ(answered, 2000u);
  EXPECT_LT(writes, 200u) << "pipelined responses were not batched";
}

TEST(SessionOutput, LargeBytesBodiesStreamFromOneSharedBlock) {
  // Two connections ask for a body larger than one slice; their writes point into the same
  // block, and the bytes are the a..z pattern across slice boundaries.
  constexpr std::uint64_t size = 3 * filler_slice + 1000;
  harness a, b;
  const std::string req = "GET /bytes/" + std::to_string(size) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  a.feed(req);
  std::memcpy(b.s.read_space().data(), req.data(), req.size());
  b.s.commit(req.size());
  ASSERT_EQ(b.s.process().what, session::next::read);
  ASSERT_TRUE(b.s.output_pending());
  const auto first = b.s.output().streamed;
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.data(), filler(0, 1).data());
  EXPECT_LE(first.size(), filler_slice);
  const auto body = a.out.substr(a.out.find("\r\n\r\n") + 4);
  ASSERT_EQ(body.size(), size);
  for (std::size_t i = 0; i < body.size(); ++i)
    if (body[i] != static_cast<char>('a' + i % 26)) FAIL() << "byte " << i << " is '" << body[i] << "'";
}

TEST(SessionOutput, AWriteMayTakeAnyPartOfTheOutput) {
  const std::string req = "GET /bytes/100000 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  harness h;
  ASSERT_EQ(h.s.process().what, session::next::read);
  std::memcpy(h.s.read_space().data(), req.data(), req.size());
  h.s.commit(req.size());
  std::string got;
  for (auto st = h.s.process();; st = h.s.process()) {
    while (h.s.output_pending()) {
      const auto o = h.s.output();
      const std::string all = std::string(o.buffered) + std::string(o.streamed);
      const std::size_t n = std::min<std::size_t>(all.size(), 777);  // a socket that takes 777 bytes a time
      got += all.substr(0, n);
      h.s.output_written(n);
    }
    if (st.what != session::next::more) break;
  }
  EXPECT_EQ(count(got, "HTTP/1.1 200 OK"), 2u);
  EXPECT_TRUE(got.ends_with("Hello, World!"));
  EXPECT_EQ(got.find(std::string(100, 'z')), std::string::npos);
  EXPECT_NE(got.find("xyzabc"), std::string::npos);
}

TEST(SessionMemory, ALargeResponseBufferIsReleasedOnceWritten) {
  harness h;
  h.feed("GET /json?items=100000 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(h.statuses(), std::vector<int>{200});
  ASSERT_GT(h.out.size(), 10u << 20);
  EXPECT_LE(h.s.buffer_capacity(), session::keep_capacity) << "the connection keeps the body's buffer";
  // And the next response is still built normally.
  h.feed("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(h.out.ends_with("Hello, World!"));
}

TEST(SessionWait, AConnectionThatEndsDuringAWaitEndsItsRequest) {
  server_context ctx{server_config{}};
  {
    session s(ctx);
    const std::string req = "GET /sleep?ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n";
    std::memcpy(s.read_space().data(), req.data(), req.size());
    s.commit(req.size());
    ASSERT_EQ(s.process().what, session::next::wait);
    EXPECT_EQ(ctx.stats.in_flight(), 1);
  }
  EXPECT_EQ(ctx.stats.in_flight(), 0);
}

TEST(SessionBuffer, ManyPipelinedRequestsReuseTheBuffer) {
  // More bytes than the compaction threshold, so requests get moved to the front.
  std::string reqs;
  for (int i = 0; i < 5000; ++i) reqs += "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  harness h;
  EXPECT_EQ(h.feed(reqs, 4096).what, session::next::read);
  EXPECT_EQ(h.s.requests_answered(), 5000u);
  EXPECT_TRUE(h.s.idle());
}

server_config rate_limited(std::string_view spec) {
  server_config cfg;
  cfg.rate_limit = *resilience::parse_rate_limit(spec);
  return cfg;
}

TEST(SessionRateLimit, RefusedIs429WithRetryAfterAndTheConnectionStaysOpen) {
  harness h(rate_limited("token-bucket:1/s,burst=1"));
  const std::string req = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(h.feed(req + req + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").what, session::next::read);
  EXPECT_EQ(h.statuses(), (std::vector<int>{200, 429, 200}));
  const auto refused = h.out.find("HTTP/1.1 429");
  const auto health = h.out.find("HTTP/1.1 200", refused);
  const std::string_view first = std::string_view(h.out).substr(0, refused);
  const std::string_view second = std::string_view(h.out).substr(refused, health - refused);
  EXPECT_NE(first.find("X-RateLimit-Limit: 1\r\nX-RateLimit-Remaining: 0\r\n"), std::string_view::npos) << first;
  EXPECT_EQ(first.find("Retry-After"), std::string_view::npos);
  EXPECT_NE(second.find("Retry-After: 1\r\n"), std::string_view::npos) << second;
  EXPECT_EQ(second.find("Connection: close"), std::string_view::npos);
  EXPECT_EQ(std::string_view(h.out).substr(health).find("X-RateLimit"), std::string_view::npos);  // not limited
  EXPECT_EQ(h.ctx->limiter->stats().refused, 1u);
}

TEST(SessionRateLimit, LeakyBucketDelayIsAWaitBeforeThePipelinedRequestIsHandled) {
  harness h(rate_limited("leaky-bucket:10/s,queue=5"));
  const std::string req = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(h.feed(req + req + req).what, session::next::read);
  EXPECT_EQ(h.statuses(), (std::vector<int>{200, 200, 200}));
  ASSERT_EQ(h.waits.size(), 2u);  // the first at once, then places 1 and 2 in the queue
  // Each wait is its slot minus the steady clock's now at admission: the time the test itself
  // takes between admissions only shortens them (25 ms of slack for a preempted test on a loaded
  // machine), never lengthens them.
  EXPECT_LE(h.waits[0].count(), 100'000);
  EXPECT_GT(h.waits[0].count(), 75'000);
  EXPECT_LE(h.waits[1].count(), 200'000);
  EXPECT_GT(h.waits[1].count(), 175'000);
  EXPECT_EQ(h.s.requests_answered(), 3u);
  EXPECT_EQ(h.ctx->limiter->stats().delayed, 2u);
  EXPECT_EQ(h.ctx->stats.in_flight(), 0);
}

}  // namespace
}  // namespace perflab::targets

namespace perflab::targets {
namespace {

server_config cache_config(bool coalesce) {
  server_config cfg;
  cache_options o;
  o.policy = "lru";
  o.coalesce = coalesce ? "on" : "off";
  o.origin_latency = "7ms";
  EXPECT_TRUE(apply_cache_options(o, cfg));
  return cfg;
}

TEST(SessionCache, AMissWaitsForTheOriginThenAHitIsAnsweredAtOnce) {
  harness h(cache_config(false));
  EXPECT_EQ(h.feed("GET /cache/k HTTP/1.1\r\nHost: x\r\n\r\n").what, session::next::read);
  ASSERT_EQ(h.waits.size(), 1u);
  EXPECT_EQ(h.waits[0], std::chrono::milliseconds(7));  // the origin call, the model's wait
  EXPECT_NE(h.out.find("\r\nX-Cache: MISS\r\n"), std::string::npos) << h.out;
  h.out.clear();
  EXPECT_EQ(h.feed("GET /cache/k HTTP/1.1\r\nHost: x\r\n\r\n").what, session::next::read);
  EXPECT_EQ(h.waits.size(), 1u);  // no second wait
  EXPECT_NE(h.out.find("\r\nX-Cache: HIT\r\n"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("key=k call=1"), std::string::npos) << h.out;
}

TEST(SessionCache, ASecondMissJoinsTheFirstsOriginCall) {
  auto ctx = std::make_unique<server_context>(cache_config(true));
  session leader(*ctx), follower(*ctx);
  const std::string req = "GET /cache/k HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send_only(leader, req).what, session::next::wait);
  ASSERT_EQ(send_only(follower, req).what, session::next::join);
  ASSERT_NE(follower.joined_flight(), nullptr);
  EXPECT_FALSE(follower.joined_flight()->ended());
  leader.finish_wait();  // the origin call is over
  EXPECT_TRUE(follower.joined_flight()->ended());
  follower.finish_wait();
  const auto a = leader.output().buffered, b = follower.output().buffered;
  EXPECT_NE(a.find("X-Cache: MISS"), std::string_view::npos);
  EXPECT_NE(b.find("X-Cache: MISS"), std::string_view::npos);
  EXPECT_EQ(a.substr(a.find("key=")), b.substr(b.find("key=")));
  EXPECT_EQ(ctx->cache->stats().origin_calls, 1u);
  EXPECT_EQ(ctx->cache->stats().coalesced_waits, 1u);
}

TEST(SessionCache, ALeaderThatGoesAwayLetsItsFollowerRetry) {
  auto ctx = std::make_unique<server_context>(cache_config(true));
  auto leader = std::make_unique<session>(*ctx);
  session follower(*ctx);
  const std::string req = "GET /cache/k HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send_only(*leader, req).what, session::next::wait);
  ASSERT_EQ(send_only(follower, req).what, session::next::join);
  leader.reset();  // the connection died during its origin call
  EXPECT_TRUE(follower.joined_flight()->ended());
  follower.finish_wait();
  EXPECT_EQ(follower.process().what, session::next::wait);  // it leads a new call itself
  EXPECT_EQ(ctx->cache->stats().origin_calls, 2u);
  EXPECT_EQ(ctx->cache->stats().abandoned, 1u);
}

}  // namespace
}  // namespace perflab::targets
