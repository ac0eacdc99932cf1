#pragma once
// Accept-Encoding negotiation (RFC 9110 12.5.3): which content coding a response may use, from
// what the client accepts and what the server offers.
//
// The rules, in our words:
// - No Accept-Encoding field: the client did not say; we send identity (a server may pick any
//   coding then, but an unasked-for coding breaks naive clients and tools).
// - An empty field value: only identity is acceptable.
// - A coding is acceptable when listed with q > 0, or when not listed and "*" has q > 0.
// - identity is acceptable unless refused by "identity;q=0", or by "*;q=0" with no entry for
//   identity.
// - Highest q wins; on a tie a coding beats identity (the point of offering it), and between
//   codings the server's order decides.
// - Nothing acceptable (identity refused too): identity anyway. RFC 9110 lets a server disregard
//   the field rather than answer 406, and that is what interoperates.
// - A malformed field (a bad token, a q-value outside the grammar, a parameter other than q) is
//   treated as absent: identity. Never an error response, never a crash.
// Several Accept-Encoding field lines form one list (RFC 9110 5.3): feed each to parse_accept.
// Coding names are case-insensitive; "x-gzip" counts as gzip (RFC 9110 8.4.1.3).
#include <cstdint>
#include <span>
#include <string_view>

namespace perflab::encode {

enum class coding : std::uint8_t {
  identity,  // no content coding
  gzip,      // RFC 1952 through zlib
  br,        // RFC 7932 through libbrotli
  zstd,      // RFC 8878 through libzstd
};
// "identity", "gzip", "br", "zstd": the Content-Encoding token.
std::string_view to_string(coding c) noexcept;

// What the client said, accumulated over every Accept-Encoding field line. Weights are in
// thousandths (q=0.5 is 500); -1: not listed.
struct accept_encoding {
  bool present = false;    // at least one field line was seen
  bool malformed = false;  // some element was outside the grammar: the whole field is ignored
  int identity = -1;
  int gzip = -1;
  int br = -1;
  int zstd = -1;
  int star = -1;           // "*": any coding not listed
};

// Adds one field line's value to `into` (call once per Accept-Encoding line, in order). The
// first entry for a coding counts; a repeated one is ignored.
void parse_accept(std::string_view field_value, accept_encoding& into) noexcept;

// The coding to use, among `offered` (the server's codings, most preferred first; identity is
// always possible and need not be listed). See the file comment for the rules.
coding choose(const accept_encoding& client, std::span<const coding> offered) noexcept;

// Both steps for a single field value (tests, tools): parse_accept on a fresh accept_encoding,
// then choose.
coding negotiate(std::string_view field_value, std::span<const coding> offered) noexcept;

}  // namespace perflab::encode
