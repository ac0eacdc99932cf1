#pragma once
// WebSocket (RFC 6455) for GET /ws/{topic}, without the I/O: the opening handshake's checks and
// its Sec-WebSocket-Accept, a reader of client frames, and the writer of server frames. The one
// implementation every concurrency model uses (through the session); knows nothing of sockets.
//
// What the server sends: unmasked frames (RFC 6455 5.1), one text frame per hub message (the same
// {"seq":N,"ts":NS,"data":"..."} JSON an SSE event carries), a ping after a heartbeat of silence,
// and a close frame with a status code (a pong to each ping, the echo of the client's close).
//
// What the server accepts from the client: masked frames only; RSV bits 0 (no extension is
// negotiated); opcodes continuation, text, binary, close, ping, pong; control frames of at most
// 125 bytes, never fragmented; a continuation only inside a fragmented message and a new data frame
// only outside one; data frames of at most max_payload bytes. Anything else ends the connection with
// a close frame and its code (1002 protocol error, 1009 too big). Not checked: that the client's
// text frames are UTF-8 (1007): the server reads no client data message, it only discards them.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace perflab::push::ws {

// Close status codes (RFC 6455 7.4.1; 1013 from the IANA registry).
enum class close_code : std::uint16_t {
  normal = 1000,            // the client's close, echoed
  going_away = 1001,        // the server stops
  protocol_error = 1002,    // a malformed frame (bad bits, opcode, length, unmasked...)
  policy_violation = 1008,
  too_big = 1009,           // a data frame past max_payload
  try_again_later = 1013,   // a slow consumer: its queue overflowed and it was dropped; reconnect
};

enum class opcode : std::uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

// The request's handshake fields as they arrived (each header's value; present false when absent).
struct handshake_request {
  std::string_view method;
  std::optional<std::string_view> upgrade;     // Upgrade: must hold the token "websocket"
  std::optional<std::string_view> connection;  // Connection: must hold the token "upgrade"
  std::optional<std::string_view> key;         // Sec-WebSocket-Key: base64 of 16 bytes
  std::optional<std::string_view> version;     // Sec-WebSocket-Version: must be 13
};

// The handshake's verdict: status 101 with the accept value, or the 4xx to answer with its reason
// (a JSON-ready sentence without quotes) and, for 426, the Sec-WebSocket-Version line to add.
struct handshake_verdict {
  int status = 101;
  std::string accept;     // Sec-WebSocket-Accept when 101
  std::string_view error; // why not (4xx)
  bool version_header = false;  // 426: answer with "Sec-WebSocket-Version: 13"
};
handshake_verdict check_handshake(const handshake_request& req);

// base64(SHA-1(key + the RFC's GUID)): the Sec-WebSocket-Accept of a Sec-WebSocket-Key.
std::string accept_key(std::string_view key);

// Appends a server frame (FIN set, unmasked) carrying payload.
void append_frame(opcode op, std::string_view payload, std::string& out);
// Appends a close frame with code (and no reason).
void append_close(close_code code, std::string& out);
// The header length of a server frame with a payload of n bytes (2, 4 or 10).
std::size_t frame_header_size(std::size_t n) noexcept;

// Reads the client's frames from a buffer, one at a time; remembers whether a fragmented data
// message is under way.
class frame_reader {
 public:
  explicit frame_reader(std::size_t max_payload = 64 * 1024) : max_payload_(max_payload) {}
  struct frame {
    opcode op = opcode::text;
    bool fin = true;
    std::string_view payload;  // unmasked in place, inside the buffer given to next()
  };
  struct result {
    enum class kind : std::uint8_t { need_more, frame, error } what = kind::need_more;
    frame f;
    std::size_t consumed = 0;               // bytes of the buffer this frame took (kind::frame)
    close_code error = close_code::protocol_error;  // kind::error: the code to close with
  };
  // The first frame in buf (unmasking its payload in place), or need_more, or the error.
  result next(std::span<char> buf) noexcept;

 private:
  std::size_t max_payload_;
  bool in_message_ = false;  // a data message's first frame came without FIN
};

// A close frame's payload: valid, and its status code (0: an empty payload, no code); not valid
// when it is one byte or carries a code an endpoint may not send.
struct close_payload {
  bool valid = false;
  std::uint16_t code = 0;
};
close_payload parse_close_payload(std::string_view payload) noexcept;

}  // namespace perflab::push::ws
