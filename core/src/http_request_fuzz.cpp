// libFuzzer target for the request parser. Input: one flags byte, then a stream of (pipelined)
// request bytes. The stream is parsed whole, in pieces of a fuzzed size, and in pieces with
// compact() after every need_more, and the runs must agree message by message: neither
// splitting nor compacting may change a verdict (compacting changes only consumed()). Also
// checks that views stay inside the buffer and consumed() never exceeds what was given.
#include "perflab/core/http.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using perflab::http::errc;
using perflab::http::parse_status;
using perflab::http::request_limits;
using perflab::http::request_parser;

void require(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::string_view v, const char* begin, std::size_t size) {
  return v.empty() || (v.data() >= begin && v.data() + v.size() <= begin + size);
}

struct message {
  parse_status status;
  errc error;
  std::size_t consumed;
  std::string method, target, body;
  std::size_t headers;
  bool keep_alive;
  bool operator==(const message&) const = default;
};

std::vector<message> run(std::string_view input, const request_limits& limits, std::size_t step, bool compact = false) {
  std::vector<char> buf(input.begin(), input.end());
  std::vector<message> out;
  request_parser p(limits);
  std::size_t offset = 0;
  std::size_t avail = std::min(step, buf.size());
  while (offset < buf.size()) {
    const std::size_t n = avail - offset;
    const auto s = p.parse(std::span<char>(buf.data() + offset, n));
    if (s == parse_status::need_more) {
      if (compact) {
        // The parser moved the undecoded rest down; drop the bytes it freed from the window.
        const std::size_t k = p.compact(std::span<char>(buf.data() + offset, n));
        require(k <= n);
        buf.erase(buf.begin() + static_cast<std::ptrdiff_t>(offset + n - k),
                  buf.begin() + static_cast<std::ptrdiff_t>(offset + n));
        avail -= k;
      }
      if (avail == buf.size()) break;
      avail = std::min(avail + step, buf.size());
      continue;
    }
    message m{s, p.error(), 0, {}, {}, {}, 0, false};
    if (s == parse_status::error) {
      const int st = p.error_status();
      require(st == 400 || st == 413 || st == 414 || st == 417 || st == 431 || st == 501 || st == 505);
      require(p.must_close());
      out.push_back(m);
      break;
    }
    const char* base = buf.data() + offset;
    require(p.consumed() > 0 && p.consumed() <= n);
    require(p.body().size() <= p.consumed());
    require(inside(p.method(), base, p.consumed()) && inside(p.target(), base, p.consumed()));
    require(inside(p.body(), base, p.consumed()));
    require(!p.method().empty() && !p.target().empty());
    require(p.headers().size() <= limits.max_headers);
    require(p.body().size() <= limits.max_body);
    for (const auto& h : p.headers()) require(inside(h.name, base, p.consumed()) && inside(h.value, base, p.consumed()));
    m.consumed = p.consumed();
    m.method = p.method();
    m.target = p.target();
    m.body = p.body();
    m.headers = p.headers().size();
    m.keep_alive = p.keep_alive();
    out.push_back(std::move(m));
    offset += p.consumed();
    avail = std::max(avail, offset);
    p.reset();
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  request_limits limits;
  if (flags & 1) {
    // Small limits so that every limit is reachable with short inputs.
    limits.max_request_line = 40;
    limits.max_header_bytes = 64;
    limits.max_headers = 3;
    limits.max_body = 16;
  }
  const std::size_t step = 1 + (flags >> 1);
  const auto whole = run(input, limits, input.size());
  const auto split = run(input, limits, step);
  require(whole == split);
  auto compacted = run(input, limits, step, true);
  require(compacted.size() == whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    compacted[i].consumed = whole[i].consumed;
    require(compacted[i] == whole[i]);
  }
  return 0;
}
