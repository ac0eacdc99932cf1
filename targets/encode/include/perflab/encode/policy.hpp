#pragma once
// Which responses a server encodes, and how (lab-target's --gzip-level, --gzip-min-length,
// --gzip-types). The defaults follow nginx's gzip module: off, 20 bytes minimum.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <perflab/encode/negotiate.hpp>

namespace perflab::encode {

struct policy {
  int gzip_level = 0;             // --gzip-level: 1 (fastest) .. 9 (smallest); 0: no encoding at all (default)
  std::size_t min_length = 20;    // --gzip-min-length: bodies shorter than this (bytes) are sent as they are
  // --gzip-types: media types to encode, compared without parameters and case; "*" any type,
  // "text/*" any text type.
  std::vector<std::string> types = {"text/plain", "application/json"};

  bool enabled() const noexcept { return gzip_level > 0; }
  // The codings this policy offers, most preferred first (empty when off).
  std::span<const coding> offered() const noexcept;
  // Whether a response of this Content-Type value is one to encode (its parameters ignored):
  // such responses also carry Vary: Accept-Encoding, whatever this request negotiated.
  bool encodes_type(std::string_view content_type) const noexcept;
};

}  // namespace perflab::encode
