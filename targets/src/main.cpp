// lab-target: the sample HTTP/1.1 server, once per concurrency model.
//   lab-target --model reactor --threads 2 --listen 127.0.0.1:0 [--cpu 1] [limits...] [--cache lru ...]
//              [--gzip-level 6 --gzip-min-length 20 --gzip-types text/plain,application/json]
// Prints one line "listening http://HOST:PORT" once it accepts (with --grpc-port, followed on the
// same line by " grpc http://HOST:PORT"); SIGTERM/SIGINT stop it gracefully (exit 0); a bad
// option exits 2 naming it.
#include <csignal>
#include <cstdio>
#include <string>

#include <pthread.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <perflab/core/cpus.hpp>
#include <perflab/core/exit_codes.hpp>
#include <perflab/core/units.hpp>
#include <perflab/targets/handlers.hpp>
#include <perflab/targets/server.hpp>

#include "auth_cli.hpp"
#include "contention_cli.hpp"
#include "db_cli.hpp"
#include "grpc_cli.hpp"
#include "upstream_cli.hpp"

namespace {

using namespace perflab;

struct options {
  std::string model, listen = "127.0.0.1:8080", cpu, max_body = "1MiB";
  std::string header_timeout = "10s", idle_timeout = "60s", send_timeout = "60s", shutdown_timeout = "5s";
  std::string test_slowdown = "0";
  unsigned threads = 0;
  std::size_t max_connections = 100000, queue = 1024;
  targets::cache_options cache;
  targets::encode_options encode;
  db::options db;
  std::string rate_limit;
  upstream::options upstream;
  std::string waiting_room;
  std::string push;
  targets::contention_options contention;
  targets::grpc_options grpc;
  std::string fault_profile;
  bool admin = false;
  targets::auth_options auth;
  std::string cors;  // empty: no CORS
  std::string cors_headers{perflab::cors::default_headers};
  std::uint32_t cors_max_age = perflab::cors::default_max_age_s;
  bool check_model = false;
  std::string fiber_stack;             // empty: the default (64KiB)
  bool fiber_overflow_probe = false;   // hidden, tests only
};

// Builds the server config; a message naming the offending option on error.
tl::expected<targets::server_config, std::string> to_config(const options& o) {
  targets::server_config c;
  auto m = targets::parse_model(o.model);
  if (!m) return tl::unexpected("--model: unknown model '" + o.model +
                                "' (accepted: thread-per-request, thread-pool, reactor, coroutine, fiber, io-uring)");
  c.which = *m;
  if (!o.fiber_stack.empty()) {
    if (c.which != targets::model::fiber) return tl::unexpected(std::string("--fiber-stack: only with --model fiber"));
    auto stack = targets::parse_fiber_stack(o.fiber_stack);
    if (!stack) return tl::unexpected(stack.error());
    c.fiber_stack = *stack;
  }
  c.fiber_overflow_probe = o.fiber_overflow_probe;
  c.threads = o.threads;
  auto l = targets::parse_listen(o.listen);
  if (!l) return tl::unexpected("--listen: " + l.error());
  c.listen = *l;
  if (!o.cpu.empty()) {
    auto list = cpus::parse_list(o.cpu);
    if (!list) return tl::unexpected("--cpu: " + list.error());
    if (auto present = cpus::check_present(*list); !present) return tl::unexpected("--cpu: " + present.error());
    c.cpus = *list;
  }
  c.max_connections = o.max_connections;
  c.queue = o.queue;
  auto ms = [](const std::string& name, const std::string& text) -> tl::expected<std::chrono::milliseconds, std::string> {
    auto d = units::parse_duration(text);
    if (!d) return tl::unexpected(name + ": " + d.error());
    auto v = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    if (v.count() <= 0) return tl::unexpected(name + ": must be at least 1ms, got '" + text + "'");
    return v;
  };
  auto ht = ms("--header-timeout", o.header_timeout);
  if (!ht) return tl::unexpected(ht.error());
  auto it = ms("--idle-timeout", o.idle_timeout);
  if (!it) return tl::unexpected(it.error());
  auto st = ms("--shutdown-timeout", o.shutdown_timeout);
  if (!st) return tl::unexpected(st.error());
  auto send = ms("--send-timeout", o.send_timeout);
  if (!send) return tl::unexpected(send.error());
  c.header_timeout = *ht;
  c.idle_timeout = *it;
  c.send_timeout = *send;
  c.shutdown_timeout = *st;
  auto body = units::parse_size(o.max_body);
  if (!body) return tl::unexpected("--max-body: " + body.error());
  c.limits.max_body = *body;
  // Up to 1 s: beyond that it would only stall the server, which no A/B test of perflab needs.
  auto slow = units::parse_duration(o.test_slowdown);
  if (!slow) return tl::unexpected("--test-slowdown: " + slow.error());
  if (slow->count() < 0 || *slow > std::chrono::seconds(1))
    return tl::unexpected("--test-slowdown: must be from 0 to 1s, got '" + o.test_slowdown + "'");
  c.test_slowdown = *slow;
  if (auto cached = targets::apply_cache_options(o.cache, c); !cached) return tl::unexpected(cached.error());
  if (auto encoded = targets::apply_encode_options(o.encode, c); !encoded) return tl::unexpected(encoded.error());
  auto database = db::parse_options(o.db);
  if (!database) return tl::unexpected(database.error());
  c.db = *database;
  if (!o.rate_limit.empty()) {
    auto limit = resilience::parse_rate_limit(o.rate_limit);
    if (!limit) return tl::unexpected(limit.error());  // names --rate-limit
    c.rate_limit = *limit;
  }
  auto up = upstream::parse_options(o.upstream);
  if (!up) return tl::unexpected(up.error());  // names the --upstream* option
  c.upstream = std::move(*up);
  if (!o.waiting_room.empty()) {
    auto room = resilience::parse_waiting_room(o.waiting_room);
    if (!room) return tl::unexpected(room.error());  // names --waiting-room
    c.waiting_room = *room;
  }
  if (!o.push.empty()) {
    auto hub = push::parse_hub_config(o.push);
    if (!hub) return tl::unexpected(hub.error());  // names --push
    c.push = *hub;
  }
  auto contended = targets::parse_contention_options(o.contention);
  if (!contended) return tl::unexpected(contended.error());
  c.contention = *contended;
  if (!o.fault_profile.empty()) {
    auto faults = fault::load_profile(o.fault_profile);
    if (!faults) return tl::unexpected(faults.error());  // names --fault-profile
    c.fault_profile = *faults;
  }
  c.admin = o.admin;
  auto auth = targets::parse_auth_options(o.auth);
  if (!auth) return tl::unexpected(auth.error());  // names the --auth* option
  c.auth = std::move(*auth);
  if (!o.cors.empty()) {
    auto policy = cors::make_policy(o.cors, o.cors_headers, o.cors_max_age);
    if (!policy) return tl::unexpected(policy.error());  // names --cors or --cors-headers
    c.cors = std::move(*policy);
  }
  return c;
}


}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lab-target: sample HTTP/1.1 server under one of its concurrency models (--model)"};
  options o;
  app.add_option("--model", o.model, "thread-per-request | thread-pool | reactor | coroutine | fiber | io-uring")->required();
  app.add_option("--threads", o.threads,
                 "event loops (reactor, coroutine; fiber: carrier threads), rings (io-uring), workers (thread-pool), or the cap on connection "
                 "threads (thread-per-request, 0 = none); 0 = model default");
  app.add_option("--fiber-stack", o.fiber_stack,
                 "fiber: each connection's stack, 32KiB..64MiB, with a guard page below it [default: 64KiB]");
  // Tests only (hidden): GET /test/overflow overflows its fiber's stack, which must die on the guard page.
  app.add_flag("--test-fiber-overflow", o.fiber_overflow_probe)->group("");
  app.add_option("--listen", o.listen, "HOST:PORT to listen on (port 0: any free port)")->capture_default_str();
  app.add_option("--cpu", o.cpu, "pin to these CPUs (Linux cpulist): 1, 0,1, 0-3 or 0-1,4");
  app.add_option("--max-connections", o.max_connections, "open connections; more are refused with 503")
      ->capture_default_str();
  app.add_option("--header-timeout", o.header_timeout, "a request must arrive within this from its first byte (408)")
      ->capture_default_str();
  app.add_option("--idle-timeout", o.idle_timeout, "close a keep-alive connection idle this long")->capture_default_str();
  app.add_option("--send-timeout", o.send_timeout,
                 "close a connection whose client takes no byte of a response for this long")
      ->capture_default_str();
  app.add_option("--shutdown-timeout", o.shutdown_timeout, "on SIGTERM, time for in-flight requests")
      ->capture_default_str();
  app.add_option("--queue", o.queue, "thread-pool: connections waiting for a worker; more are refused")
      ->capture_default_str();
  app.add_option("--max-body", o.max_body, "request body limit (413 beyond), e.g. 1MiB")->capture_default_str();
  app.add_option("--test-slowdown", o.test_slowdown,
                 "FOR A/B TESTS OF PERFLAB ONLY, never for benchmarks: burn this much CPU in every request, "
                 "e.g. 200us (a deliberately slower build for `loadgen ab`); shown on stderr at start-up and "
                 "in /metrics")
      ->capture_default_str();
  auto& c = o.cache;  // /cache/{key} (docs/targets.md, Cache)
  app.add_option("--cache", c.policy,
                 "lru | lfu | fifo | none (every request goes to the origin) | redis://HOST:PORT (Redis alone)")
      ->capture_default_str();
  app.add_option("--cache-remote", c.remote, "redis://HOST:PORT: Redis behind the local cache (two levels); none: no Redis")
      ->capture_default_str();
  app.add_option("--cache-remote-timeout", c.remote_timeout, "Redis connect and reply timeout; then the origin")
      ->capture_default_str();
  app.add_option("--cache-capacity", c.capacity, "cache entries")->capture_default_str();
  app.add_option("--cache-bytes", c.bytes, "cache byte budget, e.g. 64MiB (0: none)")->capture_default_str();
  app.add_option("--cache-ttl", c.ttl, "entries go stale this long after being stored (0: never)")->capture_default_str();
  app.add_option("--cache-prewarm", c.prewarm, "load keys 0..N-1 (the most popular) before listening")->capture_default_str();
  app.add_option("--cache-coalesce", c.coalesce, "on | off: concurrent misses on a key share one origin call")
      ->capture_default_str();
  app.add_option("--origin-latency", c.origin_latency, "one origin call's wait")->capture_default_str();
  app.add_option("--origin-bytes", c.origin_bytes, "bytes of each origin value")->capture_default_str();
  auto& z = o.encode;  // response compression (docs/targets.md, Compression)
  app.add_option("--gzip-level", z.gzip_level, "gzip responses to clients that accept it: 1 (fastest) .. 9 (smallest); 0: off")
      ->capture_default_str();
  app.add_option("--br-level", z.br_level, "brotli responses to clients that accept br: quality 1 .. 11; 0: off")
      ->capture_default_str();
  app.add_option("--zstd-level", z.zstd_level, "zstd responses to clients that accept zstd: level 1 .. 19; 0: off")
      ->capture_default_str();
  app.add_flag("--gzip-static", z.gzip_static,
               "encode each static body (/bytes, /json, /hello) once per coding and serve the stored bytes");
  app.add_option("--gzip-min-length", z.gzip_min_length, "send bodies shorter than this as they are, e.g. 1KiB")
      ->capture_default_str();
  app.add_option("--gzip-types", z.gzip_types, "media types to compress: comma-separated type/subtype, type/* or *")
      ->capture_default_str();
  targets::add_db_options(app, o.db);
  app.add_option("--rate-limit", o.rate_limit,
                 "ALGO:RATE[,burst=B][,queue=Q][,window=W][,key=ip|header:NAME]: limit every request but "
                 "/metrics and /health (429 with Retry-After), e.g. token-bucket:100/s,burst=10");
  targets::add_upstream_options(app, o.upstream);
  app.add_option("--waiting-room", o.waiting_room,
                 "CAPACITY,max-wait=D[,queue=N]: at most CAPACITY requests in service, the rest wait FIFO up to D "
                 "(X-Queue-Position), then 503 with Retry-After; /metrics and /health bypass it");
  app.add_option("--push", o.push,
                 "KEY=VALUE,...: the topic hub of /publish, /messages, /poll, /events and /ws: history=N (kept per topic, "
                 "default 1024), queue=N (a subscriber further behind is dropped, 1024), topics=N (10000), "
                 "max-message=SIZE (64KiB), heartbeat=D (SSE comment, WebSocket ping, 15s), retry=D (SSE, 1s), max-poll=D (60s)");
  targets::add_contention_options(app, o.contention);
  targets::add_grpc_options(app, o.grpc);
  app.add_option("--fault-profile", o.fault_profile,
                 "FILE|SPEC: faults in every request but /metrics, /health and /admin/*, e.g. "
                 "latency=bimodal:99%:5ms,1%:2s;error=0.1:503;reset=0.01;drip=100B/10ms (docs/targets.md, Faults)");
  targets::add_auth_options(app, o.auth);
  app.add_option("--cors", o.cors,
                 "ORIGINS: answer CORS preflights (204, or 403 without CORS fields) and give these origins "
                 "Access-Control-Allow-Origin: '*' or comma-separated scheme://host[:port] (docs/targets.md, CORS)");
  app.add_option("--cors-headers", o.cors_headers, "request headers a CORS preflight may ask for (comma-separated)")
      ->capture_default_str();
  app.add_option("--cors-max-age", o.cors_max_age, "Access-Control-Max-Age of an allowed preflight, seconds")
      ->capture_default_str();
  app.add_flag("--admin", o.admin, "serve /admin/*: POST /admin/fault with a spec changes the fault profile");
  app.add_option("--link-rate", z.link_rate, "a slow link per connection: the server writes at most this, e.g. 1MB/s")
      ->capture_default_str();
  app.add_option("--link-latency", z.link_latency, "a slow link per connection: one-way delay of the server's output, e.g. 20ms")
      ->capture_default_str();
  // Hidden: exits 0 when --model can run here, else 2 with the reason (the tests skip a model so).
  app.add_flag("--check-model", o.check_model)->group("");
  try {
    app.parse(argc, argv);
    o.db.given = app.count("--db") > 0;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "lab-target: %s\n", e.what());
    return exit_code::usage;
  }
  auto cfg = to_config(o);
  if (!cfg) {
    std::fprintf(stderr, "lab-target: %s\n", cfg.error().c_str());
    return exit_code::usage;
  }
  auto grpc = targets::plan_grpc(o.grpc, *cfg);
  if (!grpc) {
    std::fprintf(stderr, "lab-target: %s\n", grpc.error().c_str());
    return exit_code::usage;
  }
  if (auto why = targets::model_unavailable_reason(cfg->which)) {
    std::fprintf(stderr, "lab-target: %s\n", why->c_str());
    return exit_code::usage;
  }
  if (o.check_model) return exit_code::ok;
  if (cfg->test_slowdown.count() > 0) {
    // Nobody should benchmark this binary unknowingly: say it where the runner keeps our stderr.
    std::fprintf(stderr, "lab-target: WARNING: --test-slowdown %s: every request burns this much CPU on purpose "
                         "(A/B tests of perflab only; this process's numbers are not lab-target's)\n",
                 units::format_duration(cfg->test_slowdown).c_str());
    targets::set_test_slowdown(cfg->test_slowdown);
  }

  targets::raise_fd_limit();
  targets::return_large_blocks_to_os();
  if (auto pinned = targets::pin_to_cpus(cfg->cpus); !pinned) {
    std::fprintf(stderr, "lab-target: --cpu: %s\n", pinned.error().c_str());
    return exit_code::usage;
  }
  // Every thread inherits this mask, so the signals reach only sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<targets::server> srv;
#if PERFLAB_GRPC
  std::unique_ptr<api::grpc_orders_server> grpc_srv;
#endif
  try {
    srv = targets::server::create(*cfg);
    srv->start();
#if PERFLAB_GRPC
    if (grpc->port >= 0)  // after pin_to_cpus: its threads inherit the mask
      grpc_srv = api::grpc_orders_server::start({.host = cfg->listen.host, .port = grpc->port, .threads = grpc->threads});
#endif
  } catch (const db::unavailable& e) {
    std::fprintf(stderr, "lab-target: %s\n", e.what());
    return exit_code::usage;  // a bad --db, found before listening
  } catch (const targets::model_unavailable& e) {
    std::fprintf(stderr, "lab-target: %s\n", e.what());
    return exit_code::usage;  // --model io-uring where io_uring cannot run, found before listening
  } catch (const contention::unavailable& e) {
    std::fprintf(stderr, "lab-target: %s\n", e.what());
    return exit_code::usage;  // --stock-redis unreachable, found before listening
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lab-target: %s\n", e.what());
    return exit_code::runtime_error;
  }
  std::printf("listening http://%s:%u", cfg->listen.host.c_str(), static_cast<unsigned>(srv->port()));
#if PERFLAB_GRPC
  if (grpc_srv) std::printf(" grpc http://%s:%d", cfg->listen.host.c_str(), grpc_srv->port());
#endif
  std::printf("\n");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
#if PERFLAB_GRPC
  if (grpc_srv) grpc_srv->stop(cfg->shutdown_timeout);
#endif
  srv->request_stop();
  if (!srv->wait(cfg->shutdown_timeout)) {
    std::fprintf(stderr, "lab-target: shutdown deadline passed with work in flight; exiting\n");
    std::fflush(stderr);
    _exit(exit_code::ok);  // threads still running hold references to the server
  }
  return exit_code::ok;
}
