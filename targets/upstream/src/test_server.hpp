#pragma once
// Unit tests only: a scripted HTTP/1.1 server on 127.0.0.1 (a thread per connection) whose
// answers a test chooses per request (status, body, delay, chunked, close, or no answer at all),
// and which counts what reached it: connections, requests, requests by method, most at once.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace perflab::upstream::testing {

struct reply {
  int status = 200;
  std::string body = "ok";
  std::chrono::milliseconds delay{0};  // before answering
  bool chunked = false;
  bool close = false;                  // Connection: close, then close
  bool hang_up = false;                // close without answering
};

class test_server {
 public:
  using handler = std::function<reply(const std::string& method, const std::string& target)>;
  explicit test_server(handler h);
  ~test_server();
  std::uint16_t port() const { return port_; }
  // Stops accepting and closes every connection (the dependency dies).
  void kill();
  std::uint64_t connections() const { return connections_.load(); }
  std::uint64_t requests() const { return requests_.load(); }
  std::uint64_t requests(const std::string& method) const;
  std::uint32_t peak_in_flight() const { return peak_.load(); }

 private:
  void serve(int fd);
  handler handler_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> threads_;
  std::vector<int> fds_;
  std::vector<std::pair<std::string, std::uint64_t>> by_method_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> connections_{0}, requests_{0};
  std::atomic<std::uint32_t> in_flight_{0}, peak_{0};
};

}  // namespace perflab::upstream::testing
