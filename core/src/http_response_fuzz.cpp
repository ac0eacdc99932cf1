// libFuzzer target for the response parser. Input: one flags byte (bit 0: the requests were HEAD;
// the rest: piece size), then a stream of (pipelined) response bytes ending in EOF. The stream is
// parsed whole and in pieces; both runs must agree response by response, and every progress
// report must be consistent with the bytes fed.
#include "perflab/core/http.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace {

using perflab::http::errc;
using perflab::http::response_parser;

void require(bool ok) {
  if (!ok) std::abort();
}

struct outcome {
  bool complete;
  errc error;
  int status;
  std::uint64_t body_bytes;
  std::uint64_t wire_bytes;
  bool keep_alive;
  bool operator==(const outcome&) const = default;
};

std::vector<outcome> run(std::string_view input, bool no_body, std::size_t step) {
  std::vector<outcome> out;
  response_parser p;
  std::size_t offset = 0;
  while (offset < input.size()) {
    p.reset(no_body);
    std::uint64_t fed = 0;
    bool first = true;
    bool complete = false;
    while (offset < input.size()) {
      const auto piece = input.substr(offset, step);
      const auto r = p.feed(piece);
      require(r.consumed <= piece.size());
      require(r.started == first);
      if (r.started) require(r.first_byte == 0);
      first = false;
      fed += r.consumed;
      offset += r.consumed;
      require(p.wire_bytes() == fed);
      require(p.body_bytes() <= p.wire_bytes());
      if (r.error != errc::ok) {
        require(!r.complete && p.error() == r.error && !p.in_progress());
        break;
      }
      if (r.complete) {
        require(r.consumed > 0 && p.complete() && p.head_complete());
        complete = true;
        break;
      }
      require(r.consumed == piece.size());  // an unfinished response takes everything it is given
    }
    if (p.error() == errc::ok && !complete) {
      const bool was_in_progress = p.in_progress();
      complete = p.finish_eof();
      require(complete || !was_in_progress == (p.error() == errc::ok));
    }
    if (complete) {
      const int s = p.status();
      require(s >= 100 && s <= 999);
      if (s == 204 || s == 304 || no_body) require(p.body_bytes() == 0);
    }
    out.push_back({complete, p.error(), p.status(), p.body_bytes(), p.wire_bytes(), p.keep_alive()});
    if (!complete || !p.keep_alive()) break;
  }
  return out;
}

bool hit_header_limit(const std::vector<outcome>& v) {
  for (const auto& o : v)
    if (o.error == errc::headers_too_large) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool no_body = (flags & 1) != 0;
  const std::size_t step = 1 + (flags >> 1);
  const auto whole = run(input, no_body, input.size() + 1);
  const auto split = run(input, no_body, step);
  // The header-size limit is checked per feed() call, so where it trips may depend on the split.
  if (!hit_header_limit(whole) && !hit_header_limit(split)) require(whole == split);
  return 0;
}
