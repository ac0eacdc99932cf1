#pragma once
// Name resolution done once, at start, so that event loops never block in getaddrinfo: the
// clients that connect from a loop (hiredis's redisAsyncConnect, libpq's PQconnectStart) resolve
// a host name synchronously, so they are given a numeric address instead.
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace perflab::net {

// True for a numeric IPv4 or IPv6 address (no resolution needed).
bool is_numeric_host(std::string_view host) noexcept;

// host itself when numeric; otherwise the first address getaddrinfo gives for it (TCP), as text.
// The error says what failed ("cannot resolve 'db.example': Name or service not known").
tl::expected<std::string, std::string> numeric_host(std::string_view host);

}  // namespace perflab::net
