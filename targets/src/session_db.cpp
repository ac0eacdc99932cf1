// session's part of /db/query, /items/{id} and POST /db/terminate: prepare the connection's
// database call for the model to run (its wait primitive: blocking, or on its event loop), then
// answer with the call's outcome.
#include <perflab/targets/session.hpp>

#include <perflab/db/call.hpp>

namespace perflab::targets {

std::optional<session::step> session::start_db(const dispatch& d) noexcept {
  try {
    auto& svc = ctx_.database();
    if (d.ep == endpoint::db_terminate) {
      db_->reply.terminated = svc.connections().terminate_idle();
      waiting_ = false;
      respond(pending_, pending_request(), keep_open(pending_keep_alive_), pending_start_ns_);
      return std::nullopt;
    }
    if (!db_->call) db_->call = std::make_unique<db::call>(svc);
    const bool item = d.ep == endpoint::items;
    const std::int64_t service_us = !item && d.arg_given ? static_cast<std::int64_t>(d.arg) * 1000 : -1;
    db_->call->prepare(item ? db::query::kind::item : db::query::kind::sleep, service_us, d.arg);
    db_->waiting = true;
    return step{next::db};
  } catch (...) {
    // No memory for the call (the database itself opened at start-up when --db was given).
    ctx_.stats.allocation_failed();
    waiting_ = false;
    pending_.status = 503;
    respond(pending_, pending_request(), false, pending_start_ns_);
    return std::nullopt;
  }
}

void session::finish_db() noexcept {
  db_->waiting = false;
  const int status = db_->call->status();
  if (status != 200) pending_.status = status;  // 404 (no such item) or 503 (timeout, lost connection)
  else db_->reply.body = db_->call->body();
}

}  // namespace perflab::targets
