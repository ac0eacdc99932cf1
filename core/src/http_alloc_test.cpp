// Steady-state parsing must not allocate (house rule: no allocation per request on hot paths).
// This file replaces the global operator new of the core test binary with a counting one; it
// counts only while a test switches counting on.
#include "perflab/core/http.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

namespace {
std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};

struct count_allocations {
  count_allocations() {
    allocations = 0;
    counting = true;
  }
  ~count_allocations() { counting = false; }
  std::size_t count() const { return allocations.load(); }
};
}  // namespace

// GCC pairs the builtin operator new with free() at inlined call sites and warns
// (-Wmismatched-new-delete), not knowing both sides are replaced here and use malloc/free.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace {

using perflab::http::parse_status;
using perflab::http::request_parser;
using perflab::http::response_parser;

TEST(HttpAllocation, CountingHookSeesAllocations) {
  // Guards the other tests in this file: the hook must actually observe an allocation.
  count_allocations scope;
  auto* p = new std::vector<int>(100);
  const auto seen = scope.count();
  delete p;
  EXPECT_GE(seen, 1u);
}

TEST(HttpAllocation, RequestParserAllocatesNothingPerRequest) {
  // Built before counting: the caller's buffers and the parser exist up front.
  const std::vector<std::string> templates = {
      "GET /json?items=5 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: perflab\r\nAccept: */*\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
      "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n",
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  };
  std::string pipeline;
  for (const auto& t : templates) pipeline += t;
  std::vector<char> buf(pipeline.size());
  request_parser p;
  // Its header slots are allocated by the first request with fields (grown as requests need
  // them), and then reused.
  std::copy(pipeline.begin(), pipeline.end(), buf.begin());
  ASSERT_EQ(p.parse(std::span<char>(buf)), parse_status::complete);
  std::size_t completed = 0;
  {
    count_allocations scope;
    for (int round = 0; round < 2000; ++round) {
      std::copy(pipeline.begin(), pipeline.end(), buf.begin());  // chunked decoding rewrites in place
      std::size_t offset = 0;
      while (offset < buf.size()) {
        p.reset();
        if (p.parse(std::span<char>(buf).subspan(offset)) != parse_status::complete) break;
        offset += p.consumed();
        ++completed;
      }
      // A slow client: the same request one byte at a time.
      p.reset();
      for (std::size_t n = 1; n <= templates[2].size(); ++n)
        if (p.parse(std::span<char>(buf.data(), n)) != parse_status::need_more) break;
    }
    EXPECT_EQ(scope.count(), 0u);
  }
  EXPECT_EQ(completed, 2000u * templates.size());
}

TEST(HttpAllocation, ResponseParserAllocatesNothingPerResponse) {
  const std::string responses =
      "HTTP/1.1 200 OK\r\nServer: perflab\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
      "{\"ok\": true }"
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
  response_parser p;
  std::size_t completed = 0;
  {
    count_allocations scope;
    for (int round = 0; round < 2000; ++round) {
      std::string_view rest = responses;
      while (!rest.empty()) {
        p.reset();
        // Split reads, as a socket delivers them.
        auto r = p.feed(rest.substr(0, 17));
        std::size_t used = r.consumed;
        if (!r.complete) {
          r = p.feed(rest.substr(used));
          used += r.consumed;
        }
        if (!r.complete) break;
        rest.remove_prefix(used);
        ++completed;
      }
    }
    EXPECT_EQ(scope.count(), 0u);
  }
  EXPECT_EQ(completed, 2000u * 3u);
}

}  // namespace
