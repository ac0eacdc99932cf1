// One run of a variant, shared by `loadgen run` and `loadgen ab` (variant_executor.hpp). Start-up
// code, not a hot path: it may allocate, format and block; the engine does the measuring.
#include "variant_executor.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <ostream>
#include <thread>

#include <fmt/format.h>

#include "perflab/core/exit_codes.hpp"
#include "perflab/core/result_io.hpp"
#include "perflab/core/units.hpp"
#include "perflab/core/verdict.hpp"
#include "perflab/loadgen/engine.hpp"
#include "perflab/loadgen/grpc.hpp"
#include "perflab/loadgen/runner.hpp"
#include "perflab/loadgen/spawn.hpp"
#include "perflab/loadgen/thresholds.hpp"
#include "dependencies.hpp"
#include "distributed.hpp"
#include "search_runner.hpp"
#include "target_sampler.hpp"
#include "timed_events.hpp"

namespace perflab::loadgen::detail {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string join_cpus(const std::vector<int>& cpus) {
  std::string s;
  for (int c : cpus) {
    if (!s.empty()) s += ',';
    s += std::to_string(c);
  }
  return s;
}

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

// The load model as run.json records it, for variants the engine never ran (target did not start).
result::load_model to_load_model(const run_config& c) {
  result::load_model m;
  m.kind = c.kind;
  m.arrival = c.kind == "open" ? c.arrival : "";
  m.rate = c.rate;
  m.stages = c.stages;
  m.connections = c.connections;
  m.think_time_s = seconds(c.think_time);
  m.duration_s = seconds(c.duration);
  m.warmup_s = seconds(c.warmup);
  m.max_requests = c.max_requests;
  m.keepalive = c.keepalive == keepalive_policy::keep_alive       ? "keep-alive"
                : c.keepalive == keepalive_policy::new_connection ? "new-connection"
                                                                  : fmt::format("max:{}", c.max_requests_per_connection);
  m.connect_timeout_s = seconds(c.connect_timeout);
  m.request_timeout_s = seconds(c.request_timeout);
  m.threads = c.threads;
  m.cpus = c.cpus;
  m.retry = c.retry.describe();
  if (auto g = grpc_method_of(c.requests)) m.grpc = *g;
  return m;
}

// Last lines of a log file, for start-up failure messages.
std::string log_tail(const fs::path& file, std::size_t lines = 5) {
  std::ifstream in(file);
  std::deque<std::string> tail;
  for (std::string l; std::getline(in, l);) {
    tail.push_back(l);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string s;
  for (const auto& l : tail) s += (s.empty() ? "" : " | ") + l;
  return s;
}

// [report] metrics: the measured target's /metrics, read once (nullopt when it does not answer 200).
std::optional<std::string> read_metrics(const std::string& url) {
  const auto hp = split_url(url);
  if (!hp || url.empty()) return std::nullopt;
  auto r = http_request(hp->first, hp->second, "GET", "/metrics", "", 2s);
  if (!r || r->status != 200) return std::nullopt;
  return std::move(r->body);
}

std::vector<result::counter_delta> counter_deltas(const std::vector<std::string>& metrics,
                                                  const std::optional<std::string>& before,
                                                  const std::optional<std::string>& after) {
  std::vector<result::counter_delta> out;
  for (const auto& m : metrics) {
    result::counter_delta c;
    c.metric = m;
    const auto b = before ? metric_sum(*before, m) : std::nullopt;
    const auto a = after ? metric_sum(*after, m) : std::nullopt;
    // A counter first written during the run (a labelled series appears at its first event) was 0 before.
    if (a) {
      c.found = true;
      c.before = b.value_or(0);
      c.after = *a;
      c.delta = c.after - c.before;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string file_system_safe(const std::string& s) {
  std::string o;
  for (char c : s) o += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return o;
}

}  // namespace

tl::expected<void, std::string> start_target(const fs::path& bin, const target_spec& t, const fs::path& log,
                                             std::optional<child_process>& child, std::string& url,
                                             std::string* grpc_url) {
  spawn_options so;
  so.program = bin;
  so.args = {"--model", t.model, "--listen", "127.0.0.1:0"};
  // A gRPC load: Orders.Get on a free port unless the scenario chose one (target.grpc-port).
  if (grpc_url && !t.params.count("grpc-port")) so.args.push_back("--grpc-port=any");
  if (t.admin) so.args.push_back("--admin");  // a [[fault]] is sent to it
  if (t.threads > 0) so.args.insert(so.args.end(), {"--threads", std::to_string(t.threads)});
  if (!t.cpus.empty()) so.args.insert(so.args.end(), {"--cpu", join_cpus(t.cpus)});
  for (const auto& [k, v] : t.params) so.args.push_back(fmt::format("--{}={}", k, v));
  so.cpus = t.cpus;
  so.log_file = log;
  auto c = child_process::spawn(so);
  if (!c) return tl::unexpected(c.error());
  child.emplace(std::move(*c));
  const auto deadline = std::chrono::steady_clock::now() + t.start_timeout;
  auto line = child->read_first_line(t.start_timeout);
  if (!line) return tl::unexpected("lab-target " + line.error());
  auto addr = parse_listening_line(*line);
  if (!addr) return tl::unexpected("lab-target printed \"" + *line + "\" (expected \"listening http://HOST:PORT\")");
  url = addr->url();
  if (grpc_url) {
    if (addr->grpc_port == 0)
      return tl::unexpected("lab-target printed \"" + *line + "\" without a gRPC address (the load is gRPC calls: "
                            "expected \"... grpc http://HOST:PORT\"; is target.grpc-port 0?)");
    *grpc_url = addr->grpc_url();
  }
  // Health: poll until 2xx; a target that dies or never answers is a start-up failure.
  std::string last_problem = "no answer";
  while (std::chrono::steady_clock::now() < deadline) {
    if (child->poll_exit()) return tl::unexpected(std::string("lab-target exited during start-up"));
    auto left = deadline - std::chrono::steady_clock::now();
    auto st = http_probe(addr->host, addr->port, t.health_path, std::min<std::chrono::nanoseconds>(left, 1s));
    if (st && *st >= 200 && *st < 300) return {};
    last_problem = st ? fmt::format("status {}", *st) : st.error();
    std::this_thread::sleep_for(20ms);
  }
  return tl::unexpected(fmt::format("health check GET {} did not succeed within {} ({})", t.health_path,
                                    units::format_duration(t.start_timeout), last_problem));
}

tl::expected<fs::path, std::string> create_run_dir(const fs::path& root, const std::string& name) {
  const std::string base = result::utc_folder_stamp() + "-" + file_system_safe(name);
  fs::path dir = root / base;
  for (int n = 2; fs::exists(dir); ++n) dir = root / (base + "-" + std::to_string(n));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return tl::unexpected(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  return dir;
}

result::run new_run(const scenario& sc, const fs::path& scenario_file) {
  result::run r;
  r.tool = result::this_tool();
  r.host = result::detect_host();
  r.started_at = result::utc_timestamp();
  r.scenario_name = sc.name;
  r.scenario_path = scenario_file.string();
  r.scenario_text = sc.text;
  r.overrides = sc.overrides;
  r.complete = false;  // until the last variant is done
  return r;
}

std::set<std::string> target_options(const fs::path& bin) {
  std::set<std::string> opts;
  std::string cmd = "'" + bin.string() + "' --help 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return opts;
  std::string text;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) text.append(buf, n);
  ::pclose(p);
  for (std::size_t i = text.find("--"); i != std::string::npos; i = text.find("--", i + 2)) {
    std::size_t j = i + 2;
    while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '-' || text[j] == '_')) ++j;
    if (j > i + 2) opts.insert(text.substr(i + 2, j - i - 2));
  }
  if (!opts.count("model")) opts.clear();  // not the help we expected: do not guess
  return opts;
}

int prepare_variants(std::vector<variant_spec>& variants, const fs::path& scenario_file,
                     const std::set<std::string>& known, const fs::path& bin, const std::string& who,
                     std::ostream& err) {
  const std::vector<int> allowed = allowed_cpus();
  auto is_allowed = [&](int c) { return std::find(allowed.begin(), allowed.end(), c) != allowed.end(); };
  for (auto& v : variants) {
    std::vector<const target_spec*> spawned = {&v.target};
    for (const auto& d : v.dependencies) spawned.push_back(&d);
    for (const target_spec* t : spawned) {
      for (const auto& [key, where] : t->param_where) {
        if (t->spawn && !known.empty() && !known.count(key)) {
          err << fmt::format("{}: {}: unknown target option '{}' ({} does not accept --{}; see `{} --help`)\n", who,
                             where, key, bin.string(), key, bin.string());
          return exit_code::usage;
        }
      }
    }
    for (const auto* list : {&v.target.cpus, &v.load.cpus}) {
      for (int c : *list) {
        if (!is_allowed(c)) {
          err << fmt::format("{}: {}: {}: CPU {} is not available here (usable CPUs: {})\n", who,
                             scenario_file.string(), list == &v.load.cpus ? "load.cpu" : "target.cpu", c,
                             join_cpus(allowed));
          return exit_code::usage;
        }
      }
    }
    // Default pinning keeps the target and the loadgen off each other's cores: with 2 CPUs
    // the loadgen gets CPU 0 and the target CPU 1 (more CPUs: lower half / upper half).
    if (v.target.spawn && allowed.size() >= 2) {
      auto rest = [&](const std::vector<int>& taken) {
        std::vector<int> r;
        for (int c : allowed)
          if (std::find(taken.begin(), taken.end(), c) == taken.end()) r.push_back(c);
        return r;
      };
      const std::size_t half = allowed.size() / 2;
      if (!v.target.cpus_given) {
        v.target.cpus = v.loadgen_cpus_given ? rest(v.load.cpus)
                                             : std::vector<int>(allowed.begin() + static_cast<std::ptrdiff_t>(half), allowed.end());
      }
      // Empty when every CPU went to the target: the loadgen is then not pinned.
      if (!v.loadgen_cpus_given) v.load.cpus = rest(v.target.cpus);
    }
    // Dependencies share the measured target's CPUs unless they name their own.
    for (auto& d : v.dependencies) {
      if (!d.spawn) continue;
      if (!d.cpus_given) d.cpus = v.target.cpus;
      for (int c : d.cpus) {
        if (!is_allowed(c)) {
          err << fmt::format("{}: {}: target.cpu of [[target]] \"{}\": CPU {} is not available here (usable CPUs: {})\n",
                             who, scenario_file.string(), d.name, c, join_cpus(allowed));
          return exit_code::usage;
        }
      }
    }
  }
  return exit_code::ok;
}

variant_executor::variant_executor(fs::path target_bin, fs::path dir, bool progress, std::ostream& out,
                                   std::ostream& err)
    : target_bin_(std::move(target_bin)), dir_(std::move(dir)), progress_(progress), out_(out), err_(err) {}

variant_outcome variant_executor::run(const variant_spec& spec, int repeat, const std::string& prefix) {
  variant_outcome vo;
  run_config cfg = spec.load;
  cfg.stop_check = stop_check_of(spec.stop_when);  // thresholds.hpp: [load] stop_when
  cfg.output_dir = dir_;
  cfg.file_prefix = prefix;
  cfg.progress = progress_;

  // Named [[target]]s first: the measured target's options may hold their URLs (dependencies.hpp).
  dependency_set deps;
  std::string failure;  // target start-up failure
  if (!spec.dependencies.empty()) {
    if (auto started = deps.start(spec.dependencies, target_bin_, dir_, prefix); !started) failure = started.error();
  }
  const target_spec main_target = with_urls(spec.target, deps.urls());
  std::map<std::string, std::int64_t> dep_requests;  // requests each answered in the measured phase
  std::vector<result::timed_event> events;           // [[fault]] and [[action]] as they happened
  std::vector<result::metric_series> target_metrics; // each target's /metrics, per second of the phase
  std::vector<result::counter_delta> counters;       // [report] metrics: their change over the run

  result::target_info ti;
  ti.spawned = spec.target.spawn;
  ti.model = spec.target.model;
  ti.params = main_target.params;
  if (spec.target.threads > 0) ti.params["threads"] = std::to_string(spec.target.threads);
  ti.cpus = spec.target.cpus;

  std::optional<child_process> child;
  process_sample start_sample;
  const bool grpc_load =
      std::any_of(cfg.requests.begin(), cfg.requests.end(), [](const request_spec& r) { return !r.grpc.empty(); });
  std::string grpc_url;  // a spawned target's gRPC address (the load's URL then)
  if (!failure.empty()) {
    // a dependency did not start: the measured target is not started either
  } else if (spec.target.spawn) {
    fs::path log = dir_ / (prefix + ".target.log");
    auto started = start_target(target_bin_, main_target, log, child, ti.url, grpc_load ? &grpc_url : nullptr);
    if (!started) {
      failure = started.error();
      ti.crashed = true;
      ti.exit_status = child ? child->stop(spec.target.stop_timeout).text() : "not started";
      if (child) failure += fmt::format(" ({})", ti.exit_status);
      std::string tail = log_tail(log);
      if (!tail.empty()) failure += "; target log: " + tail;
      child.reset();
    } else if (auto s = child->sample()) {
      start_sample = *s;
    }
  } else {
    ti.url = spec.target.url;
  }
  // An external target with a pid_file: its CPU over the measured phase, read from /proc as a
  // spawned target's is, summed over the process and its descendants (a supervisor's or master's
  // pid covers its workers); its peak RSS is the processes' own since they started, not this
  // variant's.
  std::optional<pid_t> external_pid;
  if (!spec.target.spawn && !spec.target.pid_file.empty()) {
    external_pid = read_pid_file(spec.target.pid_file);
    if (!external_pid)
      err_ << "  target.pid_file '" << spec.target.pid_file << "' names no running process: its CPU is not sampled\n";
  }

  if (!failure.empty()) {
    err_ << "  target failed to start: " << failure << "\n";
    vo.v.load = to_load_model(cfg);
    vo.v.complete = false;
    vo.v.incomplete_reason = "target failed to start: " + failure;
    vo.exit_code = exit_code::runtime_error;
  } else {
    cfg.url = grpc_load && spec.target.spawn ? grpc_url : ti.url;  // gRPC: lab-target's gRPC port
    // Watches the target while the engine runs: a dead target stops the load early (what was
    // measured so far is kept) instead of counting refused connections until the end.
    std::atomic<bool> done{false};
    std::atomic<bool> died{false};
    std::mutex mu;
    process_sample last = start_sample;
    // Threads peak while connections are open; after the drain a thread-per-request target is
    // back to its idle count, so the peak seen during the run is what the run cost.
    std::int64_t peak_threads = start_sample.threads;
    std::optional<exit_info> death;
    std::thread monitor;
    if (child) {
      monitor = std::thread([&] {
        while (!done.load()) {
          if (auto e = child->poll_exit()) {
            std::lock_guard lk(mu);
            death = e;
            died.store(true);
            interrupt_flag().store(true);
            return;
          }
          if (auto s = child->sample()) {
            std::lock_guard lk(mu);
            last = *s;
            peak_threads = std::max(peak_threads, s->threads);
          }
          std::this_thread::sleep_for(50ms);
        }
      });
    }
    // The target's CPU over the measured phase alone: sampled at its boundaries, so neither
    // the warm-up nor the drain is charged to the requests the phase served.
    std::optional<process_sample> at_start, at_end;
    if (child) {
      cfg.on_measure_start = [&] { at_start = child->sample(true); };
      cfg.on_measure_end = [&] { at_end = child->sample(true); };
    } else if (external_pid) {
      cfg.on_measure_start = [&] { at_start = sample_process_tree(*external_pid, true); };
      cfg.on_measure_end = [&] { at_end = sample_process_tree(*external_pid, true); };
    }
    // [[fault]] and [[action]] during the measured phase, and the request counters at its ends
    // (timed_events.hpp): only in runs with dependencies or a schedule.
    // target_sampler.hpp: each target's /metrics once a second (breaker state, requests/s, a
    // database pool's waiters, an outbox's counts): in those runs, and in a spawned target's with
    // a database or an outbox.
    std::optional<event_scheduler> sched;
    std::optional<target_sampler> sampler;
    const bool with_deps = !spec.dependencies.empty() || !spec.schedule.empty();
    if (with_deps ||
        (spec.target.spawn && (main_target.params.count("db") > 0 || main_target.params.count("outbox-db") > 0))) {
      auto urls = deps.urls();
      urls[""] = ti.url;
      if (with_deps) sched.emplace(spec.schedule, urls, true);
      sampler.emplace(urls);
      cfg.on_measure_start = [&, before = cfg.on_measure_start] {
        if (before) before();
        if (sched) {
          deps.sample_start();
          sched->measure_started();
        }
        sampler->measure_started();
      };
      cfg.on_measure_end = [&, before = cfg.on_measure_end] {
        if (before) before();
        if (sched) {
          deps.sample_end();
          sched->measure_ended();
        }
        sampler->measure_ended();
      };
    }
    // [report] metrics: read before the load and after its drain, so every request's effect is in
    // the change (warm-up included).
    std::optional<std::string> metrics_before;
    if (!spec.report_metrics.empty()) metrics_before = read_metrics(ti.url);
    const bool interrupted_before = interrupt_flag().load();
    tl::expected<result::variant, std::string> res;
    if (spec.subscribe) {  // a push run: subscribers and the built-in publisher (subscribe.hpp)
      subscribe_config sc = *spec.subscribe;
      sc.url = ti.url;
      sc.output_dir = dir_;
      sc.file_prefix = prefix;
      sc.progress = progress_;
      sc.cpus = cfg.cpus;
      sc.on_measure_start = cfg.on_measure_start;
      sc.on_measure_end = cfg.on_measure_end;
      res = link_ == nullptr ? run_subscribe(sc)
                             : tl::unexpected(std::string("a subscribe load runs in one process (not under mpirun)"));
    } else if (link_ == nullptr) {
      res = run_load(cfg);
    } else if (rank_lost_) {
      res = tl::unexpected(std::string("a rank was lost in an earlier load run of this job: no more load runs"));
    } else if (interrupt_signals() > 0) {
      // mpirun is ending the job: the other ranks may be gone, and the start would wait for them.
      res = tl::unexpected(std::string("stopped by a signal before this load run started"));
    } else if (auto split = check_rank_split(cfg, link_->ranks()); !split) {
      res = tl::unexpected(split.error());  // nothing broadcast: the other ranks wait for the next run
    } else {
      // The other ranks run their share of the same configuration (follow_runs); the result
      // keeps the run's --requests, not rank 0's share.
      link_->broadcast_work(encode_run_config(cfg));
      run_config mine = rank_share_config(cfg, 0, link_->ranks());
      mine.link = link_;
      res = run_load(mine);
      if (!res) {
        err_ << "  load engine error: " << res.error() << "\n";
        link_->abort_all(exit_code::runtime_error);  // the other ranks would wait for rank 0 forever
      }
      res->load.max_requests = cfg.max_requests;
      for (const auto& r : res->ranks) rank_lost_ = rank_lost_ || r.lost;
    }
    done.store(true);
    if (monitor.joinable()) monitor.join();
    if (sched) {  // before the targets stop: faults are put back and counters read while they run
      sched->finish();
      events = sched->events();
      ti.requests = sched->requests("");
      for (const auto& d : spec.dependencies) dep_requests[d.name] = sched->requests(d.name);
    }
    if (sampler) {
      sampler->finish();  // joined: its points are complete and visible here
      target_metrics = sampler->series();
    }
    if (!spec.report_metrics.empty())
      counters = counter_deltas(spec.report_metrics, metrics_before,
                                died.load() ? std::nullopt : read_metrics(ti.url));
    if (died.load() && !interrupted_before) interrupt_flag().store(false);  // our stop, not the user's

    if (res) {
      vo.v = std::move(*res);
    } else {
      vo.v.load = to_load_model(cfg);
      vo.v.complete = false;
      vo.v.incomplete_reason = "load engine: " + res.error();
      err_ << "  load engine error: " << res.error() << "\n";
      vo.exit_code = exit_code::runtime_error;
    }
    if (!res || vo.v.load.cpus.empty()) vo.v.load.cpus = cfg.cpus;
    if (child) {
      if (!died.load()) {
        if (auto s = child->sample()) last = *s;
      }
      exit_info e = died.load() ? *death : child->stop(spec.target.stop_timeout);
      if (died.load()) child->stop(spec.target.stop_timeout);  // reap
      const struct rusage& ru = child->usage();
      double ru_user = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
      double ru_sys = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
      if (at_start && at_end) {
        // Exact from the threads' own times when they cover it, else whole ticks (spawn.hpp).
        const auto spent = cpu_delta(*at_start, *at_end);
        ti.cpu_user_s = spent.user_s;
        ti.cpu_system_s = spent.system_s;
      } else {
        // No phase boundaries (the target died, or the run stopped in the warm-up): /proc
        // before stopping excludes the shutdown; a dead target only has its rusage left.
        bool have_last = !died.load() && last.peak_rss_bytes > 0;
        const process_sample& from = at_start ? *at_start : start_sample;
        ti.cpu_user_s = std::max(0.0, (have_last ? last.cpu_user_s : ru_user) - from.cpu_user_s);
        ti.cpu_system_s = std::max(0.0, (have_last ? last.cpu_system_s : ru_sys) - from.cpu_system_s);
      }
      // Peak RSS is the target's own high-water mark (VmHWM), sampled every 50 ms and once
      // more before the stop. Never rusage's ru_maxrss: the kernel folds into it the RSS of the
      // forked child before its exec, which is the loadgen's own memory at that moment (a
      // reactor read 11 MiB instead of 4.7 MiB on the third variant of a run).
      ti.peak_rss_bytes = last.peak_rss_bytes;
      ti.threads = std::max(peak_threads, last.threads);
      ti.exit_status = e.text();
      if (died.load()) {
        ti.crashed = true;
        vo.v.complete = false;
        vo.v.incomplete_reason = "target died during the run: " + e.text();
        std::string tail = log_tail(dir_ / (prefix + ".target.log"));
        err_ << "  target died during the run: " << e.text() << (tail.empty() ? "" : "; target log: " + tail) << "\n";
        vo.exit_code = exit_code::runtime_error;
      } else if (!e.success()) {
        err_ << "  target did not stop cleanly: " << e.text() << "\n";
      }
    }
    if (external_pid && at_start && at_end) {
      const auto spent = cpu_delta(*at_start, *at_end);
      ti.cpu_user_s = spent.user_s;
      ti.cpu_system_s = spent.system_s;
      ti.peak_rss_bytes = at_end->peak_rss_bytes;
      ti.threads = at_end->threads;
    }
    if (!died.load() && interrupt_flag().load()) vo.interrupted = true;
    if (vo.interrupted && vo.v.complete) {
      vo.v.complete = false;
      vo.v.incomplete_reason = "interrupted";
    }
  }

  if (!spec.dependencies.empty()) {
    vo.v.dependencies = deps.stop();
    for (auto& d : vo.v.dependencies)
      if (auto it = dep_requests.find(d.name); it != dep_requests.end()) d.requests = it->second;
  }
  vo.v.events = std::move(events);
  vo.v.target_metrics = std::move(target_metrics);
  vo.v.target_counters = std::move(counters);
  vo.v.name = spec.name;
  vo.v.params = spec.params;
  vo.v.repeat = repeat;
  vo.v.target = ti;
  vo.v.loadgen.send_lag_bound_us = cfg.send_lag_bound_us;
  vo.v.load.success = cfg.success;
  vo.v.load.max_error_rate = cfg.max_error_rate;
  vo.v.thresholds = evaluate_thresholds(spec.thresholds, vo.v);
  record_stop_conditions(spec.stop_when, vo.v);
  // One verdict for the row's status word and its exit code (core/verdict.hpp).
  vo.exit_code = exit_code::combine(vo.exit_code, result::exit_code_of(vo.v));
  if (vo.interrupted) vo.exit_code = exit_code::combine(vo.exit_code, exit_code::interrupted);
  if (vo.v.interval_log.empty() && fs::exists(dir_ / (prefix + ".hlog"))) vo.v.interval_log = prefix + ".hlog";
  if (vo.v.series_csv.empty() && fs::exists(dir_ / (prefix + ".csv"))) vo.v.series_csv = prefix + ".csv";
  return vo;
}

variant_outcome variant_executor::run_search(const variant_spec& spec, int repeat, const std::string& prefix,
                                             result::search_result& search, const std::function<void()>& on_step) {
  auto so = ::perflab::loadgen::detail::run_search(
      spec, repeat, prefix,
      [&](const variant_spec& step, const std::string& step_prefix) {
        variant_outcome s = run(step, repeat, step_prefix);
        return step_run{std::move(s.v), s.interrupted};
      },
      [&](const result::search_result& so_far) {
        search = so_far;
        on_step();
      },
      out_);
  search = std::move(so.search);
  variant_outcome vo;
  vo.v = std::move(so.representative);
  vo.interrupted = so.interrupted;
  // The search's verdict is its representative's (core/verdict.hpp): a capacity found exits 0,
  // a search limited by the loadgen 5, one whose objective failed at the low end 3 (or 7).
  vo.exit_code = result::exit_code_of(vo.v);
  if (vo.interrupted) vo.exit_code = exit_code::combine(vo.exit_code, exit_code::interrupted);
  return vo;
}

namespace {
std::string target_cost_text(const result::variant& v);
std::string request_line_text(const result::variant& v);
}  // namespace

void variant_executor::print(const result::variant& v) {
  const double ms = 1e-3;
  std::string line;
  if (v.load.kind == "subscribe") {  // a push run: deliveries, not responses
    line = fmt::format(
        "  delivered {:.1f}/s, delivery p50 {:.3f} ms p99 {:.3f} ms; expected {}, received {}, lost {}, duplicated {}, "
        "out of order {}, reconnects {}; {:.3f} requests and {:.0f} B per delivered message",
        v.measured_s > 0 ? static_cast<double>(v.received) / v.measured_s : 0.0, v.delivery.p50_us * ms,
        v.delivery.p99_us * ms, v.expected, v.received, v.lost, v.duplicated, v.out_of_order, v.reconnects,
        v.requests_per_delivered, v.bytes_per_delivered);
    line += target_cost_text(v);
    if (v.loadgen.saturated) line += "; PUBLISHER SATURATED (it fell behind its schedule: fewer messages than asked)";
  } else {
    line = request_line_text(v);
  }
  if (!v.complete) line += "; INCOMPLETE: " + v.incomplete_reason;
  out_ << line << "\n";
  for (const auto& t : v.thresholds)
    out_ << fmt::format("    {} {} (actual {:.6g}, limit {:.6g})\n", t.passed ? "pass" : "FAIL", t.expression,
                        t.actual, t.limit);
  out_.flush();
}

namespace {

// The target's cost in a variant's one-line summary (spawned targets only).
std::string target_cost_text(const result::variant& v) {
  if (!v.target.spawned) return {};
  return fmt::format("; target {:.2f} s CPU, {} peak RSS, {} threads", v.target.cpu_user_s + v.target.cpu_system_s,
                     units::format_size(static_cast<std::uint64_t>(v.target.peak_rss_bytes)), v.target.threads);
}

// A request/response variant's one-line summary.
std::string request_line_text(const result::variant& v) {
  const double ms = 1e-3;
  std::string line = fmt::format("  goodput {:.1f}/s", v.tps_mean);
  if (std::abs(v.rps_mean - v.tps_mean) > 0.05) line += fmt::format(" (all responses {:.1f}/s)", v.rps_mean);
  line += fmt::format(", ttfb p50 {:.3f} ms p99 {:.3f} ms, ttlb p50 {:.3f} ms p99 {:.3f} ms, errors {}",
                      v.ttfb.p50_us * ms, v.ttfb.p99_us * ms, v.ttlb.p50_us * ms, v.ttlb.p99_us * ms,
                      v.errors.total());
  if (v.errors.total() + v.abandoned > 0) line += fmt::format(" ({:.2f}%)", v.error_rate * 100);
  if (v.bytes_in > 0)
    line += fmt::format(", wire in {:.2f} MB/s out {:.2f} MB/s ({:.0f} B/response)", v.mb_in_per_s, v.mb_out_per_s,
                        v.bytes_per_response);
  if (v.abandoned > 0) line += fmt::format(", {} never answered", v.abandoned);
  if (v.retries > 0) line += fmt::format(" ({} stale keep-alive retries)", v.retries);
  if (!v.load.retry.empty())
    line += fmt::format(", attempts {:.1f}/s ({} retries: {} then succeeded, {} exhausted)",
                        v.measured_s > 0 ? static_cast<double>(v.attempts) / v.measured_s : 0.0, v.client_retries,
                        v.retried_succeeded, v.retries_exhausted);
  if (v.cache.total() > 0)
    line += fmt::format(", cache hit ratio {:.3f} ({} hit, {} miss, {} stale)", v.cache_hit_ratio, v.cache.hit,
                        v.cache.miss, v.cache.stale);
  line += target_cost_text(v);
  for (const auto& c : v.target_counters)
    line += c.found ? fmt::format("; {} {:+.0f}", c.metric, c.delta) : fmt::format("; {} not found", c.metric);
  if (v.stalled > 0)
    line += fmt::format("; STALLED: {} requests sent in the warm-up got no answer in the whole measured phase",
                        v.stalled);
  if (result::error_rate_exceeded(v))
    line += fmt::format("; ERRORS: error rate {:.2f}% over the bound {:.2f}%", v.error_rate * 100,
                        v.load.max_error_rate * 100);
  if (v.loadgen.saturated) line += "; LOADGEN SATURATED (schedule not kept or loadgen out of resources: numbers suspect)";
  if (v.stopped_early) line += "; STOPPED EARLY: " + v.stop_condition;
  return line;
}

}  // namespace

}  // namespace perflab::loadgen::detail
