// `loadgen subscribe URL --style sse|long-poll|short-poll|ws ...`: push delivery (subscribe.hpp).
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "perflab/core/cpus.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/core/result_io.hpp"
#include "perflab/core/units.hpp"
#include "perflab/loadgen/commands.hpp"
#include "perflab/loadgen/subscribe.hpp"

namespace perflab::loadgen {

namespace {

struct subscribe_options {
  std::string url;
  std::string style = "sse";
  std::string subscribers = "10";
  std::int64_t topics = 1;
  std::string topic_prefix = "t";
  std::string duration = "10s";
  std::string publish_rate = "10/s";
  std::string message_size = "64";
  std::string connect_rate = "0";
  std::string poll_interval = "1s";
  std::string poll_timeout = "30s";
  std::string drain = "5s";
  std::string cpus;
  std::string output;
};

std::string ms(double us) { return fmt::format("{:.3f} ms", us / 1e3); }

std::string format_delivery_summary(const result::variant& v) {
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "subscribe: {} x {} subscribers on {} topics, {} messages/s per topic for {:.1f} s\n", v.load.style,
                 v.load.subscribers, v.load.topics, v.load.publish_rate, v.load.duration_s);
  fmt::format_to(it, "published {}, expected {}, received {}, lost {}, duplicated {}, out of order {}\n", v.published,
                 v.expected, v.received, v.lost, v.duplicated, v.out_of_order);
  fmt::format_to(it, "delivery p50 {}, p90 {}, p99 {}, max {}\n", ms(v.delivery.p50_us), ms(v.delivery.p90_us),
                 ms(v.delivery.p99_us), ms(v.delivery.max_us));
  fmt::format_to(it, "requests {} ({:.3f} per delivered message), bytes in {} ({:.1f} per delivered message)\n", v.sent,
                 v.requests_per_delivered, v.bytes_in, v.bytes_per_delivered);
  fmt::format_to(it, "connections {} (connect p50 {}), reconnects {}, errors {}; loadgen CPU {:.2f} s\n",
                 v.connections_opened, ms(v.connect.p50_us), v.reconnects, v.errors.total(),
                 v.loadgen.cpu_user_s + v.loadgen.cpu_system_s);
  if (v.loadgen.saturated) out.append("PUBLISHER SATURATED: it fell behind its schedule (rates are lower than asked)\n");
  return out;
}

}  // namespace

void add_subscribe_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<subscribe_options>();
  auto* cmd = app.add_subcommand("subscribe", "push delivery: subscribers (SSE, long or short polling) and a built-in publisher");
  cmd->add_option("url", opts->url, "http://HOST:PORT of a lab-target (its topic hub)")->required();
  cmd->add_option("--style", opts->style, "sse | long-poll | short-poll | ws")->capture_default_str();
  cmd->add_option("--subscribers,-n", opts->subscribers, "subscribers held, e.g. 1k")->capture_default_str();
  cmd->add_option("--topics", opts->topics, "topics (subscriber i takes topic i % T)")->capture_default_str();
  cmd->add_option("--topic-prefix", opts->topic_prefix, "topic i is PREFIX<i>")->capture_default_str();
  cmd->add_option("--duration,-d", opts->duration, "publishing phase (measured), e.g. 10s")->capture_default_str();
  cmd->add_option("--publish-rate", opts->publish_rate, "messages per second per topic, e.g. 10/s; 0: no built-in publisher (another process publishes, and what the topics' numbers advance by during the run is expected)")->capture_default_str();
  cmd->add_option("--message-size", opts->message_size, "published body, e.g. 64, 1KiB")->capture_default_str();
  cmd->add_option("--connect-rate", opts->connect_rate, "subscribers opened per second (0: all at once)")->capture_default_str();
  cmd->add_option("--poll-interval", opts->poll_interval, "short-poll: pause after each answer")->capture_default_str();
  cmd->add_option("--poll-timeout", opts->poll_timeout, "long-poll: the timeout each poll asks for")->capture_default_str();
  cmd->add_option("--drain", opts->drain, "longest wait for the last messages after publishing")->capture_default_str();
  cmd->add_option("--cpus", opts->cpus, "pin the loadgen's thread to these CPUs, e.g. 0");
  cmd->add_option("--output,-o", opts->output, "write run.json, subscribe.hlog and subscribe.csv into DIR");

  cmd->callback([opts, &exit_code] {
    auto usage = [&](const std::string& msg) {
      std::fprintf(stderr, "loadgen subscribe: %s\n", msg.c_str());
      exit_code = exit_code::usage;
    };
    const auto& o = *opts;
    subscribe_config cfg;
    cfg.url = o.url;
    if (o.style != "sse" && o.style != "long-poll" && o.style != "short-poll" && o.style != "ws")
      return usage(fmt::format("--style: expected sse, long-poll, short-poll or ws, found '{}'", o.style));
    cfg.style = o.style;
    auto n = units::parse_count(o.subscribers);
    if (!n || *n < 1 || *n > 1e6 || *n != static_cast<double>(static_cast<std::int64_t>(*n)))
      return usage(fmt::format("--subscribers: expected a whole number from 1 to 1M, found '{}'", o.subscribers));
    cfg.subscribers = static_cast<std::int64_t>(*n);
    if (o.topics < 1 || o.topics > 100000) return usage(fmt::format("--topics: expected 1 to 100000, found {}", o.topics));
    cfg.topics = o.topics;
    cfg.topic_prefix = o.topic_prefix;
    auto dur = [&](const char* name, const std::string& text, std::chrono::nanoseconds& out, bool positive) {
      auto d = units::parse_duration(text);
      if (!d || (positive && d->count() <= 0)) {
        usage(fmt::format("{}: expected a duration{}, e.g. 10s, found '{}'", name, positive ? " > 0" : "", text));
        return false;
      }
      out = *d;
      return true;
    };
    if (!dur("--duration", o.duration, cfg.duration, true) || !dur("--poll-interval", o.poll_interval, cfg.poll_interval, false) ||
        !dur("--poll-timeout", o.poll_timeout, cfg.poll_timeout, true) || !dur("--drain", o.drain, cfg.drain, false))
      return;
    auto rate = units::parse_rate(o.publish_rate);
    if (!rate || *rate < 0)
      return usage(fmt::format("--publish-rate: expected a rate, e.g. 10/s (0: an external publisher), found '{}'", o.publish_rate));
    cfg.publish_rate = *rate;
    auto size = units::parse_size(o.message_size);
    if (!size || *size > (1u << 20)) return usage(fmt::format("--message-size: expected a size up to 1MiB, found '{}'", o.message_size));
    cfg.message_bytes = *size;
    auto crate = units::parse_rate(o.connect_rate);
    if (!crate || *crate < 0) return usage(fmt::format("--connect-rate: expected a rate >= 0, e.g. 500/s, found '{}'", o.connect_rate));
    cfg.connect_rate = *crate;
    if (!o.cpus.empty()) {
      auto c = cpus::parse_list(o.cpus);
      if (!c) return usage("--cpus: " + c.error());
      cfg.cpus = *c;
    }
    if (!o.output.empty()) cfg.output_dir = o.output;
    cfg.progress = true;

    const std::string started_at = result::utc_timestamp();
    auto v = run_subscribe(cfg);
    if (!v) {
      std::fprintf(stderr, "loadgen subscribe: %s\n", v.error().c_str());
      exit_code = exit_code::runtime_error;
      return;
    }
    const result::run r = result::single_variant_run(started_at, *v);
    // Verdict: interrupted 6, a publisher behind schedule 5, messages lost, duplicated or out of
    // order (the delivery guarantee broken) 7.
    int rc = exit_code::ok;
    if (!v->complete) rc = exit_code::interrupted;
    else if (v->loadgen.saturated) rc = exit_code::saturated;
    else if (v->lost > 0 || v->duplicated > 0 || v->out_of_order > 0) rc = exit_code::target_failing;
    if (!o.output.empty()) {
      if (auto w = result::write_run_json(std::filesystem::path(o.output) / "run.json", r); !w) {
        std::fprintf(stderr, "loadgen subscribe: %s\n", w.error().c_str());
        rc = exit_code::combine(rc, exit_code::runtime_error);
      }
    }
    const std::string text = format_delivery_summary(*v);
    std::fwrite(text.data(), 1, text.size(), stdout);
    if (!o.output.empty()) std::printf("results: %s\n", o.output.c_str());
    std::fflush(stdout);
    exit_code = rc;
  });
}

}  // namespace perflab::loadgen
