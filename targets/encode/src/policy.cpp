#include <perflab/encode/policy.hpp>

#include <array>
#include <bit>

#include <perflab/encode/brotli.hpp>
#include <perflab/encode/gzip.hpp>
#include <perflab/encode/zstd.hpp>
#include <perflab/core/text.hpp>

namespace perflab::encode {

namespace {

// "text/plain; charset=utf-8" -> "text/plain".
std::string_view media_type(std::string_view content_type) noexcept {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && (content_type.back() == ' ' || content_type.back() == '\t'))
    content_type.remove_suffix(1);
  return content_type;
}

// Every subset of {br, zstd, gzip} in that order, indexed by a bit per coding (br 4, zstd 2, gzip 1).
constexpr std::array<coding, 3> offers[8] = {
    {},
    {coding::gzip},
    {coding::zstd},
    {coding::zstd, coding::gzip},
    {coding::br},
    {coding::br, coding::gzip},
    {coding::br, coding::zstd},
    {coding::br, coding::zstd, coding::gzip},
};

}  // namespace

std::span<const coding> policy::offered() const noexcept {
  const unsigned bits = (br_level > 0 ? 4u : 0u) | (zstd_level > 0 ? 2u : 0u) | (gzip_level > 0 ? 1u : 0u);
  const std::size_t n = static_cast<std::size_t>(std::popcount(bits));
  return std::span<const coding>(offers[bits].data(), n);
}

int policy::level(coding c) const noexcept {
  switch (c) {
    case coding::gzip: return gzip_level;
    case coding::br: return br_level;
    case coding::zstd: return zstd_level;
    case coding::identity: break;
  }
  return 0;
}

bool encode_tail(coding c, int level, std::string& buf, std::size_t from) {
  switch (c) {
    case coding::gzip: return gzip_tail(buf, from, level);
    case coding::br: return brotli_tail(buf, from, level);
    case coding::zstd: return zstd_tail(buf, from, level);
    case coding::identity: break;
  }
  return false;
}

bool policy::encodes_type(std::string_view content_type) const noexcept {
  const auto type = media_type(content_type);
  if (type.empty()) return false;
  for (const auto& t : types) {
    if (t == "*") return true;
    if (t.size() >= 2 && t.ends_with("/*")) {
      const std::string_view prefix(t.data(), t.size() - 1);  // "text/"
      if (type.size() > prefix.size() && iequals(type.substr(0, prefix.size()), prefix)) return true;
    } else if (iequals(type, t)) {
      return true;
    }
  }
  return false;
}

}  // namespace perflab::encode
