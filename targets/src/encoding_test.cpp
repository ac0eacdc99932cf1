// Response compression in the handlers and the session: Vary, Content-Encoding, Content-Length
// of the encoded body, HEAD = GET, the minimum length and media types, negotiation from the
// request's Accept-Encoding lines; and the options that configure it. Encoded bodies are decoded
// with zlib's own inflate.
#include <perflab/targets/handlers.hpp>

#include <cstring>
#include <optional>
#include <string>

#include <brotli/decode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <perflab/targets/config.hpp>
#include <perflab/targets/session.hpp>

namespace perflab::targets {
namespace {

std::optional<std::string> gunzip(std::string_view gz) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return std::nullopt;
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  char chunk[65536];
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;
  }
  const bool whole = rc == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  if (!whole) return std::nullopt;
  return out;
}

struct reply {
  std::string head;  // status line and fields, without Date (it may tick between two calls)
  std::string body;
  bool has(std::string_view field) const { return head.find("\r\n" + std::string(field) + "\r\n") != std::string::npos; }
  bool names(std::string_view name) const { return head.find("\r\n" + std::string(name) + ": ") != std::string::npos; }
  std::uint64_t content_length() const {
    const auto at = head.find("\r\nContent-Length: ");
    return at == std::string::npos ? ~0ull : std::stoull(head.substr(at + 18));
  }
};

reply split(const std::string& raw) {
  const auto end = raw.find("\r\n\r\n");
  reply r;
  r.head = raw.substr(0, end + 2);
  r.body = raw.substr(end + 4);
  if (const auto d = r.head.find("\r\nDate: "); d != std::string::npos) r.head.erase(d, r.head.find("\r\n", d + 2) - d);
  return r;
}

encode::policy gzip_policy(int level = 6) {
  encode::policy p;
  p.gzip_level = level;
  return p;
}

reply respond(const char* method, const char* path, const char* query, const encode::policy& policy,
              encode::coding accepted, std::string_view body = {}) {
  request_view req{method, path, query, body, 1, true};
  req.accepted = accepted;
  response_context ctx;
  ctx.encoding = &policy;
  std::string out;
  const auto info = write_response(resolve(method, path, query), req, true, ctx, out);
  EXPECT_EQ(info.stream, 0u);  // an encoded body is never streamed; these are all small or encoded
  return split(out);
}

const encode::policy off{};

TEST(HandlersEncoding, GzipsJsonWithVaryAndTheEncodedLength) {
  const auto plain = respond("GET", "/json", "items=200", off, encode::coding::identity);
  const auto gz = respond("GET", "/json", "items=200", gzip_policy(), encode::coding::gzip);
  EXPECT_TRUE(gz.has("Content-Encoding: gzip")) << gz.head;
  EXPECT_TRUE(gz.has("Vary: Accept-Encoding")) << gz.head;
  EXPECT_EQ(gz.content_length(), gz.body.size());
  EXPECT_LT(gz.body.size() * 3, plain.body.size()) << "200 JSON items should compress well";
  EXPECT_EQ(gunzip(gz.body), plain.body);
  // The same response, level for level, is smaller or equal at 9 than at 1.
  const auto l1 = respond("GET", "/json", "items=200", gzip_policy(1), encode::coding::gzip);
  const auto l9 = respond("GET", "/json", "items=200", gzip_policy(9), encode::coding::gzip);
  EXPECT_LE(l9.body.size(), l1.body.size());
  EXPECT_EQ(gunzip(l1.body), plain.body);
  EXPECT_EQ(gunzip(l9.body), plain.body);
}

// libbrotlidec's one-shot decoder, into exactly `size` bytes.
std::optional<std::string> unbrotli(std::string_view in, std::size_t size) {
  std::string out(size, '\0');
  std::size_t n = size;
  if (BrotliDecoderDecompress(in.size(), reinterpret_cast<const std::uint8_t*>(in.data()), &n,
                              reinterpret_cast<std::uint8_t*>(out.data())) != BROTLI_DECODER_RESULT_SUCCESS)
    return std::nullopt;
  out.resize(n);
  return out;
}

TEST(HandlersEncoding, BrWhenNegotiatedDecodesWithTheBrotliDecoder) {
  auto p = gzip_policy();
  p.br_level = 5;
  const auto plain = respond("GET", "/json", "items=200", off, encode::coding::identity);
  const auto br = respond("GET", "/json", "items=200", p, encode::coding::br);
  EXPECT_TRUE(br.has("Content-Encoding: br")) << br.head;
  EXPECT_TRUE(br.has("Vary: Accept-Encoding"));
  EXPECT_EQ(br.content_length(), br.body.size());
  EXPECT_EQ(unbrotli(br.body, plain.body.size()), plain.body);
  const auto gz = respond("GET", "/json", "items=200", p, encode::coding::gzip);
  EXPECT_TRUE(gz.has("Content-Encoding: gzip")) << gz.head;
  EXPECT_EQ(gunzip(gz.body), plain.body);
}

// libzstd's one-shot decoder, into exactly the size the frame header declares.
std::optional<std::string> unzstd(std::string_view in) {
  const auto size = ZSTD_getFrameContentSize(in.data(), in.size());
  if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR) return std::nullopt;
  std::string out(size, '\0');
  const auto n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n) || n != size) return std::nullopt;
  return out;
}

TEST(HandlersEncoding, ZstdWhenNegotiatedDecodesWithTheZstdDecoder) {
  auto p = gzip_policy();
  p.zstd_level = 3;
  const auto plain = respond("GET", "/json", "items=200", off, encode::coding::identity);
  const auto z = respond("GET", "/json", "items=200", p, encode::coding::zstd);
  EXPECT_TRUE(z.has("Content-Encoding: zstd")) << z.head;
  EXPECT_TRUE(z.has("Vary: Accept-Encoding"));
  EXPECT_EQ(z.content_length(), z.body.size());
  EXPECT_LT(z.body.size() * 3, plain.body.size());
  EXPECT_EQ(unzstd(z.body), plain.body);
  const auto text = respond("GET", "/bytes/20000", "kind=text&seed=3", p, encode::coding::zstd);
  EXPECT_EQ(unzstd(text.body), respond("GET", "/bytes/20000", "kind=text&seed=3", off, encode::coding::identity).body);
}

TEST(HandlersEncoding, GzipStaticEncodesAStaticBodyOnceAndServesTheStoredBytes) {
  auto p = gzip_policy(9);
  p.zstd_level = 19;
  encode::stats stats;
  encode::static_cache cache;
  auto get = [&](const char* path, const char* query, encode::coding c, const char* method = "GET") {
    request_view req{method, path, query, {}, 1, true};
    req.accepted = c;
    response_context ctx;
    ctx.encoding = &p;
    ctx.encode_stats = &stats;
    ctx.encoded_bodies = &cache;
    std::string out;
    write_response(resolve(method, path, query), req, true, ctx, out);
    return split(out);
  };
  const auto plain = respond("GET", "/bytes/30000", "kind=json&seed=9", off, encode::coding::identity);
  const auto first = get("/bytes/30000", "kind=json&seed=9", encode::coding::gzip);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.entries(), 1u);
  const auto second = get("/bytes/30000", "kind=json&seed=9", encode::coding::gzip);
  const auto head = get("/bytes/30000", "kind=json&seed=9", encode::coding::gzip, "HEAD");
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(second.head, first.head);  // same fields: Content-Encoding, Vary, the encoded length
  EXPECT_EQ(head.head, first.head);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(gunzip(second.body), plain.body);
  // Encoded once: one sample in the encode-time histogram, three responses counted.
  EXPECT_EQ(stats.responses(encode::coding::gzip), 3u);
  EXPECT_EQ(stats.bytes_in(encode::coding::gzip), 3 * plain.body.size());
  EXPECT_EQ(stats.bytes_out(encode::coding::gzip), 3 * first.body.size());
  std::string text;
  stats.write_prometheus(text);
  EXPECT_NE(text.find("perflab_encode_duration_seconds_count{coding=\"gzip\"} 1\n"), std::string::npos) << text;
  // Each coding and each URL has its own entry; another seed is another body.
  const auto z = get("/bytes/30000", "kind=json&seed=9", encode::coding::zstd);
  EXPECT_EQ(unzstd(z.body), plain.body);
  const auto other = get("/bytes/30000", "kind=json&seed=10", encode::coding::gzip);
  EXPECT_NE(gunzip(other.body), plain.body);
  EXPECT_EQ(cache.entries(), 3u);
  // Identity clients and resources that are not static never touch it.
  const auto id = get("/bytes/30000", "kind=json&seed=9", encode::coding::identity);
  EXPECT_EQ(id.body, plain.body);
  get("/echo", "", encode::coding::gzip, "POST");
  EXPECT_EQ(cache.hits() + cache.misses(), 5u);
}

TEST(HandlersEncoding, IdentityClientsGetVaryAndThePlainBody) {
  const auto plain = respond("GET", "/json", "items=50", off, encode::coding::identity);
  const auto r = respond("GET", "/json", "items=50", gzip_policy(), encode::coding::identity);
  EXPECT_FALSE(r.names("Content-Encoding")) << r.head;
  EXPECT_TRUE(r.has("Vary: Accept-Encoding")) << r.head;
  EXPECT_EQ(r.body, plain.body);
  EXPECT_EQ(r.content_length(), plain.body.size());
}

TEST(HandlersEncoding, OffMeansNoVaryAndNoEncoding) {
  const auto r = respond("GET", "/json", "items=50", off, encode::coding::gzip);
  EXPECT_FALSE(r.names("Content-Encoding"));
  EXPECT_FALSE(r.names("Vary"));
}

TEST(HandlersEncoding, BodiesUnderTheMinimumLengthAreSentAsTheyAre) {
  auto p = gzip_policy();
  p.min_length = 14;  // /hello is 13 bytes
  const auto small = respond("GET", "/hello", "", p, encode::coding::gzip);
  EXPECT_FALSE(small.names("Content-Encoding")) << small.head;
  EXPECT_TRUE(small.has("Vary: Accept-Encoding"));
  EXPECT_EQ(small.body, "Hello, World!");
  p.min_length = 13;  // at the minimum: encoded (and larger, as LAB.md says of tiny bodies)
  const auto at = respond("GET", "/hello", "", p, encode::coding::gzip);
  EXPECT_TRUE(at.has("Content-Encoding: gzip")) << at.head;
  EXPECT_GT(at.body.size(), 13u);
  EXPECT_EQ(gunzip(at.body), "Hello, World!");
}

TEST(HandlersEncoding, HeadHasGetsFieldsAndNoBody) {
  for (const char* path : {"/json", "/hello", "/health", "/metrics"}) {
    SCOPED_TRACE(path);
    auto p = gzip_policy();
    p.min_length = 0;
    const auto get = respond("GET", path, "items=30", p, encode::coding::gzip);
    const auto head = respond("HEAD", path, "items=30", p, encode::coding::gzip);
    if (std::string_view(path) != "/metrics") {  // /metrics counts itself
      EXPECT_EQ(head.head, get.head);
    }
    EXPECT_TRUE(head.has("Content-Encoding: gzip"));
    EXPECT_TRUE(head.has("Vary: Accept-Encoding"));
    EXPECT_EQ(head.body, "");
  }
}

TEST(HandlersEncoding, OnlyTheListedMediaTypesAreEncoded) {
  const auto bytes = respond("GET", "/bytes/5000", "", gzip_policy(), encode::coding::gzip);
  EXPECT_FALSE(bytes.names("Content-Encoding")) << bytes.head;  // application/octet-stream
  EXPECT_FALSE(bytes.names("Vary"));
  auto any = gzip_policy();
  any.types = {"*"};
  // Over max_inline_bytes: a plain response would stream it; encoded, it is built whole.
  const auto big = respond("GET", "/bytes/300000", "", any, encode::coding::gzip);
  EXPECT_TRUE(big.has("Content-Encoding: gzip")) << big.head;
  EXPECT_EQ(big.content_length(), big.body.size());
  const auto decoded = gunzip(big.body);
  ASSERT_TRUE(decoded);
  ASSERT_EQ(decoded->size(), 300000u);
  for (std::size_t i = 0; i < decoded->size(); i += 997) ASSERT_EQ((*decoded)[i], static_cast<char>('a' + i % 26)) << i;
  const auto echo = respond("POST", "/echo", "", any, encode::coding::gzip, std::string(500, 'e'));
  EXPECT_TRUE(echo.has("Content-Encoding: gzip"));
  EXPECT_EQ(gunzip(echo.body), std::string(500, 'e'));
}

TEST(HandlersEncoding, ErrorsAndOptionsAreNotEncoded) {
  auto p = gzip_policy();
  p.min_length = 0;
  const std::pair<const char*, const char*> requests[] = {{"GET", "/missing"}, {"POST", "/hello"}, {"OPTIONS", "/json"}};
  for (const auto& [method, path] : requests) {
    SCOPED_TRACE(path);
    const auto r = respond(method, path, "", p, encode::coding::gzip);
    EXPECT_FALSE(r.names("Content-Encoding")) << r.head;
    EXPECT_FALSE(r.names("Vary")) << r.head;
  }
}

// The session's part: the coding comes from the request's Accept-Encoding lines.
std::string serve(const server_config& cfg, std::string_view request) {
  server_context ctx(cfg);
  session s(ctx);
  std::string out;
  auto st = s.process();
  auto space = s.read_space();
  EXPECT_GE(space.size(), request.size());
  std::memcpy(space.data(), request.data(), request.size());
  s.commit(request.size());
  for (int rounds = 0; rounds < 100; ++rounds) {
    st = s.process();
    while (s.output_pending()) {
      const auto o = s.output();
      out.append(o.buffered).append(o.streamed);
      s.output_written(o.size());
    }
    if (st.what == session::next::wait) s.finish_wait();
    else if (st.what != session::next::more) break;
  }
  return out;
}

TEST(SessionEncoding, NegotiatesFromEveryAcceptEncodingLine) {
  server_config cfg;
  cfg.encoding = gzip_policy();
  cfg.encoding.min_length = 0;
  struct request_case {
    const char* name;
    std::string fields;
    bool gzipped;
  };
  const request_case cases[] = {
      {"gzip", "Accept-Encoding: gzip\r\n", true},
      {"name in any case", "accept-ENCODING: gzip\r\n", true},
      {"no field", "", false},
      {"two lines form one list", "Accept-Encoding: identity;q=0.9\r\nAccept-Encoding: gzip;q=0.5\r\n", false},
      {"the second line offers gzip", "Accept-Encoding: deflate\r\nAccept-Encoding: gzip\r\n", true},
      {"malformed: identity, still 200", "Accept-Encoding: gzip;q=2\r\n", false},
      {"gzip;q=0", "Accept-Encoding: gzip;q=0\r\n", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto raw = serve(cfg, "GET /json?items=20 HTTP/1.1\r\nHost: t\r\n" + c.fields + "\r\n");
    ASSERT_TRUE(raw.starts_with("HTTP/1.1 200 OK\r\n")) << raw;
    const auto r = split(raw);
    EXPECT_EQ(r.has("Content-Encoding: gzip"), c.gzipped) << r.head;
    EXPECT_TRUE(r.has("Vary: Accept-Encoding"));
    EXPECT_EQ(r.content_length(), r.body.size());
    if (c.gzipped) {
      EXPECT_TRUE(gunzip(r.body));
    }
  }
}

TEST(SessionEncoding, TheClientsPreferenceChoosesBetweenBrAndGzip) {
  server_config cfg;
  cfg.encoding = gzip_policy();
  cfg.encoding.br_level = 4;
  const std::pair<std::string, std::string> cases[] = {
      {"gzip, br", "br"},                 // a tie: the server's order, br first
      {"gzip, br;q=0.5", "gzip"},
      {"br;q=0.1, gzip;q=0.2", "gzip"},
      {"br", "br"},
      {"deflate, gzip", "gzip"},
      {"*", "br"},
  };
  for (const auto& [field, coding] : cases) {
    SCOPED_TRACE(field);
    const auto r = split(serve(cfg, "GET /json?items=50 HTTP/1.1\r\nHost: t\r\nAccept-Encoding: " + field + "\r\n\r\n"));
    EXPECT_TRUE(r.has("Content-Encoding: " + coding)) << r.head;
  }
}

TEST(SessionEncoding, TheClientsPreferenceChoosesAmongBrZstdAndGzip) {
  server_config cfg;
  cfg.encoding = gzip_policy();
  cfg.encoding.br_level = 4;
  cfg.encoding.zstd_level = 3;
  const std::pair<std::string, std::string> cases[] = {
      {"gzip, br, zstd", "br"},  // a tie: the server's order, br, zstd, gzip
      {"gzip, zstd", "zstd"},
      {"gzip, br;q=0.5, zstd;q=0.9", "gzip"},
      {"zstd, br;q=0.5", "zstd"},
      {"zstd;q=0, br;q=0, *", "gzip"},
  };
  for (const auto& [field, coding] : cases) {
    SCOPED_TRACE(field);
    const auto r = split(serve(cfg, "GET /json?items=50 HTTP/1.1\r\nHost: t\r\nAccept-Encoding: " + field + "\r\n\r\n"));
    EXPECT_TRUE(r.has("Content-Encoding: " + coding)) << r.head;
    if (coding == "zstd") {
      EXPECT_TRUE(unzstd(r.body).has_value());
    }
  }
}

TEST(SessionEncoding, ADeferredResponseKeepsItsNegotiatedCoding) {
  server_config cfg;
  cfg.encoding = gzip_policy();
  cfg.encoding.min_length = 0;
  const auto r = split(serve(cfg, "GET /sleep?ms=1 HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n"));
  EXPECT_TRUE(r.has("Content-Encoding: gzip")) << r.head;
  EXPECT_EQ(gunzip(r.body), "slept 1 ms\n");
}

TEST(SessionEncoding, OffIgnoresAcceptEncoding) {
  const auto r = split(serve(server_config{}, "GET /json HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n"));
  EXPECT_FALSE(r.names("Content-Encoding"));
  EXPECT_FALSE(r.names("Vary"));
}

TEST(ConfigEncode, ParsesTheOptions) {
  server_config cfg;
  ASSERT_TRUE(apply_encode_options({"9", "4", "1KiB", "text/*, application/json"}, cfg));
  EXPECT_EQ(cfg.encoding.gzip_level, 9);
  EXPECT_EQ(cfg.encoding.br_level, 4);
  EXPECT_EQ(cfg.encoding.min_length, 1024u);
  EXPECT_EQ(cfg.encoding.types, (std::vector<std::string>{"text/*", "application/json"}));
  ASSERT_TRUE(apply_encode_options({"0", "0", "20", "text/plain", "7"}, cfg));
  EXPECT_EQ(cfg.encoding.zstd_level, 7);
  EXPECT_TRUE(cfg.encoding.enabled());
  ASSERT_TRUE(apply_encode_options({}, cfg));  // the defaults: off
  EXPECT_FALSE(cfg.encoding.enabled());
  EXPECT_EQ(cfg.encoding.min_length, 20u);
}

TEST(ConfigEncode, BadOptionsNameTheOption) {
  const std::pair<encode_options, std::string> cases[] = {
      {{"10", "0", "20", "text/plain"}, "--gzip-level:"},
      {{"-1", "0", "20", "text/plain"}, "--gzip-level:"},
      {{"six", "0", "20", "text/plain"}, "--gzip-level:"},
      {{"", "0", "20", "text/plain"}, "--gzip-level:"},
      {{"6", "12", "20", "text/plain"}, "--br-level:"},
      {{"6", "best", "20", "text/plain"}, "--br-level:"},
      {{"6", "0", "lots", "text/plain"}, "--gzip-min-length:"},
      {{"6", "0", "-5", "text/plain"}, "--gzip-min-length:"},
      {{"6", "0", "20", ""}, "--gzip-types:"},
      {{"6", "0", "20", "plain"}, "--gzip-types:"},
      {{"6", "0", "20", "text/plain,,application/json"}, "--gzip-types:"},
      {{"6", "0", "20", "text/"}, "--gzip-types:"},
      {{"6", "0", "20", "text/plain", "20"}, "--zstd-level:"},
      {{"6", "0", "20", "text/plain", "fast"}, "--zstd-level:"},
  };
  for (const auto& [o, name] : cases) {
    server_config cfg;
    const auto r = apply_encode_options(o, cfg);
    ASSERT_FALSE(r) << name;
    EXPECT_TRUE(r.error().starts_with(name)) << r.error();
  }
}

}  // namespace
}  // namespace perflab::targets
