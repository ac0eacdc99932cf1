#include <perflab/targets/metrics.hpp>

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace perflab::targets {
namespace {

TEST(MetricsCounters, SumAcrossThreadsWithoutLoss) {
  auto m = std::make_unique<metrics>();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        m->request_started();
        m->record(endpoint::hello, 200, std::chrono::microseconds(20));
        m->request_finished();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(m->requests(endpoint::hello, 200), 40000u);
  EXPECT_EQ(m->requests_total(), 40000u);
  EXPECT_EQ(m->in_flight(), 0);
}

TEST(MetricsCounters, UntrackedStatusesCountAsOther) {
  auto m = std::make_unique<metrics>();
  m->record(endpoint::invalid, 418, std::chrono::nanoseconds(1));
  m->record(endpoint::invalid, 431, std::chrono::nanoseconds(1));
  EXPECT_EQ(m->requests(endpoint::invalid, 431), 1u);
  std::string out;
  m->write_prometheus(out, "reactor");
  EXPECT_NE(out.find("perflab_target_requests_total{endpoint=\"invalid\",status=\"other\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("perflab_target_requests_total{endpoint=\"invalid\",status=\"431\"} 1\n"), std::string::npos);
}

TEST(MetricsPrometheus, HistogramBucketsAreCumulative) {
  auto m = std::make_unique<metrics>();
  m->record(endpoint::sleep, 200, std::chrono::milliseconds(3));    // le 0.005
  m->record(endpoint::sleep, 200, std::chrono::milliseconds(30));   // le 0.05
  m->record(endpoint::sleep, 200, std::chrono::seconds(20));        // +Inf only
  std::string out;
  m->write_prometheus(out, "coroutine");
  EXPECT_NE(out.find("perflab_target_request_duration_seconds_bucket{endpoint=\"sleep\",le=\"0.0025\"} 0\n"), std::string::npos);
  EXPECT_NE(out.find("perflab_target_request_duration_seconds_bucket{endpoint=\"sleep\",le=\"0.005\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("perflab_target_request_duration_seconds_bucket{endpoint=\"sleep\",le=\"0.05\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("perflab_target_request_duration_seconds_bucket{endpoint=\"sleep\",le=\"10\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("perflab_target_request_duration_seconds_bucket{endpoint=\"sleep\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("perflab_target_request_duration_seconds_count{endpoint=\"sleep\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("# TYPE perflab_target_request_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(out.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_GT(resident_memory_bytes(), 0u);
  EXPECT_GE(thread_count(), 1u);
}

TEST(MetricsConnections, TrackOpenAcceptedRefused) {
  auto m = std::make_unique<metrics>();
  m->connection_opened();
  m->connection_opened();
  m->connection_closed();
  m->connection_refused();
  EXPECT_EQ(m->open_connections(), 1);
  EXPECT_EQ(m->accepted_connections(), 2u);
  EXPECT_EQ(m->refused_connections(), 1u);
}

// io-uring's rings accept on several threads at once: the cap must hold exactly, whatever the
// interleaving (a check, then a separate increment, lets two threads take the last place).
TEST(MetricsConnections, OpenedBelowCapIsExactAcrossThreads) {
  auto m = std::make_unique<metrics>();
  constexpr std::size_t cap = 100;
  constexpr int threads = 4, tries = 5000;
  std::vector<std::thread> ts;
  std::vector<int> taken(threads, 0);
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < tries; ++i)
        if (m->connection_opened_below(cap)) {
          ++taken[t];
          if (i % 2 == 0) {  // some close again: places are taken and freed concurrently
            m->connection_closed();
            --taken[t];
          }
        }
    });
  for (auto& t : ts) t.join();
  int open = 0;
  for (int n : taken) open += n;
  EXPECT_EQ(open, static_cast<int>(cap));  // 10,000 keeps asked for, exactly `cap` granted
  EXPECT_EQ(m->open_connections(), static_cast<std::int64_t>(cap));
  EXPECT_FALSE(m->connection_opened_below(cap));
  EXPECT_EQ(m->open_connections(), static_cast<std::int64_t>(cap));
  m->connection_closed();
  EXPECT_TRUE(m->connection_opened_below(cap));
}

}  // namespace
}  // namespace perflab::targets
