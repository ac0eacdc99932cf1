#pragma once
// The one place a perflab::api::order becomes the generated protobuf message (orders.proto).
#include "orders.pb.h"
#include "perflab/api/order.hpp"

namespace perflab::api {

// Fills m (cleared first) with every field of o.
void to_message(const order& o, Order& m);

}  // namespace perflab::api
