#pragma once
// What the pool holds and what a database opens: one connection to a database, simulated or
// PostgreSQL. The pool only asks whether it is still alive; queries go through db::database.
#include <functional>

namespace perflab::db {

class connection {
 public:
  connection() = default;
  virtual ~connection() = default;  // closes it
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Non-blocking liveness check, no round trip to the server (sim: the backend was not
  // terminated; PostgreSQL: the socket has not been closed by the server). The pool's validation.
  virtual bool alive() noexcept = 0;
  // Test hook (POST /db/terminate): the server ends this connection's backend, as
  // pg_terminate_backend does, so the next use or validation finds it dead.
  virtual void terminate() noexcept = 0;
  // terminate() in two parts, for the pool, which must not hold its lock through a round trip:
  // does what is quick now and returns what may block (PostgreSQL: connecting and calling
  // pg_terminate_backend), which stays valid after this connection is gone. Default: all now.
  virtual std::function<void()> terminate_later() {
    terminate();
    return {};
  }
};

}  // namespace perflab::db
