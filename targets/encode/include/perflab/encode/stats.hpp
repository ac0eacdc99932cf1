#pragma once
// Counters of response encoding, for a server's /metrics: per coding, responses encoded, bytes
// before and after, and a histogram of the time spent encoding; and the encodable responses
// sent unencoded, by reason. Sharded relaxed atomics (one shard per thread, like the server's
// request metrics), so recording takes no lock; reading sums the shards.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <perflab/encode/negotiate.hpp>

namespace perflab::encode {

// Why an encodable response went out unencoded.
enum class skip_reason : std::uint8_t {
  identity,  // the client's Accept-Encoding chose identity (or was absent or malformed)
  too_short, // the body was under the minimum length
  failed,    // the encoder failed (no memory for zlib's state): sent as it was
  count_
};

// Upper bounds (seconds) of the encode-time buckets; +Inf is implied.
inline constexpr std::array<double, 12> encode_bounds_s = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                                           0.001,   0.0025,   0.005,   0.01,   0.05,    0.25};

class stats {
 public:
  static constexpr std::size_t coding_count = 4;  // identity (unused), gzip, br, zstd
  static constexpr std::size_t skip_count = static_cast<std::size_t>(skip_reason::count_);
  static constexpr std::size_t slots = encode_bounds_s.size() + 1;

  stats() = default;
  stats(const stats&) = delete;
  stats& operator=(const stats&) = delete;

  // A body of `in` bytes went out as `out` bytes of coding c, encoded in `took`.
  void encoded(coding c, std::size_t in, std::size_t out, std::chrono::nanoseconds took) noexcept;
  // The same, served from the static cache (static_cache.hpp): counted in responses and bytes,
  // not in the encode-time histogram (nothing was encoded).
  void served_static(coding c, std::size_t in, std::size_t out) noexcept;
  void skipped(skip_reason r) noexcept;

  // Sums over the shards.
  std::uint64_t responses(coding c) const noexcept;
  std::uint64_t bytes_in(coding c) const noexcept;
  std::uint64_t bytes_out(coding c) const noexcept;
  std::uint64_t skips(skip_reason r) const noexcept;

  // Appends the Prometheus text (version 0.0.4): perflab_encode_responses_total{coding},
  // perflab_encode_bytes_in_total{coding}, perflab_encode_bytes_out_total{coding},
  // perflab_encode_duration_seconds{coding} (histogram) and perflab_encode_skipped_total{reason}.
  // Codings that encoded nothing yet are listed with zeros for gzip, left out for the others.
  void write_prometheus(std::string& out) const;

 private:
  static constexpr std::size_t shard_count = 64;
  struct alignas(64) shard {
    std::atomic<std::uint64_t> responses[coding_count] = {};
    std::atomic<std::uint64_t> in[coding_count] = {};
    std::atomic<std::uint64_t> out[coding_count] = {};
    std::atomic<std::uint64_t> took_ns[coding_count] = {};
    std::atomic<std::uint64_t> took[coding_count][slots] = {};
    std::atomic<std::uint64_t> skips[skip_count] = {};
  };
  shard& local() noexcept;
  std::array<shard, shard_count> shards_{};
};

std::string_view to_string(skip_reason r) noexcept;

}  // namespace perflab::encode
