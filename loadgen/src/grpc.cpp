#include "perflab/loadgen/grpc.hpp"

#include <array>
#include <charconv>

#include <fmt/format.h>

#include "perflab/core/text.hpp"

namespace perflab::loadgen {
namespace {

constexpr std::string_view grpc_key_marker = "{key}";

void grpc_append_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool grpc_all_digits(std::string_view s) noexcept {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

void append_grpc_prefix(std::string& out, std::uint32_t length) {
  out.push_back('\0');  // not compressed
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((length >> shift) & 0xff));
}

tl::expected<std::string, std::string> encode_grpc_message(const std::vector<grpc_field>& fields, std::string_view key) {
  std::string out;
  for (const auto& f : fields) {
    if (f.number < 1 || f.number > 536'870'911)
      return tl::unexpected(fmt::format("gRPC field number {} (expected 1..536870911)", f.number));
    std::string value;
    for (std::size_t pos = 0;;) {
      const auto at = f.value.find(grpc_key_marker, pos);
      value.append(f.value, pos, at == std::string::npos ? std::string::npos : at - pos);
      if (at == std::string::npos) break;
      value.append(key);
      pos = at + grpc_key_marker.size();
    }
    if (f.value == grpc_key_marker || grpc_all_digits(f.value)) {
      std::uint64_t v = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || end != value.data() + value.size())
        return tl::unexpected(fmt::format("gRPC field {}: '{}' is not an unsigned 64-bit integer", f.number, value));
      grpc_append_varint(out, std::uint64_t{f.number} << 3);  // wire type 0: varint
      grpc_append_varint(out, v);
    } else {
      grpc_append_varint(out, (std::uint64_t{f.number} << 3) | 2);  // wire type 2: length-delimited
      grpc_append_varint(out, value.size());
      out.append(value);
    }
  }
  return out;
}

tl::expected<std::string, std::string> grpc_request_body(const std::vector<grpc_field>& fields, std::string_view key) {
  auto message = encode_grpc_message(fields, key);
  if (!message) return message;
  std::string body;
  body.reserve(grpc_prefix_bytes + message->size());
  append_grpc_prefix(body, static_cast<std::uint32_t>(message->size()));
  body.append(*message);
  return body;
}

tl::expected<void, std::string> check_grpc_method(std::string_view method) {
  const auto bad = [&] {
    return tl::unexpected(fmt::format("gRPC method '{}': expected /package.Service/Method, e.g. "
                                      "/perflab.api.Orders/Get", method));
  };
  if (method.size() < 4 || method.front() != '/') return bad();
  const auto slash = method.find('/', 1);
  if (slash == std::string_view::npos || slash == 1 || slash + 1 == method.size()) return bad();
  if (method.find('/', slash + 1) != std::string_view::npos) return bad();
  if (method.find_first_of(" \t\r\n?#{}") != std::string_view::npos) return bad();
  return {};
}

int grpc_status_of(std::string_view line) noexcept {
  constexpr std::string_view name = "grpc-status:";
  if (line.size() < name.size() || !iequals(line.substr(0, name.size()), name)) return -1;
  std::string_view v = line.substr(name.size());
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty() || v.size() > 2 || !grpc_all_digits(v)) return -2;
  int code = 0;
  for (const char c : v) code = code * 10 + (c - '0');
  return code;
}

grpc_outcome classify_grpc(int http_status, int grpc_status) noexcept {
  if (grpc_status < 0) return grpc_outcome::missing;
  if (grpc_status != 0) return grpc_outcome::grpc_error;
  // grpc-status 0 on a response that is not 200 contradicts itself: no usable status.
  return http_status == 200 ? grpc_outcome::ok : grpc_outcome::missing;
}

std::string_view grpc_status_name(int code) noexcept {
  static constexpr std::array<std::string_view, 17> names{
      "OK",        "CANCELLED",          "UNKNOWN",          "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
      "OUT_OF_RANGE", "UNIMPLEMENTED",   "INTERNAL",         "UNAVAILABLE",      "DATA_LOSS",         "UNAUTHENTICATED"};
  return code >= 0 && code <= grpc_status_max ? names[static_cast<std::size_t>(code)] : "UNKNOWN_CODE";
}

tl::expected<std::string, std::string> grpc_method_of(const std::vector<request_spec>& specs) {
  std::string methods;
  std::size_t grpc_count = 0;
  for (const auto& s : specs) {
    if (s.grpc.empty()) continue;
    ++grpc_count;
    if (auto ok = check_grpc_method(s.grpc); !ok) return tl::unexpected(ok.error());
    bool seen = false;
    for (std::size_t pos = 0; pos <= methods.size();) {
      const auto comma = methods.find(',', pos);
      const auto end = comma == std::string::npos ? methods.size() : comma;
      if (std::string_view(methods).substr(pos, end - pos) == s.grpc) seen = true;
      pos = end + 1;
    }
    if (!seen) methods += (methods.empty() ? "" : ",") + s.grpc;
  }
  if (grpc_count != 0 && grpc_count != specs.size())
    return tl::unexpected(std::string("a request mix is all gRPC calls or all HTTP requests: they go to one URL, "
                                      "and gRPC is served on a port of its own"));
  return methods;
}

}  // namespace perflab::loadgen
