#pragma once
// What the pool holds and what a database opens: one connection to a database, simulated or
// PostgreSQL. The pool only asks whether it is still alive; queries go through db::database.
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
};

}  // namespace perflab::db
