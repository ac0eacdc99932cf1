#include <perflab/encode/zstd.hpp>

#include <cstring>
#include <memory>

#include <zstd.h>

namespace perflab::encode {

namespace {

bool valid_zstd_level(int level) noexcept { return level >= min_zstd_level && level <= max_zstd_level; }

struct cctx_free {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};

// The thread's context, created on first use (null if libzstd could not allocate it).
ZSTD_CCtx* thread_cctx() noexcept {
  thread_local std::unique_ptr<ZSTD_CCtx, cctx_free> c(ZSTD_createCCtx());
  return c.get();
}

// Encodes in[0, n) into out[0, cap); the frame's size, or 0 on failure (a frame is never empty).
std::size_t zstd_encode(const char* in, std::size_t n, char* out, std::size_t cap, int level) noexcept {
  ZSTD_CCtx* c = thread_cctx();
  if (!c) return 0;
  const std::size_t r = ZSTD_compressCCtx(c, out, cap, in, n, level);
  return ZSTD_isError(r) ? 0 : r;
}

}  // namespace

bool append_zstd(std::string_view in, int level, std::string& out) {
  if (!valid_zstd_level(level)) return false;
  const std::size_t mark = out.size();
  const std::size_t cap = ZSTD_compressBound(in.size());
  if (ZSTD_isError(cap)) return false;  // too large for zstd's bound
  out.resize(mark + cap);
  const auto n = zstd_encode(in.data(), in.size(), out.data() + mark, cap, level);
  out.resize(n == 0 ? mark : mark + n);
  return n != 0;
}

bool zstd_tail(std::string& buf, std::size_t from, int level) {
  if (!valid_zstd_level(level) || from > buf.size()) return false;
  const std::size_t n = buf.size() - from;
  const std::size_t cap = ZSTD_compressBound(n);
  if (ZSTD_isError(cap)) return false;
  buf.resize(buf.size() + cap);  // the frame goes after the body, then moves down over it
  const auto m = zstd_encode(buf.data() + from, n, buf.data() + from + n, cap, level);
  if (m == 0) {
    buf.resize(from + n);
    return false;
  }
  std::memmove(buf.data() + from, buf.data() + from + n, m);
  buf.resize(from + m);
  return true;
}

}  // namespace perflab::encode
