// `loadgen attack URL`: ad-hoc open-loop (--rate) or closed-loop (--connections) load against one
// URL. Prints a human summary (or the run JSON with --json); --output DIR writes run.json, the
// HdrHistogram interval log and the per-second CSV so `loadgen report`/`compare` work on it.
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "distributed.hpp"
#include "engine_curl.hpp"
#include "perflab/core/cpus.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/core/result_io.hpp"
#include "perflab/core/result_json.hpp"
#include "perflab/core/units.hpp"
#include "perflab/core/verdict.hpp"
#include "perflab/loadgen/attack.hpp"
#include "perflab/loadgen/commands.hpp"
#include "perflab/loadgen/engine.hpp"
#include "perflab/loadgen/grpc.hpp"
#include "perflab/loadgen/request_mix.hpp"

namespace perflab::loadgen {

namespace {

struct attack_options {
  std::string url;
  std::string rate, duration = "10s", warmup = "0", timeout = "10s", connect_timeout = "2s";
  std::string rank_timeout = "5s";  // under mpirun: a rank silent this long is lost
  std::string think_time = "0", send_lag_bound = "1ms", spin_window = "200us", requests, cpus, arrival = "constant";
  std::string success = "2xx,3xx", max_error_rate = "1%";
  std::int64_t connections = 0;
  int threads = 0;
  std::vector<std::string> headers;
  std::string method = "GET", body;
  std::string grpc;                      // --grpc METHOD: gRPC unary calls instead of HTTP requests
  std::vector<std::string> grpc_fields;  // --grpc-field N=VALUE: the request message's fields
  bool keepalive = true;
  bool compressed = false;  // --compressed: Accept-Encoding: gzip, br, zstd (bodies counted as received, not decoded)
  bool verify = false;      // --verify: decode bodies and check them (errors.verify_failed)
  std::int64_t verify_length = -1;  // --verify-length: expected decoded bytes (-1: any)
  std::int64_t max_per_connection = 0;
  std::uint64_t seed = 1;
  std::string output;
  bool json = false;
  // Client retries ([load] retry): --retry N turns them on.
  std::int64_t retry_max = 0;
  std::string retry_on = "502,503,504", retry_backoff = "exponential", retry_base = "50ms", retry_cap = "1s",
              retry_jitter = "full";
  bool retry_after = false;
  bool retry_unsafe = false;
  // The engine and what only the curl engine speaks.
  std::string engine;  // "" automatic: curl for https:// or --http2
  bool http2 = false, insecure = false, no_tls_resume = false;
  std::int64_t max_streams = 100;
  std::string cacert;
  // Credentials ([load] auth): --auth SCHEME turns them on.
  std::string auth = "none", auth_key, auth_audience = "perflab", auth_ttl = "1h";
  std::int64_t auth_tokens = 100;
  // [load] follow: --follow-every turns it on.
  std::string follow_every, follow_until, follow_timeout = "30s";
  // The browser mode ([load] cors): --cors-origin turns it on.
  std::string cors_origin;
  bool no_preflight_cache = false;
};

tl::expected<std::chrono::nanoseconds, std::string> duration_option(const char* name, const std::string& text) {
  auto d = units::parse_duration(text);
  if (!d) return tl::unexpected(fmt::format("{}: {}", name, d.error()));
  return *d;
}

std::string fmt_us(double us) {
  if (us <= 0) return "0";
  return units::format_duration(std::chrono::nanoseconds(static_cast<std::int64_t>(us * 1e3 + 0.5)));
}

}  // namespace

tl::expected<std::pair<std::string, std::string>, std::string> parse_header(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return tl::unexpected(fmt::format("--header: '{}' is not \"Name: value\"", text));
  std::string_view name = text.substr(0, colon), value = text.substr(colon + 1);
  for (char ch : name)
    if (ch <= ' ' || ch == 0x7f) return tl::unexpected(fmt::format("--header: bad header name in '{}'", text));
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.find_first_of("\r\n") != std::string_view::npos)
    return tl::unexpected(fmt::format("--header: '{}' contains a line break", text));
  return std::pair{std::string(name), std::string(value)};
}

std::string format_summary(const result::variant& v) {
  std::string out;
  auto line = [&](std::string s) {
    out += s;
    out += '\n';
  };
  const auto& lm = v.load;
  // "for 10s", "for 1000 requests" or both.
  std::string span = lm.duration_s > 0
                         ? "for " + units::format_duration(std::chrono::nanoseconds(static_cast<std::int64_t>(lm.duration_s * 1e9)))
                         : "";
  if (lm.max_requests > 0) span += fmt::format("{}{} requests", span.empty() ? "for " : " or ", lm.max_requests);
  if (lm.kind == "open") {
    std::string rate = lm.stages.empty() ? units::format_rate(lm.rate) : fmt::format("{} stages", lm.stages.size());
    line(fmt::format("load: open loop, {} arrivals at {} {}{}, up to {} connections, {}, {} threads",
                     lm.arrival, rate, span,
                     lm.warmup_s > 0 ? fmt::format(" (warm-up {})", units::format_duration(std::chrono::nanoseconds(static_cast<std::int64_t>(lm.warmup_s * 1e9)))) : "",
                     lm.connections, lm.keepalive, lm.threads));
  } else {
    line(fmt::format("load: closed loop, {} connections {}{}{}, {}, {} threads", lm.connections, span,
                     lm.warmup_s > 0 ? fmt::format(" (warm-up {})", units::format_duration(std::chrono::nanoseconds(static_cast<std::int64_t>(lm.warmup_s * 1e9)))) : "",
                     lm.think_time_s > 0 ? fmt::format(", think time {}", units::format_duration(std::chrono::nanoseconds(static_cast<std::int64_t>(lm.think_time_s * 1e9)))) : "",
                     lm.keepalive, lm.threads));
  }
  if (lm.engine == "curl")
    line(fmt::format("engine: curl (libcurl multi), HTTP/{}{}{}", lm.http,
                     lm.http == "2" ? fmt::format(" (at most {} concurrent streams on one connection)", v.streams_peak) : "",
                     v.target.url.rfind("https://", 0) == 0 ? (lm.tls_resume ? ", TLS sessions resumed" : ", TLS without resumption") : ""));
  if (!lm.grpc.empty()) {
    std::string codes;
    for (const auto& [code, n] : v.grpc_statuses)
      codes += fmt::format("{}{} {} x {}", codes.empty() ? "" : ", ", code, grpc_status_name(std::stoi(code)), n);
    line(fmt::format("gRPC {}: grpc-status {}{}", lm.grpc, codes.empty() ? "none" : codes,
                     v.errors.grpc_missing > 0 ? fmt::format("; {} answers without a grpc-status", v.errors.grpc_missing) : ""));
  }
  line(fmt::format("target: {}{}", v.target.url, v.complete ? "" : fmt::format("  (INCOMPLETE: {})", v.incomplete_reason)));
  line(fmt::format("requests: {} sent, {} completed ({} successful: {}), {} connections opened", v.sent,
                   v.completed, v.succeeded, v.load.success, v.connections_opened));
  line(fmt::format("throughput: goodput {:.1f}/s, all responses {:.1f}/s, over the measured {:.2f}s", v.tps_mean,
                   v.rps_mean, v.measured_s));
  if (v.bytes_in > 0)
    line(fmt::format("wire: {:.2f} MB/s in, {:.2f} MB/s out ({} bytes in, {} out; {:.0f} bytes per response, heads "
                     "included, as received)",
                     v.mb_in_per_s, v.mb_out_per_s, v.bytes_in, v.bytes_out, v.bytes_per_response));
  if (v.tcp_bytes_in + v.tcp_bytes_out > 0)
    line(fmt::format("tcp: {} bytes in, {} out from the measured phase on, {:.0f} per response both ways (TCP payload "
                     "counted by the kernel: TLS records and HTTP/2 frames included)",
                     v.tcp_bytes_in, v.tcp_bytes_out, v.tcp_bytes_per_response));
  if (v.carried_in > 0)
    line(fmt::format("carried in: {} requests sent in the warm-up were still unanswered when the measured phase "
                     "began (their latency is counted)", v.carried_in));
  if (v.stalled > 0)
    line(fmt::format("STALLED: {} of them got no answer through the whole measured phase (starved clients)",
                     v.stalled));
  if (v.unsent > 0 || v.abandoned > 0)
    line(fmt::format("unanswered: {} due but never sent, {} sent but unanswered at the drain deadline (in latency "
                     "as lower bounds; the unanswered count as errors)",
                     v.unsent, v.abandoned));
  if (!v.load.retry.empty())
    line(fmt::format("client retries ({}): {} attempts for {} requests sent ({:.2f}/s attempts, {} retries); {} "
                     "succeeded after a retry, {} exhausted their retries (status counts and latency: final answers, "
                     "latency from the first attempt)",
                     v.load.retry, v.attempts, v.sent, v.measured_s > 0 ? static_cast<double>(v.attempts) / v.measured_s : 0.0,
                     v.client_retries, v.retried_succeeded, v.retries_exhausted));
  if (!v.load.follow.empty())
    line(fmt::format("followed ({}): {} of {} requests found done, {} polls ({:.2f} per request); accepted (202) "
                     "p50 {} p99 {}; TTLB above is the completion, from the intended send time",
                     v.load.follow, v.followed, v.sent, v.follow_polls,
                     v.sent > 0 ? static_cast<double>(v.follow_polls) / static_cast<double>(v.sent) : 0.0,
                     fmt_us(v.accepted.p50_us), fmt_us(v.accepted.p99_us)));
  if (!lm.cors.empty())
    line(fmt::format("browser mode ({}): {} preflights for {} requests sent, {} refused by their preflight (never "
                     "sent; counted as errors), latency through both answers",
                     lm.cors, v.preflights, v.sent, v.errors.cors_refused));
  if (v.retries > 0)
    line(fmt::format("stale keep-alive resends: {} requests resent once on a new connection (their keep-alive connection had been "
                     "closed by the server while idle{}; not errors)",
                     v.retries, v.load.http == "2" ? ", or their stream refused" : ""));
  if (v.cache.total() > 0)
    line(fmt::format("cache: hit ratio {:.3f} over {} responses with X-Cache ({} HIT, {} MISS, {} STALE, {} other)",
                     v.cache_hit_ratio, v.cache.total(), v.cache.hit, v.cache.miss, v.cache.stale, v.cache.other));
  const auto& e = v.errors;
  if (e.total() + v.abandoned == 0) {
    line("errors: none");
  } else {
    std::string list;
    result::for_each_error_class(e, [&](const char* name, std::int64_t n) {
      if (n > 0) list += fmt::format("{}{} {}", list.empty() ? "" : ", ", name, n);
    });
    if (v.abandoned > 0) list += fmt::format("{}never answered {}", list.empty() ? "" : ", ", v.abandoned);
    line(fmt::format("errors: {} ({:.2f}%){}: {}", e.total() + v.abandoned, v.error_rate * 100,
                     result::error_rate_exceeded(v)
                         ? fmt::format(", ERRORS: over the bound {:.2f}%", v.load.max_error_rate * 100)
                         : "",
                     list));
  }
  line(fmt::format("{:<18}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}", "latency", "p50", "p90", "p99", "p99.9", "max",
                   "count"));
  auto row = [&](const char* name, const result::latency_summary& s) {
    line(fmt::format("{:<18}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}", name, fmt_us(s.p50_us), fmt_us(s.p90_us),
                     fmt_us(s.p99_us), fmt_us(s.p999_us), fmt_us(s.max_us), s.count));
  };
  if (v.connect.count == 0 && v.connections_opened == 0 && v.connections_warmup > 0)
    line(fmt::format("connect: no new connections in the measured phase (the {} opened in the warm-up were reused)",
                     v.connections_warmup));
  else
    row("connect", v.connect);
  if (v.tls_handshake.count > 0) row("tls handshake", v.tls_handshake);
  if (v.curl_start_transfer.count > 0) row("curl starttransfer", v.curl_start_transfer);
  if (lm.kind == "open") {
    row("ttfb (corrected)", v.ttfb);
    row("ttlb (corrected)", v.ttlb);
    row("ttfb (uncorrected)", v.ttfb_uncorrected);
    row("ttlb (uncorrected)", v.ttlb_uncorrected);
    row("send lag", v.send_lag);
  } else {
    row("ttfb", v.ttfb_uncorrected);
    row("ttlb", v.ttlb_uncorrected);
  }
  if (!v.ranks.empty()) {
    line(fmt::format("ranks: {} processes (merged above; per rank below{})", v.ranks.size(),
                     v.ranks.size() > 16 ? ", first 16" : ""));
    for (std::size_t i = 0; i < v.ranks.size() && i < 16; ++i) {
      const auto& r = v.ranks[i];
      line(fmt::format("  rank {:<3} {:<12} sent {:>8} completed {:>8} errors {:>6} send lag p99 {:>8} ttlb p99 {:>8} "
                       "clock {:+.0f}us (rtt {:.0f}us){}{}",
                       r.rank, r.host, r.sent, r.completed, r.errors, fmt_us(r.send_lag_p99_us), fmt_us(r.ttlb_p99_us),
                       r.clock_offset_us, r.clock_rtt_us, r.saturated ? " SATURATED" : "", r.lost ? " LOST" : ""));
    }
  }
  const auto& h = v.loadgen;
  line(fmt::format("loadgen: cpu {:.2f}s user + {:.2f}s system, {:.2f}us per request", h.cpu_user_s, h.cpu_system_s,
                   h.cpu_per_request_us));
  if (v.errors.client_resources > 0)
    line(fmt::format("SATURATED: {} requests failed on the loadgen's own limits (local ports, file descriptors or "
                     "buffer memory), not the target's: raise the limits or spread the load",
                     v.errors.client_resources));
  if (lm.kind == "open") {
    if (h.saturated && v.errors.client_resources == 0)
      line(fmt::format("SATURATED: send lag p99 {} exceeds the bound {}: the loadgen (or its connection cap) could "
                       "not keep the schedule; latencies include that delay and do not describe the server alone",
                       fmt_us(v.send_lag.p99_us), fmt_us(h.send_lag_bound_us)));
    else if (!h.saturated)
      line(fmt::format("schedule: kept (send lag p99 {} <= bound {})", fmt_us(v.send_lag.p99_us),
                       fmt_us(h.send_lag_bound_us)));
  }
  return out;
}

void add_attack_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<attack_options>();
  auto* cmd = app.add_subcommand("attack", "ad-hoc load against one URL (open loop with --rate, closed with --connections)");
  cmd->add_option("url", opts->url, "http://HOST:PORT/PATH")->required();
  cmd->add_option("--rate", opts->rate, "open loop: arrivals per second, e.g. 5k/s, 300/m");
  cmd->add_option("--connections,-c", opts->connections, "closed loop: connections; with --rate: connection cap");
  cmd->add_option("--duration,-d", opts->duration, "measured phase, e.g. 10s, 2m")->capture_default_str();
  cmd->add_option("--warmup", opts->warmup, "warm-up before the measured phase (dropped), e.g. 2s");
  cmd->add_option("--threads,-t", opts->threads, "worker threads (default: one per usable CPU)");
  cmd->add_option("--header,-H", opts->headers, "request header \"Name: value\" (repeatable)");
  cmd->add_flag("--compressed", opts->compressed,
                "send Accept-Encoding: gzip, br, zstd (responses are counted as received, never decoded)");
  cmd->add_flag("--verify", opts->verify,
                "decode every response body (gzip, deflate, br, zstd) and count one that does not decode as an "
                "error (verify failed); off by default, so nothing is decoded");
  cmd->add_option("--verify-length", opts->verify_length,
                  "with --verify: the decoded body's expected length in bytes; another length is an error");
  cmd->add_option("--method,-m", opts->method, "request method")->capture_default_str();
  cmd->add_option("--body", opts->body, "request body: TEXT or @FILE");
  cmd->add_option("--grpc", opts->grpc,
                  "gRPC unary calls to METHOD (/package.Service/Method) over HTTP/2 (the curl engine): grpc-status "
                  "counted per code; the URL is the gRPC server's, e.g. lab-target --grpc-port");
  cmd->add_option("--grpc-field", opts->grpc_fields,
                  "with --grpc: a field of the request message, N=VALUE (digits: a varint, else a string; "
                  "repeatable), e.g. 1=42 for GetOrderRequest{id: 42}");
  cmd->add_flag("--keepalive,!--no-keepalive", opts->keepalive, "reuse connections (default) or one per request");
  cmd->add_option("--max-requests-per-connection", opts->max_per_connection, "close a connection after K requests");
  cmd->add_option("--timeout", opts->timeout, "request (read) timeout")->capture_default_str();
  cmd->add_option("--connect-timeout", opts->connect_timeout, "connect timeout")->capture_default_str();
  cmd->add_option("--rank-timeout", opts->rank_timeout,
                  "under mpirun: a rank silent this long is lost (the run ends incomplete); above 1s")
      ->capture_default_str();
  cmd->add_option("--think-time", opts->think_time, "closed loop: pause between response and next request");
  cmd->add_option("--requests,-n", opts->requests, "stop after N measured requests (e.g. 10k)");
  cmd->add_option("--arrival", opts->arrival, "open loop arrivals: constant or poisson")->capture_default_str();
  cmd->add_option("--seed", opts->seed, "seed for Poisson arrivals, request mix and keys")->capture_default_str();
  cmd->add_option("--cpus", opts->cpus, "pin worker threads to these CPUs, e.g. 0 or 0,2-3");
  cmd->add_option("--send-lag-bound", opts->send_lag_bound, "p99 send lag above this marks the run saturated")
      ->capture_default_str();
  cmd->add_option("--spin-window", opts->spin_window,
                  "open loop: wake this long before each arrival and poll to it (send-lag precision vs CPU; 0: timers only)")
      ->capture_default_str();
  cmd->add_option("--success", opts->success, "statuses counted as success (goodput), e.g. 2xx,3xx,404")
      ->capture_default_str();
  cmd->add_option("--max-error-rate", opts->max_error_rate,
                  "error rate above this marks the run ERRORS and exits 7, e.g. 1%, 0.1%")
      ->capture_default_str();
  cmd->add_option("--retry", opts->retry_max,
                  "client retries: send an idempotent request again, up to N times, when answered with a --retry-on "
                  "status ([load] retry.max; 0: off)")->capture_default_str();
  cmd->add_option("--retry-on", opts->retry_on,
                  "statuses retried, e.g. 503,429; \"reset\": a connection reset before any byte of the answer")
      ->capture_default_str();
  cmd->add_option("--retry-backoff", opts->retry_backoff, "exponential or none (retry at once)")->capture_default_str();
  cmd->add_option("--retry-base", opts->retry_base, "exponential backoff: the first retry's wait")->capture_default_str();
  cmd->add_option("--retry-cap", opts->retry_cap, "no wait longer than this (Retry-After too)")->capture_default_str();
  cmd->add_option("--retry-jitter", opts->retry_jitter, "full, equal or none")->capture_default_str();
  cmd->add_flag("--retry-after", opts->retry_after, "honour a Retry-After in seconds (capped at --retry-cap)");
  cmd->add_flag("--retry-unsafe", opts->retry_unsafe,
                "retry requests that are not idempotent too (a POST without an Idempotency-Key): a naive client");
  cmd->add_option("--auth", opts->auth,
                  "credentials on every request ([load] auth): none, jwt-hs256, jwt-rs256, jwt-eddsa (signed before the "
                  "run with --auth-key), or session (users logged in at /auth/login first)")
      ->capture_default_str();
  cmd->add_option("--auth-key", opts->auth_key,
                  "jwt-*: the signing key (HS256 secret or PEM private key); made, with FILE.pub for the target, when missing");
  cmd->add_option("--auth-tokens", opts->auth_tokens, "distinct tokens (users) the requests take in turn")
      ->capture_default_str();
  cmd->add_option("--auth-audience", opts->auth_audience, "jwt-*: the aud claim")->capture_default_str();
  cmd->add_option("--auth-ttl", opts->auth_ttl, "jwt-*: exp is this long after signing")->capture_default_str();
  cmd->add_option("--follow-every", opts->follow_every,
                  "follow 202 Accepted answers ([load] follow, either engine): poll their Location this often until an "
                  "answer holds --follow-until; the request completes then (TTLB = completion), the 202 is `accepted`");
  cmd->add_option("--follow-until", opts->follow_until, "follow: the text a finished job's status holds, e.g. "
                                                        "'\"state\":\"done\"'");
  cmd->add_option("--follow-timeout", opts->follow_timeout,
                  "follow: give a request up this long after its intended send time (errors.follow_timeout)")
      ->capture_default_str();
  cmd->add_option("--cors-origin", opts->cors_origin,
                  "browser mode ([load] cors; asio engine): every request carries Origin: URL, and a non-simple one "
                  "is preceded by a preflight OPTIONS unless the connection cached its answer (Access-Control-Max-Age)");
  cmd->add_flag("--no-preflight-cache", opts->no_preflight_cache,
                "with --cors-origin: a preflight before every non-simple request (a browser with its cache off)");
  cmd->add_option("--engine", opts->engine, "asio (HTTP/1.1, cleartext) or curl (libcurl: HTTPS, HTTP/2); default: "
                                          "curl for https:// and --http2, asio otherwise");
  cmd->add_flag("--http2", opts->http2, "curl engine: HTTP/2 (ALPN over https://, prior knowledge over http://)");
  cmd->add_option("--max-streams", opts->max_streams, "curl engine with --http2: concurrent streams per connection")
      ->capture_default_str();
  cmd->add_flag("--insecure,-k", opts->insecure, "curl engine: do not verify the server's certificate");
  cmd->add_option("--cacert", opts->cacert, "curl engine: CA certificates (PEM file) to verify the server with");
  cmd->add_flag("--no-tls-resume", opts->no_tls_resume,
                "curl engine over TLS: a full handshake on every new connection (default: resume TLS sessions)");
  cmd->add_option("--output,-o", opts->output, "write run.json, attack.hlog and attack.csv into DIR");
  cmd->add_flag("--json", opts->json, "print the run JSON on stdout instead of the summary");

  cmd->callback([opts, &exit_code] {
    // Under mpirun every rank parses the same options; only rank 0 says what was wrong.
    auto usage = [&](const std::string& msg) {
      if (detail::launched_rank() == 0) std::fprintf(stderr, "loadgen attack: %s\n", msg.c_str());
      exit_code = exit_code::usage;
    };
    const attack_options& o = *opts;
    run_config cfg;
    cfg.url = o.url;
    auto url = parse_url(o.url);
    if (!url) return usage(url.error());
    cfg.engine = o.engine;
    cfg.http2 = o.http2;
    cfg.max_streams = o.max_streams;
    cfg.insecure = o.insecure;
    cfg.cacert = o.cacert;
    cfg.tls_resume = !o.no_tls_resume;
    if (!o.follow_every.empty() || !o.follow_until.empty()) {
      auto every = duration_option("--follow-every", o.follow_every.empty() ? "0" : o.follow_every);
      if (!every) return usage(every.error());
      auto timeout = duration_option("--follow-timeout", o.follow_timeout);
      if (!timeout) return usage(timeout.error());
      cfg.follow = {*every, o.follow_until, *timeout};
      if (auto ok = check_follow(cfg.follow); !ok) return usage("--follow-" + ok.error());
    }
    auto engine = detail::choose_engine(cfg, *url);
    if (!engine) return usage("--engine: " + engine.error());
    if (*engine != "curl" && (o.insecure || !o.cacert.empty() || o.no_tls_resume))
      return usage("--insecure, --cacert and --no-tls-resume need an https:// URL (the curl engine)");
    if (o.max_streams < 1) return usage(fmt::format("--max-streams: expected 1 or more, found {}", o.max_streams));
    if (o.no_preflight_cache && o.cors_origin.empty()) return usage("--no-preflight-cache: needs --cors-origin");
    if (!o.cors_origin.empty()) {
      if (*engine == "curl" || !o.grpc.empty())
        return usage("--cors-origin: the browser mode needs the asio engine (HTTP/1.1 over http://), not the curl "
                     "engine (--engine curl, --http2, --grpc or an https:// URL)");
      if (auto bad = browser_cors::origin_error(o.cors_origin)) return usage("--cors-origin: " + *bad);
      cfg.cors = {o.cors_origin, !o.no_preflight_cache};
    }
    if (!o.cacert.empty() && !std::filesystem::exists(o.cacert))
      return usage(fmt::format("--cacert: no file '{}'", o.cacert));
    if (!o.rate.empty()) {
      auto r = units::parse_rate(o.rate);
      if (!r) return usage("--rate: " + r.error());
      if (!(*r > 0)) return usage(fmt::format("--rate: '{}' must be above 0", o.rate));
      cfg.kind = "open";
      cfg.rate = *r;
      if (o.connections < 0) return usage("--connections: must be a positive number (the connection cap)");
      cfg.connections = o.connections;
    } else if (o.connections > 0) {
      cfg.kind = "closed";
      cfg.connections = o.connections;
    } else {
      return usage("give --rate RATE (open loop, e.g. --rate 5k/s) or --connections N (closed loop, N > 0)");
    }
    if (o.arrival != "constant" && o.arrival != "poisson")
      return usage(fmt::format("--arrival: '{}' (accepted: constant, poisson)", o.arrival));
    cfg.arrival = o.arrival;
    auto dur = duration_option("--duration", o.duration);
    if (!dur) return usage(dur.error());
    auto warm = duration_option("--warmup", o.warmup);
    if (!warm) return usage(warm.error());
    auto to = duration_option("--timeout", o.timeout);
    if (!to) return usage(to.error());
    auto cto = duration_option("--connect-timeout", o.connect_timeout);
    if (!cto) return usage(cto.error());
    auto think = duration_option("--think-time", o.think_time);
    if (!think) return usage(think.error());
    auto bound = duration_option("--send-lag-bound", o.send_lag_bound);
    if (!bound) return usage(bound.error());
    auto spin = duration_option("--spin-window", o.spin_window);
    if (!spin) return usage(spin.error());
    auto rank_to = duration_option("--rank-timeout", o.rank_timeout);
    if (!rank_to) return usage(rank_to.error());
    if (*rank_to <= std::chrono::seconds(1))
      return usage(fmt::format("--rank-timeout: '{}' must be above 1s (ranks send a second each second)", o.rank_timeout));
    cfg.rank_timeout = *rank_to;
    cfg.spin_window = *spin;
    if (to->count() <= 0) return usage("--timeout: must be above 0");
    if (cto->count() <= 0) return usage("--connect-timeout: must be above 0");
    if (bound->count() <= 0) return usage("--send-lag-bound: must be above 0");
    cfg.duration = *dur;
    cfg.warmup = *warm;
    cfg.request_timeout = *to;
    cfg.connect_timeout = *cto;
    cfg.think_time = *think;
    cfg.send_lag_bound_us = static_cast<double>(bound->count()) / 1e3;
    if (!o.requests.empty()) {
      auto n = units::parse_count(o.requests);
      if (!n || *n < 1) return usage(n ? fmt::format("--requests: '{}' must be at least 1", o.requests) : "--requests: " + n.error());
      cfg.max_requests = static_cast<std::int64_t>(*n);
      // --requests alone: no time bound unless --duration was given explicitly.
      if (cfg.duration.count() > 0 && o.duration == "10s") cfg.duration = std::chrono::nanoseconds(0);
    }
    if (cfg.duration.count() <= 0 && cfg.max_requests == 0) return usage("--duration: must be above 0");
    if (o.threads < 0) return usage("--threads: must be 0 (automatic) or more");
    cfg.threads = o.threads;
    if (!o.cpus.empty()) {
      auto c = cpus::parse_list(o.cpus);
      if (!c) return usage("--cpus: " + c.error());
      if (auto present = cpus::check_present(*c); !present) return usage("--cpus: " + present.error());
      cfg.cpus = *c;
    }
    cfg.seed = o.seed;
    if (auto ok = result::success_statuses::parse(o.success); !ok) return usage("--success: " + ok.error());
    cfg.success = o.success;
    auto max_err = units::parse_fraction(o.max_error_rate);
    if (!max_err) return usage("--max-error-rate: " + max_err.error());
    cfg.max_error_rate = *max_err;
    if (o.verify_length >= 0 && !o.verify) return usage("--verify-length: needs --verify");
    cfg.verify = o.verify;
    cfg.verify_length = o.verify_length;
    request_spec spec;
    spec.method = o.method;
    if (spec.method.empty() || spec.method.find_first_of(" \t\r\n") != std::string::npos)
      return usage(fmt::format("--method: '{}' is not a method token (e.g. GET, POST)", o.method));
    spec.path = "/";
    for (const auto& h : o.headers) {
      auto kv = parse_header(h);
      if (!kv) return usage(kv.error());
      spec.headers.push_back(*kv);
    }
    if (o.compressed) spec.headers.emplace_back("Accept-Encoding", "gzip, br, zstd");
    if (!o.body.empty() && o.body.front() == '@') {
      std::ifstream in(o.body.substr(1), std::ios::binary);
      if (!in) return usage(fmt::format("--body: cannot read file '{}'", o.body.substr(1)));
      std::ostringstream content;
      content << in.rdbuf();
      spec.body = content.str();
    } else {
      spec.body = o.body;
    }
    if (!o.grpc.empty()) {
      if (o.method != "GET" || !o.body.empty()) return usage("--grpc: not with --method or --body (a gRPC call is a "
                                                             "POST, its body the message of --grpc-field)");
      if (auto ok = check_grpc_method(o.grpc); !ok) return usage("--grpc: " + ok.error());
      spec.method = "POST";
      spec.grpc = o.grpc;
      for (const auto& f : o.grpc_fields) {
        const auto eq = f.find('=');
        std::uint32_t n = 0;
        const auto [end, ec] = std::from_chars(f.data(), f.data() + (eq == std::string::npos ? 0 : eq), n);
        if (eq == std::string::npos || ec != std::errc() || end != f.data() + eq)
          return usage(fmt::format("--grpc-field: '{}' is not N=VALUE (a field number, then its value)", f));
        spec.grpc_fields.push_back({n, f.substr(eq + 1)});
        if (auto ok = encode_grpc_message({spec.grpc_fields.back()}, ""); !ok) return usage("--grpc-field: " + ok.error());
      }
    } else if (!o.grpc_fields.empty()) {
      return usage("--grpc-field: only with --grpc METHOD");
    }
    cfg.requests.push_back(spec);
    if (o.max_per_connection < 0) return usage("--max-requests-per-connection: must be 1 or more");
    if (!o.keepalive) {
      cfg.keepalive = keepalive_policy::new_connection;
    } else if (o.max_per_connection > 0) {
      cfg.keepalive = keepalive_policy::max_requests;
      cfg.max_requests_per_connection = o.max_per_connection;
    }
    if (o.retry_max < 0 || o.retry_max > 100) return usage(fmt::format("--retry: expected 0 to 100 retries, found {}", o.retry_max));
    cfg.retry.max = o.retry_max;
    auto codes = parse_retry_statuses(o.retry_on);
    if (!codes) return usage("--retry-on: " + codes.error());
    cfg.retry.on = *codes;
    cfg.retry.unsafe = o.retry_unsafe;
    auto expo = parse_retry_backoff(o.retry_backoff);
    if (!expo) return usage("--retry-backoff: " + expo.error());
    cfg.retry.exponential = *expo;
    auto rbase = duration_option("--retry-base", o.retry_base);
    if (!rbase) return usage(rbase.error());
    auto rcap = duration_option("--retry-cap", o.retry_cap);
    if (!rcap) return usage(rcap.error());
    cfg.retry.backoff.base = *rbase;
    cfg.retry.backoff.cap = *rcap;
    auto jit = parse_retry_jitter(o.retry_jitter);
    if (!jit) return usage("--retry-jitter: " + jit.error());
    cfg.retry.backoff.kind = *jit;
    cfg.retry.retry_after = o.retry_after;
    if (auto ok = check_retry_policy(cfg.retry); !ok) return usage("--retry-" + ok.error());
    cfg.auth.scheme = o.auth;
    cfg.auth.key_file = o.auth_key;
    cfg.auth.tokens = o.auth_tokens;
    cfg.auth.audience = o.auth_audience;
    auto attl = duration_option("--auth-ttl", o.auth_ttl);
    if (!attl) return usage(attl.error());
    cfg.auth.ttl = *attl;
    if (auto ok = check_auth(cfg.auth); !ok) return usage("--auth-" + ok.error());
    if (*engine == "curl") {
      if (auto mix = request_mix::build(*url, cfg.requests, cfg.keys); mix)
        if (auto ok = detail::check_curl_support(cfg, *mix); !ok) return usage(ok.error());
    }
    if (!o.output.empty()) {
      cfg.output_dir = o.output;
      cfg.file_prefix = "attack";
    }
    cfg.progress = !o.json;
    const std::int64_t opts_max_requests = cfg.max_requests;
    // A distributed run (mpirun -np N): this rank's share; rank 0 merges and writes everything.
    if (auto split = detail::check_rank_split(cfg, detail::launched_ranks()); !split) return usage(split.error());
    auto link = detail::join_ranks();
    if (link) {
      cfg = detail::rank_share_config(cfg, link->rank(), link->ranks());
      cfg.link = link.get();
    }

    const std::string started_at = result::utc_timestamp();
    auto v = run_load(cfg);
    if (!v) {
      std::fprintf(stderr, "loadgen attack: %s%s\n", link ? fmt::format("rank {}: ", link->rank()).c_str() : "",
                   v.error().c_str());
      exit_code = exit_code::runtime_error;
      if (link) link->abort_all(exit_code);  // the other ranks would wait for this one forever
      return;
    }
    if (link && link->rank() != 0) {  // rank 0 reports for every rank
      link->close(exit_code::ok);
      return;
    }
    if (link) v->load.max_requests = opts_max_requests;  // the run's count, not rank 0's share
    const result::run r = result::single_variant_run(started_at, *v);
    // The same verdict as a scenario row (core/verdict.hpp): interrupted 6, saturated 5, a
    // failing target (errors over the bound, stalled requests) 7.
    int rc = result::exit_code_of(*v);
    if (!o.output.empty()) {
      if (auto w = result::write_run_json(std::filesystem::path(o.output) / "run.json", r); !w) {
        std::fprintf(stderr, "loadgen attack: %s\n", w.error().c_str());
        rc = exit_code::combine(rc, exit_code::runtime_error);
      }
    }
    if (o.json) {
      std::string text = nlohmann::json(r).dump(2);
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fputc('\n', stdout);
    } else {
      const std::string text = format_summary(*v);
      std::fwrite(text.data(), 1, text.size(), stdout);
      if (!o.output.empty()) std::printf("results: %s\n", o.output.c_str());
    }
    std::fflush(stdout);
    exit_code = rc;
    if (link) link->close(rc);
  });
}

}  // namespace perflab::loadgen
