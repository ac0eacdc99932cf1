#pragma once
// A small controllable HTTP/1.1 server for the loadgen's integration tests, on 127.0.0.1 port 0,
// one Asio thread. Each behaviour a test needs is one option: per-response delay, a split
// response (head now, rest later: TTFB vs TTLB), Content-Length / chunked / close-delimited
// framing, a pause in answering mid-run (coordinated omission), reset, silence (timeouts), an
// idle timeout on keep-alive connections (stale connections).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace perflab::testing {

// An upper latency bound's margin: as given in an optimised build, three times that under a
// sanitizer (GCC defines __SANITIZE_ADDRESS__ / __SANITIZE_THREAD__), which slows every handler.
constexpr std::int64_t slack_us(std::int64_t us) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return 3 * us;
#else
  return us;
#endif
}

enum class framing { content_length, chunked, close_delimited };

struct server_options {
  std::chrono::microseconds delay{0};       // before the first byte of each response
  std::chrono::microseconds rest_delay{0};  // between the head and the body (split response)
  framing frame = framing::content_length;
  std::string body = "hello, world\n";
  int status = 200;
  bool reset = false;   // answer each request with a TCP reset instead of a response
  bool silent = false;  // read requests, never answer
  int silent_every = 0;  // > 0: leave every n-th request (1-based, server-wide) unanswered
  // > 0: close a keep-alive connection that sat idle this long after a response (like a real
  // server's keep-alive timeout), without telling the client in the response.
  std::chrono::milliseconds idle_timeout{0};
  bool close_after_response = false;  // server closes keep-alive connections after each response
  // > 0: a request that arrives on a connection idle at least this long after a response is read
  // and the connection closed without an answer: the server's idle close crossed the request
  // (the race a stale keep-alive retry covers). Counted in idle_closes.
  std::chrono::milliseconds drop_after_idle{0};
  std::string trailing_bytes;  // sent right after each response: a framing overrun
  // > 0: this long after a response on an idle connection, send `unsolicited` and close (a
  // server's 408 to a connection that sent nothing).
  std::chrono::milliseconds unsolicited_after{0};
  std::string unsolicited = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  std::chrono::milliseconds close_delay{0};  // close-delimited framing: wait this long after the body
  // One response at a time, server-wide: each takes `delay` after the previous one, a queue with
  // a capacity of 1/delay per second (a saturated single-worker server).
  bool serial = false;
  // > 0: only the first N connections accepted are ever answered; later ones are read and left
  // waiting (a thread pool whose N workers keep their keep-alive connections).
  int served_connections = 0;
  std::string interim;  // sent as soon as a request is read (e.g. a 103 Early Hints head), before `delay`
  // Stop answering for pause_length, starting pause_after the first request: responses due
  // inside the pause go out when it ends (like SIGSTOP/SIGCONT of a real server).
  std::chrono::milliseconds pause_after{0};
  std::chrono::milliseconds pause_length{0};
};

class test_server {
 public:
  explicit test_server(server_options opts = {});
  ~test_server();
  test_server(const test_server&) = delete;
  test_server& operator=(const test_server&) = delete;

  std::uint16_t port() const noexcept;
  std::string url(const std::string& path = "/") const;
  std::int64_t connections() const noexcept;  // accepted
  std::int64_t requests() const noexcept;     // complete requests read
  std::int64_t idle_closes() const noexcept;  // keep-alive connections closed by idle_timeout

  // A 127.0.0.1 port with nothing listening (bound, then closed): connects are refused.
  static std::uint16_t refused_port();

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace perflab::testing
