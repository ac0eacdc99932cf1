#pragma once
// lab-target's gRPC options (--grpc-port, --grpc-threads; docs/targets.md, gRPC), kept out of
// main.cpp. Orders.Get runs on grpc++'s own HTTP/2 server beside the --model serving HTTP/1.1
// (perflab/api/grpc_server.hpp). Only lab-target includes this; PERFLAB_GRPC is defined on it when
// the build found grpc++ and protoc.
#include <charconv>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <tl/expected.hpp>

#include <perflab/targets/config.hpp>
#if PERFLAB_GRPC
#include <perflab/api/grpc_server.hpp>
#endif

namespace perflab::targets {

struct grpc_options {
  std::string port = "0";  // "0": off; "any": a free port; else 1..65535
  unsigned threads = 0;    // 0: the model's thread count (see grpc_threads)
};

// What to start: port -1 means off.
struct grpc_plan {
  int port = -1;
  unsigned threads = 0;
};

inline void add_grpc_options(CLI::App& app, grpc_options& g) {
  app.add_option("--grpc-port", g.port,
                 "serve gRPC Orders.Get (targets/api/orders.proto) on grpc++'s own HTTP/2 server on this port of "
                 "--listen's host: 0 off, any: a free port (printed after the HTTP address)")
      ->capture_default_str();
  app.add_option("--grpc-threads", g.threads,
                 "gRPC handler threads, one completion queue each (0: the event loops' count; one per usable CPU "
                 "under thread-pool and thread-per-request)")
      ->capture_default_str();
}

// The threads by default: an event-loop model's loops; the thread models' counts (64 pool workers,
// or none) mean blocking threads, which a completion queue does not need, so one per usable CPU.
inline unsigned grpc_default_threads(const server_config& c) {
  if (c.which == model::thread_pool || c.which == model::thread_per_request) return usable_cpus(c);
  return effective_threads(c);
}

inline tl::expected<grpc_plan, std::string> plan_grpc(const grpc_options& g, const server_config& c) {
  grpc_plan p;
  if (g.port == "0") return p;
  if (g.port == "any") {
    p.port = 0;
  } else {
    int v = 0;
    const auto [end, ec] = std::from_chars(g.port.data(), g.port.data() + g.port.size(), v);
    if (ec != std::errc() || end != g.port.data() + g.port.size() || v < 1 || v > 65535)
      return tl::unexpected("--grpc-port: expected 0 (off), any or a port 1..65535, got '" + g.port + "'");
    p.port = v;
  }
#if !PERFLAB_GRPC
  (void)c;
  return tl::unexpected(std::string("--grpc-port: this lab-target was built without gRPC (install libgrpc++-dev, "
                                    "protobuf-compiler-grpc, libprotobuf-dev and protobuf-compiler, then configure again)"));
#else
  p.threads = g.threads > 0 ? g.threads : grpc_default_threads(c);
  if (p.threads > 1024) return tl::unexpected("--grpc-threads: at most 1024, got " + std::to_string(p.threads));
  return p;
#endif
}

}  // namespace perflab::targets
