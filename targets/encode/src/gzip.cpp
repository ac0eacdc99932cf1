#include <perflab/encode/gzip.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

#include <zlib.h>

namespace perflab::encode {

namespace {

// gzip wrapper instead of zlib's (RFC 1950) one: windowBits 15 (32 KiB window) + 16.
constexpr int gzip_window_bits = 15 + 16;
constexpr int mem_level = 8;  // zlib's default

// One deflate stream per thread, kept across bodies (deflateReset is far cheaper than
// deflateInit2 + deflateEnd, which allocate and free the whole state).
class deflater {
 public:
  deflater() = default;
  deflater(const deflater&) = delete;
  deflater& operator=(const deflater&) = delete;
  ~deflater() {
    if (level_ > 0) deflateEnd(&zs_);
  }

  // Ready for a new body at `level`; false if zlib cannot set it up.
  bool start(int level) noexcept {
    if (level == level_) return deflateReset(&zs_) == Z_OK;
    if (level_ > 0) deflateEnd(&zs_);
    level_ = 0;
    zs_ = z_stream{};
    if (deflateInit2(&zs_, level, Z_DEFLATED, gzip_window_bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK) return false;
    level_ = level;
    return true;
  }

  // Room enough for the encoding of n bytes at the current level (valid after start()).
  std::size_t bound(std::size_t n) noexcept { return deflateBound(&zs_, static_cast<uLong>(n)); }

  // Encodes in[0, n) into out[0, cap) in one go; the encoded size, or -1 when it did not fit or
  // zlib failed. cap >= bound(n) always fits.
  long long encode(const char* in, std::size_t n, char* out, std::size_t cap) noexcept {
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
    zs_.next_out = reinterpret_cast<Bytef*>(out);
    std::size_t in_left = n, out_left = cap;
    // avail_in / avail_out are 32-bit: feed larger buffers in pieces.
    constexpr std::size_t piece = std::numeric_limits<uInt>::max();
    for (;;) {
      const std::size_t in_now = std::min(in_left, piece), out_now = std::min(out_left, piece);
      zs_.avail_in = static_cast<uInt>(in_now);
      zs_.avail_out = static_cast<uInt>(out_now);
      const int flush = in_now == in_left ? Z_FINISH : Z_NO_FLUSH;
      const int rc = deflate(&zs_, flush);
      in_left -= in_now - zs_.avail_in;
      out_left -= out_now - zs_.avail_out;
      if (rc == Z_STREAM_END) return static_cast<long long>(cap - out_left);
      if (rc != Z_OK && rc != Z_BUF_ERROR) return -1;
      if (out_left == 0) return -1;  // did not fit
    }
  }

 private:
  z_stream zs_{};
  int level_ = 0;  // 0: no stream set up
};

deflater& thread_deflater() {
  thread_local deflater d;
  return d;
}

bool valid_gzip_level(int level) noexcept { return level >= min_gzip_level && level <= max_gzip_level; }

}  // namespace

bool append_gzip(std::string_view in, int level, std::string& out) {
  if (!valid_gzip_level(level)) return false;
  auto& d = thread_deflater();
  if (!d.start(level)) return false;
  const std::size_t mark = out.size();
  const std::size_t cap = d.bound(in.size());
  out.resize(mark + cap);  // may throw std::bad_alloc: the caller's to handle
  const auto n = d.encode(in.data(), in.size(), out.data() + mark, cap);
  if (n < 0) {
    out.resize(mark);
    return false;
  }
  out.resize(mark + static_cast<std::size_t>(n));
  return true;
}

bool gzip_tail(std::string& buf, std::size_t from, int level) {
  if (!valid_gzip_level(level) || from > buf.size()) return false;
  auto& d = thread_deflater();
  if (!d.start(level)) return false;
  const std::size_t n = buf.size() - from;
  const std::size_t cap = d.bound(n);
  buf.resize(buf.size() + cap);  // the encoding goes after the body, then moves down over it
  const auto m = d.encode(buf.data() + from, n, buf.data() + from + n, cap);
  if (m < 0) {
    buf.resize(from + n);
    return false;
  }
  std::memmove(buf.data() + from, buf.data() + from + n, static_cast<std::size_t>(m));
  buf.resize(from + static_cast<std::size_t>(m));
  return true;
}

}  // namespace perflab::encode
