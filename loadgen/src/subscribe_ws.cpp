// `loadgen subscribe --style ws`: a subscriber on Boost.Beast's WebSocket client, so the target's
// own codec (perflab::push::ws) is checked by an implementation we did not write. Each subscriber
// opens GET /ws/{topic}?after=SEQ (SEQ: the highest sequence number it has, the run's base at
// first), reads text frames (each the hub's {"seq":N,"ts":NS,...} JSON) and, when the server
// closes the stream (1013 for a slow consumer, 1001 at its stop) or the connection fails, opens a
// new one after ws_retry, resuming from its highest sequence number: counted as a reconnect.
// Beast answers the server's pings by itself while a read is pending.
#include "subscribe_state.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <optional>

#include <fmt/format.h>

namespace perflab::loadgen::subscribe_detail {

namespace {

namespace websocket = boost::beast::websocket;

// The pause before a new stream, as an SSE client's default retry: (the server sends none here).
constexpr auto ws_retry = std::chrono::seconds(1);

class ws_subscriber final : public subscriber_base, public std::enable_shared_from_this<ws_subscriber> {
 public:
  ws_subscriber(run_state& r, std::size_t topic) : subscriber_base(r, topic), timer_(r.ioc) {}

  void start() override { open(); }
  void stop() override {
    timer_.cancel();
    if (ws_) {
      error_code ignored;
      ws_->next_layer().close(ignored);
    }
  }

 private:
  void open() override {
    if (r_.stopping) return;
    if (opened_) ++r_.reconnects;
    opened_ = true;
    ws_.emplace(r_.ioc);
    buf_.clear();
    connect(ws_->next_layer(), timer_, shared_from_this(), [this](bool ok) {
      if (!ok) return retry_later(std::chrono::milliseconds(200));
      handshake();
    });
  }

  void handshake() {
    if (r_.stopping) return;
    target_ = fmt::format("/ws/{}?after={}", r_.topics[topic_].name, seq_.highest());
    ++r_.requests;
    ++r_.requests_second;
    ws_->async_handshake(r_.url.host_header, target_, [self = shared_from_this()](const error_code& ec) {
      if (ec) {
        if (self->r_.stopping || ec == asio::error::operation_aborted) return;
        // Refused (a 4xx/5xx instead of 101), or the connection failed during the handshake.
        if (ec == websocket::error::upgrade_declined) ++self->r_.errors.status_4xx;
        else count_io_error(self->r_, ec);
        return self->retry_later(std::chrono::milliseconds(100));
      }
      self->stream_started();
      self->streaming_ = true;
      self->read();
    });
  }

  void read() {
    ws_->async_read(buf_, [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const error_code& ec, std::size_t n) {
    if (ec) {
      if (streaming_) {
        streaming_ = false;
        stream_ended();
      }
      if (r_.stopping || ec == asio::error::operation_aborted) return;
      // The server's close (websocket::error::closed) is a stream's normal end; anything else is counted.
      if (ec != websocket::error::closed && ec != asio::error::eof) count_io_error(r_, ec);
      return retry_later(ws_retry);
    }
    // Payload bytes plus the server frame's header (unmasked: 2 bytes up to 125, 4 up to 64 KiB).
    const auto wire = static_cast<std::int64_t>(n + (n < 126 ? 2 : n <= 0xFFFF ? 4 : 10));
    r_.bytes += wire;
    r_.bytes_second += wire;
    const auto data = buf_.cdata();
    const std::string_view text(static_cast<const char*>(data.data()), data.size());
    const std::int64_t now = now_ns();
    scan_messages(text, [&](std::uint64_t seq, std::int64_t ts) { on_message(seq, ts, now); });
    buf_.consume(buf_.size());
    read();
  }

  void retry_later(std::chrono::nanoseconds delay) { reopen_after(timer_, shared_from_this(), delay); }

  asio::steady_timer timer_;
  std::optional<websocket::stream<tcp::socket>> ws_;
  boost::beast::flat_buffer buf_;
  std::string target_;
  bool opened_ = false;
  bool streaming_ = false;
};

}  // namespace

std::shared_ptr<subscriber_base> make_ws_subscriber(run_state& r, std::size_t topic) {
  return std::make_shared<ws_subscriber>(r, topic);
}

}  // namespace perflab::loadgen::subscribe_detail
