#include "perflab/core/hdr_log.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <ctime>
#include <istream>
#include <ostream>
#include <stdexcept>

#include <fmt/format.h>
#include <zlib.h>

namespace perflab::hdr {

namespace {

// Cookies, as HdrHistogram (Java AbstractHistogram) defines them; the low nibble of the second
// byte carries the word size, which decoders mask away with ~0xF0.
constexpr std::uint32_t v2_encoding_cookie = 0x1c849313;
constexpr std::uint32_t v2_compressed_cookie = 0x1c849314;
constexpr std::uint32_t cookie_mask = ~std::uint32_t{0xF0};
constexpr std::size_t payload_header_size = 40;  // cookie, length, offset, digits, lowest, highest, ratio

// ---- base64 (standard alphabet, padded) -------------------------------------------------------

constexpr char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(const std::vector<std::uint8_t>& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
    out += b64_alphabet[(n >> 18) & 63];
    out += b64_alphabet[(n >> 12) & 63];
    out += b64_alphabet[(n >> 6) & 63];
    out += b64_alphabet[n & 63];
  }
  if (const std::size_t rest = in.size() - i; rest > 0) {
    std::uint32_t n = std::uint32_t{in[i]} << 16;
    if (rest == 2) n |= std::uint32_t{in[i + 1]} << 8;
    out += b64_alphabet[(n >> 18) & 63];
    out += b64_alphabet[(n >> 12) & 63];
    out += rest == 2 ? b64_alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

tl::expected<std::vector<std::uint8_t>, std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0)
    return tl::unexpected(fmt::format("base64 length {} is not a multiple of 4 (truncated?)", in.size()));
  std::vector<std::uint8_t> out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + static_cast<std::size_t>(k)];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      v[k] = b64_value(c);
      if (v[k] < 0 || pad > 0)
        return tl::unexpected(fmt::format("invalid base64 character at offset {}", i + static_cast<std::size_t>(k)));
    }
    const std::uint32_t n = (std::uint32_t(v[0]) << 18) | (std::uint32_t(v[1]) << 12) |
                            (std::uint32_t(v[2]) << 6) | std::uint32_t(v[3]);
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    if (pad < 2) out.push_back(static_cast<std::uint8_t>(n >> 8));
    if (pad < 1) out.push_back(static_cast<std::uint8_t>(n));
  }
  return out;
}

// ---- big-endian fields and ZigZag LEB128 ---------------------------------------------------------

void put_u32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}
void put_u64(std::vector<std::uint8_t>& b, std::uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::uint64_t get_u64(const std::uint8_t* p) {
  return (std::uint64_t{get_u32(p)} << 32) | get_u32(p + 4);
}

// HdrHistogram's ZigZagEncoding: 7 bits per byte, low bits first, at most 9 bytes; the 9th byte
// carries a full 8 bits (so 64 bits fit).
void put_zigzag(std::vector<std::uint8_t>& b, std::int64_t value) {
  std::uint64_t v = (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
  for (int i = 0; i < 8; ++i) {
    if (v < 0x80) {
      b.push_back(static_cast<std::uint8_t>(v));
      return;
    }
    b.push_back(static_cast<std::uint8_t>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  b.push_back(static_cast<std::uint8_t>(v));
}

// Returns false when the input ends inside a varint.
bool get_zigzag(const std::uint8_t*& p, const std::uint8_t* end, std::int64_t& out) {
  std::uint64_t v = 0;
  for (int i = 0; i < 9; ++i) {
    if (p == end) return false;
    const std::uint8_t b = *p++;
    if (i == 8) {
      v |= std::uint64_t{b} << 56;
      break;
    }
    v |= std::uint64_t{b & 0x7Fu} << (7 * i);
    if ((b & 0x80) == 0) break;
  }
  out = static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
  return true;
}

// ---- zlib -------------------------------------------------------------------------------------------

std::vector<std::uint8_t> zlib_compress(const std::vector<std::uint8_t>& in) {
  uLongf len = compressBound(static_cast<uLong>(in.size()));
  std::vector<std::uint8_t> out(len);
  // compress2 writes the RFC 1950 zlib format (78 xx header, Adler-32 trailer) HdrHistogram expects.
  if (compress2(out.data(), &len, in.data(), static_cast<uLong>(in.size()), Z_DEFAULT_COMPRESSION) != Z_OK)
    throw std::runtime_error("zlib compress2 failed");  // only on out-of-memory
  out.resize(len);
  return out;
}

struct inflated {
  std::vector<std::uint8_t> bytes;
  bool complete = false;  // the zlib stream ended (with a valid Adler-32) within the limit
};

// Inflates at most `limit` bytes (a bound, so a tiny blob cannot expand into gigabytes). Stopping
// at the limit is not an error: the caller decides from `complete`. Corrupt or truncated streams are.
tl::expected<inflated, std::string> zlib_inflate(const std::uint8_t* data, std::size_t size, std::size_t limit) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return tl::unexpected(std::string("zlib inflateInit failed"));
  inflated r;
  r.bytes.resize(std::min<std::size_t>(limit, 1 << 16));
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  std::size_t produced = 0;
  int rc = Z_OK;
  while (true) {
    if (produced == r.bytes.size()) {
      if (r.bytes.size() >= limit) break;
      r.bytes.resize(std::min(limit, r.bytes.size() * 2));
    }
    zs.next_out = r.bytes.data() + produced;
    zs.avail_out = static_cast<uInt>(r.bytes.size() - produced);
    rc = inflate(&zs, Z_NO_FLUSH);
    produced = r.bytes.size() - zs.avail_out;
    if (rc == Z_STREAM_END || (rc != Z_OK && rc != Z_BUF_ERROR)) break;
    if (zs.avail_in == 0 && zs.avail_out != 0) break;  // input ended before the stream did
  }
  const std::string msg = zs.msg ? zs.msg : "";
  inflateEnd(&zs);
  r.bytes.resize(produced);
  r.complete = rc == Z_STREAM_END;
  if (rc == Z_STREAM_END || produced >= limit) return r;
  if (rc == Z_OK || rc == Z_BUF_ERROR) return tl::unexpected(std::string("truncated zlib stream"));
  return tl::unexpected(fmt::format("corrupt zlib stream ({})", msg.empty() ? "error " + std::to_string(rc) : msg));
}

tl::unexpected<decode_error> fail(std::string message, std::size_t line = 0) {
  return tl::unexpected(decode_error{line, std::move(message)});
}

}  // namespace

std::string encode_compressed(const histogram& h) {
  std::vector<std::uint8_t> counts;
  if (!h.empty()) {
    const std::int32_t max_index = h.index_of(h.max());
    std::int64_t zeros = 0;
    for (std::int32_t i = 0; i <= max_index && i < h.counts_len(); ++i) {
      const std::int64_t c = h.count_at_index(i);
      if (c == 0) {
        ++zeros;
        continue;
      }
      if (zeros > 0) {
        // A run of zeros is one negative varint (a single zero is written as 0, as Java does).
        put_zigzag(counts, zeros > 1 ? -zeros : 0);
        zeros = 0;
      }
      put_zigzag(counts, c);
    }
  }
  std::vector<std::uint8_t> payload;
  payload.reserve(payload_header_size + counts.size());
  put_u32(payload, v2_encoding_cookie);
  put_u32(payload, static_cast<std::uint32_t>(counts.size()));
  put_u32(payload, 0);  // normalizing index offset
  put_u32(payload, static_cast<std::uint32_t>(h.significant_digits()));
  put_u64(payload, static_cast<std::uint64_t>(h.lowest_discernible()));
  put_u64(payload, static_cast<std::uint64_t>(h.highest_trackable()));
  std::uint64_t ratio_bits;
  const double ratio = 1.0;
  std::memcpy(&ratio_bits, &ratio, sizeof ratio);
  put_u64(payload, ratio_bits);
  payload.insert(payload.end(), counts.begin(), counts.end());

  const std::vector<std::uint8_t> z = zlib_compress(payload);
  std::vector<std::uint8_t> blob;
  blob.reserve(8 + z.size());
  put_u32(blob, v2_compressed_cookie);
  put_u32(blob, static_cast<std::uint32_t>(z.size()));
  blob.insert(blob.end(), z.begin(), z.end());
  return base64_encode(blob);
}

tl::expected<histogram, decode_error> decode_compressed(std::string_view base64) {
  auto bytes = base64_decode(base64);
  if (!bytes) return fail(bytes.error());
  const auto& b = *bytes;
  if (b.size() < 8) return fail(fmt::format("blob of {} bytes is too short for a compressed histogram", b.size()));
  const std::uint32_t cookie = get_u32(b.data());
  if ((cookie & cookie_mask) != (v2_compressed_cookie & cookie_mask))
    return fail(fmt::format("bad cookie 0x{:08x} (expected a V2 compressed histogram, 0x{:08x})", cookie,
                            v2_compressed_cookie));
  const std::uint32_t zlen = get_u32(b.data() + 4);
  if (zlen > b.size() - 8)
    return fail(fmt::format("compressed length {} exceeds the {} bytes present (truncated?)", zlen, b.size() - 8));

  // Inflate the header first: it bounds how large the payload may legitimately be.
  auto head = zlib_inflate(b.data() + 8, zlen, payload_header_size);
  if (!head) return fail(head.error());
  const auto& hdr_bytes = head->bytes;
  if (hdr_bytes.size() < payload_header_size)
    return fail(fmt::format("inflated payload of {} bytes is shorter than the {}-byte header", hdr_bytes.size(),
                            payload_header_size));
  const std::uint8_t* p = hdr_bytes.data();
  const std::uint32_t inner = get_u32(p);
  if ((inner & cookie_mask) != (v2_encoding_cookie & cookie_mask))
    return fail(fmt::format("bad payload cookie 0x{:08x} (expected V2 encoding, 0x{:08x})", inner,
                            v2_encoding_cookie));
  const std::uint32_t payload_len = get_u32(p + 4);
  const auto offset = static_cast<std::int32_t>(get_u32(p + 8));
  const auto digits = static_cast<std::int32_t>(get_u32(p + 12));
  const auto lowest = static_cast<std::int64_t>(get_u64(p + 16));
  const auto highest = static_cast<std::int64_t>(get_u64(p + 24));
  // The normalizing index offset is ignored, as HdrHistogram_c and hdr-histogram-js do (the
  // latter writes 1 there): only Java's shifted histograms set it, and no log writer does.
  (void)offset;

  std::optional<histogram> h;
  try {
    h.emplace(lowest, highest, digits);
  } catch (const std::exception& e) {
    return fail(fmt::format("bad histogram parameters in header: {}", e.what()));
  }
  // At most 9 bytes per slot: a longer payload cannot be valid.
  if (payload_len > 9ull * static_cast<std::uint64_t>(h->counts_len()))
    return fail(fmt::format("payload length {} is too long for {} slots", payload_len, h->counts_len()));

  const std::size_t want = payload_header_size + payload_len;
  auto full = zlib_inflate(b.data() + 8, zlen, want + 1);
  if (!full) return fail(full.error());
  if (!full->complete || full->bytes.size() != want)
    return fail(fmt::format("payload is {}{} bytes, header says {}", full->complete ? "" : "over ",
                            full->bytes.size() - payload_header_size, payload_len));

  const std::uint8_t* q = full->bytes.data() + payload_header_size;
  const std::uint8_t* end = full->bytes.data() + full->bytes.size();
  std::int64_t index = 0;
  std::int64_t total = 0;
  const std::int64_t len = h->counts_len();
  while (q < end) {
    std::int64_t v = 0;
    if (!get_zigzag(q, end, v)) return fail("payload ends inside a count");
    if (v < 0) {
      if (v < -(len - index)) return fail(fmt::format("zero run of {} slots overruns {} slots", -static_cast<double>(v), len));
      index -= v;
      continue;
    }
    if (index >= len) return fail(fmt::format("count for slot {} beyond the {} slots", index, len));
    if (__builtin_add_overflow(total, v, &total)) return fail("total count overflows 64 bits");
    if (v > 0) h->set_count_at_index(static_cast<std::int32_t>(index), v);
    ++index;
  }
  return std::move(*h);
}

// ---- log writer -------------------------------------------------------------------------------------

namespace {

std::string clean_tag(std::string_view tag) {
  // A tag is one field of a comma-separated line: separators would corrupt the log.
  std::string t(tag);
  for (char& c : t)
    if (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t') c = '_';
  return t;
}

}  // namespace

log_writer::log_writer(std::ostream& out, double start_time_s, double max_value_divisor, std::string_view comment)
    : out_(out), divisor_(max_value_divisor > 0 ? max_value_divisor : 1.0) {
  if (!comment.empty()) out_ << "#[" << comment << "]\n";
  const auto secs = static_cast<std::time_t>(start_time_s);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &tm);
  out_ << "#[Histogram log format version 1.3]\n";
  out_ << fmt::format("#[StartTime: {:.3f} (seconds since epoch), {}]\n", start_time_s, date);
  // Interval start times are relative to this base (as jHiccup writes them).
  out_ << fmt::format("#[BaseTime: {:.3f} (seconds since epoch)]\n", start_time_s);
  out_ << "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
}

void log_writer::write(std::optional<std::string_view> tag, double start_s, double length_s, const histogram& h) {
  std::string line;
  if (tag && !tag->empty()) line = "Tag=" + clean_tag(*tag) + ",";
  line += fmt::format("{:.3f},{:.3f},{:.3f},", start_s, length_s, static_cast<double>(h.max()) / divisor_);
  line += encode_compressed(h);
  line += '\n';
  out_ << line;
}

void log_writer::write(const interval& iv) {
  std::optional<std::string_view> tag;
  if (iv.tag) tag = *iv.tag;
  write(tag, iv.start_s, iv.length_s, iv.hist);
}

// ---- log reader -------------------------------------------------------------------------------------

namespace {

bool parse_double(std::string_view s, double& out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

// "#[StartTime: 1441812123.250 (seconds since epoch), ...]" -> 1441812123.250
bool header_time(std::string_view line, std::string_view prefix, double& out) {
  if (line.rfind(prefix, 0) != 0) return false;
  std::string_view rest = line.substr(prefix.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const auto end = rest.find_first_of(" ]");
  return parse_double(rest.substr(0, end), out);
}

}  // namespace

tl::expected<log, decode_error> read_log(std::istream& in) {
  log result;
  std::string raw;
  std::size_t line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.front() == '#') {
      double t = 0;
      if (line.rfind("#[StartTime:", 0) == 0) {
        if (!header_time(line, "#[StartTime:", t)) return fail("malformed StartTime header", line_no);
        result.start_time_s = t;
      } else if (line.rfind("#[BaseTime:", 0) == 0) {
        if (!header_time(line, "#[BaseTime:", t)) return fail("malformed BaseTime header", line_no);
        result.base_time_s = t;
      }
      continue;  // other comments (version, "Logged with ...") carry nothing we need
    }
    if (line.front() == '"') continue;  // legend: "StartTimestamp","Interval_Length",...

    std::optional<std::string> tag;
    if (line.rfind("Tag=", 0) == 0) {
      const auto comma = line.find(',');
      if (comma == std::string_view::npos) return fail("tag without interval fields", line_no);
      tag = std::string(line.substr(4, comma - 4));
      line.remove_prefix(comma + 1);
    }
    std::array<std::string_view, 4> f;
    for (std::size_t k = 0; k < 3; ++k) {
      const auto comma = line.find(',');
      if (comma == std::string_view::npos)
        return fail(fmt::format("expected 4 comma-separated fields (start,length,max,histogram), found {}", k + 1),
                    line_no);
      f[k] = line.substr(0, comma);
      line.remove_prefix(comma + 1);
    }
    f[3] = line;
    while (!f[3].empty() && (f[3].back() == ' ' || f[3].back() == '\t')) f[3].remove_suffix(1);
    double start = 0, length = 0, max = 0;
    if (!parse_double(f[0], start)) return fail(fmt::format("bad interval start \"{}\"", f[0]), line_no);
    if (!parse_double(f[1], length)) return fail(fmt::format("bad interval length \"{}\"", f[1]), line_no);
    if (!parse_double(f[2], max)) return fail(fmt::format("bad interval max \"{}\"", f[2]), line_no);
    auto h = decode_compressed(f[3]);
    if (!h) return fail("bad histogram: " + h.error().message, line_no);
    result.intervals.push_back(interval{std::move(tag), start, length, max, std::move(*h)});
  }
  if (in.bad()) return fail("read error", line_no);
  return result;
}

}  // namespace perflab::hdr
