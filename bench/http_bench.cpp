// HTTP/1.1 parser costs: a typical ~300-byte request and ~150-byte response (goal: <= 150 ns
// each), against a baseline that only finds the end of the head (memmem "\r\n\r\n") in the same
// bytes: the least any parser must do.
#include "perflab/core/http.hpp"

#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using perflab::http::parse_status;
using perflab::http::request_parser;
using perflab::http::response_parser;

const std::string request_300 =
    "GET /api/v1/items?limit=10&offset=20 HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "User-Agent: perflab-loadgen/0.1\r\n"
    "Accept: application/json\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Connection: keep-alive\r\n"
    "Cache-Control: no-cache\r\n"
    "X-Request-Id: 0123456789abcdef0123456789abcdef\r\n"
    "X-Scenario: cache-zipf\r\n"
    "\r\n";

const std::string response_150 =
    "HTTP/1.1 200 OK\r\n"
    "Server: perflab-target\r\n"
    "Date: Sun, 22 Nov 2026 02:15:00 GMT\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";

const std::string response_chunked =
    "HTTP/1.1 200 OK\r\nServer: perflab-target\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nHello\r\n8\r\n, World!\r\n0\r\n\r\n";

void BM_Baseline_FindHeadEnd_Request(benchmark::State& state) {
  std::string buf = request_300;
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    const void* end = memmem(buf.data(), buf.size(), "\r\n\r\n", 4);
    benchmark::DoNotOptimize(end);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_Baseline_FindHeadEnd_Request);

void BM_Http_ParseRequest(benchmark::State& state) {
  std::string buf = request_300;
  request_parser p;
  for (auto _ : state) {
    p.reset();
    benchmark::DoNotOptimize(buf.data());
    const auto s = p.parse(buf);
    if (s != parse_status::complete) state.SkipWithError("request did not parse");
    benchmark::DoNotOptimize(p.headers().data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
  state.SetLabel(std::to_string(buf.size()) + " B");
}
BENCHMARK(BM_Http_ParseRequest);

// A slow client: the same request delivered in 10 pieces (scanning must resume, not restart).
void BM_Http_ParseRequest_TenPieces(benchmark::State& state) {
  std::string buf = request_300;
  request_parser p;
  const std::size_t piece = buf.size() / 10 + 1;
  for (auto _ : state) {
    p.reset();
    for (std::size_t n = piece; ; n += piece) {
      if (p.parse(std::span<char>(buf.data(), std::min(n, buf.size()))) != parse_status::need_more) break;
    }
    benchmark::DoNotOptimize(p.consumed());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_Http_ParseRequest_TenPieces);

// The worst slow client: one byte per read. Linear in the request size because scanning resumes;
// a parser that rescanned from the start would cost ~n^2/2 byte visits here.
void BM_Http_ParseRequest_OneByteAtATime(benchmark::State& state) {
  std::string buf = request_300;
  request_parser p;
  for (auto _ : state) {
    p.reset();
    for (std::size_t n = 1; n <= buf.size(); ++n) {
      if (p.parse(std::span<char>(buf.data(), n)) != parse_status::need_more) break;
    }
    benchmark::DoNotOptimize(p.consumed());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_Http_ParseRequest_OneByteAtATime);

void BM_Baseline_FindHeadEnd_Response(benchmark::State& state) {
  std::string buf = response_150;
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    const void* end = memmem(buf.data(), buf.size(), "\r\n\r\n", 4);
    benchmark::DoNotOptimize(end);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_Baseline_FindHeadEnd_Response);

void BM_Http_ParseResponse(benchmark::State& state) {
  const std::string_view buf = response_150;
  response_parser p;
  for (auto _ : state) {
    p.reset();
    benchmark::DoNotOptimize(buf.data());
    const auto r = p.feed(buf);
    if (!r.complete) state.SkipWithError("response did not parse");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
  state.SetLabel(std::to_string(buf.size()) + " B");
}
BENCHMARK(BM_Http_ParseResponse);

void BM_Http_ParseResponse_Chunked(benchmark::State& state) {
  const std::string_view buf = response_chunked;
  response_parser p;
  for (auto _ : state) {
    p.reset();
    benchmark::DoNotOptimize(buf.data());
    const auto r = p.feed(buf);
    if (!r.complete) state.SkipWithError("response did not parse");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_Http_ParseResponse_Chunked);

}  // namespace

BENCHMARK_MAIN();
