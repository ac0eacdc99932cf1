#include <perflab/encode/brotli.hpp>

#include <cstdint>
#include <cstring>

#include <brotli/encode.h>

namespace perflab::encode {

namespace {

bool valid_br_level(int level) noexcept { return level >= min_br_level && level <= max_br_level; }

// The smallest window that holds the whole body (10..22 bits). The one-shot encoder sizes its
// hash tables and ring buffer from the window, so the default 22 bits (4 MiB) costs a 16 KB body
// milliseconds of allocation and clearing (measured: 5.5 ms per 16 KB JSON at quality 5 on the
// lab's machine) for no gain in size: a window larger than the input finds no more matches.
int window_bits(std::size_t n) noexcept {
  int bits = BROTLI_MIN_WINDOW_BITS;
  while (bits < BROTLI_DEFAULT_WINDOW && (std::size_t{1} << bits) - 16 < n) ++bits;  // brotli's window is 2^bits - 16
  return bits;
}

// Encodes in[0, n) into out[0, cap); the encoded size, or 0 on failure (a brotli stream is
// never empty, so 0 is no valid size).
std::size_t br_encode(const char* in, std::size_t n, char* out, std::size_t cap, int level) noexcept {
  std::size_t size = cap;
  if (BrotliEncoderCompress(level, window_bits(n), BROTLI_MODE_GENERIC, n,
                            reinterpret_cast<const std::uint8_t*>(in), &size,
                            reinterpret_cast<std::uint8_t*>(out)) != BROTLI_TRUE)
    return 0;
  return size;
}

}  // namespace

bool append_brotli(std::string_view in, int level, std::string& out) {
  if (!valid_br_level(level)) return false;
  const std::size_t mark = out.size();
  const std::size_t cap = BrotliEncoderMaxCompressedSize(in.size());
  if (cap == 0) return false;  // too large for brotli's bound
  out.resize(mark + cap);
  const auto n = br_encode(in.data(), in.size(), out.data() + mark, cap, level);
  out.resize(n == 0 ? mark : mark + n);
  return n != 0;
}

bool brotli_tail(std::string& buf, std::size_t from, int level) {
  if (!valid_br_level(level) || from > buf.size()) return false;
  const std::size_t n = buf.size() - from;
  const std::size_t cap = BrotliEncoderMaxCompressedSize(n);
  if (cap == 0) return false;
  buf.resize(buf.size() + cap);
  const auto m = br_encode(buf.data() + from, n, buf.data() + from + n, cap, level);
  if (m == 0) {
    buf.resize(from + n);
    return false;
  }
  std::memmove(buf.data() + from, buf.data() + from + n, m);
  buf.resize(from + m);
  return true;
}

}  // namespace perflab::encode
