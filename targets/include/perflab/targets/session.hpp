#pragma once
// One HTTP/1.1 connection without the I/O ("sans-I/O"): the model reads bytes into
// read_space(), commits them, and calls process(), which parses every complete request
// (pipelining), answers them in order into output(), and says what the connection must do next:
// read more, wait (the /sleep handler's wait, which the model supplies), or close. Every model
// runs the same loop:
//
//     for (;;) {
//       step s = sess.process();
//       write sess.output() if not empty; sess.output_written();
//       switch (s.what) { read: read into read_space(), commit(n);
//                         wait: wait s.wait, finish_wait();  close: close; }
//     }
//
// so a difference between models comes from the concurrency alone.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <perflab/core/clock.hpp>
#include <perflab/core/http.hpp>
#include <perflab/targets/config.hpp>
#include <perflab/targets/handlers.hpp>
#include <perflab/targets/metrics.hpp>

namespace perflab::targets {

// State shared by all connections of one server.
struct server_context {
  explicit server_context(server_config c) : config(std::move(c)) {}
  server_config config;
  metrics stats;
  std::atomic<bool> stopping{false};  // graceful stop: answer what is in flight, then close
};

// A connection's read buffer: small at first (most requests are a few hundred bytes, and an idle
// keep-alive connection should cost little), doubled when a request needs more, up to max. It may
// move when it grows or compacts: the request parser re-bases its views on the next parse().
class read_buffer {
 public:
  static constexpr std::size_t initial_capacity = 2048;
  explicit read_buffer(std::size_t max_capacity) : max_(max_capacity) {}
  char* data() noexcept { return data_.get(); }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t max_capacity() const noexcept { return max_; }
  // Grows to at least want bytes (capped at max), keeping the first keep bytes.
  void grow(std::size_t want, std::size_t keep);
  // Back to the initial size after a large request, when nothing is buffered.
  void shrink() noexcept;

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t max_;
};

class session {
 public:
  enum class next { read, wait, close };
  struct step {
    next what = next::read;
    std::chrono::milliseconds wait{0};
  };

  explicit session(server_context& ctx);

  // Where the next read goes (never empty while process() asks for a read).
  std::span<char> read_space() noexcept;
  // n bytes arrived in read_space().
  void commit(std::size_t n) noexcept;
  // Answers every complete buffered request; see the file comment.
  step process();
  // After a wait step: append the deferred response; then call process() again.
  void finish_wait();

  std::string_view output() const noexcept { return out_; }
  void output_written() noexcept { out_.clear(); }

  // No partial request is buffered: an idle (keep-alive) wait, not a header wait.
  bool idle() const noexcept { return begin_ == end_; }
  // When the first byte of the buffered partial request arrived (valid if !idle()).
  std::int64_t request_started_ns() const noexcept { return request_start_ns_; }
  // The read deadline, in now_ns() time: header timeout from the request's first byte if a
  // request is partly read, else the idle timeout from now.
  std::int64_t read_deadline_ns() const noexcept;
  // The read deadline passed. With a partial request buffered, appends 408 (and the connection
  // must close after writing it); returns whether a response was written.
  bool on_timeout();

  std::size_t requests_answered() const noexcept { return answered_; }

 private:
  void answer_error(int status);
  void maybe_send_continue();
  bool keep_open(bool client_keep_alive) const noexcept;

  server_context& ctx_;
  http::request_parser parser_;
  read_buffer buf_;
  std::size_t begin_ = 0;  // first byte of the current request
  std::size_t end_ = 0;    // end of received bytes
  std::int64_t request_start_ns_ = 0;
  std::string out_;
  bool closing_ = false;   // a response said Connection: close; nothing more is answered
  bool continue_sent_ = false;  // "100 Continue" already sent for the current request
  std::size_t answered_ = 0;
  // A /sleep request waiting for the model's wait primitive.
  dispatch pending_{};
  request_view pending_req_{};
  bool pending_keep_alive_ = false;
  std::int64_t pending_start_ns_ = 0;
};

}  // namespace perflab::targets
