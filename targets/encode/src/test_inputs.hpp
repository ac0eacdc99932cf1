#pragma once
// Inputs shared by the encoders' unit tests: text that compresses like prose, and bytes that do
// not compress at all. Deterministic, so a failure reproduces.
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace perflab::encode::testing {

inline std::string text(std::size_t n) {
  std::mt19937_64 rng(11);
  static const char* const words[] = {"queue", "latency", "the", "server", "of", "answer", "a", "request"};
  std::string s;
  while (s.size() < n) s.append(words[rng() % 8]).push_back(' ');
  s.resize(n);
  return s;
}

inline std::string random_bytes(std::size_t n, std::uint64_t seed = 5) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

}  // namespace perflab::encode::testing
