#include <perflab/push/websocket.hpp>

#include <array>

#include <openssl/evp.h>

#include <perflab/core/text.hpp>

namespace perflab::push::ws {

namespace {

constexpr std::string_view ws_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 1.3

// Whether a comma-separated header value lists token (case-insensitive, spaces around ignored).
bool lists_token(std::string_view value, std::string_view token) noexcept {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

bool base64_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// The base64 of exactly 16 bytes: 22 characters, the last of them with its low 4 bits zero, "==".
bool valid_key(std::string_view k) noexcept {
  if (k.size() != 24 || k.substr(22) != "==") return false;
  for (std::size_t i = 0; i < 22; ++i)
    if (!base64_char(k[i])) return false;
  return std::string_view("AQgw").find(k[21]) != std::string_view::npos;
}

}  // namespace

std::string accept_key(std::string_view key) {
  std::string input(key);
  input.append(ws_guid);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &len, EVP_sha1(), nullptr) != 1) return {};
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> text{};
  const int n = EVP_EncodeBlock(text.data(), digest.data(), static_cast<int>(len));
  return std::string(reinterpret_cast<const char*>(text.data()), static_cast<std::size_t>(n));
}

handshake_verdict check_handshake(const handshake_request& req) {
  handshake_verdict v;
  auto refuse = [&](int status, std::string_view why) {
    v.status = status;
    v.error = why;
    return v;
  };
  if (req.method != "GET") return refuse(405, "a WebSocket handshake is a GET");
  if (!req.upgrade || !lists_token(*req.upgrade, "websocket"))
    return refuse(400, "a WebSocket handshake needs Upgrade: websocket");
  if (!req.connection || !lists_token(*req.connection, "upgrade"))
    return refuse(400, "a WebSocket handshake needs Connection: Upgrade");
  if (!req.version || trim(*req.version) != "13") {
    v.version_header = true;
    return refuse(426, "Sec-WebSocket-Version must be 13");
  }
  if (!req.key) return refuse(400, "Sec-WebSocket-Key is missing");
  const auto key = trim(*req.key);
  if (!valid_key(key)) return refuse(400, "Sec-WebSocket-Key must be the base64 of 16 bytes");
  v.accept = accept_key(key);
  if (v.accept.empty()) return refuse(500, "SHA-1 is unavailable");
  return v;
}

std::size_t frame_header_size(std::size_t n) noexcept { return n < 126 ? 2 : n <= 0xFFFF ? 4 : 10; }

void append_frame(opcode op, std::string_view payload, std::string& out) {
  const std::size_t n = payload.size();
  out.push_back(static_cast<char>(0x80 | static_cast<unsigned>(op)));
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xFF));
  }
  out.append(payload);
}

void append_close(close_code code, std::string& out) {
  const auto c = static_cast<std::uint16_t>(code);
  const char payload[2] = {static_cast<char>(c >> 8), static_cast<char>(c & 0xFF)};
  append_frame(opcode::close, std::string_view(payload, 2), out);
}

frame_reader::result frame_reader::next(std::span<char> buf) noexcept {
  result r;
  auto fail = [&](close_code c) {
    r.what = result::kind::error;
    r.error = c;
    return r;
  };
  if (buf.size() < 2) return r;
  const auto b0 = static_cast<unsigned char>(buf[0]), b1 = static_cast<unsigned char>(buf[1]);
  const bool fin = (b0 & 0x80) != 0;
  if ((b0 & 0x70) != 0) return fail(close_code::protocol_error);  // RSV1-3 without an extension
  const unsigned op = b0 & 0x0F;
  const bool control = (op & 0x8) != 0;
  if (op != 0x0 && op != 0x1 && op != 0x2 && op != 0x8 && op != 0x9 && op != 0xA) return fail(close_code::protocol_error);
  if ((b1 & 0x80) == 0) return fail(close_code::protocol_error);  // a client frame must be masked (5.1)
  std::uint64_t len = b1 & 0x7F;
  std::size_t at = 2;
  if (control && (len > 125 || !fin)) return fail(close_code::protocol_error);  // 5.5
  if (len == 126) {
    if (buf.size() < 4) return r;
    len = (static_cast<std::uint64_t>(static_cast<unsigned char>(buf[2])) << 8) | static_cast<unsigned char>(buf[3]);
    at = 4;
  } else if (len == 127) {
    if (buf.size() < 10) return r;
    len = 0;
    for (std::size_t i = 2; i < 10; ++i) len = (len << 8) | static_cast<unsigned char>(buf[i]);
    if (len >> 63) return fail(close_code::protocol_error);  // the most significant bit must be 0
    at = 10;
  }
  if (!control) {
    // Checked before waiting for the payload: a client announcing a huge frame is refused at once.
    if (len > max_payload_) return fail(close_code::too_big);
    if (op == 0x0 && !in_message_) return fail(close_code::protocol_error);  // nothing to continue
    if (op != 0x0 && in_message_) return fail(close_code::protocol_error);   // a new message inside one
  }
  if (buf.size() < at + 4 + len) return r;
  const char* mask = buf.data() + at;
  char* payload = buf.data() + at + 4;
  for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i & 3]);
  if (!control) in_message_ = !fin;
  r.what = result::kind::frame;
  r.f.op = static_cast<opcode>(op);
  r.f.fin = fin;
  r.f.payload = std::string_view(payload, static_cast<std::size_t>(len));
  r.consumed = at + 4 + static_cast<std::size_t>(len);
  return r;
}

close_payload parse_close_payload(std::string_view payload) noexcept {
  if (payload.empty()) return {true, 0};
  if (payload.size() < 2) return {};
  const auto code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                               static_cast<unsigned char>(payload[1]));
  // 7.4.1/7.4.2: 1004-1006 and 1015 are never sent; below 1000 and 1016-2999 (unregistered) are invalid.
  const bool ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
  if (!ok) return {};
  return {true, code};
}

}  // namespace perflab::push::ws
