#pragma once
// What any load engine records, apart from its sockets (the Asio worker today, a libcurl one
// beside it later): a finished request's outcome into a sample set, a request given up at its
// timeout or never sent, and the queue of due send times waiting for a connection. The error
// classes and their errno mapping are declared in engine_internal.hpp and defined in
// engine_record.cpp.
#include <cstdint>
#include <vector>

#include "engine_internal.hpp"
#include "perflab/core/http.hpp"
#include "perflab/loadgen/recorder.hpp"

namespace perflab::loadgen::detail {

// A fixed-capacity-doubling ring of intended send times (open loop requests waiting for a free
// connection; their clocks are running). Grows only when the backlog exceeds what it ever held.
class time_ring {
 public:
  time_ring() : buf_(1 << 16) {}
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  std::int64_t front() const noexcept { return buf_[head_]; }
  void push(std::int64_t t) {
    if (size_ == buf_.size()) grow();
    buf_[(head_ + size_) & (buf_.size() - 1)] = t;
    ++size_;
  }
  std::int64_t pop() noexcept {
    const std::int64_t t = buf_[head_];
    head_ = (head_ + 1) & (buf_.size() - 1);
    --size_;
    return t;
  }
  // Entries with a time before t (the ring is in time order: the first ones).
  std::size_t count_before(std::int64_t t) const noexcept {
    std::size_t n = 0;
    while (n < size_ && buf_[(head_ + n) & (buf_.size() - 1)] < t) ++n;
    return n;
  }

 private:
  void grow() {
    std::vector<std::int64_t> bigger(buf_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = buf_[(head_ + i) & (buf_.size() - 1)];
    buf_.swap(bigger);
    head_ = 0;
  }
  std::vector<std::int64_t> buf_;
  std::size_t head_ = 0, size_ = 0;
};

// A complete response to a measured request, as the engine saw it (steady ns).
struct response_outcome {
  int status = 0;
  bool ok = false;                  // a success status (shared_setup::success) that passed --verify
  bool verified = true;             // --verify: the body decoded (true without --verify)
  http::cache_status cached = http::cache_status::none;
  std::int64_t wire_bytes = 0;      // head and body, as received
  bool overrun = false;             // bytes after the response's end (counted unsolicited)
  bool grpc = false;                // a gRPC call: judged by grpc_status instead of the HTTP status class
  int grpc_status = -1;             // its grpc-status (-1: none came, -2: unreadable)
  std::int64_t intended_ns = 0;     // the request's start: schedule time (open) or first write (closed)
  std::int64_t write_ns = 0;        // the actual write (of the first attempt: see docs/scenarios.md [load] retry)
  std::int64_t first_byte_ns = 0;   // the final response's first byte
  std::int64_t last_byte_ns = 0;    // its last byte
};

// Counts the response (completed, succeeded, status, cache, bytes, errors) and records its four
// latencies: corrected from intended_ns, uncorrected from write_ns.
void record_response(sample_set& set, const response_outcome& r) noexcept;

// A measured request given up at `now` (read timeout, a connect that timed out with the request
// on it, unanswered at the drain deadline): its latencies as lower bounds. `start` is the write,
// or the connect when it was never written; `first_byte` the final response's first byte if one
// came, else now.
void record_given_up(sample_set& set, std::int64_t intended_ns, std::int64_t start_ns, std::int64_t first_byte_ns,
                     std::int64_t now_ns) noexcept;

// A measured arrival never written (queued when the load stopped): counted, its corrected latency
// at least its wait so far.
void record_unsent(sample_set& set, std::int64_t due_ns, std::int64_t now_ns) noexcept;

}  // namespace perflab::loadgen::detail
