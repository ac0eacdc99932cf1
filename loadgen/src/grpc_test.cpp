#include "perflab/loadgen/grpc.hpp"

#include <gtest/gtest.h>

#include "perflab/loadgen/request_mix.hpp"
#include "scenario_test_support.hpp"

namespace perflab::loadgen {
namespace {

// The 5-byte prefix: flag 0, then the length big-endian, whatever its size.
TEST(GrpcFrame, PrefixIsFlagThenBigEndianLength) {
  struct row {
    std::uint32_t length;
    std::string expected;
  };
  const row rows[] = {
      {0, std::string("\0\0\0\0\0", 5)},
      {2, std::string("\0\0\0\0\x02", 5)},
      {300, std::string("\0\0\0\x01\x2c", 5)},
      {0x01020304, std::string("\0\x01\x02\x03\x04", 5)},
  };
  for (const auto& r : rows) {
    std::string out;
    append_grpc_prefix(out, r.length);
    EXPECT_EQ(out, r.expected) << r.length;
  }
}

// GetOrderRequest{id} is field 1 as a varint: tag 0x08 then the id in 7-bit groups, low first.
TEST(GrpcFrame, RequestBodyIsPrefixedProtobufPerKey) {
  const std::vector<grpc_field> fields{{1, "{key}"}};
  EXPECT_EQ(*grpc_request_body(fields, "7"), std::string("\0\0\0\0\x02\x08\x07", 7));
  EXPECT_EQ(*grpc_request_body(fields, "300"), std::string("\0\0\0\0\x03\x08\xac\x02", 8));
  EXPECT_EQ(*grpc_request_body(fields, "0"), std::string("\0\0\0\0\x02\x08\x00", 7));
  // A string field: tag (2 << 3 | 2), the length, the bytes.
  EXPECT_EQ(*encode_grpc_message({{2, "ab-{key}"}}, "9"), std::string("\x12\x04" "ab-9"));
  EXPECT_EQ(*encode_grpc_message({{3, "42"}}, ""), std::string("\x18\x2a"));
  EXPECT_FALSE(encode_grpc_message({{1, "99999999999999999999"}}, ""));  // past 2^64 - 1
  EXPECT_FALSE(encode_grpc_message({{0, "1"}}, ""));
  EXPECT_FALSE(encode_grpc_message({{536'870'912, "1"}}, ""));
}

TEST(GrpcTrailers, StatusOfHeaderAndTrailerLines) {
  struct row {
    std::string_view line;
    int expected;
  };
  const row rows[] = {
      {"grpc-status: 0\r\n", 0},
      {"grpc-status: 5\r\n", 5},
      {"Grpc-Status:13\r\n", 13},
      {"grpc-status:  16 \r\n", 16},
      {"grpc-message: order 1000000 not found\r\n", -1},
      {"content-type: application/grpc\r\n", -1},
      {"HTTP/2 200 \r\n", -1},
      {"grpc-status-details-bin: AAAA\r\n", -1},
      {"grpc-status: \r\n", -2},
      {"grpc-status: abc\r\n", -2},
      {"grpc-status: 123\r\n", -2},
      {"grpc-status: -1\r\n", -2},
  };
  for (const auto& r : rows) EXPECT_EQ(grpc_status_of(r.line), r.expected) << r.line;
}

TEST(GrpcTrailers, OutcomeClasses) {
  EXPECT_EQ(classify_grpc(200, 0), grpc_outcome::ok);
  EXPECT_EQ(classify_grpc(200, 5), grpc_outcome::grpc_error);
  EXPECT_EQ(classify_grpc(200, 13), grpc_outcome::grpc_error);
  EXPECT_EQ(classify_grpc(503, 14), grpc_outcome::grpc_error);
  EXPECT_EQ(classify_grpc(200, -1), grpc_outcome::missing);   // the stream ended without trailers
  EXPECT_EQ(classify_grpc(200, -2), grpc_outcome::missing);   // unreadable
  EXPECT_EQ(classify_grpc(404, -1), grpc_outcome::missing);   // not a gRPC server
  EXPECT_EQ(classify_grpc(500, 0), grpc_outcome::missing);    // contradicts itself
  EXPECT_EQ(grpc_status_name(0), "OK");
  EXPECT_EQ(grpc_status_name(5), "NOT_FOUND");
  EXPECT_EQ(grpc_status_name(16), "UNAUTHENTICATED");
  EXPECT_EQ(grpc_status_name(17), "UNKNOWN_CODE");
}

TEST(GrpcMethod, Checked) {
  EXPECT_TRUE(check_grpc_method("/perflab.api.Orders/Get"));
  for (std::string_view bad : {"", "/", "perflab.api.Orders/Get", "/perflab.api.Orders", "/perflab.api.Orders/",
                               "//Get", "/a/b/c", "/a b/Get", "/a/{key}"})
    EXPECT_FALSE(check_grpc_method(bad)) << bad;
}

TEST(GrpcMix, RendersOnePrefixedMessagePerKeyAndRefusesAMixedMix) {
  request_spec call;
  call.grpc = "/perflab.api.Orders/Get";
  call.grpc_fields = {{1, "{key}"}};
  auto url = parse_url("http://127.0.0.1:9000");
  auto mix = request_mix::build(*url, {call}, {"uniform", 3, 0.99});
  ASSERT_TRUE(mix) << mix.error();
  ASSERT_EQ(mix->size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) {
    const std::string_view bytes = mix->at(k).bytes;
    EXPECT_EQ(bytes.substr(0, 36), "POST /perflab.api.Orders/Get HTTP/1.") << k;
    EXPECT_NE(bytes.find("content-type: application/grpc\r\nte: trailers\r\n"), std::string_view::npos);
    EXPECT_NE(bytes.find("Content-Length: 7\r\n"), std::string_view::npos);
    const std::string body = std::string("\0\0\0\0\x02\x08", 6) + static_cast<char>(k);
    EXPECT_EQ(bytes.substr(bytes.size() - 7), body) << k;
    EXPECT_FALSE(mix->at(k).idempotent);  // a POST: resent only under retry.unsafe
  }
  request_spec http;
  auto mixed = request_mix::build(*url, {call, http}, {"uniform", 3, 0.99});
  ASSERT_FALSE(mixed);
  EXPECT_NE(mixed.error().find("all gRPC calls or all HTTP"), std::string::npos);
  call.grpc_fields = {{1, "{key}"}};
  EXPECT_FALSE(request_mix::build(*url, {call}, {}));  // {key} without keys
  call.grpc = "Orders/Get";
  EXPECT_FALSE(request_mix::build(*url, {call}, {"uniform", 3, 0.99}));
}

constexpr const char* k_grpc_base = "name = \"g\"\n[target]\nmodel = \"reactor\"\n[load]\nconnections = 2\n"
                                    "[keys]\ncount = 10\n";

TEST(GrpcScenario, ReadsTheCallAndItsFields) {
  auto sc = testing::parse(std::string(k_grpc_base) +
                           "[[request]]\ngrpc = \"/perflab.api.Orders/Get\"\ngrpc_fields = { 1 = \"{key}\", 2 = 7, 3 = \"x\" }\n");
  ASSERT_TRUE(sc) << sc.error().to_string();
  const request_spec& r = sc->variants.at(0).load.requests.at(0);
  EXPECT_EQ(r.grpc, "/perflab.api.Orders/Get");
  ASSERT_EQ(r.grpc_fields.size(), 3u);
  EXPECT_EQ(r.grpc_fields[0].number, 1u);
  EXPECT_EQ(r.grpc_fields[0].value, "{key}");
  EXPECT_EQ(r.grpc_fields[1].value, "7");
  EXPECT_EQ(r.grpc_fields[2].value, "x");
}

TEST(GrpcScenario, ErrorsNameTheirPlace) {
  struct row {
    std::string request;  // the [[request]] tables, from line 8
    std::string where, message_part;
  };
  const row rows[] = {
      {"[[request]]\ngrpc = \"Orders/Get\"\n", "s.toml:9:8", "expected /package.Service/Method"},
      {"[[request]]\ngrpc = \"/a.B/C\"\npath = \"/x\"\n", "s.toml:10:8", "request[0].path: not with grpc"},
      {"[[request]]\ngrpc = \"/a.B/C\"\ngrpc_fields = { 0 = 1 }\n", "s.toml:10:17", "field number 1..536870911"},
      {"[[request]]\ngrpc = \"/a.B/C\"\ngrpc_fields = { x = 1 }\n", "s.toml:10:17", "field number"},
      {"[[request]]\ngrpc = \"/a.B/C\"\ngrpc_fields = { 1 = -1 }\n", "s.toml:10:21", "an integer >= 0"},
      {"[[request]]\ngrpc = \"/a.B/C\"\ngrpc_fields = { 1 = \"99999999999999999999\" }\n", "s.toml:10:21",
       "not an unsigned 64-bit integer"},
      {"[[request]]\ngrpc = \"/a.B/C\"\ngrpc_fields = 5\n", "s.toml:10:15", "a table of field number"},
      {"[[request]]\ngrpc_fields = { 1 = 1 }\n", "s.toml:9:15", "only with grpc"},
      {"[[request]]\ngrpc = \"/a.B/C\"\n[[request]]\npath = \"/\"\n", "s.toml:8:", "all gRPC calls or all HTTP"},
  };
  for (const auto& r : rows) {
    auto sc = testing::parse(std::string(k_grpc_base) + r.request);
    ASSERT_FALSE(sc) << r.request;
    EXPECT_EQ(sc.error().where.substr(0, r.where.size()), r.where) << r.request << ": " << sc.error().to_string();
    EXPECT_NE(sc.error().message.find(r.message_part), std::string::npos) << r.request << ": " << sc.error().to_string();
  }
}

}  // namespace
}  // namespace perflab::loadgen
