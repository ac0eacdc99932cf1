// The scripted server the upstream tests use (test_server.hpp), compiled with them.
#include "test_server.hpp"

#include <algorithm>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

namespace perflab::upstream::testing {

test_server::test_server(handler h) : handler_(std::move(h)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(listen_fd_, 512);
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] {
    for (;;) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        if (stopping_) return;
        continue;
      }
      if (stopping_) return;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      std::lock_guard lock(mutex_);
      fds_.push_back(fd);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  });
}

test_server::~test_server() {
  kill();
  std::vector<std::thread> ts;
  {
    std::lock_guard lock(mutex_);
    ts.swap(threads_);
  }
  for (auto& t : ts) t.join();
  for (int fd : fds_) ::close(fd);
}

void test_server::kill() {
  if (stopping_.exchange(true)) return;
  acceptor_.join();
  ::close(listen_fd_);
  std::lock_guard lock(mutex_);
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
}

std::uint64_t test_server::requests(const std::string& method) const {
  std::lock_guard lock(const_cast<std::mutex&>(mutex_));
  for (const auto& [m, n] : by_method_)
    if (m == method) return n;
  return 0;
}

void test_server::serve(int fd) {
  // The fd stays open until the destructor (kill() may still shut it down); the peer sees EOF.
  struct hang_up {
    int fd;
    ~hang_up() { ::shutdown(fd, SHUT_RDWR); }
  } on_return{fd};
  std::string buf;
  char chunk[4096];
  for (;;) {
    // One request: the head, then Content-Length bytes of body.
    std::size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      const auto n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0 || stopping_) return;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    std::size_t body_len = 0;
    if (const auto cl = buf.find("Content-Length: "); cl != std::string::npos && cl < head_end)
      body_len = std::stoul(buf.substr(cl + 16));
    while (buf.size() < head_end + 4 + body_len) {
      const auto n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0 || stopping_) return;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    const auto sp1 = buf.find(' '), sp2 = buf.find(' ', sp1 + 1);
    const std::string method = buf.substr(0, sp1), target = buf.substr(sp1 + 1, sp2 - sp1 - 1);
    buf.erase(0, head_end + 4 + body_len);
    ++requests_;
    {
      std::lock_guard lock(mutex_);
      auto it = std::find_if(by_method_.begin(), by_method_.end(), [&](const auto& p) { return p.first == method; });
      if (it == by_method_.end()) by_method_.emplace_back(method, 1);
      else ++it->second;
    }
    const auto now = ++in_flight_;
    for (auto peak = peak_.load(); now > peak && !peak_.compare_exchange_weak(peak, now);) {
    }
    const reply r = handler_(method, target);
    if (r.delay.count() > 0) {
      // Sleeps in small steps so kill() ends it quickly.
      const auto until = std::chrono::steady_clock::now() + r.delay;
      while (std::chrono::steady_clock::now() < until && !stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    --in_flight_;
    if (r.hang_up || stopping_) return;
    std::string out = fmt::format("HTTP/1.1 {} X\r\nContent-Type: text/plain\r\n{}", r.status, r.close ? "Connection: close\r\n" : "");
    if (r.chunked) {
      out += "Transfer-Encoding: chunked\r\n\r\n";
      for (std::size_t at = 0; at < r.body.size(); at += 3) {
        const auto piece = r.body.substr(at, 3);
        out += fmt::format("{:x}\r\n{}\r\n", piece.size(), piece);
      }
      out += "0\r\n\r\n";
    } else {
      out += fmt::format("Content-Length: {}\r\n\r\n{}", r.body.size(), method == "HEAD" ? "" : r.body);
    }
    if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0 || r.close) return;
  }
}

}  // namespace perflab::upstream::testing
