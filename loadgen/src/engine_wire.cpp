#include "engine_wire.hpp"

#include <linux/tcp.h>  // struct tcp_info with tcpi_bytes_acked / tcpi_bytes_received (glibc's lacks them)
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace perflab::loadgen::detail {

tcp_bytes read_tcp_bytes(int fd) noexcept {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return {};
  tcp_bytes b;
  // Fields the kernel did not fill (an older one returns a shorter struct) stay zero.
  // The kernel counts our SYN's acknowledgement in bytes_acked (one sequence number, no payload);
  // read before our close, so no FIN is in it.
  if (len >= offsetof(tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked && info.tcpi_bytes_acked > 0)
    b.out = static_cast<std::int64_t>(info.tcpi_bytes_acked) - 1;
  if (len >= offsetof(tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received)
    b.in = static_cast<std::int64_t>(info.tcpi_bytes_received);
  return b;
}

}  // namespace perflab::loadgen::detail
