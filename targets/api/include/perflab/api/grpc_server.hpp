#pragma once
// Orders.Get (targets/api/orders.proto) on grpc++'s own HTTP/2 server, for lab-target --grpc-port.
// Not one of lab-target's concurrency models: those speak HTTP/1.1 only, and gRPC needs HTTP/2
// with trailers, which grpc++ brings with its own transport, threads and buffers. What the models
// do not decide is the same for every --model: this server runs beside whichever one serves HTTP,
// in the same process (so the runner's CPU sampling of the target covers it).
//
// The asynchronous completion-queue API, one queue per thread and each thread draining its own
// queue: `threads` is how many threads run handlers. grpc++ also starts threads of its own (its
// executor, timers, resolver), as its documentation says; they are counted in the process's
// threads, not in `threads`. Header without grpc++: lab-target's main includes it.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace perflab::api {

struct grpc_server_options {
  std::string host = "127.0.0.1";  // address to bind
  int port = 0;                    // 0: any free port (port() says which)
  unsigned threads = 1;            // handler threads, one completion queue each (>= 1)
  unsigned calls_per_thread = 64;  // calls each queue is ready to accept at once (grpc++ queues the rest)
};

class grpc_orders_server {
 public:
  // Binds and starts the threads. Throws std::runtime_error when the address cannot be bound.
  static std::unique_ptr<grpc_orders_server> start(const grpc_server_options& o);
  virtual ~grpc_orders_server() = default;
  virtual int port() const noexcept = 0;
  // Stops accepting, gives calls in flight until the deadline, then cancels them; joins the
  // threads. Called again (or by the destructor) it does nothing.
  virtual void stop(std::chrono::milliseconds grace) = 0;
};

}  // namespace perflab::api
