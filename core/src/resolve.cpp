#include <perflab/core/resolve.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

namespace perflab::net {

bool is_numeric_host(std::string_view host) noexcept {
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return false;
  char text[INET6_ADDRSTRLEN] = {};
  host.copy(text, host.size());
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, text, buf) == 1 || ::inet_pton(AF_INET6, text, buf) == 1;
}

tl::expected<std::string, std::string> numeric_host(std::string_view host) {
  if (is_numeric_host(host)) return std::string(host);
  const std::string name(host);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &list); rc != 0 || !list)
    return tl::unexpected("cannot resolve '" + name + "': " + (rc != 0 ? ::gai_strerror(rc) : "no address"));
  char text[INET6_ADDRSTRLEN] = {};
  const void* addr = list->ai_family == AF_INET6
                         ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(list->ai_addr)->sin6_addr)
                         : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(list->ai_addr)->sin_addr);
  const bool ok = ::inet_ntop(list->ai_family, addr, text, sizeof text) != nullptr;
  ::freeaddrinfo(list);
  if (!ok) return tl::unexpected("cannot resolve '" + name + "': no printable address");
  return std::string(text);
}

}  // namespace perflab::net
