#pragma once
// A slow link on the server's side of each connection (lab-target's --link-rate, --link-latency):
// egress shaping in user space, so the slow-link experiments need no root and no qdisc. Each
// connection gets its own link of `rate` bytes per second and one-way `latency`: the server holds
// each chunk of its output until the moment the last byte of that chunk would have arrived at the
// client over such a link, then writes it to the (fast, loopback) socket.
//
// The model: bytes are serialized one after another at `rate` from the moment a response is
// ready (or the link frees up, if it is still busy with the one before), and arrive `latency`
// after they are serialized. Output is released in chunks of `quantum()` bytes (about 2 ms of
// the link, at least one 1460-byte segment), so the first byte of a response arrives up to one
// chunk's time late; the last byte of an n-byte response arrives latency + n / rate after it was
// ready, whatever the chunking. Only what the server writes is shaped (headers and body); what
// the client sends is not.
//
// One link_shaper per connection, used by one thread at a time (the connection's).
#include <cstddef>
#include <cstdint>
#include <chrono>

namespace perflab::encode {

struct link_options {
  std::uint64_t rate_bytes_per_s = 0;  // --link-rate: bytes per second; 0: unlimited
  std::chrono::nanoseconds latency{0};  // --link-latency: one way, added to every byte's arrival
  bool enabled() const noexcept { return rate_bytes_per_s > 0 || latency.count() > 0; }
};

class link_shaper {
 public:
  explicit link_shaper(const link_options& o) noexcept;
  bool enabled() const noexcept { return enabled_; }
  // Bytes per release (see the file comment); `pending` bytes when the rate is unlimited.
  std::size_t quantum() const noexcept { return quantum_; }

  struct slot {
    std::size_t bytes = 0;  // how many bytes this release may write (at most the `pending` asked for)
    std::int64_t at_ns = 0; // when (a now_ns() value): wait until then, then write up to `bytes`
  };
  // Before a write of `pending` output bytes at now_ns: how many may go, and when. Output that
  // follows bytes still being written continues the same burst (no new latency); output after
  // the previous one was all written starts when it is ready (now) or when the link frees up.
  slot next(std::size_t pending, std::int64_t now_ns) noexcept;
  // n bytes of the slot were written; more_pending: the connection still has output to write.
  void sent(std::size_t n, bool more_pending) noexcept;

 private:
  bool enabled_;
  double ns_per_byte_;          // 0: unlimited rate
  std::int64_t latency_ns_;
  std::size_t quantum_;
  double link_free_ns_ = 0;     // when the link finishes serializing what was released so far
  std::size_t slot_left_ = 0;   // bytes of the current slot not yet written
  std::int64_t slot_at_ns_ = 0;
  bool continuing_ = false;     // the previous slot's output is not all written yet
};

}  // namespace perflab::encode
