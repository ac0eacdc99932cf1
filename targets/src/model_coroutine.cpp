// coroutine: one C++20 coroutine per connection on Asio (co_spawn, awaitable, use_awaitable),
// one io_context per thread. The connection reads as straight-line code; /sleep awaits a timer.
// Errors come back through redirect_error, never as exceptions.
#include <utility>  // GCC 12: before boost/asio/awaitable.hpp

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <new>

#include <perflab/db/call.hpp>

#include "async_common.hpp"

namespace perflab::targets::detail {

namespace {

class coroutine_conn final : public async_conn {
 public:
  using async_conn::async_conn;

  void start() override {
    auto self = std::static_pointer_cast<coroutine_conn>(shared_from_this());
    asio::co_spawn(sock_.get_executor(), serve(std::move(self)), asio::detached);
  }

 private:
  // The coroutine owns a reference, so the connection lives as long as it runs. An Asio
  // operation that cannot allocate throws; that ends this connection only, counted.
  static asio::awaitable<void> serve(std::shared_ptr<coroutine_conn> self) {
    try {
      co_await self->run();
    } catch (const std::bad_alloc&) {
      self->ctx_.stats.allocation_failed();
      self->close_now();
    }
  }

  asio::awaitable<void> run() {
    boost::system::error_code ec;
    for (;;) {
      const auto st = sess_.process();
      ec.clear();  // a timed-out read's error is handled; only this step's errors count below
      while (sess_.output_pending()) {
        const auto w = write_now();
        if (w == write_result::done) break;
        if (w == write_result::failed) {
          ec = asio::error::connection_reset;
          break;
        }
        if (w == write_result::paced) {  // a shaped link's next slot is not open yet
          arm_pace_timer();
          co_await sleep_timer().async_wait(asio::redirect_error(asio::use_awaitable, ec));
          if (ec || closed_) break;
          continue;
        }
        // The socket's buffer is full: write what it takes when it has room, each write with its
        // own send deadline (progress, not the whole response, is what is timed).
        set_write_deadline();
        writing_ = true;
        const std::size_t n = co_await with_output_buffers(output_to_write(), [&](const auto& buffers) {
          return sock_.async_write_some(buffers, asio::redirect_error(asio::use_awaitable, ec));
        });
        writing_ = false;
        if (ec) break;
        wrote(n);
      }
      if (ec) break;
      if (st.what == session::next::close) {
        linger_then_close();
        co_return;
      }
      if (st.what == session::next::reset) {
        reset_now();
        co_return;
      }
      if (st.what == session::next::more) continue;
      if (st.what == session::next::wait) {
        set_no_deadline();
        sleep_timer().expires_after(st.wait);
        co_await sleep_timer().async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        sess_.finish_wait();
        continue;
      }
      if (st.what == session::next::db) {  // the call runs on this loop; its end cancels the park
        set_no_deadline();
        db_done_ = false;
        sleep_timer().expires_at(asio::steady_timer::time_point::max());
        sess_.db_call()->async_run(loop_.ioc, shared_from_this(), [this](std::shared_ptr<void>) {
          db_done_ = true;
          sleep_timer().cancel();
        });
        if (!db_done_) co_await sleep_timer().async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (closed_ || !db_done_) break;
        sess_.finish_wait();
        continue;
      }
      if (st.what == session::next::call) {  // a /proxy call or a waiting room's wait, parked as a database call
        set_no_deadline();
        db_done_ = false;
        sleep_timer().expires_at(asio::steady_timer::time_point::max());
        sess_.deferred_call()->async_run(loop_.ioc, shared_from_this(), [this](std::shared_ptr<void>) {
          db_done_ = true;
          sleep_timer().cancel();
        });
        if (!db_done_) co_await sleep_timer().async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (closed_ || !db_done_) break;
        sess_.finish_wait();
        continue;
      }
      if (st.what == session::next::join) {  // another request's origin call for the same key
        if (park_for_flight()) {
          co_await sleep_timer().async_wait(asio::redirect_error(asio::use_awaitable, ec));
          if (closed_ || !flight_done_) break;  // the park ends by a cancel either way
        }
        sess_.finish_wait();
        continue;
      }
      if (st.what == session::next::handoff) {  // a buy the single-writer stock's owner answers
        if (park_for_handoff()) {
          co_await sleep_timer().async_wait(asio::redirect_error(asio::use_awaitable, ec));
          if (closed_ || !handoff_done_) break;
        }
        sess_.finish_wait();
        continue;
      }
      if (st.what == session::next::remote) {  // a command on this loop's Redis client
        if (park_for_remote()) {
          co_await sleep_timer().async_wait(asio::redirect_error(asio::use_awaitable, ec));
          if (closed_ || !remote_done_) break;
        }
        sess_.finish_wait();
        continue;
      }
      if (ctx_.stopping.load(std::memory_order_relaxed) && sess_.idle()) break;
      set_read_deadline();
      reading_ = true;
      timed_out_ = false;
      std::size_t n = 0;
      bool read = false;
      if (wait_before_read()) {  // idle: wait for the next request holding no buffer
        co_await sock_.async_wait(tcp::socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) n = read_ready(ec);
        read = ec != asio::error::would_block && ec != asio::error::try_again;
        if (!read) ec.clear();
      }
      if (!read) {
        const auto space = sess_.read_space();
        if (space.empty()) break;  // out of memory growing the buffer; a zero-byte read would spin
        n = co_await sock_.async_read_some(asio::buffer(space.data(), space.size()), asio::redirect_error(asio::use_awaitable, ec));
      }
      reading_ = false;
      if (ec) {
        // Timed out with a partial request: the next process() writes 408 and closes.
        if (timed_out_ && sess_.on_timeout()) continue;
        break;  // idle timeout, stop, EOF, error
      }
      sess_.commit(n);
    }
    close_now();
  }
};

}  // namespace

std::unique_ptr<server> make_coroutine(const server_config& cfg, int listen_fd, std::uint16_t port) {
  return std::make_unique<async_server>(cfg, listen_fd, port,
                                        [](event_loop& loop, tcp::socket sock, server_context& ctx) {
                                          return std::make_shared<coroutine_conn>(loop, std::move(sock), ctx);
                                        });
}

}  // namespace perflab::targets::detail
