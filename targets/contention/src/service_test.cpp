// The service's parts are built at first use, and a handoff is answered exactly once by the
// thread it went to, whether the model waits (blocking) or subscribes (an event loop), including
// a job done before its waiter was registered.
#include "perflab/contention/service.hpp"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace perflab::contention;
using namespace std::chrono_literals;

TEST(ContentionService, PartsAreBuiltAtFirstUse) {
  service svc(service_config{});
  EXPECT_EQ(svc.stocks_if_built(), nullptr);
  EXPECT_EQ(svc.jobs_if_built(), nullptr) << "no worker threads until a job comes";
  EXPECT_EQ(svc.idempotency_if_built(), nullptr);
  svc.stocks();
  EXPECT_NE(svc.stocks_if_built(), nullptr);
  EXPECT_EQ(svc.create_order(), 1u);
  EXPECT_EQ(svc.create_order(), 2u);
  EXPECT_EQ(svc.orders_created(), 2u);
}

TEST(ContentionHandoff, SingleWriterBuysAreAnsweredOnceWaitedOrSubscribed) {
  service_config c;
  c.strategy = stock_strategy::single_writer;
  c.initial = 100;
  service svc(c);
  auto h = std::make_shared<handoff>();
  int bought = 0;
  for (int i = 0; i < 150; ++i) {
    h->start_buy(svc.stocks(), 0, 1);
    if (i % 2) {
      h->wait();
    } else {
      std::atomic<int> calls{0};
      if (h->subscribe([&] { ++calls; })) {
        while (calls.load() == 0) std::this_thread::yield();
      }
      h->wait();  // answered: returns at once
      EXPECT_LE(calls.load(), 1);
    }
    bought += h->buy().bought;
  }
  EXPECT_EQ(bought, 100);
  EXPECT_TRUE(svc.stocks().audit().ok());
}

TEST(ContentionHandoff, EveryJobWaiterIsCompletedEvenWhenTheJobBeatsItsRegistration) {
  service_config c;
  c.jobs.workers = 4;
  c.jobs.work = 0ns;  // done at once: the worker often finishes while the waiter is being registered
  service svc(c);
  std::vector<std::thread> ts;
  std::atomic<int> done{0};
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      auto h = std::make_shared<handoff>();
      for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(svc.submit_job_and_notify(h));
        h->wait();
        if (h->job().state == job_state::done && h->job().finished_ns >= h->job().accepted_ns) ++done;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(done.load(), 800);
  EXPECT_EQ(svc.job_completion().count, 800u) << "a job seen done by its waiter is already counted";
}

TEST(StockRedisUrl, AcceptsHostAndOptionalPortOnly) {
  struct row {
    const char* url;
    bool ok;
    const char* host;
    int port;
  };
  for (const row& r : {row{"redis://127.0.0.1:6380", true, "127.0.0.1", 6380}, row{"redis://cache", true, "cache", 6379},
                       row{"http://h:1", false, "", 0}, row{"redis://", false, "", 0}, row{"redis://h:0", false, "", 0},
                       row{"redis://h:99999", false, "", 0}, row{"redis://u@h:1", false, "", 0},
                       row{"redis://h:1/2", false, "", 0}}) {
    SCOPED_TRACE(r.url);
    const auto c = parse_stock_redis_url(r.url);
    ASSERT_EQ(c.has_value(), r.ok);
    if (!r.ok) continue;
    EXPECT_EQ(c->host, r.host);
    EXPECT_EQ(c->port, r.port);
  }
}

}  // namespace
