#include <perflab/push/websocket.hpp>

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace perflab::push::ws {
namespace {

// A client frame: FIN/RSV/opcode byte b0, masked with a fixed key unless masked is false.
std::string client_frame(unsigned char b0, std::string_view payload, bool masked = true) {
  std::string f;
  f.push_back(static_cast<char>(b0));
  const std::size_t n = payload.size();
  const char m = masked ? static_cast<char>(0x80) : 0;
  if (n < 126) {
    f.push_back(static_cast<char>(m | static_cast<char>(n)));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(m | 127));
    for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> s) & 0xFF));
  }
  const char key[4] = {0x37, static_cast<char>(0xfa), 0x21, 0x3d};
  if (masked) f.append(key, 4);
  for (std::size_t i = 0; i < n; ++i) f.push_back(masked ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i]);
  return f;
}

TEST(WebSocketHandshake, AcceptKeyMatchesRfc6455Example) {
  // RFC 6455 1.3's worked example.
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketHandshake, ValidRequestGets101WithAccept) {
  handshake_request r{"GET", "websocket", "keep-alive, Upgrade", "dGhlIHNhbXBsZSBub25jZQ==", "13"};
  const auto v = check_handshake(r);
  EXPECT_EQ(v.status, 101);
  EXPECT_EQ(v.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketHandshake, MalformedRequestsGetTheirStatus) {
  const std::string_view key = "dGhlIHNhbXBsZSBub25jZQ==";
  struct row {
    handshake_request req;
    int status;
    bool version_header;
  };
  const std::vector<row> rows = {
      {{"POST", "websocket", "Upgrade", key, "13"}, 405, false},
      {{"GET", std::nullopt, "Upgrade", key, "13"}, 400, false},
      {{"GET", "h2c", "Upgrade", key, "13"}, 400, false},
      {{"GET", "websocket", std::nullopt, key, "13"}, 400, false},
      {{"GET", "websocket", "keep-alive", key, "13"}, 400, false},
      {{"GET", "websocket", "Upgrade", key, std::nullopt}, 426, true},
      {{"GET", "websocket", "Upgrade", key, "8"}, 426, true},
      {{"GET", "websocket", "Upgrade", std::nullopt, "13"}, 400, false},
      {{"GET", "websocket", "Upgrade", "short", "13"}, 400, false},
      {{"GET", "websocket", "Upgrade", "dGhlIHNhbXBsZSBub25jZQ!=", "13"}, 400, false},
      {{"GET", "websocket", "Upgrade", "dGhlIHNhbXBsZSBub25jZR==", "13"}, 400, false},  // 17 bits in the last char
  };
  for (const auto& r : rows) {
    const auto v = check_handshake(r.req);
    EXPECT_EQ(v.status, r.status) << r.req.method << " " << r.req.key.value_or("(no key)");
    EXPECT_EQ(v.version_header, r.version_header);
    EXPECT_FALSE(v.error.empty());
  }
}

TEST(WebSocketFrames, ServerFramesAreUnmaskedWithTheShortestLength) {
  for (std::size_t n : {0u, 5u, 125u, 126u, 65535u, 65536u}) {
    std::string out;
    append_frame(opcode::text, std::string(n, 'x'), out);
    ASSERT_EQ(out.size(), frame_header_size(n) + n);
    EXPECT_EQ(static_cast<unsigned char>(out[0]), 0x81u);
    EXPECT_EQ(static_cast<unsigned char>(out[1]) & 0x80u, 0u) << "server frames are never masked";
    const unsigned len7 = static_cast<unsigned char>(out[1]) & 0x7F;
    EXPECT_EQ(len7, n < 126 ? n : n <= 0xFFFF ? 126u : 127u);
  }
  std::string close;
  append_close(close_code::try_again_later, close);
  EXPECT_EQ(close, std::string("\x88\x02\x03\xf5", 4));  // 1013
}

TEST(WebSocketFrames, ReaderUnmasksAndConsumesOneFrameAtATime) {
  std::string buf = client_frame(0x81, "hello") + client_frame(0x89, "p");
  frame_reader rd;
  auto r = rd.next(buf);
  ASSERT_EQ(r.what, frame_reader::result::kind::frame);
  EXPECT_EQ(r.f.op, opcode::text);
  EXPECT_EQ(r.f.payload, "hello");
  EXPECT_EQ(r.consumed, 2u + 4u + 5u);
  r = rd.next(std::span<char>(buf).subspan(r.consumed));
  ASSERT_EQ(r.what, frame_reader::result::kind::frame);
  EXPECT_EQ(r.f.op, opcode::ping);
  EXPECT_EQ(r.f.payload, "p");
}

TEST(WebSocketFrames, PartialFramesNeedMore) {
  const std::string whole = client_frame(0x82, std::string(300, 'b'));
  for (std::size_t cut : {0u, 1u, 2u, 3u, 4u, 7u, 100u, static_cast<unsigned>(whole.size() - 1)}) {
    std::string part = whole.substr(0, cut);
    frame_reader rd;
    EXPECT_EQ(rd.next(part).what, frame_reader::result::kind::need_more) << cut;
  }
}

TEST(WebSocketFrames, FragmentedMessagesAreFollowed) {
  frame_reader rd;
  std::string a = client_frame(0x01, "he"), ping = client_frame(0x89, ""), b = client_frame(0x80, "llo");
  EXPECT_EQ(rd.next(a).what, frame_reader::result::kind::frame);
  EXPECT_EQ(rd.next(ping).what, frame_reader::result::kind::frame);  // a control frame may come between
  const auto r = rd.next(b);
  ASSERT_EQ(r.what, frame_reader::result::kind::frame);
  EXPECT_EQ(r.f.op, opcode::continuation);
  EXPECT_TRUE(r.f.fin);
}

TEST(WebSocketFrames, MalformedFramesGetTheirCloseCode) {
  struct row {
    const char* what;
    std::string bytes;
    close_code code;
  };
  std::string huge_len = client_frame(0x82, "");
  huge_len[1] = static_cast<char>(0x80 | 127);
  huge_len.insert(2, std::string("\x80\0\0\0\0\0\0\0", 8));  // 2^63: the top bit must be 0
  const std::vector<row> rows = {
      {"unmasked", client_frame(0x81, "x", false), close_code::protocol_error},
      {"rsv1", client_frame(0xC1, "x"), close_code::protocol_error},
      {"rsv3", client_frame(0x91, "x"), close_code::protocol_error},
      {"opcode 3", client_frame(0x83, "x"), close_code::protocol_error},
      {"opcode 0xB", client_frame(0x8B, "x"), close_code::protocol_error},
      {"ping of 126 bytes", client_frame(0x89, std::string(126, 'p')), close_code::protocol_error},
      {"fragmented ping", client_frame(0x09, "p"), close_code::protocol_error},
      {"continuation first", client_frame(0x80, "x"), close_code::protocol_error},
      {"64-bit length with the top bit", huge_len, close_code::protocol_error},
      {"data frame past the bound", client_frame(0x82, std::string(1025, 'b')), close_code::too_big},
  };
  for (const auto& r : rows) {
    frame_reader rd(1024);
    std::string b = r.bytes;
    const auto res = rd.next(b);
    ASSERT_EQ(res.what, frame_reader::result::kind::error) << r.what;
    EXPECT_EQ(res.error, r.code) << r.what;
  }
  // A new data message inside a fragmented one.
  frame_reader rd;
  std::string first = client_frame(0x01, "a"), second = client_frame(0x81, "b");
  ASSERT_EQ(rd.next(first).what, frame_reader::result::kind::frame);
  EXPECT_EQ(rd.next(second).what, frame_reader::result::kind::error);
}

TEST(WebSocketFrames, ClosePayloads) {
  EXPECT_TRUE(parse_close_payload("").valid);
  EXPECT_EQ(parse_close_payload("").code, 0);
  EXPECT_EQ(parse_close_payload(std::string("\x03\xe8", 2)).code, 1000);
  EXPECT_EQ(parse_close_payload(std::string("\x03\xe8" "bye", 5)).code, 1000);
  EXPECT_FALSE(parse_close_payload("x").valid);                          // one byte
  EXPECT_FALSE(parse_close_payload(std::string("\x03\xed", 2)).valid);  // 1005 is never sent
  EXPECT_FALSE(parse_close_payload(std::string("\x03\xe7", 2)).valid);  // 999
  EXPECT_FALSE(parse_close_payload(std::string("\x07\xd0", 2)).valid);  // 2000: unassigned
}

}  // namespace
}  // namespace perflab::push::ws
