// run_load: one load run from a run_config to a result::variant. Starts the workers (one thread
// each, pinned when asked), merges their seconds as they hand them over (interval_merger in
// engine_collect.cpp writes the interval log, the per-second CSV and the series), samples CPU at
// the measured phase's boundaries, and builds the result. The workers (engine_asio.cpp,
// engine_curl.cpp) do the measuring.
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <thread>

#include <utility>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#pragma GCC diagnostic pop
#include <fmt/format.h>

#include "distributed.hpp"
#include "engine_collect.hpp"
#include "engine_curl.hpp"
#include "engine_internal.hpp"
#include "perflab/core/clock.hpp"
#include "perflab/core/cpus.hpp"
#include "perflab/core/hdr_log.hpp"
#include "perflab/core/result_io.hpp"
#include "perflab/core/units.hpp"
#include "perflab/loadgen/grpc.hpp"

namespace perflab::loadgen {

std::atomic<bool>& interrupt_flag() noexcept {
  static std::atomic<bool> flag{false};
  return flag;
}

namespace {

std::atomic<int> signals_noted{0};
// Steady ns of the last SIGCONT and of the first stop signal (0: none yet).
std::atomic<std::int64_t> continued_at_ns{0}, first_stop_at_ns{0};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free &&
                  std::atomic<std::int64_t>::is_always_lock_free,
              "used from signal handlers");

// clock_gettime is async-signal-safe (steady_clock is documented in terms of it, but not as such).
std::int64_t signal_clock_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

int note_interrupt_signal() noexcept {
  const int n = signals_noted.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n == 1) first_stop_at_ns.store(signal_clock_ns(), std::memory_order_relaxed);
  interrupt_flag().store(true);
  return n;
}

void note_continue_signal() noexcept { continued_at_ns.store(signal_clock_ns(), std::memory_order_relaxed); }

bool stop_follows_continue(std::int64_t within_ns) noexcept {
  const std::int64_t cont = continued_at_ns.load(std::memory_order_relaxed);
  const std::int64_t stop = first_stop_at_ns.load(std::memory_order_relaxed);
  return cont > 0 && stop >= cont && stop - cont <= within_ns;
}

int interrupt_signals() noexcept { return signals_noted.load(std::memory_order_relaxed); }

namespace detail {

std::int64_t shared_setup::drain_after_stop_ns(bool in_warmup, bool interrupted) const noexcept {
  if (in_warmup) return 0;
  const std::int64_t drain = cfg->drain_timeout.count();
  // Only a signal shortens it: a spawned target that died interrupts the run too (variant_executor).
  return interrupted && interrupt_signals() > 0 ? std::min(drain, signal_drain_ns) : drain;
}

}  // namespace detail

namespace {

using namespace detail;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

std::int64_t fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 65536;
  return static_cast<std::int64_t>(rl.rlim_cur);
}

struct cpu_times {
  double user_s = 0, system_s = 0;
};
cpu_times process_cpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return {static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6,
          static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6};
}

std::string keepalive_name(const run_config& cfg) {
  switch (cfg.keepalive) {
    case keepalive_policy::keep_alive: return "keep-alive";
    case keepalive_policy::new_connection: return "new-connection";
    case keepalive_policy::max_requests: return fmt::format("max:{}", cfg.max_requests_per_connection);
  }
  return "keep-alive";
}

tl::expected<void, std::string> validate(const run_config& cfg) {
  if (cfg.kind != "open" && cfg.kind != "closed")
    return tl::unexpected(fmt::format("load kind '{}' (accepted: open, closed)", cfg.kind));
  if (cfg.arrival != "constant" && cfg.arrival != "poisson")
    return tl::unexpected(fmt::format("arrival '{}' (accepted: constant, poisson)", cfg.arrival));
  if (cfg.kind == "open") {
    bool any_rate = cfg.rate > 0;
    for (const auto& st : cfg.stages) {
      if (st.duration_s < 0 || st.target_rate < 0 || !std::isfinite(st.target_rate))
        return tl::unexpected(std::string("stages need a duration >= 0 and a target rate >= 0"));
      any_rate = any_rate || st.target_rate > 0;
    }
    if (!any_rate || cfg.rate < 0) return tl::unexpected(std::string("open loop needs a rate > 0 (or a stage with one)"));
    if (cfg.connections < 0) return tl::unexpected(std::string("connection cap must be >= 0"));
  } else if (cfg.connections <= 0) {
    return tl::unexpected(std::string("closed loop needs connections > 0"));
  }
  if (cfg.duration.count() <= 0 && cfg.max_requests <= 0 && cfg.stages.empty())
    return tl::unexpected(std::string("a run needs a duration or a request count"));
  if (cfg.warmup.count() < 0) return tl::unexpected(std::string("warm-up must be >= 0"));
  if (cfg.keepalive == keepalive_policy::max_requests && cfg.max_requests_per_connection <= 0)
    return tl::unexpected(std::string("max requests per connection must be > 0"));
  if (cfg.connect_timeout.count() <= 0 || cfg.request_timeout.count() <= 0)
    return tl::unexpected(std::string("timeouts must be > 0"));
  if (cfg.threads < 0) return tl::unexpected(std::string("threads must be >= 0"));
  if (auto ok = check_retry_policy(cfg.retry); !ok) return tl::unexpected("retry " + ok.error());
  if (!(cfg.max_error_rate >= 0 && cfg.max_error_rate <= 1))
    return tl::unexpected(fmt::format("max error rate {} is not a fraction in [0, 1]", cfg.max_error_rate));
  return {};
}

// The error rate and the latency summaries of a sample set, as a result reports them. Requests
// never answered are failures too: a server that leaves requests hanging must not read better
// than one that refuses them.
void summarize_into(result::variant& v, const sample_set& s) {
  // A followed request given up at its follow timeout has no final answer either.
  const double attempts = static_cast<double>(s.completed + s.errors.transport() + s.errors.follow_timeout + s.abandoned);
  v.error_rate = attempts > 0 ? static_cast<double>(s.errors.total() + s.abandoned) / attempts : 0;
  v.connect = result::summarize(s.connect);
  v.ttfb = result::summarize(s.ttfb);
  v.ttlb = result::summarize(s.ttlb);
  v.ttfb_uncorrected = result::summarize(s.ttfb_uncorrected);
  v.ttlb_uncorrected = result::summarize(s.ttlb_uncorrected);
  v.send_lag = result::summarize(s.send_lag);
  v.tls_handshake = result::summarize(s.tls_handshake);
  v.curl_start_transfer = result::summarize(s.curl_start_transfer);
  v.accepted = result::summarize(s.accepted);
}

// What the measured phase has measured so far (the seconds merged), for run_config::stop_check.
result::variant measured_so_far(const sample_set& s, double measured_s) {
  result::variant v;
  v.measured_s = measured_s;
  v.sent = s.sent;
  v.completed = v.completed_in_window = s.completed;
  v.succeeded = v.succeeded_in_window = s.succeeded;
  v.errors = s.errors;
  v.tps_mean = measured_s > 0 ? static_cast<double>(s.succeeded) / measured_s : 0;
  v.rps_mean = measured_s > 0 ? static_cast<double>(s.completed) / measured_s : 0;
  summarize_into(v, s);
  return v;
}

}  // namespace

tl::expected<result::variant, std::string> run_load(const run_config& cfg_in) {
  run_config cfg = cfg_in;
  if (auto ok = validate(cfg); !ok) return tl::unexpected(ok.error());
  const bool open = cfg.kind == "open";
  auto success = result::success_statuses::parse(cfg.success);
  if (!success) return tl::unexpected("success statuses: " + success.error());

  auto url = parse_url(cfg.url);
  if (!url) return tl::unexpected(url.error());
  // [load] auth: signed (or logged in) before the run; each rendered once per request of the mix.
  auto credentials = make_credentials(cfg.auth, *url);
  if (!credentials) return tl::unexpected(credentials.error());
  auto engine = choose_engine(cfg, *url);
  if (!engine) return tl::unexpected(engine.error());
  if (cfg.cors.enabled()) {
    if (auto bad = browser_cors::origin_error(cfg.cors.origin)) return tl::unexpected("cors origin: " + *bad);
    if (*engine == "curl")
      return tl::unexpected(std::string("--cors-origin ([load] cors): the browser mode needs the asio engine "
                                        "(HTTP/1.1 over http://), not curl"));
  }
  // [load] cors: every request carries the page's Origin (rendered into the mix, like any header).
  std::vector<request_spec> specs = cfg.requests;
  if (cfg.cors.enabled()) {
    if (specs.empty()) specs.emplace_back();
    for (auto& sp : specs) sp.headers.emplace_back("Origin", cfg.cors.origin);
  }
  auto mix = request_mix::build(*url, specs, cfg.keys, *credentials);
  if (!mix) return tl::unexpected(mix.error());
  // ...and its preflights, made here once.
  std::optional<browser_cors::plan> cors_plan;
  if (cfg.cors.enabled()) cors_plan = browser_cors::plan::build(*mix, cfg.cors);
  auto grpc = grpc_method_of(cfg.requests);  // checked by the mix already
  if (!grpc) return tl::unexpected(grpc.error());
  if (!grpc->empty()) cfg.http2 = true;  // gRPC is HTTP/2 (prior knowledge on http://, ALPN over TLS)
  const bool curl = *engine == "curl";
  std::optional<curl_requests> curl_table;  // curl: the mix as libcurl takes it (outlives the workers)
  if (curl) {
    if (auto ok = check_curl_support(cfg, *mix); !ok) return tl::unexpected(ok.error());
    auto table = curl_requests::build(*mix, *url);
    if (!table) return tl::unexpected(table.error());
    curl_table.emplace(std::move(*table));
  }

  tcp::endpoint endpoint;
  {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    boost::system::error_code ec;
    auto results = resolver.resolve(url->host, url->port, ec);
    if (ec || results.empty())
      return tl::unexpected(fmt::format("cannot resolve '{}': {}", url->host, ec ? ec.message() : "no address"));
    endpoint = results.begin()->endpoint();
    for (const auto& r : results)
      if (r.endpoint().address().is_v4()) {
        endpoint = r.endpoint();
        break;
      }
  }

  // Stages define the measured phase's length.
  std::int64_t duration_ns = cfg.duration.count();
  if (open && !cfg.stages.empty()) {
    double total = 0;
    for (const auto& st : cfg.stages) total += st.duration_s;
    if (total > 0) duration_ns = static_cast<std::int64_t>(std::llround(total * 1e9));
  }
  // Stages ramp from --rate (0 when not given); a warm-up runs at --rate, or at the first
  // stage's target when the ramp starts from 0.
  const double warmup_rate = cfg.rate > 0 ? cfg.rate : (cfg.stages.empty() ? 0 : cfg.stages.front().target_rate);
  rate_profile profile(cfg.rate, cfg.warmup.count(), cfg.stages, warmup_rate);

  // Default: one worker per CPU the loadgen may use (affinity mask and cgroup quota, as Go sizes
  // GOMAXPROCS), or per CPU it is pinned to.
  int threads = cfg.threads > 0 ? cfg.threads : (cfg.cpus.empty() ? cpus::available() : static_cast<int>(cfg.cpus.size()));
  if (!open) threads = static_cast<int>(std::min<std::int64_t>(threads, cfg.connections));
  // Every worker needs a share of a --requests count: a quota of 0 would mean "unlimited".
  if (cfg.max_requests > 0) threads = static_cast<int>(std::min<std::int64_t>(threads, cfg.max_requests));
  threads = std::max(1, threads);

  raise_fd_limit();
  std::int64_t cap = cfg.connections;
  if (open && cap == 0) cap = std::min<std::int64_t>(1024, std::max<std::int64_t>(64, fd_limit() - 128));
  if (cap > fd_limit() - 64)
    return tl::unexpected(fmt::format("{} connections need more file descriptors than the limit {} allows", cap,
                                      fd_limit()));
  if (open && cap < threads) threads = static_cast<int>(cap);

  const std::int64_t intervals =
      duration_ns > 0 ? std::max<std::int64_t>(1, (duration_ns + second_ns - 1) / second_ns) : (std::int64_t{1} << 40);
  // Rank 0 of a distributed run merges the other ranks' seconds as extra collector slots.
  rank_link* const link = cfg.link;
  const int remote_slots = link && link->rank() == 0 ? link->ranks() - 1 : 0;
  collector coll(threads + remote_slots);
  shared_setup setup;
  setup.cfg = &cfg;
  setup.open = open;
  setup.mix = &*mix;
  setup.profile = &profile;
  setup.success = *success;
  setup.host = endpoint.address().to_string();
  setup.port = endpoint.port();
  setup.url_host = url->host;
  setup.tls = url->tls;
  setup.curl = curl_table ? &*curl_table : nullptr;
  setup.grpc = !grpc->empty();
  setup.cors = cors_plan ? &*cors_plan : nullptr;
  setup.intervals = intervals;
  setup.coll = &coll;
  setup.rank = link ? link->rank() : 0;
  setup.ranks = link ? link->ranks() : 1;
  setup.signal_drain_ns =
      link ? std::min(cfg.drain_timeout.count(), teardown_drain_ns(teardown_budget_ns())) : cfg.drain_timeout.count();

  std::vector<std::unique_ptr<load_worker>> workers;
  for (int w = 0; w < threads; ++w) {
    const std::int64_t conns = cap / threads + (w < cap % threads ? 1 : 0);
    const std::int64_t quota =
        cfg.max_requests > 0 ? cfg.max_requests / threads + (w < cfg.max_requests % threads ? 1 : 0) : 0;
    workers.push_back(curl ? make_curl_worker(setup, w, threads, conns, quota)
                           : make_asio_worker(setup, w, threads, conns, quota));
  }
  if (remote_slots > 0) workers.push_back(link->make_receiver(setup, threads));

  // Output files are opened before the load starts, so a bad directory fails fast.
  std::ofstream hlog, csv;
  std::string hlog_name, csv_name;
  if (!cfg.output_dir.empty()) {
    std::error_code fec;
    std::filesystem::create_directories(cfg.output_dir, fec);
    hlog_name = cfg.file_prefix + ".hlog";
    csv_name = cfg.file_prefix + ".csv";
    hlog.open(cfg.output_dir / hlog_name);
    csv.open(cfg.output_dir / csv_name);
    if (!hlog || !csv)
      return tl::unexpected(fmt::format("cannot write into '{}': {}", cfg.output_dir.string(),
                                        fec ? fec.message() : std::string("open failed")));
    csv << "t_s,length_s,phase,sent,completed,succeeded,errors,ttlb_p50_us,ttlb_p99_us,target_rate,in_flight,"
           "retries,stalled,cache_hit,cache_miss,cache_stale,cache_other,cache_hit_ratio,bytes_in,bytes_out,"
           "status_2xx,status_3xx,status_4xx,status_5xx,conn_errors,attempts,client_retries,top_statuses\n";
  }

  // Time 0 a little ahead, so every worker is waiting on its first timer when it comes; in a
  // distributed run, an instant every rank agreed on once all were set up.
  const std::optional<std::int64_t> start = link ? link->agree_start(cfg.rank_timeout.count()) : now_ns() + 20'000'000;
  const std::int64_t t0 = start.value_or(now_ns());
  setup.run_start_ns = t0;
  setup.measure_start_ns = t0 + cfg.warmup.count();
  setup.measure_end_ns = duration_ns > 0 ? setup.measure_start_ns + duration_ns : rate_profile::never;
  // No start (a rank lost before it, or a stop signal): no load; rank 0 still writes its result,
  // empty and marked incomplete (link->finish says why).
  if (!start) {
    setup.measure_end_ns = setup.measure_start_ns;
    for (int slot = 0; slot < threads + remote_slots; ++slot) coll.finish(slot);
  }

  // The collecting (calling) thread stays off the target's CPUs too: with --cpus it joins the
  // loadgen's CPUs for the run (its work is one merge a second), and gets its own mask back after.
  cpu_set_t caller_cpus;
  const bool restore_cpus =
      !cfg.cpus.empty() && pthread_getaffinity_np(pthread_self(), sizeof(caller_cpus), &caller_cpus) == 0;
  if (restore_cpus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cfg.cpus) CPU_SET(c, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }

  std::vector<std::thread> pool;
  for (int w = 0; start && w < static_cast<int>(workers.size()); ++w) {
    pool.emplace_back([&, w] {
      if (!cfg.cpus.empty()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cfg.cpus[static_cast<std::size_t>(w) % cfg.cpus.size()], &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
      }
      workers[static_cast<std::size_t>(w)]->run();
    });
  }

  // Main thread: wait for the measured phase, then merge one interval at a time as workers hand
  // them over. The wait ends early when every worker has stopped (an interrupt during a long
  // warm-up).
  {
    std::unique_lock lock(coll.mutex);
    coll.cv.wait_until(lock, steady::time_point(nanos(setup.measure_start_ns)), [&] { return coll.all_finished(); });
  }
  // Stopped before the measured phase began: there is nothing to write per second.
  const bool stopped_in_warmup = now_ns() < setup.measure_start_ns;
  const cpu_times cpu0 = process_cpu();
  if (cfg.on_measure_start) cfg.on_measure_start();
  // The end of the measured phase, for what was spent over it: its planned end, or when every
  // worker has stopped its load (Ctrl-C, --requests). On rank 0 of a distributed run the other
  // ranks' slots count too: their load goes on after rank 0's own share is sent, and so does its
  // work of merging their seconds.
  cpu_times cpu1{};
  bool end_sampled = false;
  auto sample_end = [&] {
    if (end_sampled) return;
    end_sampled = true;
    cpu1 = process_cpu();
    if (cfg.on_measure_end) cfg.on_measure_end();
  };
  const double wall_start_s = wall_now_s();
  std::unique_ptr<hdr::log_writer> writer;
  if (hlog.is_open())
    writer = std::make_unique<hdr::log_writer>(hlog, wall_start_s, 1e6,
                                               "perflab loadgen: values in nanoseconds, max column in milliseconds");
  interval_merger merger(cfg, setup, profile, csv, writer.get(), cfg.progress && isatty(STDERR_FILENO));
  sample_set merged;
  // Stop conditions see the measured phase so far: one more set of histograms, added to once a second.
  std::unique_ptr<sample_set> so_far = cfg.stop_check ? std::make_unique<sample_set>() : nullptr;
  double so_far_s = 0;
  std::string stop_condition;
  while (true) {
    std::vector<std::unique_ptr<sample_set>> batch;
    {
      std::unique_lock lock(coll.mutex);
      // An interval is complete when every worker has handed over something at or past it, or
      // has finished.
      auto ready = [&] {
        for (std::size_t w = 0; w < coll.queues.size(); ++w)
          if (coll.queues[w].empty() && !coll.finished[w]) return false;
        return true;
      };
      while (!ready()) {
        if (!end_sampled && (coll.load_stopped(threads) || now_ns() >= setup.measure_end_ns)) {
          lock.unlock();
          sample_end();
          lock.lock();
          continue;
        }
        if (!end_sampled && setup.measure_end_ns != rate_profile::never)
          coll.cv.wait_until(lock, steady::time_point(nanos(setup.measure_end_ns)));
        else
          coll.cv.wait(lock);
      }
      std::int64_t idx = rate_profile::never;
      for (auto& q : coll.queues)
        if (!q.empty()) idx = std::min(idx, q.front()->index);
      if (idx == rate_profile::never) break;  // every worker finished and everything is merged
      for (auto& q : coll.queues) {
        if (q.empty() || q.front()->index != idx) continue;
        batch.push_back(std::move(q.front()));
        q.pop_front();
      }
    }
    merged.reset();
    for (auto& b : batch) merged.add(*b);
    merged.index = batch.front()->index;
    if (!end_sampled && merged.index >= setup.intervals) sample_end();  // the drain has begun everywhere
    merger.add(merged, stopped_in_warmup);
    if (link && link->rank() != 0 && !stopped_in_warmup) link->send_interval(merged, setup.measure_start_ns);
    // Checked after every measured second but the last (the phase ends there anyway).
    if (so_far && !stopped_in_warmup && stop_condition.empty() && merged.index + 1 < setup.intervals) {
      so_far->add(merged);
      so_far_s += merger.series().back().length_s;
      stop_condition = cfg.stop_check(measured_so_far(*so_far, so_far_s));
      if (!stop_condition.empty()) setup.stop_early.store(true);
    }
    {
      std::lock_guard lock(coll.mutex);
      for (auto& b : batch) {
        b->reset();
        coll.spare.push_back(std::move(b));
      }
    }
  }
  for (auto& t : pool) t.join();
  sample_end();
  if (restore_cpus) pthread_setaffinity_np(pthread_self(), sizeof(caller_cpus), &caller_cpus);
  if (cfg.progress && isatty(STDERR_FILENO)) std::fprintf(stderr, "\r\033[K");
  const std::int64_t end_ns = now_ns();

  sample_set total;
  bool interrupted = false;
  for (auto& w : workers) {
    total.add(w->totals());
    interrupted = interrupted || w->interrupted();
  }
  // This process's own share (without the other ranks' totals rank 0 received), for the per-rank lines.
  sample_set own_total;
  if (link)
    for (int w = 0; w < threads; ++w) own_total.add(workers[static_cast<std::size_t>(w)]->totals());

  result::variant v;
  v.name = "attack";
  v.complete = !interrupted;
  if (interrupted) v.incomplete_reason = "interrupted";
  auto& lm = v.load;
  lm.kind = cfg.kind;
  lm.arrival = open ? cfg.arrival : "";
  lm.rate = open ? cfg.rate : 0;
  lm.stages = open ? cfg.stages : std::vector<result::stage>{};
  lm.connections = open ? cap : cfg.connections;
  lm.think_time_s = static_cast<double>(cfg.think_time.count()) / 1e9;
  lm.duration_s = static_cast<double>(duration_ns) / 1e9;
  lm.warmup_s = static_cast<double>(cfg.warmup.count()) / 1e9;
  lm.max_requests = cfg.max_requests;
  lm.keepalive = keepalive_name(cfg);
  lm.connect_timeout_s = static_cast<double>(cfg.connect_timeout.count()) / 1e9;
  lm.request_timeout_s = static_cast<double>(cfg.request_timeout.count()) / 1e9;
  lm.threads = threads;
  lm.cpus = cfg.cpus;
  lm.success = success->text();
  lm.max_error_rate = cfg.max_error_rate;
  lm.retry = cfg.retry.describe();
  lm.auth = describe_auth(cfg.auth);
  lm.engine = *engine;
  lm.http = cfg.http2 ? "2" : "1.1";
  lm.tls_resume = cfg.tls_resume;
  lm.grpc = *grpc;
  lm.follow = cfg.follow.describe();
  if (cfg.cors.enabled())
    lm.cors = fmt::format("origin {}, preflight cache {}", cfg.cors.origin, cfg.cors.preflight_cache ? "on" : "off");

  // The measured phase ends at its planned end; at the interrupt when stopped by one; when a
  // --requests run reached its count, at the last measured response (or give-up), even if a
  // Ctrl-C then cut the drain short (every request was sent; the ones cut off are abandoned).
  // Never with the drain: throughput is what arrived inside the phase over its length.
  std::int64_t measured_end = std::min(end_ns, setup.measure_end_ns);
  bool all_quota = true;
  std::int64_t last_measured = setup.measure_start_ns;
  for (const auto& w : workers) {
    all_quota = all_quota && w->quota_reached();
    last_measured = std::max(last_measured, w->last_measured_end_ns());
  }
  if (all_quota) {
    measured_end = std::min(measured_end, last_measured);
  } else {
    // An interrupt, or a stop condition, ends the phase where the load stopped.
    for (const auto& w : workers)
      if (w->interrupted() || !stop_condition.empty()) measured_end = std::min(measured_end, w->stop_ns());
  }
  v.measured_s = static_cast<double>(std::max<std::int64_t>(0, measured_end - setup.measure_start_ns)) / 1e9;
  v.sent = total.sent;
  v.completed = total.completed;
  v.succeeded = total.succeeded;
  // A --requests run's phase lasts until its last measured response, so every one is inside it.
  v.completed_in_window = all_quota ? total.completed : merger.completed_in_window();
  v.succeeded_in_window = all_quota ? total.succeeded : merger.succeeded_in_window();
  v.carried_in = total.carried_in;
  v.stalled = total.stalled;
  v.unsent = total.unsent;
  v.abandoned = total.abandoned;
  v.retries = total.retries;
  v.client_retries = total.client_retries;
  v.preflights = total.preflights;
  v.attempts = total.sent + total.client_retries;
  v.retried_succeeded = total.retried_succeeded;
  v.retries_exhausted = total.retries_exhausted;
  v.follow_polls = total.follow_polls;
  v.followed = total.followed;
  v.cache = total.cache;
  v.cache_hit_ratio = total.cache.hit_ratio();
  v.statuses = status_map(total.statuses);
  for (std::size_t code = 0; code < total.grpc_statuses.size(); ++code)
    if (total.grpc_statuses[code] != 0) v.grpc_statuses[std::to_string(code)] = total.grpc_statuses[code];
  v.bytes_in = total.bytes_in;
  v.bytes_out = total.bytes_out;
  v.tps_mean = v.measured_s > 0 ? static_cast<double>(v.succeeded_in_window) / v.measured_s : 0;
  v.rps_mean = v.measured_s > 0 ? static_cast<double>(v.completed_in_window) / v.measured_s : 0;
  v.mb_in_per_s = v.measured_s > 0 ? static_cast<double>(v.bytes_in) / v.measured_s / 1e6 : 0;
  v.mb_out_per_s = v.measured_s > 0 ? static_cast<double>(v.bytes_out) / v.measured_s / 1e6 : 0;
  v.bytes_per_response = v.completed > 0 ? static_cast<double>(v.bytes_in) / static_cast<double>(v.completed) : 0;
  v.tcp_bytes_in = total.tcp_bytes_in;
  v.tcp_bytes_out = total.tcp_bytes_out;
  v.tcp_bytes_per_response =
      v.completed > 0 ? static_cast<double>(v.tcp_bytes_in + v.tcp_bytes_out) / static_cast<double>(v.completed) : 0;
  v.connections_opened = total.connections_opened;
  v.streams_peak = total.streams_peak;
  v.connections_warmup = total.connections_warmup;
  v.errors = total.errors;
  summarize_into(v, total);
  v.series = std::move(merger.series());
  v.loadgen.cpu_user_s = cpu1.user_s - cpu0.user_s;
  v.loadgen.cpu_system_s = cpu1.system_s - cpu0.system_s;
  v.loadgen.cpu_per_request_us =
      total.completed > 0 ? (v.loadgen.cpu_user_s + v.loadgen.cpu_system_s) * 1e6 / static_cast<double>(total.completed) : 0;
  v.loadgen.send_lag_bound_us = cfg.send_lag_bound_us;
  // Saturated: the schedule was not kept (send lag, arrivals that never went out), or the
  // loadgen ran out of its own resources (ports, descriptors, buffers).
  v.loadgen.saturated = (open && ((v.send_lag.count > 0 && v.send_lag.p99_us > cfg.send_lag_bound_us) || v.unsent > 0)) ||
                        v.errors.client_resources > 0;
  v.target.spawned = false;
  v.target.url = cfg.url;
  v.interval_log = hlog_name;
  v.series_csv = csv_name;
  v.stopped_early = !stop_condition.empty();
  v.stop_condition = stop_condition;
  if (link) link->finish(v, own_rank_final(workers, threads, own_total, setup, v), own_total, setup.measure_start_ns);
  if (hlog.is_open()) {
    hlog.flush();
    csv.flush();
    if (!hlog || !csv) return tl::unexpected(fmt::format("writing into '{}' failed", cfg.output_dir.string()));
  }
  return v;
}

}  // namespace perflab::loadgen
