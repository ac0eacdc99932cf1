#pragma once
// Which responses a server encodes, and how (lab-target's --gzip-level, --br-level, --zstd-level,
// --gzip-min-length, --gzip-types; the last two apply to every coding). The defaults follow nginx's gzip module: off, 20 bytes minimum.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <perflab/encode/negotiate.hpp>

namespace perflab::encode {

struct policy {
  int gzip_level = 0;             // --gzip-level: 1 (fastest) .. 9 (smallest); 0: gzip off (default)
  int br_level = 0;               // --br-level: brotli quality 1 .. 11; 0: br off (default)
  int zstd_level = 0;             // --zstd-level: zstd level 1 .. 19; 0: zstd off (default)
  bool static_bodies = false;     // --gzip-static: keep encoded bodies of static resources (static_cache.hpp)
  std::size_t min_length = 20;    // --gzip-min-length: bodies shorter than this (bytes) are sent as they are
  // --gzip-types: media types to encode, compared without parameters and case; "*" any type,
  // "text/*" any text type.
  std::vector<std::string> types = {"text/plain", "application/json"};

  bool enabled() const noexcept { return gzip_level > 0 || br_level > 0 || zstd_level > 0; }
  // The codings this policy offers, most preferred first (empty when off): br, zstd, gzip, so a
  // client that weighs them equally gets the one that is usually smallest.
  std::span<const coding> offered() const noexcept;
  // The level this policy encodes coding c at (0: not offered).
  int level(coding c) const noexcept;
  // Whether a response of this Content-Type value is one to encode (its parameters ignored):
  // such responses also carry Vary: Accept-Encoding, whatever this request negotiated.
  bool encodes_type(std::string_view content_type) const noexcept;
};

// Replaces buf[from, end) with its encoding in coding c at level `level` (gzip_tail, brotli_tail
// or zstd_tail). False, with buf unchanged, for identity, a level the coding does not have, or a
// failing encoder.
bool encode_tail(coding c, int level, std::string& buf, std::size_t from);

}  // namespace perflab::encode
