#pragma once
// One attempt: a request's bytes sent on a pooled connection to the upstream and its response
// read and parsed (core's response_parser: Content-Length, chunked or close-delimited bodies),
// all within the attempt's deadline: the wait for a pooled connection, the connect (also bounded
// by connect_timeout), the write and the read. Offered blocking (poll on the non-blocking socket,
// for the thread models) and asynchronously on an Asio io_context (the loop's own timer and
// socket waits, for the event loops: no loop thread ever blocks). The connection goes back to the
// pool for reuse when the response ended cleanly and the upstream keeps it alive; otherwise it is
// closed. One exchange per call, reused by its attempts; used by one thread at a time.
#include <utility>  // GCC 12: before any boost/asio header that pulls in awaitable

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <perflab/core/http.hpp>
#include <perflab/upstream/config.hpp>
#include <perflab/upstream/pool.hpp>

namespace perflab::upstream {

// How an attempt failed (none: a response came, whatever its status).
enum class failure : std::uint8_t {
  none,
  pool_timeout,     // no pooled connection within the deadline (all busy)
  connect,          // refused or unreachable
  connect_timeout,  // the connect took longer than connect_timeout (or the deadline)
  timeout,          // no complete response within the deadline
  closed,           // the connection closed or reset before the response was complete
  bad_response,     // not a parsable HTTP/1.1 response, or over max_response_bytes
};
inline constexpr std::size_t failure_count = 7;
std::string_view to_string(failure f) noexcept;
// Timeouts (504) versus other failures (502).
inline bool is_timeout(failure f) noexcept {
  return f == failure::pool_timeout || f == failure::connect_timeout || f == failure::timeout;
}

inline constexpr std::size_t max_response_bytes = 16u << 20;

class exchange {
 public:
  exchange(connection_pool& pool, nanos connect_timeout, const sockaddr_in& address);
  // An attempt still in flight (the owner ended mid-call): its connection is closed, its queued
  // acquire withdrawn.
  ~exchange();
  exchange(const exchange&) = delete;
  exchange& operator=(const exchange&) = delete;

  // The request bytes (kept by the caller until the attempt ends); head: no response body.
  void set_request(std::string_view bytes, bool head) noexcept {
    request_ = bytes;
    head_ = head;
  }
  failure run_blocking(std::int64_t deadline_ns);
  // done(keep, failure) is called on the loop when the attempt is over. keep is the owner: every
  // pending wait holds it; done must not own it (it gets it back).
  using done_fn = std::function<void(std::shared_ptr<void> keep, failure f)>;
  void async_run(boost::asio::io_context& ioc, std::int64_t deadline_ns, std::shared_ptr<void> keep, done_fn done);

  // After an attempt that got a response (valid until the next attempt).
  int status() const noexcept { return parser_.status(); }
  std::string_view body() const noexcept { return body_; }
  std::string_view content_type() const noexcept { return content_type_; }
  bool reused() const noexcept { return reused_; }  // it ran on a kept-alive connection

 private:
  using keep_t = std::shared_ptr<void>;
  enum class phase : std::uint8_t { idle, acquiring, connecting, writing, reading };
  void begin() noexcept;
  // Feeds n bytes of buf_; true when the exchange is over (set fail_ or completed_).
  bool on_bytes(std::size_t n) noexcept;
  bool on_eof() noexcept;
  void finish_response() noexcept;
  void give_back() noexcept;  // returns the connection (reusable or not) to the pool
  // Asynchronous steps.
  void on_granted(keep_t keep);
  void on_slot(keep_t keep);
  void start_connect(keep_t keep);
  void on_connected(keep_t keep, const boost::system::error_code& ec);
  void do_write(keep_t keep);
  void do_read(keep_t keep);
  void arm(std::int64_t at_ns, keep_t keep);
  void on_timer(keep_t keep);
  void finish(keep_t keep, failure f);

  connection_pool& pool_;
  const nanos connect_timeout_;
  const sockaddr_in address_;
  std::string_view request_;
  bool head_ = false;
  connection_pool::waiter waiter_;
  int fd_ = -1;               // the granted connection (-1 while none)
  bool slot_ = false;         // a pool slot is held (release it once)
  bool reused_ = false;
  http::response_parser parser_;
  std::string raw_;           // the response's bytes as received
  std::size_t status_at_ = 0; // the final status line's offset in raw_
  bool completed_ = false;
  bool extra_bytes_ = false;  // bytes after the response: the connection is not reusable
  failure fail_ = failure::none;
  std::string body_;
  std::string_view content_type_;
  std::array<char, 16384> buf_;
  // Asynchronous runs only (created on the first).
  boost::asio::io_context* ioc_ = nullptr;
  std::optional<boost::asio::steady_timer> timer_;
  std::optional<boost::asio::posix::stream_descriptor> sd_;
  done_fn done_;
  phase phase_ = phase::idle;
  std::int64_t deadline_ns_ = 0;
  std::uint64_t timer_gen_ = 0;   // a timer handler of an earlier arm() does nothing
  std::size_t written_ = 0;
  bool timed_out_ = false;
  bool granted_ = false;          // the pool's grant has reached the loop
  keep_t held_;                   // the owner, from a lost deadline race until the grant's post
};

}  // namespace perflab::upstream
