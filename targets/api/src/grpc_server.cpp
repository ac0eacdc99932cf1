// Orders.Get on grpc++'s asynchronous completion-queue server (see grpc_server.hpp).
#include "perflab/api/grpc_server.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include "orders.grpc.pb.h"
#include "perflab/api/grpc_convert.hpp"

namespace perflab::api {
namespace {

// One call's state. Made ready to accept a call on a queue; when one arrives it makes its
// successor ready first (so the queue keeps accepting), answers, and deletes itself once
// grpc++ says the answer went out (or the call was cancelled). grpc++ allocates per call anyway
// (metadata, the call object), so a new one per call costs little beside it.
class get_call {
 public:
  get_call(Orders::AsyncService& service, grpc::ServerCompletionQueue& cq) : service_(service), cq_(cq), writer_(&ctx_) {
    service_.RequestGet(&ctx_, &request_, &writer_, &cq_, &cq_, this);
  }

  // ok: what the queue said of the last operation (false: shut down, or the call went away).
  void on_event(bool ok) {
    if (answered_ || !ok) {
      delete this;
      return;
    }
    new get_call(service_, cq_);
    answered_ = true;
    const std::uint64_t id = request_.id();
    if (!order_exists(id)) {
      writer_.FinishWithError(grpc::Status(grpc::StatusCode::NOT_FOUND, fmt::format("order {} not found", id)), this);
      return;
    }
    to_message(make_order(id), reply_);
    writer_.Finish(reply_, grpc::Status::OK, this);
  }

 private:
  Orders::AsyncService& service_;
  grpc::ServerCompletionQueue& cq_;
  grpc::ServerContext ctx_;
  GetOrderRequest request_;
  Order reply_;
  grpc::ServerAsyncResponseWriter<Order> writer_;
  bool answered_ = false;
};

class cq_server final : public grpc_orders_server {
 public:
  explicit cq_server(const grpc_server_options& o) {
    grpc::ServerBuilder b;
    const bool v6 = o.host.find(':') != std::string::npos;
    const std::string addr = fmt::format("{}{}{}:{}", v6 ? "[" : "", o.host, v6 ? "]" : "", o.port);
    b.AddListeningPort(addr, grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(&service_);
    const unsigned n = o.threads == 0 ? 1 : o.threads;
    for (unsigned i = 0; i < n; ++i) queues_.push_back(b.AddCompletionQueue());
    server_ = b.BuildAndStart();
    if (!server_ || port_ == 0) throw std::runtime_error(fmt::format("--grpc-port: cannot listen on {}", addr));
    for (auto& q : queues_) {
      for (unsigned c = 0; c < std::max(1u, o.calls_per_thread); ++c) new get_call(service_, *q);
      threads_.emplace_back([cq = q.get()] { drain(*cq); });
    }
  }
  ~cq_server() override { stop(std::chrono::milliseconds(0)); }

  int port() const noexcept override { return port_; }

  void stop(std::chrono::milliseconds grace) override {
    if (stopped_) return;
    stopped_ = true;
    server_->Shutdown(std::chrono::system_clock::now() + grace);
    // After the server's shutdown (grpc++'s order): the queues then hand back every call, each
    // with ok = false, and Next returns false once they are empty.
    for (auto& q : queues_) q->Shutdown();
    for (auto& t : threads_) t.join();
  }

 private:
  static void drain(grpc::ServerCompletionQueue& cq) {
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) static_cast<get_call*>(tag)->on_event(ok);
  }

  Orders::AsyncService service_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<grpc_orders_server> grpc_orders_server::start(const grpc_server_options& o) {
  return std::make_unique<cq_server>(o);
}

}  // namespace perflab::api
