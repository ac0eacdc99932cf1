#include "distributed.hpp"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

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

TEST(RankScenario, RunConfigRoundTripsEveryLoadFieldAndTruncationIsAnError) {
  run_config c;
  c.url = "http://127.0.0.1:8080";
  c.engine = "asio";
  c.http2 = true;
  c.cacert = "/etc/ca.pem";
  c.kind = "open";
  c.arrival = "poisson";
  c.rate = 1234.5;
  c.stages = {{2.0, 100.0}, {3.0, 500.0}};
  c.seed = 99;
  c.connections = 17;
  c.duration = std::chrono::milliseconds(2500);
  c.warmup = std::chrono::seconds(1);
  c.rank_timeout = std::chrono::milliseconds(1500);
  c.max_requests = 5001;
  c.keepalive = keepalive_policy::max_requests;
  c.max_requests_per_connection = 9;
  c.threads = 3;
  c.cpus = {0, 2};
  c.requests = {{"POST", "/echo", {{"X-A", "1"}, {"Content-Type", "text/plain"}}, "body", 3.0}, {}};
  c.keys.kind = "zipf";
  c.keys.keys = 1000;
  c.success = "2xx";
  c.verify = true;
  c.verify_length = 42;
  c.retry.max = 2;
  c.retry.on = {503, 429};
  c.retry.retry_after = true;
  c.retry.backoff.kind = resilience::jitter::equal;
  c.output_dir = "/tmp/x";  // rank 0's alone: not sent
  c.progress = true;

  const std::string bytes = encode_run_config(c);
  auto d = decode_run_config(bytes);
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->url, c.url);
  EXPECT_TRUE(d->http2);
  EXPECT_EQ(d->cacert, c.cacert);
  EXPECT_EQ(d->arrival, "poisson");
  EXPECT_EQ(d->rate, c.rate);
  ASSERT_EQ(d->stages.size(), 2u);
  EXPECT_EQ(d->stages[1].target_rate, 500.0);
  EXPECT_EQ(d->seed, 99u);
  EXPECT_EQ(d->connections, 17);
  EXPECT_EQ(d->duration, c.duration);
  EXPECT_EQ(d->warmup, c.warmup);
  EXPECT_EQ(d->rank_timeout, c.rank_timeout);
  EXPECT_EQ(d->max_requests, 5001);
  EXPECT_EQ(d->keepalive, keepalive_policy::max_requests);
  EXPECT_EQ(d->max_requests_per_connection, 9);
  EXPECT_EQ(d->threads, 3);
  EXPECT_EQ(d->cpus, c.cpus);
  ASSERT_EQ(d->requests.size(), 2u);
  EXPECT_EQ(d->requests[0].method, "POST");
  EXPECT_EQ(d->requests[0].headers, c.requests[0].headers);
  EXPECT_EQ(d->requests[0].body, "body");
  EXPECT_EQ(d->requests[0].weight, 3.0);
  EXPECT_EQ(d->requests[1].path, "/");
  EXPECT_EQ(d->keys.kind, "zipf");
  EXPECT_EQ(d->keys.keys, 1000u);
  EXPECT_EQ(d->success, "2xx");
  EXPECT_TRUE(d->verify);
  EXPECT_EQ(d->verify_length, 42);
  EXPECT_EQ(d->retry.max, 2);
  EXPECT_EQ(d->retry.on, c.retry.on);
  EXPECT_TRUE(d->retry.retry_after);
  EXPECT_EQ(d->retry.backoff.kind, resilience::jitter::equal);
  EXPECT_TRUE(d->output_dir.empty());
  EXPECT_FALSE(d->progress);
  EXPECT_EQ(d->link, nullptr);
  // Re-encoding the decoded config gives the same bytes: nothing else is lost.
  EXPECT_EQ(encode_run_config(*d), bytes);

  EXPECT_FALSE(decode_run_config(std::string_view(bytes).substr(0, bytes.size() - 1)));
  EXPECT_FALSE(decode_run_config(bytes + "x"));
}

}  // namespace
}  // namespace perflab::loadgen::detail
