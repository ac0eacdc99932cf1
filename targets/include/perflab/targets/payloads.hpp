#pragma once
// Deterministic response bodies with the entropy of real data, for compression experiments
// (/bytes/{n}?kind=...&seed=...). Every kind gives exactly n bytes, the same bytes for the same
// (kind, n, seed) on every run, model and machine:
//   pattern  'a' + i % 26: the historical /bytes body; compresses about 300 times
//   text     English-like prose from a fixed list of words (sentences, commas, paragraphs)
//   json     a JSON array of user records with varied numbers, names, e-mails and dates; valid
//            JSON (padded with spaces before the closing bracket to the exact length), n >= 2
//   random   pseudo-random bytes (splitmix64): gzip cannot shrink them
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace perflab::targets {

enum class payload_kind : std::uint8_t { pattern, text, json, random };

// "pattern" (or empty: the default), "text", "json", "random"; nullopt for anything else.
std::optional<payload_kind> parse_payload_kind(std::string_view name) noexcept;
std::string_view to_string(payload_kind k) noexcept;
// The Content-Type of a kind's body.
std::string_view content_type(payload_kind k) noexcept;
// The fewest bytes a kind can make (json: "[]").
std::uint64_t min_payload_bytes(payload_kind k) noexcept;

// Appends exactly n bytes of the kind's body for seed to out (n >= min_payload_bytes(kind)).
// Throws std::bad_alloc if out cannot grow.
void append_payload(payload_kind kind, std::uint64_t n, std::uint64_t seed, std::string& out);

// Appends {"count":count,"items":[...]} with count records of the json kind's shape (consecutive
// ids, varied names, e-mails, balances, plans, dates, tags) for seed: the /json?items=N body.
// Throws std::bad_alloc if out cannot grow.
void append_records(std::uint64_t count, std::uint64_t seed, std::string& out);

}  // namespace perflab::targets
