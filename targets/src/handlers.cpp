#include <perflab/targets/handlers.hpp>

#include <array>
#include <charconv>
#include <ctime>

#include <fmt/format.h>

#include "perflab/core/http.hpp"
#include <perflab/api/graphql.hpp>
#include <perflab/api/order.hpp>
#include <perflab/api/order_json.hpp>
#include <perflab/targets/auth_gate.hpp>
#include <perflab/upstream/service.hpp>

namespace perflab::targets {

namespace {

constexpr std::string_view known_methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE",
                                              "CONNECT", "OPTIONS", "TRACE", "PATCH", "PURGE"};

bool is_known_method(std::string_view m) noexcept {
  for (auto k : known_methods)
    if (k == m) return true;
  return false;
}

// The /bytes pattern, one slice long plus a period, so a slice may start at any phase of it.
// Built when the program starts, so no request ever allocates it.
const std::string filler_block = [] {
  std::string s(filler_slice + 26, '\0');
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}();

// response_context::fields of the write_response call running on this thread (empty outside one):
// written into each head as it is written, before any body follows it.
thread_local std::string_view head_fields;

// Sets head_fields for one write_response call.
class head_fields_scope {
 public:
  explicit head_fields_scope(std::string_view fields) noexcept { head_fields = fields; }
  ~head_fields_scope() { head_fields = {}; }
  head_fields_scope(const head_fields_scope&) = delete;
  head_fields_scope& operator=(const head_fields_scope&) = delete;
};

void append_head(std::string& out, int status, std::string_view content_type, std::uint64_t content_length,
                 bool keep_alive, int version_minor, std::string_view extra_headers = {}) {
  out.append("HTTP/1.1 ");
  fmt::format_int code(status);
  out.append(code.data(), code.size());
  out.push_back(' ');
  out.append(http::reason_phrase(status));
  out.append("\r\nServer: ");
  out.append(server_name);
  out.append("\r\nDate: ");
  out.append(http_date());
  if (!content_type.empty()) {
    out.append("\r\nContent-Type: ");
    out.append(content_type);
  }
  out.append("\r\nContent-Length: ");
  fmt::format_int len(content_length);
  out.append(len.data(), len.size());
  out.append("\r\n");
  if (!keep_alive)
    out.append("Connection: close\r\n");
  else if (version_minor == 0)
    out.append("Connection: keep-alive\r\n");  // 1.0 keeps the connection only when told so
  out.append(extra_headers);
  out.append(head_fields);
  out.append("\r\n");
}

// How a 200 response's body is to be encoded (see write_response).
struct body_encoding {
  const encode::policy* policy = nullptr;  // null: the response does not depend on Accept-Encoding
  encode::coding use = encode::coding::identity;  // what the request negotiated
  encode::stats* stats = nullptr;          // counts what was encoded or skipped (may be null)
  encode::static_cache* cache = nullptr;   // --gzip-static and a static resource: where its encoding is kept
  std::string_view key;                    // the resource's key in `cache` (a function of its URL)
};

// The encoding for a 200 response of this type: none unless compression is on and the policy
// encodes the type. static_key: set for a resource whose body depends on its URL alone, so that
// --gzip-static may keep its encoding.
body_encoding encoding_for(const response_context& ctx, const request_view& req, std::string_view content_type,
                           std::string_view key = {}) {
  if (!ctx.encoding || !ctx.encoding->enabled() || !ctx.encoding->encodes_type(content_type)) return {};
  body_encoding e{ctx.encoding, req.accepted, ctx.encode_stats, nullptr, {}};
  if (ctx.encoded_bodies && !key.empty()) {
    e.cache = ctx.encoded_bodies;
    e.key = key;
  }
  return e;
}

// The key of a static body in --gzip-static's cache: the parts of the URL it is made from.
std::string_view static_key(const response_context& ctx, const dispatch& d) {
  if (!ctx.encoded_bodies) return {};  // --gzip-static off: no key to build
  thread_local std::string key;  // reused
  key.clear();
  auto it = std::back_inserter(key);
  switch (d.ep) {
    case endpoint::hello: key = "hello"; break;
    case endpoint::json: fmt::format_to(it, "json/{}/{}", d.arg, d.seed); break;
    case endpoint::bytes: fmt::format_to(it, "bytes/{}/{}/{}", d.arg, static_cast<int>(d.kind), d.seed); break;
    default: break;
  }
  return key;
}

// --gzip-static: appends the stored encoding of enc's static body and its fields (as encode_body
// would); false, with nothing appended, when there is none (not static, identity, or a miss).
bool append_static(std::string& out, const body_encoding& enc, std::string& fields) {
  if (!enc.cache || enc.use == encode::coding::identity) return false;
  const std::size_t mark = out.size();
  const auto plain_length = enc.cache->append(enc.use, enc.key, out);
  if (!plain_length) return false;
  if (enc.stats) enc.stats->served_static(enc.use, *plain_length, out.size() - mark);
  fields.append("Content-Encoding: ").append(encode::to_string(enc.use)).append("\r\nVary: Accept-Encoding\r\n");
  return true;
}

// Encodes out[mark, end) as enc says, when the body is long enough; appends the fields that go
// with it (Vary always, Content-Encoding when encoded) to `fields`.
void encode_body(std::string& out, std::size_t mark, const body_encoding& enc, std::string& fields) {
  if (!enc.policy) return;
  const std::size_t length = out.size() - mark;
  auto skipped = [&](encode::skip_reason r) {
    if (enc.stats) enc.stats->skipped(r);
  };
  if (enc.use == encode::coding::identity) {
    skipped(encode::skip_reason::identity);
  } else if (length < enc.policy->min_length) {
    skipped(encode::skip_reason::too_short);
  } else {
    // Two clock reads per encoded body, against tens of microseconds of encoding.
    const auto start = std::chrono::steady_clock::now();
    const bool done = encode::encode_tail(enc.use, enc.policy->level(enc.use), out, mark);
    if (done) {
      if (enc.stats) enc.stats->encoded(enc.use, length, out.size() - mark, std::chrono::steady_clock::now() - start);
      if (enc.cache) enc.cache->insert(enc.use, enc.key, std::string_view(out).substr(mark), length);
      fields.append("Content-Encoding: ").append(encode::to_string(enc.use)).append("\r\n");
    } else {
      skipped(encode::skip_reason::failed);
    }
  }
  // Whether or not this body was encoded, another request's Accept-Encoding could change it.
  fields.append("Vary: Accept-Encoding\r\n");
}

// Appends a response whose body `build` appends to out; the head goes in front of it once the
// length is known (moving the body, not copying it through a second buffer). head_only: HEAD,
// the body is measured (encoded first, so the fields are GET's), then dropped.
template <class Build>
void append_built(std::string& out, int status, std::string_view content_type, bool keep_alive, int version_minor,
                  bool head_only, std::string_view extra_headers, Build&& build, const body_encoding& enc = {}) {
  const std::size_t mark = out.size();
  thread_local std::string fields;  // extra_headers plus the encoding's, reused
  if (enc.policy) {
    fields.assign(extra_headers);
    if (!append_static(out, enc, fields)) {
      build(out);
      encode_body(out, mark, enc, fields);
    }
    extra_headers = fields;
  } else {
    build(out);
  }
  const std::size_t length = out.size() - mark;
  thread_local std::string head;  // a few hundred bytes, reused
  head.clear();
  append_head(head, status, content_type, length, keep_alive, version_minor, extra_headers);
  if (head_only) out.resize(mark);
  out.insert(mark, head);
}

// The usual /hello response (HTTP/1.1 keep-alive GET), rebuilt once per second per thread, so
// the hot path is one append.
std::string_view cached_hello() {
  struct cache {
    char date[32] = {};
    std::string bytes;
  };
  thread_local cache c;
  const auto date = http_date();
  if (c.bytes.empty() || date.compare(0, date.size(), c.date, date.size()) != 0) {
    c.bytes.clear();
    append_head(c.bytes, 200, "text/plain", hello_body.size(), true, 1);
    c.bytes.append(hello_body);
    date.copy(c.date, date.size());
  }
  return c.bytes;
}

void error_body(std::string& body, int status, std::string_view detail = {}) {
  fmt::format_int code(status);
  body.append(code.data(), code.size());
  body.push_back(' ');
  body.append(http::reason_phrase(status));
  if (!detail.empty()) {
    body.append(": ");
    body.append(detail);
  }
  body.push_back('\n');
}

// Spins for `d`: the handler is CPU-bound on whatever thread runs it.
std::uint64_t burn_cpu(std::chrono::nanoseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  std::uint64_t x = 88172645463325252ull;
  do {
    for (int i = 0; i < 256; ++i) {  // xorshift, so the loop has real work between clock reads
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
  } while (std::chrono::steady_clock::now() < end);
  return x;
}

// Written once by main before the server threads exist, then only read.
std::chrono::nanoseconds slowdown_per_request{0};

// GET/HEAD: the value with X-Cache; DELETE: 200 or 404 (nothing to delete); PURGE: 200 with the
// count. The outcome was worked out by the session (cache_reply).
response_info write_cache_response(const dispatch& d, const cache_reply& c, bool keep_alive, int minor,
                                   const body_encoding& enc, std::string& out) {
  if (d.ep == endpoint::cache) {
    thread_local std::string header;  // "X-Cache: HIT\r\n", reused
    header.assign("X-Cache: ").append(c.x_cache).append("\r\n");
    if (!c.tier.empty()) header.append("X-Cache-Tier: ").append(c.tier).append("\r\n");
    if (enc.policy) {
      append_built(out, 200, "text/plain", keep_alive, minor, d.head, header,
                   [&](std::string& o) { o.append(c.value); }, enc);
      return {200, 0};
    }
    append_head(out, 200, "text/plain", c.value.size(), keep_alive, minor, header);
    if (!d.head) out.append(c.value);
    return {200, 0};
  }
  if (d.ep == endpoint::cache_delete && !c.erased) {
    append_built(out, 404, "text/plain", keep_alive, minor, false, {},
                 [](std::string& o) { error_body(o, 404, "not cached"); });
    return {404, 0};
  }
  append_built(out, 200, "text/plain", keep_alive, minor, false, {}, [&](std::string& o) {
    if (d.ep == endpoint::cache_delete) o.append("deleted\n");
    else fmt::format_to(std::back_inserter(o), "purged {}\n", c.purged);
  });
  return {200, 0};
}

// /db/query (text) and /items/{id} (the row as JSON): the body the database call produced;
// POST /db/terminate: how many idle connections were ended.
response_info write_db_response(const dispatch& d, const db_reply& r, bool keep_alive, int minor,
                                const request_view& req, const response_context& ctx, std::string& out) {
  const std::string_view type = d.ep == endpoint::items ? "application/json" : "text/plain";
  append_built(out, 200, type, keep_alive, minor, d.head, {}, [&](std::string& o) {
    if (d.ep == endpoint::db_terminate) fmt::format_to(std::back_inserter(o), "terminated {}\n", r.terminated);
    else o.append(r.body);
  }, encoding_for(ctx, req, type));
  return {200, 0};
}

// GET/HEAD /api/orders/{id}: the order as JSON (200, encoded as any JSON body), or a JSON error:
// 400 for an id that is not a decimal number, 404 for one outside 0..order_count-1.
response_info write_order_response(const dispatch& d, const request_view& req, bool keep_alive,
                                   const response_context& ctx, std::string& out) {
  constexpr std::string_view json = "application/json";
  const auto id = api::parse_order_id(d.key);
  const int status = !id ? 400 : api::order_exists(*id) ? 200 : 404;
  std::uint64_t fields = 0, body_bytes = 0;
  append_built(out, status, json, keep_alive, req.version_minor, d.head, {}, [&](std::string& o) {
    const std::size_t mark = o.size();
    if (status == 200) {
      const api::order order = api::make_order(*id);
      api::append_order_json(order, o);
      fields = api::order_leaf_count(order);
    } else {
      api::append_error_json(status, status == 400 ? "the order id must be a decimal number" : "no such order", o);
    }
    body_bytes = o.size() - mark;
  }, status == 200 ? encoding_for(ctx, req, json) : body_encoding{});
  if (ctx.api)
    ctx.api->answered(api::style::rest, status == 200 ? api::result::ok : status == 404 ? api::result::not_found
                                                                                        : api::result::bad_request,
                      fields, fields, body_bytes);
  return {status, 0};
}

// POST /graphql: 200 with {"data":...} (a missing order is null in it), or 400 with {"errors":[...]}
// when the body, the document or its validation fails; both as application/graphql-response+json,
// whose rules give a request error a 4xx status (the GraphQL-over-HTTP draft). The parsed
// request is one object per thread, reused: its buffers keep their capacity.
response_info write_graphql_response(const dispatch& d, const request_view& req, bool keep_alive,
                                     const response_context& ctx, std::string& out) {
  constexpr std::string_view type = "application/graphql-response+json; charset=utf-8";
  thread_local api::graphql::request query;
  const bool ok = query.prepare(req.body);
  const int status = ok ? 200 : 400;
  api::graphql::outcome done;
  std::uint64_t body_bytes = 0;
  append_built(out, status, type, keep_alive, req.version_minor, d.head, {}, [&](std::string& o) {
    const std::size_t mark = o.size();
    if (ok) done = query.execute(o);
    else query.write_errors(o);
    body_bytes = o.size() - mark;
  }, ok ? encoding_for(ctx, req, type) : body_encoding{});
  query.trim();
  if (ctx.api)
    ctx.api->answered(api::style::graphql, !ok ? api::result::bad_request
                                           : done.orders_missing > 0 ? api::result::not_found
                                                                     : api::result::ok,
                      done.fields_sent, done.fields_available, body_bytes);
  return {status, 0};
}

}  // namespace

void set_test_slowdown(std::chrono::nanoseconds per_request) noexcept { slowdown_per_request = per_request; }
std::chrono::nanoseconds test_slowdown() noexcept { return slowdown_per_request; }

std::string_view http_date() noexcept {
  struct cache {
    std::time_t sec = -1;
    char text[32] = {};
    std::size_t len = 0;
  };
  thread_local cache c;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  if (ts.tv_sec != c.sec) {
    std::tm tm{};
    gmtime_r(&ts.tv_sec, &tm);
    c.len = std::strftime(c.text, sizeof c.text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    c.sec = ts.tv_sec;
  }
  return {c.text, c.len};
}

bool parse_u64(std::string_view text, std::uint64_t& out) noexcept {
  if (text.empty()) return false;
  for (char ch : text)
    if (ch < '0' || ch > '9') return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && p == text.data() + text.size();
}

std::string_view query_param(std::string_view query, std::string_view key) noexcept {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

dispatch resolve(std::string_view method, std::string_view path, std::string_view query) noexcept {
  constexpr std::string_view get_allow = "GET, HEAD, OPTIONS";
  constexpr std::string_view post_allow = "POST, PUT, OPTIONS";
  dispatch d;
  d.head = method == "HEAD";
  if (!is_known_method(method) || method == "CONNECT") {
    d.ep = endpoint::invalid;
    d.status = 501;
    return d;
  }
  if (path == "*") {  // OPTIONS * (the parser allows asterisk-form with OPTIONS only)
    d.ep = endpoint::options;
    d.options = true;
    d.allow = "GET, HEAD, POST, PUT, DELETE, PURGE, OPTIONS";
    return d;
  }
  if (path == "/hello") d.ep = endpoint::hello;
  else if (path.starts_with("/bytes/")) d.ep = endpoint::bytes;
  else if (path == "/json") d.ep = endpoint::json;
  else if (path == "/cpu") d.ep = endpoint::cpu;
  else if (path == "/sleep") d.ep = endpoint::sleep;
  else if (path == "/health") d.ep = endpoint::health;
  else if (path == "/metrics") d.ep = endpoint::metrics;
  else if (path == "/echo") d.ep = endpoint::echo;
  else if (path.starts_with("/cache/")) d.ep = endpoint::cache;
  else if (path == "/cache") d.ep = endpoint::cache_purge;
  else if (path == "/db/query") d.ep = endpoint::db_query;
  else if (path.starts_with("/items/")) d.ep = endpoint::items;
  else if (path == "/db/terminate") d.ep = endpoint::db_terminate;
  else if (path == "/proxy" || path.starts_with("/proxy/")) d.ep = endpoint::proxy;
  else if (path == "/stock" || path.starts_with("/stock/")) d.ep = path.ends_with("/buy") ? endpoint::stock_buy : endpoint::stock;
  else if (path == "/orders") d.ep = endpoint::orders;
  else if (path == "/jobs") d.ep = endpoint::jobs;
  else if (path.starts_with("/jobs/")) d.ep = endpoint::job;
  else if (path.starts_with("/publish/")) d.ep = endpoint::publish;
  else if (path.starts_with("/messages/")) d.ep = endpoint::messages;
  else if (path.starts_with("/poll/")) d.ep = endpoint::poll;
  else if (path.starts_with("/events/")) d.ep = endpoint::events;
  else if (path.starts_with("/ws/")) d.ep = endpoint::ws;
  else if (path.starts_with("/api/orders/")) d.ep = endpoint::api_order;
  else if (path == "/graphql") d.ep = endpoint::graphql;
  else {
    d.status = 404;
    return d;
  }
  bool allowed = method == "GET" || d.head;
  switch (d.ep) {
    case endpoint::echo:
      d.allow = post_allow;
      allowed = method == "POST" || method == "PUT";
      break;
    case endpoint::cache:
      d.allow = "GET, HEAD, DELETE, OPTIONS";
      allowed = allowed || method == "DELETE";
      break;
    case endpoint::cache_purge:
      d.allow = "PURGE, OPTIONS";
      allowed = method == "PURGE";
      break;
    case endpoint::db_terminate:
    case endpoint::stock_buy:  // /stock, /orders, /jobs: arguments are checked by the session
    case endpoint::orders:
    case endpoint::jobs:
    case endpoint::publish:
    case endpoint::graphql:  // GraphQL-over-HTTP's GET form is not served (docs/targets.md)
      d.allow = "POST, OPTIONS";
      allowed = method == "POST";
      break;
    case endpoint::poll:  // held, or a stream: no HEAD
    case endpoint::events:
    case endpoint::ws:  // a WebSocket handshake is a GET (RFC 6455 4.1)
      d.allow = "GET, OPTIONS";
      allowed = method == "GET";
      break;
    case endpoint::proxy:  // forwarded as it came
      d.allow = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS";
      allowed = method != "TRACE" && method != "PURGE";
      break;
    default:
      d.allow = get_allow;
      break;
  }
  if (method == "OPTIONS") {
    d.ep = endpoint::options;
    d.options = true;
    return d;
  }
  if (!allowed) {
    d.status = 405;
    return d;
  }
  if (d.ep == endpoint::api_order) d.key = path.substr(12);  // the id, judged by the handler (400, 404)
  if (d.ep == endpoint::cache) {
    d.key = path.substr(7);
    if (d.key.empty() || d.key.size() > max_cache_key) d.status = 400;
    if (method == "DELETE") d.ep = endpoint::cache_delete;
  }
  auto arg = [&](std::string_view text, std::uint64_t max) {
    if (!parse_u64(text, d.arg) || d.arg > max) d.status = 400;
  };
  switch (d.ep) {
    case endpoint::bytes: {
      arg(path.substr(7), max_bytes_arg);
      const auto kind = parse_payload_kind(query_param(query, "kind"));
      if (!kind) {
        d.status = 400;
        break;
      }
      d.kind = *kind;
      if (d.arg < min_payload_bytes(d.kind)) d.status = 400;
      if (const auto seed = query_param(query, "seed"); !seed.empty() && !parse_u64(seed, d.seed)) d.status = 400;
      break;
    }
    case endpoint::json:
      if (auto v = query_param(query, "items"); v.empty()) d.arg = 10;
      else arg(v, max_json_items);
      if (const auto seed = query_param(query, "seed"); !seed.empty() && !parse_u64(seed, d.seed)) d.status = 400;
      break;
    case endpoint::cpu: arg(query_param(query, "us"), max_cpu_us); break;
    case endpoint::sleep: arg(query_param(query, "ms"), max_sleep_ms); break;
    case endpoint::db_query:
      if (auto v = query_param(query, "ms"); !v.empty()) {
        arg(v, max_sleep_ms);
        d.arg_given = true;
      }
      break;
    case endpoint::items: arg(path.substr(7), UINT64_MAX); break;
    default: break;
  }
  return d;
}

response_info write_response(const dispatch& d, const request_view& req, bool keep_alive,
                             const response_context& ctx, std::string& out) {
  // Before anything else, so the burn lands on every routed request, errors and /health included.
  if (slowdown_per_request.count() > 0) burn_cpu(slowdown_per_request);
  const head_fields_scope scoped_fields(ctx.fields);
  const int minor = req.version_minor;
  // "Allow: <methods>\r\n" for 405 (RFC 9110 15.5.6: MUST) and OPTIONS.
  thread_local std::string allow;
  allow.clear();
  if (d.status == 405 || d.options) allow.append("Allow: ").append(d.allow).append("\r\n");
  if (d.status != 200) {
    append_built(out, d.status, "text/plain", keep_alive, minor, d.head, allow,
                 [&](std::string& o) { error_body(o, d.status); });
    return {d.status, 0};
  }
  if (d.options) {
    // RFC 9110 9.3.7: Content-Length 0 when there is no content.
    append_head(out, 200, {}, 0, keep_alive, minor, allow);
    return {200, 0};
  }

  constexpr std::string_view text = "text/plain";
  constexpr std::string_view octets = "application/octet-stream";
  constexpr std::string_view json = "application/json";
  constexpr std::string_view prometheus = "text/plain; version=0.0.4; charset=utf-8";
  switch (d.ep) {
    case endpoint::hello:
      if (const auto enc = encoding_for(ctx, req, text, static_key(ctx, d)); enc.policy) {
        append_built(out, 200, text, keep_alive, minor, d.head, {}, [](std::string& o) { o.append(hello_body); }, enc);
      } else if (keep_alive && minor == 1 && !d.head && ctx.fields.empty()) {
        out.append(cached_hello());
      } else {
        append_head(out, 200, "text/plain", hello_body.size(), keep_alive, minor);
        if (!d.head) out.append(hello_body);
      }
      return {200, 0};
    case endpoint::bytes:
      if (d.kind != payload_kind::pattern) {  // built in out (not streamed), encoded or not
        const auto type = content_type(d.kind);
        append_built(out, 200, type, keep_alive, minor, d.head, {},
                     [&](std::string& o) { append_payload(d.kind, d.arg, d.seed, o); },
                     encoding_for(ctx, req, type, static_key(ctx, d)));
        return {200, 0};
      }
      if (const auto enc = encoding_for(ctx, req, octets, static_key(ctx, d)); enc.policy) {
        // Built whole, since its encoded length goes in the head.
        append_built(out, 200, octets, keep_alive, minor, d.head, {}, [&](std::string& o) {
          for (std::uint64_t at = 0; at < d.arg;) {
            const auto slice = filler(at, d.arg - at);
            o.append(slice);
            at += slice.size();
          }
        }, enc);
        return {200, 0};
      }
      append_head(out, 200, octets, d.arg, keep_alive, minor);
      if (d.head) return {200, 0};
      if (d.arg > max_inline_bytes) return {200, d.arg};
      out.append(filler(0, d.arg));
      return {200, 0};
    case endpoint::echo:
      if (const auto enc = encoding_for(ctx, req, octets); enc.policy) {
        append_built(out, 200, octets, keep_alive, minor, false, {}, [&](std::string& o) { o.append(req.body); }, enc);
        return {200, 0};
      }
      append_head(out, 200, octets, req.body.size(), keep_alive, minor);
      out.append(req.body);
      return {200, 0};
    case endpoint::json:
      append_built(out, 200, json, keep_alive, minor, d.head, {},
                   [&](std::string& o) { append_records(d.arg, d.seed, o); },
                   encoding_for(ctx, req, json, static_key(ctx, d)));
      return {200, 0};
    case endpoint::cpu: {
      const auto x = burn_cpu(std::chrono::microseconds(d.arg));
      append_built(out, 200, text, keep_alive, minor, d.head, {}, [&](std::string& o) {
        fmt::format_to(std::back_inserter(o), "burned {} us ({:x})\n", d.arg, x & 0xff);
      }, encoding_for(ctx, req, text));
      return {200, 0};
    }
    case endpoint::sleep:
      append_built(out, 200, text, keep_alive, minor, d.head, {},
                   [&](std::string& o) { fmt::format_to(std::back_inserter(o), "slept {} ms\n", d.arg); },
                   encoding_for(ctx, req, text));
      return {200, 0};
    case endpoint::health:
      append_built(out, 200, text, keep_alive, minor, d.head, {}, [](std::string& o) { o.append("ok\n"); },
                   encoding_for(ctx, req, text));
      return {200, 0};
    case endpoint::metrics:
      append_built(out, 200, prometheus, keep_alive, minor, d.head, {},
                   [&](std::string& o) {
                     if (ctx.stats) ctx.stats->write_prometheus(o, ctx.model);
                     // Always present, so a scrape shows whether this binary was slowed on purpose.
                     fmt::format_to(std::back_inserter(o),
                                    "# HELP perflab_target_test_slowdown_seconds CPU burnt per request by "
                                    "--test-slowdown (A/B tests of perflab only; 0 = off).\n"
                                    "# TYPE perflab_target_test_slowdown_seconds gauge\n"
                                    "perflab_target_test_slowdown_seconds {:g}\n",
                                    std::chrono::duration<double>(slowdown_per_request).count());
                     if (ctx.cache) write_cache_prometheus(*ctx.cache, o);
                     if (ctx.db) write_db_prometheus(*ctx.db, o);
                     if (ctx.limiter) write_ratelimit_prometheus(*ctx.limiter, o);
                     if (ctx.upstream) ctx.upstream->write_prometheus(o);
                     if (ctx.room) write_waiting_room_prometheus(*ctx.room, o);
                     if (ctx.contention) write_contention_prometheus(*ctx.contention, o);
                     if (ctx.faults) ctx.faults->write_prometheus(o);
                     if (ctx.auth) write_auth_prometheus(*ctx.auth, o);
                     if (ctx.push) write_push_prometheus(*ctx.push, o);
                     if (ctx.api) ctx.api->write_prometheus(o);
                     if (ctx.cors) ctx.cors->write_prometheus(o);
                     if (ctx.remote) write_remote_prometheus(*ctx.remote, o);
                     if (ctx.encoding && ctx.encoding->enabled() && ctx.encode_stats) ctx.encode_stats->write_prometheus(o);
                     if (ctx.encoded_bodies) ctx.encoded_bodies->write_prometheus(o);
                   }, encoding_for(ctx, req, prometheus));
      return {200, 0};
    case endpoint::cache:
    case endpoint::cache_delete:
    case endpoint::cache_purge:
      if (ctx.cached)
        return write_cache_response(d, *ctx.cached, keep_alive, minor, encoding_for(ctx, req, text), out);
      break;  // a cache endpoint answered without its outcome: a bug, answered 500
    case endpoint::db_query:
    case endpoint::items:
    case endpoint::db_terminate:
      if (ctx.db_result) return write_db_response(d, *ctx.db_result, keep_alive, minor, req, ctx, out);
      break;  // answered without its outcome: a bug, answered 500
    case endpoint::proxy:
      if (ctx.proxied) {
        const auto& p = *ctx.proxied;
        thread_local std::string fields;  // X-Upstream-Attempts and X-Fallback, reused
        fields.clear();
        fmt::format_to(std::back_inserter(fields), "X-Upstream-Attempts: {}\r\n", p.attempts);
        if (!p.fallback.empty()) fields.append("X-Fallback: ").append(p.fallback).append("\r\n");
        append_built(out, p.status, p.content_type, keep_alive, minor, d.head, fields,
                     [&](std::string& o) { o.append(p.body); });
        return {p.status, 0};
      }
      break;  // answered without its outcome: a bug, answered 500
    case endpoint::stock:
    case endpoint::stock_buy:
    case endpoint::orders:
    case endpoint::jobs:
    case endpoint::job:
    case endpoint::publish:  // the session worked these out (session_push.cpp), as it does /stock's
    case endpoint::messages:
    case endpoint::poll:
    case endpoint::events:
    case endpoint::ws:  // a refused handshake's 4xx (the 101 is the session's)
      if (const auto* c = ctx.contended) {
        append_built(out, c->status, json, keep_alive, minor, d.head, c->headers,
                     [&](std::string& o) { o.append(c->body); });
        return {c->status, 0};
      }
      break;  // answered without its outcome: a bug, answered 500
    case endpoint::api_order: return write_order_response(d, req, keep_alive, ctx, out);
    case endpoint::graphql: return write_graphql_response(d, req, keep_alive, ctx, out);
    case endpoint::admin:  // answered by the session (session_fault.cpp)
    case endpoint::login:  // answered by the session (session_auth.cpp)
    case endpoint::options:
    case endpoint::not_found:
    case endpoint::invalid:
    case endpoint::count_:
      break;
  }
  append_built(out, 500, "text/plain", keep_alive, minor, d.head, {}, [](std::string& o) { error_body(o, 500); });
  return {500, 0};
}

std::string_view filler(std::uint64_t offset, std::uint64_t max) noexcept {
  return {filler_block.data() + offset % 26, static_cast<std::size_t>(std::min<std::uint64_t>(max, filler_slice))};
}

void write_error(int status, std::string& out, bool head_only, std::string_view detail) {
  append_built(out, status, "text/plain", false, 1, head_only, {},
               [&](std::string& o) { error_body(o, status, detail); });
}

}  // namespace perflab::targets
