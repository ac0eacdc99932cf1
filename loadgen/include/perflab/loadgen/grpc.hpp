#pragma once
// gRPC unary calls over HTTP/2 (the curl engine), as the gRPC "PROTOCOL-HTTP2" document frames
// them: a request is a POST to /package.Service/Method with content-type application/grpc and
// te: trailers, its body one length-prefixed message (a compressed flag byte, 0 here, then the
// message length as 4 bytes big-endian); the answer's status is the grpc-status field of the
// trailers (or of the headers of a trailers-only response). The request messages are serialized
// before the run (request_mix renders one per key), so the client measures the server.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "perflab/loadgen/engine.hpp"

namespace perflab::loadgen {

inline constexpr std::size_t grpc_prefix_bytes = 5;
inline constexpr int grpc_status_max = 16;  // UNAUTHENTICATED, the last code the gRPC spec defines

// Appends the 5-byte prefix of an uncompressed message of `length` bytes.
void append_grpc_prefix(std::string& out, std::uint32_t length);

// The protobuf encoding of `fields` with `{key}` replaced by `key` (grpc_field's rule: all digits
// or `{key}` is a varint, else length-delimited), in the order given. Error: a varint value past
// 2^64 - 1, a field number out of 1..2^29-1.
tl::expected<std::string, std::string> encode_grpc_message(const std::vector<grpc_field>& fields, std::string_view key);

// The whole request body: the prefix, then the message.
tl::expected<std::string, std::string> grpc_request_body(const std::vector<grpc_field>& fields, std::string_view key);

// A method as the request's :path takes it: "/" then a service name, "/" and a method name, no
// spaces or other "/" (e.g. "/perflab.api.Orders/Get"). Error names what was expected.
tl::expected<void, std::string> check_grpc_method(std::string_view method);

// The grpc-status of one header or trailer line as libcurl hands it over ("grpc-status: 5\r\n"):
// -1 when the line is another field, -2 when its value is not a number 0..99.
int grpc_status_of(std::string_view line) noexcept;

// What a completed gRPC call counts as, from the HTTP status and the grpc-status seen (-1: none;
// -2: unreadable).
enum class grpc_outcome {
  ok,           // HTTP 200 and grpc-status 0
  grpc_error,   // a grpc-status other than 0 (with any HTTP status): counted by its code
  missing,      // no readable grpc-status: an error (errors.grpc_missing), whatever the HTTP status
};
grpc_outcome classify_grpc(int http_status, int grpc_status) noexcept;

// The gRPC name of a status code ("OK", "NOT_FOUND", ...), "UNKNOWN_CODE" beyond 16.
std::string_view grpc_status_name(int code) noexcept;

// The methods a mix calls, distinct, joined by "," in mix order ("" when the mix is HTTP): what
// run.json records as load.grpc. Error: gRPC and HTTP requests in one mix (a mix goes to one URL,
// and lab-target serves gRPC on a port of its own).
tl::expected<std::string, std::string> grpc_method_of(const std::vector<request_spec>& specs);

}  // namespace perflab::loadgen
