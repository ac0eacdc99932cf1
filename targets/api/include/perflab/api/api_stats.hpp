#pragma once
// Counters of the order API (REST and GraphQL), for lab-target's /metrics: requests by result,
// leaf fields sent vs the fields the answered documents hold (GraphQL's over-fetching saved, or
// REST's sent whether used or not), and body bytes before any content coding. Sharded relaxed
// atomics (one shard per thread, like the server's request metrics), so recording takes no lock.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace perflab::api {

enum class style : std::uint8_t { rest, graphql, count_ };
enum class result : std::uint8_t {
  ok,           // answered with the document(s)
  not_found,    // REST 404; GraphQL 200 with at least one order null
  bad_request,  // REST 400 (the id is not a number); GraphQL 400 (the request did not parse or validate)
  count_
};
std::string_view to_string(style s) noexcept;
std::string_view to_string(result r) noexcept;

class api_stats {
 public:
  static constexpr std::size_t style_count = static_cast<std::size_t>(style::count_);
  static constexpr std::size_t result_count = static_cast<std::size_t>(result::count_);

  api_stats() = default;
  api_stats(const api_stats&) = delete;
  api_stats& operator=(const api_stats&) = delete;

  // One response: its result, the leaf values it carried, the leaf values the full documents of
  // the orders it answered hold, and its body's length (before any content coding).
  void answered(style s, result r, std::uint64_t fields_sent, std::uint64_t fields_available,
                std::uint64_t body_bytes) noexcept;

  // Sums over the shards.
  std::uint64_t requests(style s, result r) const noexcept;
  std::uint64_t fields_sent(style s) const noexcept;
  std::uint64_t fields_available(style s) const noexcept;
  std::uint64_t body_bytes(style s) const noexcept;

  // Appends the Prometheus text (version 0.0.4): perflab_api_requests_total{api,result},
  // perflab_api_fields_sent_total{api}, perflab_api_fields_available_total{api},
  // perflab_api_body_bytes_total{api}; every series, zeros included.
  void write_prometheus(std::string& out) const;

 private:
  static constexpr std::size_t shard_count = 64;
  struct alignas(64) shard {
    std::atomic<std::uint64_t> requests[style_count][result_count] = {};
    std::atomic<std::uint64_t> sent[style_count] = {};
    std::atomic<std::uint64_t> available[style_count] = {};
    std::atomic<std::uint64_t> bytes[style_count] = {};
  };
  shard& local() noexcept;
  std::array<shard, shard_count> shards_{};
};

}  // namespace perflab::api
