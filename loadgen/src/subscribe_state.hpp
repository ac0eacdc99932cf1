#pragma once
// Internal to `loadgen subscribe` (subscribe.cpp, subscribe_ws.cpp): the run's shared state and
// what every style's subscriber offers the run loop.
#include <utility>  // GCC 12: before boost/asio/awaitable.hpp

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "perflab/core/clock.hpp"
#include "perflab/core/histogram.hpp"
#include "perflab/core/http.hpp"
#include "perflab/loadgen/engine.hpp"
#include "perflab/loadgen/request_mix.hpp"
#include "perflab/loadgen/subscribe.hpp"

namespace perflab::loadgen::subscribe_detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

inline constexpr std::int64_t hist_max_ns = 3'600'000'000'000;  // 1 h

inline histogram make_hist() { return histogram(1, hist_max_ns, 3); }

struct topic_state {
  std::string name;
  std::uint64_t base = 0;       // last sequence number before the run
  std::uint64_t published = 0;  // messages the publisher had accepted (200) in this run
};

// Shared by every connection of the run (one thread).
struct run_state {
  asio::io_context ioc{1};
  subscribe_config cfg;
  parsed_url url;
  tcp::resolver::results_type endpoints;
  std::vector<topic_state> topics;
  histogram delivery = make_hist();   // whole run
  histogram second = make_hist();     // this second's deliveries
  histogram connect = make_hist();
  histogram reconnect_gap = make_hist();  // SSE / WebSocket: a stream's end to the next stream's start
  std::int64_t delivered_second = 0;
  std::int64_t requests = 0;          // subscriber requests written
  std::int64_t requests_second = 0;
  std::int64_t bytes = 0;             // subscriber bytes received
  std::int64_t bytes_second = 0;
  std::int64_t reconnects = 0;
  std::int64_t connects = 0;
  std::int64_t streams_open = 0;      // SSE heads (WebSocket handshakes) received and not ended
  result::error_counts errors;
  bool stopping = false;              // the run is over: no reconnects, no new requests
};

inline void count_connect_error(run_state& r, const error_code& ec) {
  if (ec == asio::error::connection_refused) ++r.errors.connect_refused;
  else if (ec == asio::error::timed_out || ec == asio::error::operation_aborted) ++r.errors.connect_timeout;
  else ++r.errors.connect_other;
}

inline void count_io_error(run_state& r, const error_code& ec) {
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe) ++r.errors.reset;
  else if (ec == asio::error::eof) ++r.errors.closed_mid_response;
  else ++r.errors.io_other;
}

// One subscriber as the run loop sees it: started (maybe at a ramp's timer), stopped at the end, and
// its topic's sequence bookkeeping. Its style's connection logic is the subclass's.
class subscriber_base {
 public:
  subscriber_base(run_state& r, std::size_t topic) : r_(r), topic_(topic), seq_(r.topics[topic].base) {}
  virtual ~subscriber_base() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  std::size_t topic() const noexcept { return topic_; }
  const sequence_check& sequence() const noexcept { return seq_; }

 protected:
  // Connects sock to the target, cancelled by timer after the run's connect timeout; then, on the
  // loop, done(true) once connected (counted, its connect time recorded, Nagle off) or
  // done(false) after a failure (counted unless the run is stopping). keep holds the subscriber.
  void connect(tcp::socket& sock, asio::steady_timer& timer, std::shared_ptr<void> keep, std::function<void(bool)> done) {
    const std::int64_t t0 = now_ns();
    timer.expires_after(r_.cfg.connect_timeout);
    timer.async_wait([&sock, keep](const error_code& ec) {
      if (!ec) sock.cancel();  // connect timeout
    });
    asio::async_connect(sock, r_.endpoints,
                        [this, &sock, &timer, keep, t0, done = std::move(done)](const error_code& ec, const tcp::endpoint&) {
                          timer.cancel();
                          if (ec) {
                            if (!r_.stopping) count_connect_error(r_, ec);
                            return done(false);
                          }
                          ++r_.connects;
                          r_.connect.record(now_ns() - t0);
                          sock.set_option(tcp::no_delay(true));
                          done(true);
                        });
  }

  // Opens a new connection (the style's first request follows it).
  virtual void open() = 0;
  // open() again after delay (on timer), unless the run is stopping. keep holds the subscriber.
  void reopen_after(asio::steady_timer& timer, std::shared_ptr<void> keep, std::chrono::nanoseconds delay) {
    if (r_.stopping) return;
    timer.expires_after(delay);
    timer.async_wait([this, keep](const error_code& ec) {
      if (!ec) open();
    });
  }

  // A stream (SSE head, WebSocket handshake) began / ended: the time without one between an end
  // and the next start is a reconnect gap.
  void stream_started() {
    ++r_.streams_open;
    if (stream_end_ns_ > 0) r_.reconnect_gap.record(std::max<std::int64_t>(1, now_ns() - stream_end_ns_));
    stream_end_ns_ = 0;
  }
  void stream_ended() {
    --r_.streams_open;
    stream_end_ns_ = now_ns();
  }

  // A message received at now: its first copy goes into the delivery histograms.
  void on_message(std::uint64_t seq, std::int64_t ts, std::int64_t now) {
    if (seq_.record(seq) != sequence_check::seen_as::first) return;
    const std::int64_t lat = std::max<std::int64_t>(0, now - ts);
    r_.delivery.record(lat);
    r_.second.record(lat);
    ++r_.delivered_second;
  }

  run_state& r_;
  const std::size_t topic_;
  sequence_check seq_;  // its resume point is the highest sequence number received
  std::int64_t stream_end_ns_ = 0;  // when its last stream ended (0: it has one, or never had)
};

// --style ws (subscribe_ws.cpp): Boost.Beast's WebSocket client on /ws/{topic}?after=SEQ.
std::shared_ptr<subscriber_base> make_ws_subscriber(run_state& r, std::size_t topic);

}  // namespace perflab::loadgen::subscribe_detail
