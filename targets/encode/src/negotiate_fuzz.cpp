// libFuzzer target for Accept-Encoding negotiation and the gzip encoder. Input: one field value.
// Checks: the answer is identity or an offered coding, for every offer; the value split into
// two field lines at any comma gives the same answer as one line (RFC 9110 5.3: one list); and
// the input bytes, gzipped at a level taken from their length, inflate back to themselves.
#include <perflab/encode/gzip.hpp>
#include <perflab/encode/negotiate.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <zlib.h>

namespace {

using perflab::encode::accept_encoding;
using perflab::encode::choose;
using perflab::encode::coding;
using perflab::encode::parse_accept;

void require(bool ok) {
  if (!ok) std::abort();
}

bool offered_or_identity(coding c, std::span<const coding> offered) {
  if (c == coding::identity) return true;
  for (const auto o : offered)
    if (o == c) return true;
  return false;
}

std::string gunzip(std::string_view gz) {
  z_stream zs{};
  require(inflateInit2(&zs, 15 + 16) == Z_OK);
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  char chunk[16384];
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - zs.avail_out);
  }
  require(rc == Z_STREAM_END && zs.avail_in == 0);
  inflateEnd(&zs);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view field(reinterpret_cast<const char*>(data), size);
  static constexpr std::array<coding, 1> gzip_only = {coding::gzip};
  static constexpr std::array<coding, 2> br_gzip = {coding::br, coding::gzip};
  static constexpr std::array<coding, 2> gzip_br = {coding::gzip, coding::br};
  for (const std::span<const coding> offered :
       {std::span<const coding>(gzip_only), std::span<const coding>(br_gzip), std::span<const coding>(gzip_br)}) {
    accept_encoding one;
    parse_accept(field, one);
    const coding whole = choose(one, offered);
    require(offered_or_identity(whole, offered));
    for (std::size_t comma = field.find(','); comma != std::string_view::npos; comma = field.find(',', comma + 1)) {
      accept_encoding two;
      parse_accept(field.substr(0, comma), two);
      parse_accept(field.substr(comma + 1), two);
      require(choose(two, offered) == whole);
    }
  }
  std::string gz;
  require(perflab::encode::append_gzip(field, 1 + static_cast<int>(size % 9), gz));
  require(gunzip(gz) == field);
  return 0;
}
