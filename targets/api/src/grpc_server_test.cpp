#include "perflab/api/grpc_server.hpp"

#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include "orders.grpc.pb.h"
#include "perflab/api/order.hpp"

namespace perflab::api {
namespace {

class GrpcOrders : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = grpc_orders_server::start({.host = "127.0.0.1", .port = 0, .threads = 2, .calls_per_thread = 4});
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials());
    stub_ = Orders::NewStub(channel);
  }
  grpc::Status get(std::uint64_t id, Order& out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    GetOrderRequest req;
    req.set_id(id);
    return stub_->Get(&ctx, req, &out);
  }
  std::unique_ptr<grpc_orders_server> server_;
  std::unique_ptr<Orders::Stub> stub_;
};

// The generated client decodes the same document make_order builds, field by field.
TEST_F(GrpcOrders, GetDecodesToMakeOrderFieldByField) {
  for (std::uint64_t id : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{7}, std::uint64_t{4242},
                           order_count - 1}) {
    SCOPED_TRACE(id);
    Order m;
    const grpc::Status st = get(id, m);
    ASSERT_TRUE(st.ok()) << st.error_message();
    const order o = make_order(id);
    EXPECT_EQ(m.id(), o.id);
    EXPECT_EQ(m.status(), o.status);
    EXPECT_EQ(m.created_at(), o.created_at);
    EXPECT_EQ(m.currency(), o.currency);
    EXPECT_EQ(m.buyer().id(), o.buyer.id);
    EXPECT_EQ(m.buyer().name(), o.buyer.name);
    EXPECT_EQ(m.buyer().email(), o.buyer.email);
    EXPECT_EQ(m.buyer().shipping().street(), o.buyer.shipping.street);
    EXPECT_EQ(m.buyer().shipping().city(), o.buyer.shipping.city);
    EXPECT_EQ(m.buyer().shipping().postcode(), o.buyer.shipping.postcode);
    EXPECT_EQ(m.buyer().shipping().country(), o.buyer.shipping.country);
    ASSERT_EQ(static_cast<std::size_t>(m.items_size()), o.items.size());
    for (std::size_t i = 0; i < o.items.size(); ++i) {
      const LineItem& li = m.items(static_cast<int>(i));
      EXPECT_EQ(li.sku(), o.items[i].sku);
      EXPECT_EQ(li.name(), o.items[i].name);
      EXPECT_EQ(li.quantity(), o.items[i].quantity);
      EXPECT_EQ(li.unit_price_cents(), o.items[i].unit_price_cents);
    }
    EXPECT_EQ(m.total_cents(), o.total_cents);
  }
}

TEST_F(GrpcOrders, UnknownIdIsNotFound) {
  Order m;
  const grpc::Status st = get(order_count, m);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(st.error_message().find(std::to_string(order_count)), std::string::npos);
}

// Calls in flight on both threads' queues at once, then a stop that returns.
TEST_F(GrpcOrders, ConcurrentCallsAllAnsweredThenStops) {
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 8; ++c)
    clients.emplace_back([&, c] {
      for (int i = 0; i < 25; ++i) {
        Order m;
        if (get(static_cast<std::uint64_t>(c * 100 + i), m).ok() && m.id() == static_cast<std::uint64_t>(c * 100 + i))
          ++ok;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 200);
  server_->stop(std::chrono::milliseconds(100));
  Order m;
  EXPECT_FALSE(get(1, m).ok());
}

}  // namespace
}  // namespace perflab::api
