#include "distributed.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iterator>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "field_count.hpp"
#include "perflab/loadgen/schedule.hpp"

namespace perflab::loadgen::detail {
namespace {

TEST(RankShare, SplitsEveryCountWholeAndEvenly) {
  for (std::int64_t n : {1, 2, 7, 100, 1001}) {
    for (int ranks : {1, 2, 3, 8}) {
      if (n < ranks) continue;
      std::int64_t sum = 0, lo = n, hi = 0;
      for (int r = 0; r < ranks; ++r) {
        const auto s = rank_share(n, r, ranks);
        sum += s;
        lo = std::min(lo, s);
        hi = std::max(hi, s);
      }
      EXPECT_EQ(sum, n) << n << " over " << ranks;
      EXPECT_LE(hi - lo, 1) << n << " over " << ranks;
    }
  }
  EXPECT_EQ(rank_share(0, 1, 4), 0);  // 0 stays "automatic" / "unlimited" on every rank
}

TEST(RankShare, SeedsAreTheRunsOnRankZeroAndDistinctElsewhere) {
  EXPECT_EQ(rank_seed(42, 0), 42u);
  std::set<std::uint64_t> seen;
  for (int r = 0; r < 1000; ++r) seen.insert(rank_seed(42, r));
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(rank_seed(42, 7), rank_seed(42, 7));  // reproducible
  EXPECT_NE(rank_seed(42, 7), rank_seed(43, 7));
}

TEST(RankShare, ConfigSplitsConnectionsRequestsAndOutputs) {
  run_config cfg;
  cfg.kind = "closed";
  cfg.connections = 10;
  cfg.max_requests = 1000;
  cfg.output_dir = "out";
  cfg.progress = true;
  std::int64_t conns = 0, reqs = 0;
  for (int r = 0; r < 3; ++r) {
    const run_config c = rank_share_config(cfg, r, 3);
    conns += c.connections;
    reqs += c.max_requests;
    EXPECT_EQ(c.output_dir.empty(), r != 0);
    EXPECT_EQ(c.progress, r == 0);
  }
  EXPECT_EQ(conns, 10);
  EXPECT_EQ(reqs, 1000);
}

TEST(RankShare, RefusesSplitsThatLeaveARankNothing) {
  struct row {
    const char* kind;
    std::int64_t connections, requests;
    int ranks;
    const char* error;  // nullptr: accepted
  };
  const row rows[] = {
      {"closed", 2, 0, 2, nullptr},
      {"closed", 1, 0, 2, "--connections"},
      {"open", 0, 0, 8, nullptr},  // automatic cap: each rank sizes its own
      {"open", 3, 0, 4, "--connections"},
      {"open", 0, 3, 4, "--requests"},
      {"closed", 1, 1, 1, nullptr},
  };
  for (const auto& t : rows) {
    run_config cfg;
    cfg.kind = t.kind;
    cfg.connections = t.connections;
    cfg.max_requests = t.requests;
    auto ok = check_rank_split(cfg, t.ranks);
    if (t.error == nullptr) {
      EXPECT_TRUE(ok) << t.kind << " " << t.connections;
    } else {
      ASSERT_FALSE(ok) << t.kind << " " << t.connections;
      EXPECT_NE(ok.error().find(t.error), std::string::npos) << ok.error();
    }
  }
}

std::vector<std::int64_t> rank_arrivals_until(arrival_schedule& s, std::int64_t until_ns) {
  std::vector<std::int64_t> out;
  for (std::int64_t t = s.next(); t < until_ns; t = s.next()) out.push_back(t);
  return out;
}

TEST(RankSchedule, MergedConstantArrivalsAreTheSingleProcessSchedule) {
  const rate_profile p(1000, 0, {});
  arrival_schedule single(p, false, 0, 1, 1);
  const auto expected = rank_arrivals_until(single, 1'000'000'000);
  ASSERT_EQ(expected.size(), 1000u);
  for (int ranks : {2, 3}) {
    std::vector<std::int64_t> merged;
    for (int r = 0; r < ranks; ++r) {
      std::vector<std::int64_t> mine;
      for (int w = 0; w < 2; ++w) {  // 2 worker threads in each rank
        arrival_schedule s(p, false, w, 2, rank_seed(1, r), r, ranks);
        auto a = rank_arrivals_until(s, 1'000'000'000);
        mine.insert(mine.end(), a.begin(), a.end());
      }
      std::sort(mine.begin(), mine.end());
      ASSERT_FALSE(mine.empty());
      // Rank r of R starts at r / (R * rate) and keeps every R-th arrival: evenly spaced by R / rate.
      EXPECT_EQ(mine.front(), r * 1'000'000) << "rank " << r;
      for (std::size_t i = 1; i < mine.size(); ++i) EXPECT_NEAR(mine[i] - mine[i - 1], ranks * 1'000'000, 1);
      merged.insert(merged.end(), mine.begin(), mine.end());
    }
    std::sort(merged.begin(), merged.end());
    EXPECT_EQ(merged, expected) << ranks << " ranks";
  }
}

TEST(RankSchedule, PoissonRanksDrawTheirOwnStreamsAtTheirShare) {
  const rate_profile p(2000, 0, {});
  std::int64_t total = 0;
  std::vector<std::vector<std::int64_t>> streams;
  for (int r = 0; r < 4; ++r) {
    arrival_schedule s(p, true, 0, 1, rank_seed(7, r), r, 4);
    streams.push_back(rank_arrivals_until(s, 10'000'000'000));
    total += static_cast<std::int64_t>(streams.back().size());
  }
  EXPECT_NEAR(static_cast<double>(total), 20000.0, 20000.0 * 0.03);  // sd ~141: 3 % is > 4 sd
  EXPECT_NE(streams[0], streams[1]);
  arrival_schedule again(p, true, 0, 1, rank_seed(7, 1), 1, 4);
  EXPECT_EQ(rank_arrivals_until(again, 10'000'000'000), streams[1]);  // reproducible from the seed
}

// A rank's sample set with recognisable contents: values spread by `scale`.
sample_set rank_test_samples(std::int64_t scale, std::int64_t n) {
  sample_set s;
  for (std::int64_t i = 1; i <= n; ++i) {
    const std::int64_t v = scale * (i * i % 997 + 1);
    s.connect.record(v / 3 + 1);
    s.ttfb.record(v);
    s.ttlb.record(v + 1000);
    s.ttfb_uncorrected.record(v / 2 + 1);
    s.ttlb_uncorrected.record(v / 2 + 900);
    s.send_lag.record(i % 50 + 1);
  }
  s.ttlb.record(hist_highest_ns + 5);  // one too large
  s.sent = n;
  s.completed = n - 1;
  s.succeeded = n - 3;
  s.errors.read_timeout = 1;
  s.errors.status_5xx = 2;
  s.statuses[200] = n - 3;
  s.statuses[503] = 2;
  s.cache.hit = 5;
  s.bytes_in = 100 * n;
  s.in_flight = 4;
  s.index = 3;
  s.end_ns = 1'000'000'000 + scale;
  return s;
}

void expect_same_rank_histogram(const histogram& a, const histogram& b, const char* name) {
  EXPECT_EQ(a.total_count(), b.total_count()) << name;
  EXPECT_EQ(a.too_large(), b.too_large()) << name;
  EXPECT_EQ(a.min(), b.min()) << name;
  EXPECT_EQ(a.max(), b.max()) << name;
  for (double p : {50.0, 90.0, 99.0, 99.9, 100.0}) EXPECT_EQ(a.value_at_percentile(p), b.value_at_percentile(p)) << name << " p" << p;
}

TEST(RankMerge, MergedFromTheWireEqualsASingleProcessMerge) {
  const std::vector<sample_set> ranks = {rank_test_samples(1000, 5000), rank_test_samples(37, 3000), rank_test_samples(250'000, 200)};
  sample_set direct;
  for (const auto& s : ranks) direct.add(s);  // what one process with these three workers would merge

  // Each rank's set sent with its own time base, received against rank 0's.
  sample_set merged, received;
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    const std::int64_t base = static_cast<std::int64_t>(r) * 777'000'000;
    const std::string bytes = encode_sample_set(ranks[r], base);
    ASSERT_TRUE(decode_sample_set(bytes, base, received));
    merged.add(received);
  }
  expect_same_rank_histogram(merged.connect, direct.connect, "connect");
  expect_same_rank_histogram(merged.ttfb, direct.ttfb, "ttfb");
  expect_same_rank_histogram(merged.ttlb, direct.ttlb, "ttlb");
  expect_same_rank_histogram(merged.ttfb_uncorrected, direct.ttfb_uncorrected, "ttfb_uncorrected");
  expect_same_rank_histogram(merged.ttlb_uncorrected, direct.ttlb_uncorrected, "ttlb_uncorrected");
  expect_same_rank_histogram(merged.send_lag, direct.send_lag, "send_lag");
  EXPECT_EQ(merged.sent, 8200);
  EXPECT_EQ(merged.completed, direct.completed);
  EXPECT_EQ(merged.succeeded, direct.succeeded);
  EXPECT_EQ(merged.errors.total(), direct.errors.total());
  EXPECT_EQ(merged.statuses, direct.statuses);
  EXPECT_EQ(merged.cache.hit, 15);
  EXPECT_EQ(merged.bytes_in, direct.bytes_in);
  EXPECT_EQ(merged.in_flight, 12);
  EXPECT_EQ(merged.end_ns, direct.end_ns);
}

TEST(RankMerge, EndTimesTravelRelativeToEachRanksMeasuredStart) {
  sample_set s = rank_test_samples(1, 10), out;
  s.end_ns = 5'000'000'123;  // 123 ns after its measured phase began at 5 s (its steady clock)
  ASSERT_TRUE(decode_sample_set(encode_sample_set(s, 5'000'000'000), 42'000'000'000, out));
  EXPECT_EQ(out.end_ns, 42'000'000'123);  // the same moment on the receiver's clock
}

TEST(RankMerge, FinalReportRoundTripsAndTruncationIsAnError) {
  rank_final f;
  f.host = "loadgen-7";
  f.threads = 4;
  f.connections = 256;
  f.cpu_user_s = 1.5;
  f.saturated = true;
  f.quota_reached = true;
  f.stop_rel_ns = 3'000'000'000;
  f.last_measured_rel_ns = 2'999'000'000;
  const sample_set totals = rank_test_samples(500, 400);
  const std::string bytes = encode_rank_final(f, totals, 0);
  rank_final g;
  sample_set t;
  ASSERT_TRUE(decode_rank_final(bytes, g, t));
  EXPECT_EQ(g.host, "loadgen-7");
  EXPECT_EQ(g.threads, 4);
  EXPECT_EQ(g.connections, 256);
  EXPECT_TRUE(g.saturated);
  EXPECT_FALSE(g.interrupted);
  EXPECT_TRUE(g.quota_reached);
  EXPECT_EQ(g.stop_rel_ns, f.stop_rel_ns);
  expect_same_rank_histogram(t.ttlb, totals.ttlb, "ttlb");
  const auto line = summarize_rank(3, g, t, 250);
  EXPECT_EQ(line.rank, 3);
  EXPECT_EQ(line.sent, 400);
  EXPECT_EQ(line.errors, 3);
  EXPECT_DOUBLE_EQ(line.ttlb_p99_us, static_cast<double>(totals.ttlb.value_at_percentile(99)) / 1e3);
  for (std::size_t cut : {std::size_t{0}, std::size_t{5}, bytes.size() / 2, bytes.size() - 1})
    EXPECT_FALSE(decode_rank_final(std::string_view(bytes).substr(0, cut), g, t)) << "cut at " << cut;
}

// One case per field of run_config, with the fields of the structs inside it (keys, retry and
// its backoff) as cases of their own: it sets the field to a value that is not its default, and
// says whether two configurations agree on it. `carried`: sent to the other ranks; the others are
// rank 0's own (outputs, callbacks, the link) and must arrive as defaults.
//
// Why a new field cannot be forgotten: the static_assert below compares the number of cases with
// the number of fields the compiler counts in the structs themselves (field_count.hpp), so a
// field added to run_config (or to key_distribution, retry_policy, backoff_config) stops this
// test from compiling until it has a case; its case then fails at run time until encode_run_config
// and decode_run_config carry it (or it is declared rank 0's own). Lists inside (stages,
// requests) are compared field by field by helpers whose structs' counts are asserted next to them.
struct run_config_field_case {
  const char* name;
  bool carried;
  void (*set)(run_config&);
  bool (*same)(const run_config&, const run_config&);
};

#define PERFLAB_RUN_CONFIG_CASE(field, carried, value)                                     \
  run_config_field_case {                                                                  \
    #field, carried, [](run_config& c) { c.field = value; },                               \
        [](const run_config& a, const run_config& b) { return a.field == b.field; }        \
  }

static_assert(aggregate_field_count<result::stage>() == 2, "compare the new field in same_stages");
bool same_stages(const run_config& a, const run_config& b) {
  return std::equal(a.stages.begin(), a.stages.end(), b.stages.begin(), b.stages.end(),
                    [](const result::stage& x, const result::stage& y) {
                      return x.duration_s == y.duration_s && x.target_rate == y.target_rate;
                    });
}
static_assert(aggregate_field_count<request_spec>() == 7, "compare the new field in same_requests");
bool same_requests(const run_config& a, const run_config& b) {
  return std::equal(a.requests.begin(), a.requests.end(), b.requests.begin(), b.requests.end(),
                    [](const request_spec& x, const request_spec& y) {
                      return x.method == y.method && x.path == y.path && x.headers == y.headers && x.body == y.body &&
                             x.weight == y.weight && x.grpc == y.grpc &&
                             std::equal(x.grpc_fields.begin(), x.grpc_fields.end(), y.grpc_fields.begin(),
                                        y.grpc_fields.end(), [](const grpc_field& f, const grpc_field& g) {
                                          return f.number == g.number && f.value == g.value;
                                        });
                    });
}

using std::chrono::milliseconds;
constexpr run_config_field_case run_config_cases[] = {
    PERFLAB_RUN_CONFIG_CASE(url, true, "http://127.0.0.1:8080"),
    PERFLAB_RUN_CONFIG_CASE(engine, true, "curl"),
    PERFLAB_RUN_CONFIG_CASE(http2, true, true),
    PERFLAB_RUN_CONFIG_CASE(max_streams, true, 7),
    PERFLAB_RUN_CONFIG_CASE(insecure, true, true),
    PERFLAB_RUN_CONFIG_CASE(cacert, true, "/etc/ca.pem"),
    PERFLAB_RUN_CONFIG_CASE(tls_resume, true, false),
    PERFLAB_RUN_CONFIG_CASE(kind, true, "open"),
    PERFLAB_RUN_CONFIG_CASE(arrival, true, "poisson"),
    PERFLAB_RUN_CONFIG_CASE(rate, true, 1234.5),
    {"stages", true, [](run_config& c) { c.stages = {{2.0, 100.0}, {3.0, 500.0}}; }, same_stages},
    PERFLAB_RUN_CONFIG_CASE(seed, true, 99),
    PERFLAB_RUN_CONFIG_CASE(connections, true, 17),
    PERFLAB_RUN_CONFIG_CASE(think_time, true, milliseconds(3)),
    PERFLAB_RUN_CONFIG_CASE(duration, true, milliseconds(2500)),
    PERFLAB_RUN_CONFIG_CASE(warmup, true, milliseconds(1000)),
    PERFLAB_RUN_CONFIG_CASE(max_requests, true, 5001),
    PERFLAB_RUN_CONFIG_CASE(keepalive, true, keepalive_policy::max_requests),
    PERFLAB_RUN_CONFIG_CASE(max_requests_per_connection, true, 9),
    PERFLAB_RUN_CONFIG_CASE(connect_timeout, true, milliseconds(700)),
    PERFLAB_RUN_CONFIG_CASE(request_timeout, true, milliseconds(800)),
    PERFLAB_RUN_CONFIG_CASE(threads, true, 3),
    PERFLAB_RUN_CONFIG_CASE(cpus, true, (std::vector<int>{0, 2})),
    {"requests", true,
     [](run_config& c) {
       c.requests = {{"POST", "/echo", {{"X-A", "1"}, {"Content-Type", "text/plain"}}, "body", 3.0, "", {}}, {}};
       c.requests[1].grpc = "/perflab.api.Orders/Get";
       c.requests[1].grpc_fields = {{1, "{key}"}, {2, "x"}};
     },
     same_requests},
    PERFLAB_RUN_CONFIG_CASE(keys.kind, true, "zipf"),
    PERFLAB_RUN_CONFIG_CASE(keys.keys, true, 1000),
    PERFLAB_RUN_CONFIG_CASE(keys.zipf_s, true, 1.2),
    PERFLAB_RUN_CONFIG_CASE(send_lag_bound_us, true, 250.0),
    PERFLAB_RUN_CONFIG_CASE(success, true, "2xx"),
    PERFLAB_RUN_CONFIG_CASE(max_error_rate, true, 0.25),
    PERFLAB_RUN_CONFIG_CASE(verify, true, true),
    PERFLAB_RUN_CONFIG_CASE(verify_length, true, 42),
    PERFLAB_RUN_CONFIG_CASE(output_dir, false, "/tmp/x"),
    PERFLAB_RUN_CONFIG_CASE(file_prefix, false, "mine"),
    PERFLAB_RUN_CONFIG_CASE(progress, false, true),
    PERFLAB_RUN_CONFIG_CASE(drain_timeout, true, milliseconds(300)),
    PERFLAB_RUN_CONFIG_CASE(retry.max, true, 2),
    PERFLAB_RUN_CONFIG_CASE(retry.on, true, (std::vector<int>{429})),
    PERFLAB_RUN_CONFIG_CASE(retry.exponential, true, false),
    PERFLAB_RUN_CONFIG_CASE(retry.backoff.base, true, milliseconds(7)),
    PERFLAB_RUN_CONFIG_CASE(retry.backoff.cap, true, milliseconds(70)),
    PERFLAB_RUN_CONFIG_CASE(retry.backoff.kind, true, resilience::jitter::equal),
    PERFLAB_RUN_CONFIG_CASE(retry.retry_after, true, true),
    PERFLAB_RUN_CONFIG_CASE(retry.unsafe, true, true),
    PERFLAB_RUN_CONFIG_CASE(spin_window, true, milliseconds(1)),
    {"on_measure_start", false, [](run_config& c) { c.on_measure_start = [] {}; },
     [](const run_config& a, const run_config& b) { return !a.on_measure_start == !b.on_measure_start; }},
    {"on_measure_end", false, [](run_config& c) { c.on_measure_end = [] {}; },
     [](const run_config& a, const run_config& b) { return !a.on_measure_end == !b.on_measure_end; }},
    {"stop_check", false, [](run_config& c) { c.stop_check = [](const result::variant&) { return std::string(); }; },
     [](const run_config& a, const run_config& b) { return !a.stop_check == !b.stop_check; }},
    {"link", false, [](run_config& c) { c.link = reinterpret_cast<rank_link*>(&c); },
     [](const run_config& a, const run_config& b) { return a.link == b.link; }},
    PERFLAB_RUN_CONFIG_CASE(rank_timeout, true, milliseconds(1500)),
    {"auth", true,
     [](run_config& c) { c.auth = {"jwt-eddsa", "k.pem", 7, "aud", std::chrono::seconds(90), "/in"}; },
     [](const run_config& a, const run_config& b) { return a.auth == b.auth; }},
    {"follow", true,
     [](run_config& c) { c.follow = {std::chrono::milliseconds(15), "\"state\":\"done\"", std::chrono::seconds(7)}; },
     [](const run_config& a, const run_config& b) { return a.follow == b.follow; }},
    {"cors", true, [](run_config& c) { c.cors = {"https://app.example", false}; },
     [](const run_config& a, const run_config& b) {
       return a.cors.origin == b.cors.origin && a.cors.preflight_cache == b.cors.preflight_cache;
     }},
};
#undef PERFLAB_RUN_CONFIG_CASE

// Each struct inside run_config that has cases of its own counts as its fields, not as one.
static_assert(std::size(run_config_cases) == aggregate_field_count<run_config>() - 2 +
                                                 aggregate_field_count<key_distribution>() +
                                                 aggregate_field_count<retry_policy>() - 1 +
                                                 aggregate_field_count<resilience::backoff_config>(),
              "a field of run_config (or of keys, retry, retry.backoff) has no case in run_config_cases");

TEST(RankScenario, RunConfigCarriesEveryFieldAloneAndAllTogether) {
  const run_config defaults;
  run_config all;
  for (const auto& fc : run_config_cases) {
    run_config c;
    fc.set(c);
    fc.set(all);
    ASSERT_FALSE(fc.same(c, defaults)) << fc.name << ": its case sets the default value, so it would prove nothing";
    auto d = decode_run_config(encode_run_config(c));
    ASSERT_TRUE(d) << fc.name << ": " << d.error();
    if (fc.carried) {
      EXPECT_TRUE(fc.same(*d, c)) << fc.name << " is not carried by encode_run_config/decode_run_config";
    } else {
      EXPECT_TRUE(fc.same(*d, defaults)) << fc.name << " is rank 0's own, but reached the other ranks";
    }
    // Only this field moved: nothing was read into another field's place.
    for (const auto& other : run_config_cases) {
      if (&other == &fc) continue;
      EXPECT_TRUE(other.same(*d, defaults)) << "setting " << fc.name << " changed " << other.name;
    }
  }
  const std::string bytes = encode_run_config(all);
  auto d = decode_run_config(bytes);
  ASSERT_TRUE(d) << d.error();
  for (const auto& fc : run_config_cases)
    EXPECT_TRUE(fc.same(*d, fc.carried ? all : defaults)) << fc.name << " with every field set";
  // Re-encoding the decoded config gives the same bytes: nothing else is lost.
  EXPECT_EQ(encode_run_config(*d), bytes);
}

TEST(RankScenario, RunConfigTruncatedOrWithTrailingBytesIsAnError) {
  run_config c;
  c.requests = {{"POST", "/echo", {{"X-A", "1"}}, "body", 3.0, "", {}}};
  c.cpus = {0, 1};
  const std::string bytes = encode_run_config(c);
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(decode_run_config(std::string_view(bytes).substr(0, n))) << "cut at " << n << " of " << bytes.size();
  EXPECT_FALSE(decode_run_config(bytes + "x"));
}

TEST(RankScenario, RunConfigFromAnotherWireVersionOrNotALoadgensIsRefusedSayingWhy) {
  const std::string bytes = encode_run_config(run_config{});
  // A rank 0 of another build: the version word (after the 4-byte magic) differs.
  std::string other = bytes;
  const std::uint32_t newer = dist_wire_version + 1;
  std::memcpy(other.data() + 4, &newer, sizeof newer);
  auto d = decode_run_config(other);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().find(fmt::format("wire version {} from rank 0", newer)), std::string::npos) << d.error();
  EXPECT_NE(d.error().find("same loadgen build"), std::string::npos) << d.error();
  // Not a run configuration at all.
  std::string garbage = bytes;
  garbage[0] = static_cast<char>(garbage[0] ^ 0x5a);
  d = decode_run_config(garbage);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().find("magic"), std::string::npos) << d.error();
  EXPECT_TRUE(decode_run_config(bytes));
}

// Rank 0's CPU window (loadgen.cpu_* over the measured phase) closes when the load has stopped
// everywhere: with --requests, rank 0's own share may be sent long before the others' is, and
// rank 0 keeps merging their seconds until then.
TEST(RankCpuWindow, ClosesWhenRankZerosWorkersDrainAndEveryOtherRanksSlotHasFinished) {
  collector coll(2 + 2);  // two local workers, then the slots of two other ranks
  EXPECT_FALSE(coll.load_stopped(2));
  coll.note_draining();
  coll.note_draining();
  EXPECT_FALSE(coll.load_stopped(2)) << "rank 0's share is sent, but the other ranks' load goes on";
  coll.finish(2);  // its final report came (or it was lost)
  EXPECT_FALSE(coll.load_stopped(2));
  coll.finish(3);
  EXPECT_TRUE(coll.load_stopped(2));

  collector single(2);  // a single process: every worker draining is enough, as before
  single.note_draining();
  EXPECT_FALSE(single.load_stopped(2));
  single.note_draining();
  EXPECT_TRUE(single.load_stopped(2));
}

TEST(RankTeardown, BudgetIsOpenMpisSigkillTimeoutAsExportedToTheRanks) {
  EXPECT_EQ(teardown_budget_ns(nullptr), 1'000'000'000);  // Open MPI's default, 1 s
  EXPECT_EQ(teardown_budget_ns("3"), 3'000'000'000);
  EXPECT_EQ(teardown_budget_ns("0"), 0);   // SIGKILL right after SIGTERM: nothing to wait for
  EXPECT_EQ(teardown_budget_ns("-2"), 0);
  EXPECT_EQ(teardown_budget_ns("abc"), 1'000'000'000);  // Open MPI refuses it and keeps its default
  EXPECT_EQ(teardown_budget_ns(""), 1'000'000'000);
}

}  // namespace
}  // namespace perflab::loadgen::detail
