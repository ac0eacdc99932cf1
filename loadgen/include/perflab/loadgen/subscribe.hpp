#pragma once
// `loadgen subscribe`: push delivery against a lab-target's topic hub. N subscribers (spread
// round-robin over T topics) receive by SSE (/events), long polling (/poll), short polling
// (/messages) or WebSocket (/ws, Boost.Beast's client) while a built-in publisher POSTs R messages per second per topic to /publish for the
// measured duration; then a drain waits (bounded) for the last messages to arrive.
//
// Every message carries its sequence number and the hub's publish stamp (the host's steady
// clock), so a subscriber on the same host measures delivery latency (receive - publish) and
// checks sequence numbers: each message published to its topic during the run is expected once,
// in order. Before subscribing, the topics' last sequence numbers are read, and every subscriber
// starts after them (Last-Event-ID, after=): nothing published during the run is missed by a
// subscriber that was still connecting. Reconnection is a browser's: after a stream ends or a
// connection fails, the next one resumes from the last sequence number received.
//
// One event-loop thread holds every subscriber and the publisher (they mostly wait).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/core/result.hpp"

namespace perflab::loadgen {

struct subscribe_config {
  std::string url;                                    // http://HOST:PORT (a path is ignored)
  std::string style = "sse";                          // "sse", "long-poll", "short-poll" or "ws"
  std::int64_t subscribers = 10;                      // subscribers held, >= 1
  std::int64_t topics = 1;                            // topics, >= 1; subscriber i takes topic i % topics
  std::string topic_prefix = "t";                     // topic i is "<prefix><i>"
  std::chrono::nanoseconds duration = std::chrono::seconds(10);  // publishing phase (the measured phase)
  double publish_rate = 10;                           // messages per second per topic; 0: an external publisher
  std::size_t message_bytes = 64;                     // published body size
  double connect_rate = 0;                            // subscribers opened per second (0: all at once)
  std::chrono::nanoseconds poll_interval = std::chrono::seconds(1);   // short-poll: pause after an answer
  std::chrono::nanoseconds poll_timeout = std::chrono::seconds(30);   // long-poll: timeout= of each poll
  std::chrono::nanoseconds drain = std::chrono::seconds(5);  // longest wait for the last messages after publishing
  std::chrono::nanoseconds connect_timeout = std::chrono::seconds(5);
  std::vector<int> cpus;                              // pin the loadgen's thread (empty: not pinned)
  std::filesystem::path output_dir;                   // run.json, <prefix>.hlog, <prefix>.csv (empty: none)
  std::string file_prefix = "subscribe";
  bool progress = false;                              // one line per second on stderr
  // Called at the publishing phase's start and end (the scenario runner samples the target's CPU
  // there); from the loop's thread, so they must be quick.
  std::function<void()> on_measure_start, on_measure_end;
};

// The run as a result variant (load.kind "subscribe"; schema 8's delivery fields). Error: the
// target could not be reached before any subscriber started, or the output could not be written.
tl::expected<result::variant, std::string> run_subscribe(const subscribe_config& cfg);

// The messages in a text (an SSE data line, a poll's JSON body): each {"seq":N,"ts":NS,...}
// object, in order. f(seq, ts_ns). Returns the number found.
template <class F>
std::size_t scan_messages(std::string_view text, F&& f);

// One subscriber's sequence bookkeeping: which of its topic's messages after the run's base
// arrived, how many copies came again, and how many first copies came after a later message.
class sequence_check {
 public:
  explicit sequence_check(std::uint64_t base) : base_(base) {}
  enum class seen_as { before_run, first, duplicate };
  seen_as record(std::uint64_t seq) {
    if (seq <= base_) return seen_as::before_run;  // a resumed stream's history from before the run
    const std::size_t i = static_cast<std::size_t>(seq - base_ - 1);
    if (i >= seen_.size()) seen_.resize(std::max(i + 1, seen_.size() * 2));
    if (seen_[i]) {
      ++duplicated_;
      return seen_as::duplicate;
    }
    seen_[i] = true;
    ++received_;
    if (seq < highest_) ++out_of_order_;
    highest_ = std::max(highest_, seq);
    return seen_as::first;
  }
  std::uint64_t base() const noexcept { return base_; }
  std::uint64_t highest() const noexcept { return std::max(highest_, base_); }  // the resume point
  std::int64_t received() const noexcept { return received_; }  // first copies, any sequence number
  std::int64_t duplicated() const noexcept { return duplicated_; }
  std::int64_t out_of_order() const noexcept { return out_of_order_; }
  // First copies of the run's messages 1..published (base + 1 .. base + published).
  std::int64_t received_within(std::uint64_t published) const {
    const auto n = static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(seen_.size(), published));
    return std::count(seen_.begin(), seen_.begin() + n, true);
  }

 private:
  std::uint64_t base_;
  std::uint64_t highest_ = 0;
  std::vector<bool> seen_;  // by seq - base - 1
  std::int64_t received_ = 0, duplicated_ = 0, out_of_order_ = 0;
};

}  // namespace perflab::loadgen

#include <charconv>
#include <string_view>

namespace perflab::loadgen {

template <class F>
std::size_t scan_messages(std::string_view text, F&& f) {
  // A quote inside a JSON string is always escaped (\"), so this key cannot match inside "data".
  constexpr std::string_view seq_key = "{\"seq\":", ts_key = ",\"ts\":";
  std::size_t found = 0;
  for (auto at = text.find(seq_key); at != std::string_view::npos; at = text.find(seq_key, at)) {
    at += seq_key.size();
    std::uint64_t seq = 0;
    std::int64_t ts = 0;
    auto r = std::from_chars(text.data() + at, text.data() + text.size(), seq);
    if (r.ec != std::errc{}) continue;
    at = static_cast<std::size_t>(r.ptr - text.data());
    if (text.substr(at, ts_key.size()) != ts_key) continue;
    at += ts_key.size();
    r = std::from_chars(text.data() + at, text.data() + text.size(), ts);
    if (r.ec != std::errc{}) continue;
    at = static_cast<std::size_t>(r.ptr - text.data());
    f(seq, ts);
    ++found;
  }
  return found;
}

}  // namespace perflab::loadgen
