// Memory per connection stays bounded whatever the client asks for, on every model: pipelined
// requests are answered one bounded batch at a time, /bytes streams from a shared block, buffers
// give back what a large response took, and running out of memory is an answer, not a crash.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <sys/ioctl.h>
#include <sys/resource.h>

#include "target_harness.hpp"

namespace {

using namespace perflab::testing;

// Why the server's RSS is not lab-target's memory in this build (nullptr: it is). The tests then
// check everything but the RSS bounds, and report themselves skipped with this reason.
#if defined(__SANITIZE_ADDRESS__)
constexpr const char* rss_not_ours =
    "AddressSanitizer build: ASan keeps freed blocks in a quarantine and adds shadow memory, so RSS measures ASan";
#elif defined(__SANITIZE_THREAD__)
constexpr const char* rss_not_ours =
    "ThreadSanitizer build: TSan's allocator keeps what is freed and its shadow memory (several bytes per byte "
    "touched) is resident, so RSS measures TSan";
#else
constexpr const char* rss_not_ours = nullptr;
#endif
constexpr bool rss_is_ours = rss_not_ours == nullptr;

constexpr long kib_per_mib = 1024;

class TargetMemory : public model_test {};

// Bytes the kernel holds for the client to read (FIONREAD).
int queued(const client& c) {
  int n = 0;
  ::ioctl(c.fd(), FIONREAD, &n);
  return n;
}

TEST_P(TargetMemory, PipelinedFloodOfLargeResponsesKeepsMemoryBounded) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  const long base_kib = proc_status(t.pid(), "VmRSS");
  // 51 requests for 8 MiB each in one 2 KiB send, from a client that does not read yet: a server
  // that answers them all before writing holds 408 MiB.
  constexpr int n = 51;
  constexpr std::uint64_t size = 8 << 20;
  std::string flood;
  for (int i = 0; i < n; ++i) flood += "GET /bytes/" + std::to_string(size) + " HTTP/1.1\r\nHost: t\r\n\r\n";
  ASSERT_LE(flood.size(), 2048u);
  client c(t.port(), 10s, 64 * 1024);
  ASSERT_TRUE(c.send(flood));
  // The server is writing once the first bytes arrive; it has written all it can once the
  // client's receive queue stops growing (the socket buffers on both sides are full).
  ASSERT_TRUE(poll_until([&] { return queued(c) > 0; }, 10s)) << "no response started";
  int last = -1, same = 0;
  ASSERT_TRUE(poll_until([&] {
    const int q = queued(c);
    same = q == last ? same + 1 : 0;
    last = q;
    return same >= 5;
  }, 10s));
  const long peak_kib = proc_status(t.pid(), "VmHWM");
  if (rss_is_ours) {
    EXPECT_LT(peak_kib - base_kib, 48 * kib_per_mib) << "peak RSS " << peak_kib / kib_per_mib << " MiB from "
                                                     << base_kib / kib_per_mib << " MiB";
  }
  // Then the client reads: every response comes, whole and in order.
  for (int i = 0; i < n; ++i) {
    SCOPED_TRACE(i);
    auto r = c.read_head();
    ASSERT_TRUE(r) << "response " << i << " missing";
    EXPECT_EQ(r->status, 200);
    ASSERT_EQ(r->content_length, size);
    ASSERT_EQ(c.drain(size), size);
  }
  EXPECT_FALSE(t.exited());
  expect_still_serving(t.port());
  if (!rss_is_ours) GTEST_SKIP() << "responses checked, peak RSS not: " << rss_not_ours;
}

TEST_P(TargetMemory, LargeResponsesOnKeptAliveConnectionsGiveTheirMemoryBack) {
#if defined(__SANITIZE_THREAD__)
  // What it measures is RSS, which is TSan's here, and building 8 x 11 MB of JSON under TSan takes
  // longer than the client's 20 s read deadline on a busy machine (it failed there on every model).
  GTEST_SKIP() << rss_not_ours << "; and the 8 x 11 MB of /json take TSan longer than the 20 s read deadline "
                                  "(the release and ASan runs check the responses)";
#endif
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  // As many connections as the pool has workers, all kept alive throughout.
  constexpr int conns = 8;
  std::vector<client> cs;
  for (int i = 0; i < conns; ++i) {
    cs.emplace_back(t.port(), 20s);
    ASSERT_TRUE(cs.back().request(get_hello));
  }
  const long base_kib = proc_status(t.pid(), "VmRSS");
  // ~11 MB of JSON, 32 MiB of bytes, a 1 MiB upload echoed back.
  const std::vector<std::string> large = {
      "GET /json?items=100000 HTTP/1.1\r\nHost: t\r\n\r\n", "GET /bytes/33554432 HTTP/1.1\r\nHost: t\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n" + std::string(1 << 20, 'e')};
  for (auto& c : cs) {
    for (const auto& req : large) {
      ASSERT_TRUE(c.send(req));
      auto r = c.read_head();
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->head;
      ASSERT_EQ(c.drain(r->content_length), r->content_length);
    }
  }
  for (auto& c : cs) ASSERT_TRUE(c.request(get_hello)) << "a connection was not kept alive";
  const long after_kib = proc_status(t.pid(), "VmRSS");
  if (rss_is_ours) {
    EXPECT_LT(after_kib - base_kib, 16 * kib_per_mib) << "RSS " << after_kib / kib_per_mib << " MiB after, "
                                                      << base_kib / kib_per_mib << " MiB before";
  }
  if (!rss_is_ours) GTEST_SKIP() << "responses checked, RSS after them not: " << rss_not_ours;
}

// An idle keep-alive connection holds no read or response buffer (they are lent by the
// per-thread buffer pool only while a request is in flight), and one that is mid-request holds
// its read buffer. The scrape itself always holds two: its request's and its response's.
TEST_P(TargetMemory, IdleConnectionsHoldNoPooledBuffersBusyOnesOneEach) {
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  constexpr int n = 6;  // below thread-pool's 8 workers, with the scrape's connection
  const std::string gauge = "\nperflab_target_pooled_buffers_in_use ";
  std::vector<client> cs;
  for (int i = 0; i < n; ++i) {
    cs.emplace_back(t.port());
    ASSERT_TRUE(cs.back().request(get_hello));
  }
  // A response's buffer goes back after its write returns, maybe after the client has read it.
  EXPECT_TRUE(wait_for_metric(t.port(), gauge + "2\n", 10s)) << scrape_metrics(t.port()).value_or("");
  // Each sends a request's head and part of its body: it holds its read buffer until the rest.
  for (auto& c : cs) ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n0123456789"));
  EXPECT_TRUE(wait_for_metric(t.port(), gauge + std::to_string(n + 2) + "\n", 10s)) << scrape_metrics(t.port()).value_or("");
  for (auto& c : cs) {
    ASSERT_TRUE(c.send("abcdefghij"));
    auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "0123456789abcdefghij");
  }
  EXPECT_TRUE(wait_for_metric(t.port(), gauge + "2\n", 10s)) << scrape_metrics(t.port()).value_or("");
}

#if !defined(__SANITIZE_ADDRESS__)
TEST_P(TargetMemory, RunningOutOfMemoryIsA503OrACloseNeverACrash) {
#if defined(__SANITIZE_THREAD__)
  // Under RLIMIT_DATA TSan's own allocator fails first (its heap and shadow are mappings it makes
  // outside malloc): TSan reports out of memory and ends the process, so no std::bad_alloc ever
  // reaches lab-target's handlers, which are what this test checks.
  GTEST_SKIP() << "ThreadSanitizer build: TSan's allocator, not lab-target's code, meets the RLIMIT_DATA limit "
                  "and aborts the process (the release and debug builds check this)";
#endif
  target_process t(model_args(GetParam()));
  ASSERT_GT(t.port(), 0) << t.first_line();
  client c(t.port());
  ASSERT_TRUE(c.request(get_hello));  // the connection, its thread and buffers exist before the limit
  // RLIMIT_DATA bounds the heap and every private writable mapping: 4 MiB more than now, and
  // ~11 MB of JSON cannot be built.
  const long data_kib = proc_status(t.pid(), "VmData");
  ASSERT_GT(data_kib, 0);
  const rlimit tight{static_cast<rlim_t>(data_kib + 4 * kib_per_mib) * 1024, RLIM_INFINITY};
  ASSERT_EQ(::prlimit(t.pid(), RLIMIT_DATA, &tight, nullptr), 0);
  ASSERT_TRUE(c.send("GET /json?items=100000 HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read();
  const rlimit none{RLIM_INFINITY, RLIM_INFINITY};
  ASSERT_EQ(::prlimit(t.pid(), RLIMIT_DATA, &none, nullptr), 0);
  if (r) {
    EXPECT_EQ(r->status, 503) << r->head;
    EXPECT_TRUE(r->close);
  }
  EXPECT_TRUE(c.closed_by_peer()) << "the connection stayed open";
  ASSERT_FALSE(t.exited()) << "lab-target died (signal " << t.term_signal() << ")";
  // Counted, and nothing left in flight but the scrape itself.
  const auto failures = metric_value(t.port(), "perflab_target_allocation_failures_total");
  ASSERT_TRUE(failures);
  EXPECT_GE(*failures, 1);
  EXPECT_EQ(metric_value(t.port(), "perflab_target_in_flight_requests"), 1);
  if (r) {
    EXPECT_EQ(metric_value(t.port(), "perflab_target_requests_total{endpoint=\"json\",status=\"503\"}"), 1);
  }
  expect_still_serving(t.port());
}
#endif

INSTANTIATE_TEST_SUITE_P(AllModels, TargetMemory, ::testing::ValuesIn(all_models),
                         [](const auto& p) { return model_test_name(p.param); });

}  // namespace
