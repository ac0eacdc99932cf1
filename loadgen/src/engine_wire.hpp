#pragma once
// What crossed the wire on the loadgen's connections, counted by the kernel (TCP_INFO), for the
// bytes neither engine can see itself: TLS records, HTTP/2 frames and HPACK, chunk framing. The
// engines count heads and bodies as they hand them over (bytes_in, bytes_out); this counts TCP
// payload. Read once per connection when it closes (and at the measured phase's start for those
// already open), never per request.
#include <cstdint>
#include <vector>

#include "perflab/loadgen/recorder.hpp"

namespace perflab::loadgen::detail {

struct tcp_bytes {
  std::int64_t in = 0;   // tcpi_bytes_received: payload bytes received
  std::int64_t out = 0;  // tcpi_bytes_acked: payload bytes sent and acknowledged
};

// The socket's counts so far; zeros when the kernel has no TCP_INFO for it (not TCP, or too old).
tcp_bytes read_tcp_bytes(int fd) noexcept;

// Per worker: each connection's bytes from the measured phase's start, or its connect if later,
// to its close or the end of the run.
class wire_meter {
 public:
  // The measured phase begins: what an open connection carried so far was the warm-up's.
  void measured_start(int fd) {
    if (fd >= 0) base(fd) = read_tcp_bytes(fd);
  }
  // fd is about to close: its bytes since the base go to totals when the measured phase has
  // begun (measuring) and the run has not ended; the slot's base is cleared for the next socket.
  void closing(int fd, bool measuring, sample_set& totals) {
    if (fd < 0) return;
    tcp_bytes& b = base(fd);
    if (measuring && !stopped_) {
      const tcp_bytes now = read_tcp_bytes(fd);
      totals.tcp_bytes_in += now.in - b.in;
      totals.tcp_bytes_out += now.out - b.out;
    }
    b = {};
  }
  // The run ended: closes after this are not counted (the engine has counted the open ones).
  void stop() noexcept { stopped_ = true; }

 private:
  tcp_bytes& base(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (i >= base_.size()) base_.resize(i + 1);
    return base_[i];
  }
  std::vector<tcp_bytes> base_;  // by descriptor
  bool stopped_ = false;
};

}  // namespace perflab::loadgen::detail
