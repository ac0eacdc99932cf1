#include <perflab/db/call.hpp>

#include <boost/asio/post.hpp>

#include <perflab/core/clock.hpp>
#include <perflab/db/service.hpp>

namespace perflab::db {

namespace asio = boost::asio;

namespace {

asio::steady_timer::time_point at(std::int64_t ns) {
  return asio::steady_timer::time_point(std::chrono::nanoseconds(ns));
}

}  // namespace

call::call(service& svc) : svc_(svc) {}

call::~call() {
  auto& p = svc_.connections();
  if (!p.cancel(waiter_, false) && waiter_.granted) p.release(std::move(waiter_.granted), false, now_ns());
  if (slot_) {
    // Mid-open: never a connection (not counted as created, so not as closed either). Mid-query:
    // its state is unknown, closed as broken.
    if (opening_) slot_->conn.reset();
    p.release(std::move(slot_), !opening_, now_ns());
  }
  if (fd_) fd_->release();  // the descriptor belongs to the connection (libpq closes it)
}

void call::prepare(query::kind what, std::int64_t service_us, std::uint64_t id) {
  q_.what = what;
  q_.id = id;
  q_.service = service_us >= 0 ? std::chrono::microseconds(service_us) : svc_.draw_latency();
  res_ = {outcome::ok, std::move(res_.body)};
  res_.body.clear();
  status_ = 0;
}

int call::status_of(outcome o) const noexcept {
  switch (o) {
    case outcome::ok: return 200;
    case outcome::not_found: return 404;
    case outcome::lost:
    case outcome::failed: return 503;
  }
  return 503;
}

void call::run_blocking() {
  auto& p = svc_.connections();
  auto& db = svc_.db();
  slot_ = p.acquire();
  if (!slot_) {
    status_ = 503;  // acquire timeout (counted by the pool)
    return;
  }
  if (!slot_->conn) {
    slot_->conn = db.open_blocking();
    if (!slot_->conn) {
      p.release(std::move(slot_), true, now_ns());
      status_ = 503;
      return;
    }
    p.opened(*slot_, now_ns());
  }
  svc_.count_query(q_.what);
  db.query_blocking(*slot_->conn, q_, res_);
  p.release(std::move(slot_), res_.what == outcome::lost, now_ns());
  status_ = status_of(res_.what);
}

void call::async_run(asio::io_context& ioc, keep_t keep, done_fn done) {
  ioc_ = &ioc;
  if (!timer_) timer_.emplace(ioc);
  done_ = std::move(done);
  granted_ = false;
  // The grant comes on whichever thread releases a connection: it only posts here, and only
  // while the owner lives (then so do this call and its loop).
  std::weak_ptr<void> weak = keep;
  waiter_.notify = [weak, this] {
    if (auto k = weak.lock()) asio::post(*ioc_, [this, k = std::move(k)]() mutable { on_granted(std::move(k)); });
  };
  auto& p = svc_.connections();
  if (p.try_acquire(waiter_, now_ns())) {
    slot_ = std::move(waiter_.granted);
    return on_acquired(std::move(keep));
  }
  timer_pending_ = true;
  timer_->expires_at(at(waiter_.since_ns) + p.config().acquire_timeout);
  timer_->async_wait([this, k = std::move(keep)](const boost::system::error_code&) mutable {
    on_acquire_timer(std::move(k));
  });
}

// Two events race: the deadline and the grant's post. Whichever runs second goes on.
void call::on_acquire_timer(keep_t keep) {
  timer_pending_ = false;
  if (granted_) {
    slot_ = std::move(waiter_.granted);
    return on_acquired(std::move(keep));
  }
  if (svc_.connections().cancel(waiter_)) return finish(503, std::move(keep));  // timed out, counted
  // Served just now: the grant's post is on its way and goes on from on_granted. The grant's
  // notify posts only while the owner lives, and this handler's keep may be its last reference:
  // held until then.
  held_ = std::move(keep);
}

void call::on_granted(keep_t keep) {
  held_.reset();  // keep is the same owner
  granted_ = true;
  if (timer_pending_) {
    timer_->cancel();  // its handler goes on
    return;
  }
  slot_ = std::move(waiter_.granted);
  on_acquired(std::move(keep));
}

void call::on_acquired(keep_t keep) {
  if (slot_->conn) return start_query(std::move(keep));
  opening_ = true;
  open_step(svc_.db().start_open(slot_->conn, now_ns()), std::move(keep));
}

void call::open_step(const wait_for& w, keep_t keep) {
  if (w.what == wait_for::kind::done) return on_opened(std::move(keep));
  wait(w, &call::resume_open, std::move(keep));
}

void call::resume_open(keep_t keep) { open_step(svc_.db().resume_open(slot_->conn, now_ns()), std::move(keep)); }

void call::on_opened(keep_t keep) {
  opening_ = false;
  auto& p = svc_.connections();
  if (!slot_->conn) {
    p.release(std::move(slot_), true, now_ns());
    return finish(503, std::move(keep));
  }
  p.opened(*slot_, now_ns());
  start_query(std::move(keep));
}

void call::start_query(keep_t keep) {
  svc_.count_query(q_.what);
  query_step(svc_.db().start_query(*slot_->conn, q_, res_, now_ns()), std::move(keep));
}

void call::query_step(const wait_for& w, keep_t keep) {
  if (w.what == wait_for::kind::done) return on_query_done(std::move(keep));
  wait(w, &call::resume_query, std::move(keep));
}

void call::resume_query(keep_t keep) { query_step(svc_.db().resume_query(*slot_->conn, res_, now_ns()), std::move(keep)); }

void call::on_query_done(keep_t keep) {
  svc_.connections().release(std::move(slot_), res_.what == outcome::lost, now_ns());
  finish(status_of(res_.what), std::move(keep));
}

void call::finish(int status, keep_t keep) {
  status_ = status;
  auto done = std::move(done_);  // done may start this call's next run, which sets done_ again
  done(std::move(keep));
}

void call::wait(const wait_for& w, step_fn next, keep_t keep) {
  if (w.what == wait_for::kind::until) {
    timer_->expires_at(at(w.at_ns));
    timer_->async_wait([this, next, k = std::move(keep)](const boost::system::error_code&) mutable {
      (this->*next)(std::move(k));
    });
    return;
  }
  // Socket readiness on this loop. The descriptor is the connection's (libpq's), only borrowed:
  // released (not closed) after each wait, since the next wait may come from another loop.
  fd_.emplace(*ioc_, w.fd);
  const auto what = w.what == wait_for::kind::readable ? asio::posix::stream_descriptor::wait_read
                                                       : asio::posix::stream_descriptor::wait_write;
  fd_->async_wait(what, [this, next, k = std::move(keep)](const boost::system::error_code&) mutable {
    fd_->release();
    fd_.reset();
    (this->*next)(std::move(k));
  });
}

}  // namespace perflab::db
