#pragma once
// Following asynchronous work ([load] follow in a scenario, `loadgen attack --follow-*`; issue 18):
// a request answered 202 Accepted with a Location is not done, the work it started is. The engine
// (asio, or curl for https:// and HTTP/2) then polls GET <Location> every `every` until a poll's answer contains `until` (e.g.
// "state":"done"), and the request is complete only then: its TTLB runs from its intended send
// time to the last byte of that poll (the completion latency, corrected for coordinated omission
// like any other), its TTFB to the 202's first byte; the 202 itself is measured apart (`accepted`,
// intended send time to its last byte). A request whose work is not done `timeout` after its
// intended send time is given up (errors.follow_timeout, its latency a lower bound). Polls are
// counted (`follow_polls`), not requests: `sent` counts the requests that started work.
// docs/scenarios.md, [load] follow.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace perflab::loadgen {

struct follow_policy {
  std::chrono::nanoseconds every{0};  // between a poll's answer and the next poll (0: off)
  std::string until;                  // the text a poll's answer holds once the work is done
  std::chrono::nanoseconds timeout{std::chrono::seconds(30)};  // from the intended send time

  bool enabled() const noexcept { return every.count() > 0; }
  bool operator==(const follow_policy&) const = default;
  // "every 10ms until '"state":"done"', timeout 30s" ("" when off): the load model's text.
  std::string describe() const;
};

// Checks a policy read from a scenario or the command line: every > 0, until not empty, timeout >
// every. The error names the field (every, until, timeout).
tl::expected<void, std::string> check_follow(const follow_policy& p);

// The longest Location followed (longer ones count as unfollowable: the 202 is the final answer).
inline constexpr std::size_t follow_max_location = 1024;
// Bytes a poll request takes at most (its buffer is reserved before the run).
inline constexpr std::size_t follow_max_poll_bytes = follow_max_location + 1024;
// Bytes of a response kept for the Location and the `until` search (the rest is not looked at).
inline constexpr std::size_t follow_max_capture = 64 * 1024;

// The path and query to poll, from a response's head: its Location field's value when it is an
// absolute path ("/jobs/17") or an http:// or https:// URL (its path is taken: the poll goes to
// the same target); empty when there is no Location, or it is longer than follow_max_location, or not a
// path or URL.
std::string_view follow_location(std::string_view raw_response) noexcept;

// Writes the poll for `target` (a path) into `out` ("GET <target> HTTP/1.1", the Host line of
// `request` (the request that was answered 202), an empty line). Does not allocate while out's
// capacity holds follow_max_poll_bytes. False when the request has no Host line.
bool render_follow_poll(std::string& out, std::string_view target, std::string_view request);

// Whether a poll's answer (as received: head and body) says the work is done.
inline bool follow_done(std::string_view raw_response, std::string_view until) noexcept {
  return raw_response.find(until) != std::string_view::npos;
}

// What an answer means for a followed request (both engines' follow_next).
enum class follow_step : std::uint8_t {
  none,       // not followed: the answer is final as usual (also a poll's non-2xx answer)
  poll,       // poll (again) after `every`: the request stays outstanding
  done,       // a poll found the work done: the request completes with this answer
  timed_out,  // the work was not done within the follow timeout: given up
};

// A poll's answer (status, and the response as received), `elapsed` after its request's intended
// send time: done when it holds `until`, final when its status is outside 2xx, given up past the
// timeout, else poll again.
inline follow_step judge_poll(int status, std::string_view raw_response, const follow_policy& p,
                              std::chrono::nanoseconds elapsed) noexcept {
  if (status < 200 || status > 299) return follow_step::none;  // its status is the request's final answer
  if (follow_done(raw_response, p.until)) return follow_step::done;
  if (elapsed >= p.timeout) return follow_step::timed_out;
  return follow_step::poll;
}

}  // namespace perflab::loadgen
