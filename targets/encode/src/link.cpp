#include <perflab/encode/link.hpp>

#include <algorithm>
#include <cmath>

namespace perflab::encode {

namespace {
constexpr std::size_t min_quantum = 1460;       // one Ethernet-sized TCP segment
constexpr std::size_t max_quantum = 256 * 1024; // a fast link still releases in pieces
constexpr double quantum_ns = 2e6;              // about 2 ms of the link per release
}  // namespace

link_shaper::link_shaper(const link_options& o) noexcept
    : enabled_(o.enabled()),
      ns_per_byte_(o.rate_bytes_per_s > 0 ? 1e9 / static_cast<double>(o.rate_bytes_per_s) : 0.0),
      latency_ns_(o.latency.count()),
      quantum_(o.rate_bytes_per_s > 0
                   ? std::clamp(static_cast<std::size_t>(static_cast<double>(o.rate_bytes_per_s) * quantum_ns / 1e9),
                                min_quantum, max_quantum)
                   : max_quantum) {}

link_shaper::slot link_shaper::next(std::size_t pending, std::int64_t now_ns) noexcept {
  if (slot_left_ == 0) {
    const std::size_t n = std::min(pending, quantum_);
    // New output starts serializing when it is ready or the link is free, whichever is later;
    // the rest of a response follows its previous chunk back to back.
    const double start = continuing_ ? link_free_ns_ : std::max(link_free_ns_, static_cast<double>(now_ns));
    link_free_ns_ = start + static_cast<double>(n) * ns_per_byte_;
    slot_at_ns_ = static_cast<std::int64_t>(std::ceil(link_free_ns_)) + latency_ns_;
    slot_left_ = n;
  }
  return {std::min(slot_left_, pending), slot_at_ns_};
}

void link_shaper::sent(std::size_t n, bool more_pending) noexcept {
  slot_left_ -= std::min(n, slot_left_);
  // A slot cut short by the end of the output is done: what comes next is new output.
  if (!more_pending) slot_left_ = 0;
  continuing_ = more_pending;
}

}  // namespace perflab::encode
