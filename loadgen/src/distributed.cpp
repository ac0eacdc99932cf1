// Distributed runs without the transport: how a run is split over ranks, and the wire form of a
// sample set and of a rank's final report (see distributed.hpp). No MPI here: this is what the
// unit tests check, and what mpi/distributed_mpi.cpp sends.
#include "distributed.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

#include "field_count.hpp"
#include "perflab/core/exit_codes.hpp"
#include "perflab/core/hdr_log.hpp"

namespace perflab::loadgen::detail {

int launched_ranks() noexcept {
  const char* v = std::getenv("OMPI_COMM_WORLD_SIZE");
  return v != nullptr && std::atoi(v) > 1 ? std::atoi(v) : 1;
}

int launched_rank() noexcept {
  const char* v = std::getenv("OMPI_COMM_WORLD_RANK");
  return v != nullptr ? std::atoi(v) : 0;
}

std::int64_t teardown_budget_ns(const char* sigkill_timeout_s) noexcept {
  constexpr std::int64_t open_mpi_default = 1'000'000'000;
  if (sigkill_timeout_s == nullptr) return open_mpi_default;
  char* end = nullptr;
  const long s = std::strtol(sigkill_timeout_s, &end, 10);
  // Not a number: Open MPI refuses it and keeps its default. 0 or less: it sends SIGKILL right after SIGTERM.
  if (end == sigkill_timeout_s || *end != '\0') return open_mpi_default;
  return std::clamp<long>(s, 0, 3600) * std::int64_t{1'000'000'000};
}

std::int64_t teardown_budget_ns() noexcept {
  return teardown_budget_ns(std::getenv("OMPI_MCA_odls_base_sigkill_timeout"));
}

std::int64_t rank_share(std::int64_t n, int rank, int ranks) noexcept {
  if (ranks <= 1) return n;
  return n / ranks + (rank < n % ranks ? 1 : 0);
}

std::uint64_t rank_seed(std::uint64_t seed, int rank) noexcept {
  if (rank == 0) return seed;
  // splitmix64 of (seed, rank): distinct, well-mixed seeds per rank, reproducible from the run's seed.
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(rank);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

tl::expected<void, std::string> check_rank_split(const run_config& cfg, int ranks) {
  if (ranks <= 1) return {};
  if (cfg.kind == "closed" && cfg.connections < ranks)
    return tl::unexpected(fmt::format("--connections: {} connections cannot be split over {} ranks (expected at least "
                                      "one per rank)", cfg.connections, ranks));
  if (cfg.kind == "open" && cfg.connections > 0 && cfg.connections < ranks)
    return tl::unexpected(fmt::format("--connections: a cap of {} cannot be split over {} ranks (expected at least one "
                                      "per rank, or 0 for automatic)", cfg.connections, ranks));
  if (cfg.max_requests > 0 && cfg.max_requests < ranks)
    return tl::unexpected(fmt::format("--requests: {} requests cannot be split over {} ranks (expected at least one "
                                      "per rank)", cfg.max_requests, ranks));
  return {};
}

run_config rank_share_config(const run_config& cfg, int rank, int ranks) {
  run_config c = cfg;
  // Open loop with an automatic cap (0): every rank sizes its own.
  c.connections = rank_share(cfg.connections, rank, ranks);
  c.max_requests = rank_share(cfg.max_requests, rank, ranks);
  c.seed = rank_seed(cfg.seed, rank);
  if (rank != 0) {
    c.output_dir.clear();
    c.progress = false;
    c.on_measure_start = nullptr;
    c.on_measure_end = nullptr;
    c.stop_check = nullptr;
  }
  return c;
}

namespace {

// Little-endian fixed-width fields and length-prefixed strings; a length check guards against
// truncation. The ranks of one job must run the same build: agree_start compares their
// dist_wire_version, and a run configuration carries it.
class dist_wire_writer {
 public:
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_.append(b, sizeof(T));
  }
  void put_string(std::string_view s) {
    put<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class dist_wire_reader {
 public:
  explicit dist_wire_reader(std::string_view in) : in_(in) {}
  template <class T>
  bool get(T& v) {
    if (in_.size() < sizeof(T)) return false;
    std::memcpy(&v, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return true;
  }
  bool get_string(std::string_view& s) {
    std::uint32_t n = 0;
    if (!get(n) || in_.size() < n) return false;
    s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  std::string_view rest() const noexcept { return in_; }

 private:
  std::string_view in_;
};

// Every counter of a sample set, in one order for both directions.
template <class S, class F>
void dist_for_each_count(S& s, F&& f) {
  f(s.sent), f(s.completed), f(s.succeeded), f(s.connections_opened), f(s.connections_warmup), f(s.carried_in);
  f(s.stalled), f(s.unsent), f(s.abandoned), f(s.retries), f(s.client_retries), f(s.retried_succeeded);
  f(s.retries_exhausted), f(s.bytes_in), f(s.bytes_out), f(s.in_flight), f(s.index), f(s.streams_peak);
  f(s.tcp_bytes_in), f(s.tcp_bytes_out), f(s.follow_polls), f(s.followed), f(s.preflights);
  auto& e = s.errors;
  f(e.connect_refused), f(e.connect_timeout), f(e.connect_other), f(e.reset), f(e.read_timeout);
  f(e.closed_mid_response), f(e.malformed), f(e.unsolicited), f(e.io_other), f(e.client_resources), f(e.status_4xx);
  f(e.status_5xx), f(e.verify_failed), f(e.tls), f(e.grpc_status), f(e.grpc_missing), f(e.follow_timeout), f(e.cors_refused);
  for (auto& n : s.grpc_statuses) f(n);
  f(s.cache.hit), f(s.cache.miss), f(s.cache.stale), f(s.cache.other);
}

template <class S, class F>
void dist_for_each_histogram(S& s, F&& f) {
  f(s.connect), f(s.ttfb), f(s.ttlb), f(s.ttfb_uncorrected), f(s.ttlb_uncorrected), f(s.send_lag);
  f(s.tls_handshake), f(s.curl_start_transfer), f(s.accepted);
}

void dist_put_sample_set(dist_wire_writer& w, const sample_set& s, std::int64_t time_base_ns) {
  dist_for_each_count(s, [&](std::int64_t v) { w.put(v); });
  w.put<std::int64_t>(s.end_ns > 0 ? s.end_ns - time_base_ns : 0);
  std::uint32_t codes = 0;
  for (auto n : s.statuses) codes += n != 0 ? 1 : 0;
  w.put(codes);
  for (std::size_t code = 0; code < s.statuses.size(); ++code)
    if (s.statuses[code] != 0) {
      w.put(static_cast<std::uint16_t>(code));
      w.put(s.statuses[code]);
    }
  dist_for_each_histogram(s, [&](const histogram& h) {
    w.put(h.too_large());
    w.put_string(h.empty() ? std::string() : hdr::encode_compressed(h));
  });
}

tl::expected<void, std::string> dist_get_sample_set(dist_wire_reader& r, std::int64_t time_base_ns, sample_set& s) {
  const auto short_read = tl::unexpected(std::string("sample set: truncated"));
  s.reset();
  bool ok = true;
  dist_for_each_count(s, [&](std::int64_t& v) { ok = ok && r.get(v); });
  std::int64_t end_rel = 0;
  std::uint32_t codes = 0;
  if (!ok || !r.get(end_rel) || !r.get(codes)) return short_read;
  s.end_ns = end_rel != 0 ? end_rel + time_base_ns : 0;
  for (std::uint32_t i = 0; i < codes; ++i) {
    std::uint16_t code = 0;
    std::int64_t n = 0;
    if (!r.get(code) || !r.get(n)) return short_read;
    if (code >= s.statuses.size()) return tl::unexpected(fmt::format("sample set: status code {}", code));
    s.statuses[code] = n;
  }
  std::string error;
  dist_for_each_histogram(s, [&](histogram& h) {
    std::int64_t too_large = 0;
    std::string_view blob;
    if (!error.empty()) return;
    if (!r.get(too_large) || !r.get_string(blob)) {
      error = "sample set: truncated";
      return;
    }
    if (!blob.empty()) {
      auto d = hdr::decode_compressed(blob);
      if (!d) {
        error = "sample set: " + d.error().message;
        return;
      }
      h.add(*d);
    }
    // too_large() has no place in the encoding: restored by recording above the range.
    if (too_large > 0) h.record(h.highest_trackable() + 1, too_large);
  });
  if (!error.empty()) return tl::unexpected(error);
  return {};
}

}  // namespace

std::string encode_sample_set(const sample_set& s, std::int64_t time_base_ns) {
  dist_wire_writer w;
  dist_put_sample_set(w, s, time_base_ns);
  return w.take();
}

tl::expected<void, std::string> decode_sample_set(std::string_view bytes, std::int64_t time_base_ns, sample_set& out) {
  dist_wire_reader r(bytes);
  auto ok = dist_get_sample_set(r, time_base_ns, out);
  if (ok && !r.rest().empty()) return tl::unexpected(std::string("sample set: trailing bytes"));
  return ok;
}

rank_final own_rank_final(const std::vector<std::unique_ptr<load_worker>>& workers, int threads,
                          const sample_set& own_totals, const shared_setup& s, const result::variant& v) {
  rank_final own;
  own.threads = threads;
  own.connections = v.load.connections;
  own.cpu_user_s = v.loadgen.cpu_user_s;
  own.cpu_system_s = v.loadgen.cpu_system_s;
  own.quota_reached = s.cfg->max_requests > 0;
  std::int64_t stop = s.measure_end_ns, last = s.measure_start_ns;
  for (int w = 0; w < threads; ++w) {
    const auto& lw = *workers[static_cast<std::size_t>(w)];
    own.quota_reached = own.quota_reached && lw.quota_reached();
    own.interrupted = own.interrupted || lw.interrupted();
    stop = std::min(stop, lw.stop_ns());
    last = std::max(last, lw.last_measured_end_ns());
  }
  own.stop_rel_ns = stop == rate_profile::never ? rate_profile::never : stop - s.measure_start_ns;
  own.last_measured_rel_ns = last - s.measure_start_ns;
  // The run's verdict (run_load) applied to this rank's share alone.
  const double lag_p99_us = static_cast<double>(own_totals.send_lag.value_at_percentile(99)) / 1e3;
  own.saturated = (s.open && ((own_totals.send_lag.total_count() > 0 && lag_p99_us > s.cfg->send_lag_bound_us) ||
                              own_totals.unsent > 0)) ||
                  own_totals.errors.client_resources > 0;
  return own;
}

std::string encode_rank_final(const rank_final& f, const sample_set& totals, std::int64_t time_base_ns) {
  dist_wire_writer w;
  w.put_string(f.host);
  w.put<std::int32_t>(f.threads);
  w.put(f.connections);
  w.put(f.cpu_user_s);
  w.put(f.cpu_system_s);
  w.put<std::uint8_t>(static_cast<std::uint8_t>((f.saturated ? 1 : 0) | (f.interrupted ? 2 : 0) | (f.quota_reached ? 4 : 0)));
  w.put(f.stop_rel_ns);
  w.put(f.last_measured_rel_ns);
  dist_put_sample_set(w, totals, time_base_ns);
  return w.take();
}

tl::expected<void, std::string> decode_rank_final(std::string_view bytes, rank_final& f, sample_set& totals) {
  dist_wire_reader r(bytes);
  std::string_view host;
  std::int32_t threads = 0;
  std::uint8_t flags = 0;
  if (!r.get_string(host) || !r.get(threads) || !r.get(f.connections) || !r.get(f.cpu_user_s) ||
      !r.get(f.cpu_system_s) || !r.get(flags) || !r.get(f.stop_rel_ns) || !r.get(f.last_measured_rel_ns))
    return tl::unexpected(std::string("rank report: truncated"));
  f.host = std::string(host);
  f.threads = threads;
  f.saturated = (flags & 1) != 0;
  f.interrupted = (flags & 2) != 0;
  f.quota_reached = (flags & 4) != 0;
  auto ok = dist_get_sample_set(r, 0, totals);
  if (ok && !r.rest().empty()) return tl::unexpected(std::string("rank report: trailing bytes"));
  return ok;
}

result::rank_summary summarize_rank(int rank, const rank_final& f, const sample_set& totals, double rate_share) {
  result::rank_summary s;
  s.rank = rank;
  s.host = f.host;
  s.rate = rate_share;
  s.connections = f.connections;
  s.threads = f.threads;
  s.sent = totals.sent;
  s.completed = totals.completed;
  s.succeeded = totals.succeeded;
  s.errors = totals.errors.total() + totals.abandoned;
  s.send_lag_p99_us = static_cast<double>(totals.send_lag.value_at_percentile(99)) / 1e3;
  s.ttlb_p99_us = static_cast<double>(totals.ttlb.value_at_percentile(99)) / 1e3;
  s.saturated = f.saturated;
  s.cpu_s = f.cpu_user_s + f.cpu_system_s;
  return s;
}

// ---- a load run's configuration, for `mpirun -np N loadgen run` ----

namespace {

void dist_put_ns(dist_wire_writer& w, std::chrono::nanoseconds d) { w.put<std::int64_t>(d.count()); }
bool dist_get_ns(dist_wire_reader& r, std::chrono::nanoseconds& d) {
  std::int64_t n = 0;
  if (!r.get(n)) return false;
  d = std::chrono::nanoseconds(n);
  return true;
}
bool dist_get_owned(dist_wire_reader& r, std::string& s) {
  std::string_view v;
  if (!r.get_string(v)) return false;
  s = std::string(v);
  return true;
}

}  // namespace

// Every field of run_config (and of the structs inside it) is carried below or is rank 0's own
// (output_dir, file_prefix, progress, on_measure_start, on_measure_end, stop_check, link). These
// counts stop the build when a field is added: carry it in encode_run_config and decode_run_config
// (or leave it to rank 0, as the outputs), give it a case in distributed_test.cpp's
// run_config_cases (whose size the test checks against the struct itself), bump
// dist_wire_version, then update the count here.
static_assert(aggregate_field_count<run_config>() == 44, "run_config changed: see the comment above");
static_assert(aggregate_field_count<key_distribution>() == 3, "key_distribution changed: see the comment above");
static_assert(aggregate_field_count<request_spec>() == 7, "request_spec changed: see the comment above");
static_assert(aggregate_field_count<retry_policy>() == 6, "retry_policy changed: see the comment above");
static_assert(aggregate_field_count<resilience::backoff_config>() == 3, "backoff_config changed: see the comment above");
static_assert(aggregate_field_count<result::stage>() == 2, "result::stage changed: see the comment above");

std::string encode_run_config(const run_config& c) {
  dist_wire_writer w;
  w.put(run_config_magic);
  w.put(dist_wire_version);
  for (const std::string* s : {&c.url, &c.engine, &c.cacert, &c.kind, &c.arrival, &c.success}) w.put_string(*s);
  w.put<std::uint8_t>(static_cast<std::uint8_t>((c.http2 ? 1 : 0) | (c.insecure ? 2 : 0) | (c.verify ? 4 : 0) |
                                                (c.retry.exponential ? 8 : 0) | (c.retry.retry_after ? 16 : 0) |
                                                (c.tls_resume ? 32 : 0) | (c.retry.unsafe ? 64 : 0)));
  w.put(c.max_streams);
  w.put(c.rate);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(c.stages.size()));
  for (const auto& st : c.stages) w.put(st.duration_s), w.put(st.target_rate);
  w.put(c.seed);
  w.put(c.connections);
  for (auto d : {c.think_time, c.duration, c.warmup, c.connect_timeout, c.request_timeout, c.drain_timeout,
                 c.spin_window, c.retry.backoff.base, c.retry.backoff.cap, c.rank_timeout})
    dist_put_ns(w, d);
  w.put(c.max_requests);
  w.put<std::int32_t>(static_cast<std::int32_t>(c.keepalive));
  w.put(c.max_requests_per_connection);
  w.put<std::int32_t>(c.threads);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(c.cpus.size()));
  for (int cpu : c.cpus) w.put<std::int32_t>(cpu);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(c.requests.size()));
  for (const auto& rq : c.requests) {
    w.put_string(rq.method);
    w.put_string(rq.path);
    w.put_string(rq.body);
    w.put(rq.weight);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(rq.headers.size()));
    for (const auto& [k, v] : rq.headers) w.put_string(k), w.put_string(v);
    w.put_string(rq.grpc);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(rq.grpc_fields.size()));
    for (const auto& f : rq.grpc_fields) w.put(f.number), w.put_string(f.value);
  }
  w.put_string(c.keys.kind);
  w.put(c.keys.keys);
  w.put(c.keys.zipf_s);
  w.put(c.send_lag_bound_us);
  w.put(c.max_error_rate);
  w.put(c.verify_length);
  w.put(c.retry.max);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(c.retry.on.size()));
  for (int st : c.retry.on) w.put<std::int32_t>(st);
  w.put<std::int32_t>(static_cast<std::int32_t>(c.retry.backoff.kind));
  for (const std::string* s : {&c.auth.scheme, &c.auth.key_file, &c.auth.audience, &c.auth.login_path}) w.put_string(*s);
  w.put(c.auth.tokens);
  dist_put_ns(w, c.auth.ttl);
  dist_put_ns(w, c.follow.every);
  dist_put_ns(w, c.follow.timeout);
  w.put_string(c.follow.until);
  w.put_string(c.cors.origin);
  w.put<std::uint8_t>(c.cors.preflight_cache ? 1 : 0);
  return w.take();
}

tl::expected<run_config, std::string> decode_run_config(std::string_view bytes) {
  run_config c;
  dist_wire_reader r(bytes);
  const auto truncated = [] { return tl::unexpected(std::string("run configuration: truncated")); };
  // Every list element takes at least 4 bytes on the wire: a count the rest cannot hold is a
  // corrupt message, refused before anything is allocated for it.
  const auto too_many = [&r](std::uint32_t count) { return count > r.rest().size() / 4; };
  std::uint32_t magic = 0, version = 0;
  if (!r.get(magic) || magic != run_config_magic)
    return tl::unexpected(std::string("run configuration: not a perflab loadgen's (its magic word differs)"));
  if (!r.get(version)) return truncated();
  if (version != dist_wire_version)
    return tl::unexpected(fmt::format("run configuration: wire version {} from rank 0, but this loadgen reads version "
                                      "{}: every rank must run the same loadgen build",
                                      version, dist_wire_version));
  for (std::string* s : {&c.url, &c.engine, &c.cacert, &c.kind, &c.arrival, &c.success})
    if (!dist_get_owned(r, *s)) return truncated();
  std::uint8_t flags = 0;
  std::uint32_t n = 0;
  if (!r.get(flags) || !r.get(c.max_streams) || !r.get(c.rate) || !r.get(n)) return truncated();
  c.http2 = (flags & 1) != 0;
  c.insecure = (flags & 2) != 0;
  c.verify = (flags & 4) != 0;
  c.retry.exponential = (flags & 8) != 0;
  c.retry.retry_after = (flags & 16) != 0;
  c.tls_resume = (flags & 32) != 0;
  c.retry.unsafe = (flags & 64) != 0;
  if (too_many(n)) return truncated();
  c.stages.resize(n);
  for (auto& st : c.stages)
    if (!r.get(st.duration_s) || !r.get(st.target_rate)) return truncated();
  if (!r.get(c.seed) || !r.get(c.connections)) return truncated();
  for (auto* d : {&c.think_time, &c.duration, &c.warmup, &c.connect_timeout, &c.request_timeout, &c.drain_timeout,
                  &c.spin_window, &c.retry.backoff.base, &c.retry.backoff.cap, &c.rank_timeout})
    if (!dist_get_ns(r, *d)) return truncated();
  std::int32_t keepalive = 0, threads = 0, value = 0;
  if (!r.get(c.max_requests) || !r.get(keepalive) || !r.get(c.max_requests_per_connection) || !r.get(threads) ||
      !r.get(n))
    return truncated();
  c.keepalive = static_cast<keepalive_policy>(keepalive);
  c.threads = threads;
  if (too_many(n)) return truncated();
  c.cpus.resize(n);
  for (int& cpu : c.cpus) {
    if (!r.get(value)) return truncated();
    cpu = value;
  }
  if (!r.get(n) || too_many(n)) return truncated();
  c.requests.resize(n);
  for (auto& rq : c.requests) {
    std::uint32_t headers = 0;
    if (!dist_get_owned(r, rq.method) || !dist_get_owned(r, rq.path) || !dist_get_owned(r, rq.body) ||
        !r.get(rq.weight) || !r.get(headers))
      return truncated();
    if (too_many(headers)) return truncated();
    rq.headers.resize(headers);
    for (auto& [k, v] : rq.headers)
      if (!dist_get_owned(r, k) || !dist_get_owned(r, v)) return truncated();
    std::uint32_t fields = 0;
    if (!dist_get_owned(r, rq.grpc) || !r.get(fields) || too_many(fields)) return truncated();
    rq.grpc_fields.resize(fields);
    for (auto& f : rq.grpc_fields)
      if (!r.get(f.number) || !dist_get_owned(r, f.value)) return truncated();
  }
  if (!dist_get_owned(r, c.keys.kind) || !r.get(c.keys.keys) || !r.get(c.keys.zipf_s) || !r.get(c.send_lag_bound_us) ||
      !r.get(c.max_error_rate) || !r.get(c.verify_length) || !r.get(c.retry.max) || !r.get(n))
    return truncated();
  if (too_many(n)) return truncated();
  c.retry.on.resize(n);
  for (int& st : c.retry.on) {
    if (!r.get(value)) return truncated();
    st = value;
  }
  if (!r.get(value)) return truncated();
  c.retry.backoff.kind = static_cast<resilience::jitter>(value);
  for (std::string* s : {&c.auth.scheme, &c.auth.key_file, &c.auth.audience, &c.auth.login_path})
    if (!dist_get_owned(r, *s)) return truncated();
  if (!r.get(c.auth.tokens) || !dist_get_ns(r, c.auth.ttl)) return truncated();
  if (!dist_get_ns(r, c.follow.every) || !dist_get_ns(r, c.follow.timeout) || !dist_get_owned(r, c.follow.until))
    return truncated();
  std::uint8_t cache = 1;
  if (!dist_get_owned(r, c.cors.origin) || !r.get(cache)) return truncated();
  c.cors.preflight_cache = cache != 0;
  if (!r.rest().empty()) return tl::unexpected(std::string("run configuration: trailing bytes"));
  return c;
}

int follow_runs(rank_link& link) {
  for (;;) {
    const std::string work = link.broadcast_work({});
    if (work.empty()) break;  // rank 0 is done
    auto cfg = decode_run_config(work);
    if (!cfg) {
      std::fprintf(stderr, "loadgen run: rank %d: %s\n", link.rank(), cfg.error().c_str());
      link.abort_all(exit_code::runtime_error);
    }
    run_config mine = rank_share_config(*cfg, link.rank(), link.ranks());
    mine.link = &link;
    if (auto v = run_load(mine); !v) {
      std::fprintf(stderr, "loadgen run: rank %d: %s\n", link.rank(), v.error().c_str());
      link.abort_all(exit_code::runtime_error);  // the others would wait for this rank forever
    }
    // A stop signal: Open MPI is ending the job; this rank's share is reported, nothing follows.
    if (interrupt_signals() > 0) break;
  }
  link.close(exit_code::ok);
  return exit_code::ok;
}

}  // namespace perflab::loadgen::detail
