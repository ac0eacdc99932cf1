#pragma once
// splitmix64 (Steele, Lea, Flood): a tiny generator whose output is the same on every platform
// and standard library (std's distributions are not), for content generated from a seed: the
// targets' payloads, the order documents. Not for load schedules (loadgen's rng, xoshiro256**).
#include <cstdint>

namespace perflab {

struct splitmix64 {
  std::uint64_t state;
  std::uint64_t next() noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, n) for small n (modulo bias below n / 2^64).
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }
};

}  // namespace perflab
