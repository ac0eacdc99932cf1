// reactor: event loops with callbacks, one io_context per thread (--threads loops). Every step
// of a connection is a short callback: nothing blocks except /cpu, which is CPU work by design.
// /sleep waits on a timer.
#include <perflab/db/call.hpp>

#include "async_common.hpp"

namespace perflab::targets::detail {

namespace {

class reactor_conn final : public async_conn {
 public:
  using async_conn::async_conn;
  using ptr = std::shared_ptr<reactor_conn>;

  void start() override { run(std::static_pointer_cast<reactor_conn>(shared_from_this()), sess_.process()); }

 private:
  // The owning reference travels from handler to handler (moved, not re-made with
  // shared_from_this), so a request costs no reference-count traffic beyond Asio's own.

  // Writes what process() produced, then goes on with its step; `more` steps loop here rather
  // than recurse.
  void run(ptr self, session::step st) {
    for (;;) {
      step_ = st;
      if (sess_.output_pending()) {
        const auto w = write_now();
        if (w == write_result::would_block) return do_write(std::move(self));
        if (w == write_result::paced) return do_pace(std::move(self));
        if (w == write_result::failed) return close_now();
      }
      if (st.what != session::next::more) return after_write(std::move(self));
      st = sess_.process();
    }
  }

  // The socket's buffer is full: one asynchronous write of what it takes when it has room, with
  // its own send deadline (progress, not the whole response, is what is timed).
  void do_write(ptr self) {
    set_write_deadline();
    writing_ = true;
    auto done = [s = std::move(self)](const boost::system::error_code& ec, std::size_t n) mutable {
      auto* c = s.get();
      c->on_write(std::move(s), ec, n);
    };
    with_output_buffers(output_to_write(), [&](const auto& buffers) { sock_.async_write_some(buffers, std::move(done)); });
  }

  void on_write(ptr self, const boost::system::error_code& ec, std::size_t n) {
    writing_ = false;
    if (ec) return close_now();
    wrote(n);
    run(std::move(self), step_);  // the rest of the output, then the step
  }

  // A shaped link's next slot is not open yet: wait for it on the loop's timer, then write on.
  void do_pace(ptr self) {
    arm_pace_timer();
    sleep_timer().async_wait([s = std::move(self)](const boost::system::error_code& ec) mutable {
      auto* c = s.get();
      if (ec || c->closed_) return c->close_now();
      c->run(std::move(s), c->step_);
    });
  }

  void after_write(ptr self) {
    switch (step_.what) {
      case session::next::read: return do_read(std::move(self));
      case session::next::wait: return do_wait(std::move(self));
      case session::next::close: return linger_then_close();
      case session::next::reset: return reset_now();
      case session::next::more: return run(std::move(self), sess_.process());
      case session::next::join: return do_join(std::move(self));
      case session::next::db: return do_db(std::move(self));
      case session::next::remote: return do_remote(std::move(self));
      case session::next::call: return do_call(std::move(self));
      case session::next::handoff: return do_handoff(std::move(self));
    }
  }

  void do_read(ptr self) {
    if (ctx_.stopping.load(std::memory_order_relaxed) && sess_.idle()) return close_now();
    set_read_deadline();
    reading_ = true;
    timed_out_ = false;
    if (wait_before_read()) {  // idle: wait for the next request holding no buffer
      return sock_.async_wait(tcp::socket::wait_read, [s = std::move(self)](const boost::system::error_code& ec) mutable {
        auto* c = s.get();
        c->on_readable(std::move(s), ec);
      });
    }
    post_read(std::move(self));
  }

  void on_readable(ptr self, const boost::system::error_code& ec) {
    if (ec) return on_read(std::move(self), ec, 0);
    boost::system::error_code rec;
    const std::size_t n = read_ready(rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) return post_read(std::move(self));
    on_read(std::move(self), rec, n);
  }

  void post_read(ptr self) {
    const auto space = sess_.read_space();
    // Empty only when growing the buffer failed (out of memory): a zero-byte read would complete
    // at once with nothing, and the connection would spin.
    if (space.empty()) return close_now();
    sock_.async_read_some(asio::buffer(space.data(), space.size()),
                          [s = std::move(self)](const boost::system::error_code& ec, std::size_t n) mutable {
                            auto* c = s.get();
                            c->on_read(std::move(s), ec, n);
                          });
  }

  void on_read(ptr self, const boost::system::error_code& ec, std::size_t n) {
    reading_ = false;
    if (ec) {
      // Timed out with a partial request: 408 and close. Idle timeout, stop, EOF: close.
      if (timed_out_ && sess_.on_timeout()) return run(std::move(self), {session::next::close});
      return close_now();
    }
    sess_.commit(n);
    run(std::move(self), sess_.process());
  }

  void do_wait(ptr self) {
    set_no_deadline();
    sleep_timer().expires_after(step_.wait);
    sleep_timer().async_wait([s = std::move(self)](const boost::system::error_code& ec) mutable {
      auto* c = s.get();
      c->on_wait(std::move(s), ec);
    });
  }

  void on_wait(ptr self, const boost::system::error_code& ec) {
    if (ec) return close_now();
    sess_.finish_wait();
    run(std::move(self), sess_.process());
  }

  // A database call on this loop: the pool's wait, the open and the query are the loop's timers
  // and socket waits. done gets the connection back (the call holds it meanwhile).
  void do_db(ptr self) {
    set_no_deadline();
    sess_.db_call()->async_run(loop_.ioc, std::move(self), [this](std::shared_ptr<void> keep) {
      on_db(std::static_pointer_cast<reactor_conn>(std::move(keep)));
    });
  }

  // A /proxy call or a waiting room's wait on this loop (its timers and socket waits; an admission
  // from another thread posts here); its end goes on as a database call's does.
  void do_call(ptr self) {
    set_no_deadline();
    sess_.deferred_call()->async_run(loop_.ioc, std::move(self), [this](std::shared_ptr<void> keep) {
      on_db(std::static_pointer_cast<reactor_conn>(std::move(keep)));
    });
  }

  void on_db(ptr self) {
    if (closed_) return;
    sess_.finish_wait();
    run(std::move(self), sess_.process());
  }

  // Waits for the origin call another request makes for the same key (cache single-flight).
  void do_join(ptr self) {
    if (!park_for_flight()) {
      sess_.finish_wait();
      return run(std::move(self), sess_.process());
    }
    sleep_timer().async_wait([s = std::move(self)](const boost::system::error_code& ec) mutable {
      auto* c = s.get();
      c->on_join(std::move(s), ec);
    });
  }

  void on_join(ptr self, const boost::system::error_code&) {
    // The park ends by a cancel either way: the flight's post (flight_done_) or close_now().
    if (closed_ || !flight_done_) return close_now();
    sess_.finish_wait();
    run(std::move(self), sess_.process());
  }

  // A buy answered by the single-writer stock's owner thread; no loop thread waits for it.
  void do_handoff(ptr self) {
    if (!park_for_handoff()) {
      sess_.finish_wait();
      return run(std::move(self), sess_.process());
    }
    sleep_timer().async_wait([s = std::move(self)](const boost::system::error_code&) mutable {
      auto* c = s.get();
      if (c->closed_ || !c->handoff_done_) return c->close_now();  // the park ends by a cancel either way
      c->sess_.finish_wait();
      c->run(std::move(s), c->sess_.process());
    });
  }

  // A command on this loop's Redis client (the remote cache); no thread waits for its reply.
  void do_remote(ptr self) {
    if (!park_for_remote()) {
      sess_.finish_wait();
      return run(std::move(self), sess_.process());
    }
    sleep_timer().async_wait([s = std::move(self)](const boost::system::error_code& ec) mutable {
      auto* c = s.get();
      c->on_remote_done(std::move(s), ec);
    });
  }

  void on_remote_done(ptr self, const boost::system::error_code&) {
    if (closed_ || !remote_done_) return close_now();  // the park ends by a cancel either way
    sess_.finish_wait();
    run(std::move(self), sess_.process());
  }

  session::step step_{};
};

}  // namespace

std::unique_ptr<server> make_reactor(const server_config& cfg, int listen_fd, std::uint16_t port) {
  return std::make_unique<async_server>(cfg, listen_fd, port,
                                        [](event_loop& loop, tcp::socket sock, server_context& ctx) {
                                          return std::make_shared<reactor_conn>(loop, std::move(sock), ctx);
                                        });
}

}  // namespace perflab::targets::detail
