#include "test_server.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

#include <utility>
// GCC 12 -Wnull-dereference false positive inside Asio's scheduler at -O2; Asio's lines only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#pragma GCC diagnostic pop

namespace perflab::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using clock_type = std::chrono::steady_clock;

struct test_server::impl {
  server_options opts;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  std::atomic<std::int64_t> connections{0};
  std::atomic<std::int64_t> requests{0};
  std::atomic<std::int64_t> idle_closes{0};
  bool first_seen = false;
  clock_type::time_point pause_start{}, pause_end{};
  clock_type::time_point busy_until{};  // serial: when the last queued response goes out
  std::string head, rest;  // rendered response, split where rest_delay applies

  void render() {
    const std::string reason = opts.status == 200 ? "OK" : "Status";
    head = "HTTP/1.1 " + std::to_string(opts.status) + " " + reason + "\r\nServer: perflab-test\r\n";
    switch (opts.frame) {
      case framing::content_length:
        head += "Content-Length: " + std::to_string(opts.body.size()) + "\r\n";
        if (opts.close_after_response) head += "Connection: close\r\n";
        head += "\r\n";
        rest = opts.body;
        break;
      case framing::chunked: {
        head += "Transfer-Encoding: chunked\r\n";
        if (opts.close_after_response) head += "Connection: close\r\n";
        head += "\r\n";
        // Two chunks, so the parser must join them.
        const std::size_t half = opts.body.size() / 2;
        auto chunk = [](std::string_view s) {
          char size[32];
          std::snprintf(size, sizeof size, "%zx\r\n", s.size());
          return std::string(size) + std::string(s) + "\r\n";
        };
        rest = (half ? chunk(std::string_view(opts.body).substr(0, half)) : "") +
               chunk(std::string_view(opts.body).substr(half)) + "0\r\n\r\n";
        break;
      }
      case framing::close_delimited:
        head += "Connection: close\r\n\r\n";
        rest = opts.body;
        break;
    }
    if (opts.rest_delay.count() == 0) {
      head += rest;
      rest.clear();
    }
  }

  void accept() {
    acceptor.async_accept([this](const error_code& ec, tcp::socket s) {
      if (ec) return;
      const std::int64_t nth = ++connections;
      s.set_option(tcp::no_delay(true));
      auto sess = std::make_shared<session>(this, std::move(s));
      sess->starved = opts.served_connections > 0 && nth > opts.served_connections;
      sess->read();
      accept();
    });
  }

  // When the response to a request read at `now` may start.
  clock_type::time_point due(clock_type::time_point now) {
    if (!first_seen) {
      first_seen = true;
      pause_start = now + opts.pause_after;
      pause_end = pause_start + opts.pause_length;
    }
    auto t = now + opts.delay;
    if (opts.serial) {
      t = std::max(now, busy_until) + opts.delay;
      busy_until = t;
    }
    if (opts.pause_length.count() > 0 && t >= pause_start && t < pause_end) t = pause_end;
    return t;
  }

  struct session : std::enable_shared_from_this<session> {
    session(impl* owner, tcp::socket s) : srv(owner), sock(std::move(s)), timer(owner->ioc), idle_timer(owner->ioc) {}
    impl* srv;
    tcp::socket sock;
    asio::steady_timer timer;
    asio::steady_timer idle_timer;
    std::uint64_t reads = 0;  // bumped by every read, so an idle timer knows whether it is stale
    clock_type::time_point last_response{};  // when the last response went out (epoch: none yet)
    bool starved = false;                    // served_connections: this one is never answered
    std::string in;
    char buf[4096];

    void read() {
      sock.async_read_some(asio::buffer(buf), [self = shared_from_this()](const error_code& ec, std::size_t n) {
        if (ec) return;
        ++self->reads;
        self->in.append(self->buf, n);
        self->on_data();
      });
    }

    // Keep-alive timeout: close if nothing arrived for idle_timeout after a response.
    void arm_idle() {
      idle_timer.expires_after(srv->opts.idle_timeout);
      idle_timer.async_wait([self = shared_from_this(), seen = reads](const error_code& ec) {
        if (ec || self->reads != seen || !self->sock.is_open()) return;
        ++self->srv->idle_closes;
        error_code ignored;
        self->sock.close(ignored);
      });
    }

    // One request at a time (the loadgen does not pipeline): head up to CRLFCRLF plus a
    // Content-Length body.
    void on_data() {
      const auto end = in.find("\r\n\r\n");
      if (end == std::string::npos) return read();
      std::size_t body = 0;
      std::string lower = in.substr(0, end);
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      if (auto cl = lower.find("content-length:"); cl != std::string::npos) body = std::stoul(lower.substr(cl + 15));
      if (in.size() < end + 4 + body) return read();
      in.erase(0, end + 4 + body);
      if (srv->opts.drop_after_idle.count() > 0 && last_response != clock_type::time_point{} &&
          clock_type::now() - last_response >= srv->opts.drop_after_idle) {
        ++srv->idle_closes;
        error_code ignored;
        sock.close(ignored);
        return;
      }
      const std::int64_t nth = ++srv->requests;
      if (starved || srv->opts.silent || (srv->opts.silent_every > 0 && nth % srv->opts.silent_every == 0)) return read();
      if (srv->opts.reset) {
        sock.set_option(asio::socket_base::linger(true, 0));
        error_code ignored;
        sock.close(ignored);
        return;
      }
      if (!srv->opts.interim.empty()) asio::async_write(sock, asio::buffer(srv->opts.interim), [](const error_code&, std::size_t) {});
      timer.expires_at(srv->due(clock_type::now()));
      timer.async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) self->write_head();
      });
    }

    // A server speaking on a connection that asked nothing: `unsolicited`, then a close.
    void arm_unsolicited() {
      idle_timer.expires_after(srv->opts.unsolicited_after);
      idle_timer.async_wait([self = shared_from_this(), seen = self_reads()](const error_code& ec) {
        if (ec || self->reads != seen || !self->sock.is_open()) return;
        asio::async_write(self->sock, asio::buffer(self->srv->opts.unsolicited), [self](const error_code&, std::size_t) {
          error_code ignored;
          self->sock.shutdown(tcp::socket::shutdown_send, ignored);
          self->drain();
        });
      });
    }
    std::uint64_t self_reads() const noexcept { return reads; }

    void write_head() {
      asio::async_write(sock, asio::buffer(srv->head), [self = shared_from_this()](const error_code& ec, std::size_t) {
        if (ec) return;
        if (self->srv->rest.empty()) return self->after_response();
        self->timer.expires_after(self->srv->opts.rest_delay);
        self->timer.async_wait([self](const error_code& e) {
          if (!e) self->write_rest();
        });
      });
    }

    void write_rest() {
      asio::async_write(sock, asio::buffer(srv->rest), [self = shared_from_this()](const error_code& ec, std::size_t) {
        if (!ec) self->after_response();
      });
    }

    void after_response() {
      last_response = clock_type::now();
      if (!srv->opts.trailing_bytes.empty())
        asio::async_write(sock, asio::buffer(srv->opts.trailing_bytes), [](const error_code&, std::size_t) {});
      if (srv->opts.frame == framing::close_delimited || srv->opts.close_after_response) {
        if (srv->opts.close_delay.count() > 0) {
          timer.expires_after(srv->opts.close_delay);
          timer.async_wait([self = shared_from_this()](const error_code&) { self->shutdown_and_drain(); });
          return;
        }
        return shutdown_and_drain();
      }
      if (in.find("\r\n\r\n") != std::string::npos) return on_data();
      if (srv->opts.idle_timeout.count() > 0) arm_idle();
      if (srv->opts.unsolicited_after.count() > 0) arm_unsolicited();
      read();
    }

    void shutdown_and_drain() {
      error_code ignored;
      sock.shutdown(tcp::socket::shutdown_send, ignored);
      // Keep reading until the client closes, so the close is orderly (no reset).
      drain();
    }

    void drain() {
      sock.async_read_some(asio::buffer(buf), [self = shared_from_this()](const error_code& ec, std::size_t) {
        if (!ec) self->drain();
      });
    }
  };
};

test_server::test_server(server_options opts) : impl_(std::make_unique<impl>()) {
  impl_->opts = std::move(opts);
  impl_->render();
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen(1024);
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

test_server::~test_server() {
  impl_->ioc.stop();
  impl_->thread.join();
}

std::uint16_t test_server::port() const noexcept { return impl_->acceptor.local_endpoint().port(); }
std::string test_server::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}
std::int64_t test_server::connections() const noexcept { return impl_->connections.load(); }
std::int64_t test_server::requests() const noexcept { return impl_->requests.load(); }
std::int64_t test_server::idle_closes() const noexcept { return impl_->idle_closes.load(); }

std::uint16_t test_server::refused_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

}  // namespace perflab::testing
