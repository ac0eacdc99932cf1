#include <perflab/targets/payloads.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

#include "perflab/core/splitmix.hpp"

namespace perflab::targets {

namespace {

// Skewed towards small indices (the minimum of two draws), like word frequencies in prose.
std::uint64_t skewed_index(splitmix64& g, std::uint64_t n) noexcept {
  const auto a = g.below(n), b = g.below(n);
  return a < b ? a : b;
}

// Seeds differ per kind, so kind=text and kind=json with one seed are unrelated streams.
splitmix64 generator(payload_kind kind, std::uint64_t seed) noexcept {
  return {seed * 0x2545f4914f6cdd1dull + static_cast<std::uint64_t>(kind)};
}

constexpr std::string_view words[] = {
    "the", "of", "and", "to", "a", "in", "is", "it", "that", "was", "for", "on", "are", "with", "as", "be",
    "at", "this", "have", "from", "or", "one", "had", "by", "word", "but", "not", "what", "all", "were", "we",
    "when", "your", "can", "said", "there", "use", "an", "each", "which", "she", "do", "how", "their", "if",
    "will", "up", "other", "about", "out", "many", "then", "them", "these", "so", "some", "her", "would",
    "make", "like", "him", "into", "time", "has", "look", "two", "more", "write", "go", "see", "number",
    "no", "way", "could", "people", "my", "than", "first", "water", "been", "call", "who", "oil", "its",
    "now", "find", "long", "down", "day", "did", "get", "come", "made", "may", "part", "server", "request",
    "latency", "queue", "thread", "memory", "network", "packet", "window", "buffer", "client", "answer",
    "measure", "percentile", "throughput", "connection", "socket", "kernel", "schedule", "backlog",
    "timeout", "retry", "cache", "origin", "compress", "header", "payload", "benchmark", "variance",
    "median", "histogram", "experiment"};

constexpr std::string_view first_names[] = {
    "ada", "alan", "grace", "edsger", "barbara", "donald", "frances", "ken", "dennis", "margaret",
    "john", "radia", "leslie", "sophie", "tim", "vint", "linus", "guido", "bjarne", "anita",
    "niklaus", "hedy", "claude", "katherine"};
constexpr std::string_view last_names[] = {
    "lovelace", "turing", "hopper", "dijkstra", "liskov", "knuth", "allen", "thompson", "ritchie",
    "hamilton", "mccarthy", "perlman", "lamport", "wilson", "berners-lee", "cerf", "torvalds",
    "van-rossum", "stroustrup", "borg", "wirth", "lamarr", "shannon", "johnson"};
constexpr std::string_view domains[] = {"example.com", "example.org", "example.net",
                                                     "mail.example", "test.example", "corp.example"};

void append_random(std::uint64_t n, splitmix64& rng, std::string& out) {
  const std::size_t at = out.size();
  out.resize(at + n);
  char* p = out.data() + at;
  for (std::uint64_t i = 0; i < n; i += 8) {
    const std::uint64_t x = rng.next();
    std::memcpy(p + i, &x, static_cast<std::size_t>(std::min<std::uint64_t>(8, n - i)));
  }
}

void append_text(std::uint64_t n, splitmix64& rng, std::string& out) {
  const std::size_t end = out.size() + n;
  int sentences = 0;
  while (out.size() < end) {
    const auto length = 4 + rng.below(14);  // words in this sentence
    for (std::uint64_t w = 0; w < length; ++w) {
      auto word = words[skewed_index(rng, std::size(words))];
      if (w == 0) {
        out.push_back(static_cast<char>(word[0] - 'a' + 'A'));
        word.remove_prefix(1);
      }
      out.append(word);
      if (w + 1 < length) out.append(rng.below(9) == 0 ? ", " : " ");
    }
    out.push_back(rng.below(6) == 0 ? '?' : '.');
    out.append(++sentences % 5 == 0 ? "\n\n" : " ");
  }
  out.resize(end);
}

void append_record(std::uint64_t id, splitmix64& rng, std::string& out) {
  static constexpr std::string_view plans[] = {"free", "free", "free", "pro", "team"};
  // One draw per statement: the order of evaluation of function arguments is unspecified, and
  // the bytes must not depend on the compiler.
  const auto first = first_names[rng.below(std::size(first_names))];
  const auto last = last_names[rng.below(std::size(last_names))];
  const auto mailbox = rng.below(100);
  const auto domain = domains[rng.below(std::size(domains))];
  const auto age = 18 + rng.below(72);
  const auto balance = rng.below(100'000);  // cents
  const bool active = rng.below(3) != 0;
  const auto plan = plans[rng.below(std::size(plans))];
  const auto tag1 = words[skewed_index(rng, std::size(words))];
  const auto tag2 = words[skewed_index(rng, std::size(words))];
  const auto year = 18 + rng.below(8);
  const auto month = 1 + rng.below(12);
  const auto day = 1 + rng.below(28);
  const auto hour = rng.below(24);
  const auto minute = 15 * rng.below(4);
  fmt::format_to(std::back_inserter(out),
                 "{{\"id\":{},\"name\":\"{} {}\",\"email\":\"{}.{}{}@{}\",\"age\":{},\"balance\":{}.{:02},"
                 "\"active\":{},\"plan\":\"{}\",\"tags\":[\"{}\",\"{}\"],\"joined\":\"20{:02}-{:02}-{:02}T{:02}:{:02}:00Z\"}}",
                 id, first, last, first, last, mailbox, domain, age, balance / 100, balance % 100, active, plan, tag1,
                 tag2, year, month, day, hour, minute);
}

void append_json(std::uint64_t n, splitmix64& rng, std::string& out) {
  const std::size_t start = out.size();
  const std::size_t end = start + n;
  out.push_back('[');
  thread_local std::string record;  // one record, a few hundred bytes, reused
  std::uint64_t id = 1000 + rng.below(1'000'000);
  for (bool first = true;; first = false) {
    record.clear();
    if (!first) record.push_back(',');
    append_record(id, rng, record);
    ++id;  // consecutive, as rows of a table
    if (out.size() + record.size() + 1 > end) break;  // +1: the closing bracket
    out.append(record);
  }
  out.append(end - 1 - out.size(), ' ');  // JSON whitespace, to the exact length
  out.push_back(']');
}

}  // namespace

std::optional<payload_kind> parse_payload_kind(std::string_view name) noexcept {
  if (name.empty() || name == "pattern") return payload_kind::pattern;
  if (name == "text") return payload_kind::text;
  if (name == "json") return payload_kind::json;
  if (name == "random") return payload_kind::random;
  return std::nullopt;
}

std::string_view to_string(payload_kind k) noexcept {
  switch (k) {
    case payload_kind::pattern: return "pattern";
    case payload_kind::text: return "text";
    case payload_kind::json: return "json";
    case payload_kind::random: return "random";
  }
  return "pattern";
}

std::string_view content_type(payload_kind k) noexcept {
  switch (k) {
    case payload_kind::text: return "text/plain; charset=utf-8";
    case payload_kind::json: return "application/json";
    case payload_kind::pattern:
    case payload_kind::random: return "application/octet-stream";
  }
  return "application/octet-stream";
}

std::uint64_t min_payload_bytes(payload_kind k) noexcept { return k == payload_kind::json ? 2 : 0; }

void append_records(std::uint64_t count, std::uint64_t seed, std::string& out) {
  auto rng = generator(payload_kind::json, seed);
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{{\"count\":{},\"items\":[", count);
  const std::uint64_t first = 1000 + rng.below(1'000'000);
  for (std::uint64_t i = 0; i < count; ++i) {
    if (i) out.push_back(',');
    append_record(first + i, rng, out);
  }
  out.append("]}");
}

void append_payload(payload_kind kind, std::uint64_t n, std::uint64_t seed, std::string& out) {
  auto rng = generator(kind, seed);
  switch (kind) {
    case payload_kind::pattern:
      out.reserve(out.size() + n);
      for (std::uint64_t i = 0; i < n; ++i) out.push_back(static_cast<char>('a' + i % 26));
      return;
    case payload_kind::text: append_text(n, rng, out); return;
    case payload_kind::json: append_json(n, rng, out); return;
    case payload_kind::random: append_random(n, rng, out); return;
  }
}

}  // namespace perflab::targets
