#include <perflab/db/sim.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include <perflab/db/latency.hpp>
#include <perflab/db/service.hpp>

namespace {

using namespace perflab::db;
using namespace std::chrono_literals;

constexpr std::int64_t one_ms = 1'000'000;

TEST(SimDatabase, WithoutACoreLimitEveryQueryTakesItsServiceTime) {
  sim_database db({});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(db.schedule(0, 100ms), 100 * one_ms);
  EXPECT_EQ(db.in_database(99 * one_ms), 50u);
  EXPECT_EQ(db.in_database(100 * one_ms), 0u);
}

TEST(SimDatabase, QueriesBeyondItsCoresQueueFirstComeFirstServed) {
  sim_config c;
  c.cores = 2;
  sim_database db(c);
  EXPECT_EQ(db.schedule(0, 10ms), 10 * one_ms);
  EXPECT_EQ(db.schedule(0, 10ms), 10 * one_ms);
  EXPECT_EQ(db.schedule(0, 10ms), 20 * one_ms);  // waits for a core
  EXPECT_EQ(db.schedule(1 * one_ms, 10ms), 20 * one_ms);
  EXPECT_EQ(db.schedule(30 * one_ms, 10ms), 40 * one_ms);  // idle cores: no wait
}

TEST(SimDatabase, ContentionSlowsQueriesBeyondItsCores) {
  sim_config c;
  c.cores = 1;
  c.contention = 0.5;
  sim_database db(c);
  EXPECT_EQ(db.schedule(0, 10ms), 10 * one_ms);
  EXPECT_EQ(db.schedule(0, 10ms), 10 * one_ms + 15 * one_ms);  // 2 in the database: 1.5x, after the first
}

TEST(SimDatabase, FailRateKillsConnectionsAtAboutThatRate) {
  sim_config c;
  c.fail_rate = 0.25;
  c.seed = 7;
  sim_database db(c);
  int lost = 0;
  for (int i = 0; i < 2000; ++i) {
    std::unique_ptr<connection> conn;
    db.start_open(conn, 0);
    result r;
    query q;
    db.start_query(*conn, q, r, 0);
    db.resume_query(*conn, r, 0);
    if (r.what == outcome::lost) {
      ++lost;
      EXPECT_FALSE(conn->alive());
    }
  }
  EXPECT_NEAR(lost / 2000.0, 0.25, 0.03);
}

TEST(SimDatabase, TerminatedConnectionFailsItsNextQueryAtOnce) {
  sim_database db({});
  std::unique_ptr<connection> conn;
  EXPECT_EQ(db.start_open(conn, 0).at_ns, 2 * one_ms);  // the default connect cost
  conn->terminate();
  result r;
  EXPECT_EQ(db.start_query(*conn, query{}, r, 0).what, wait_for::kind::done);
  EXPECT_EQ(r.what, outcome::lost);
}

TEST(SimDatabase, ItemsAreRowsOneToItemCount) {
  sim_database db({});
  std::unique_ptr<connection> conn;
  db.start_open(conn, 0);
  result r;
  query q{query::kind::item, 1ms, 42};
  db.start_query(*conn, q, r, 0);
  db.resume_query(*conn, r, 0);
  EXPECT_EQ(r.what, outcome::ok);
  EXPECT_EQ(r.body, "{\"id\":42,\"name\":\"item-42\",\"price_cents\":2598}\n");
  q.id = item_count + 1;
  db.start_query(*conn, q, r, 0);
  db.resume_query(*conn, r, 0);
  EXPECT_EQ(r.what, outcome::not_found);
}

TEST(Latency, ParsesEachShapeAndRejectsTheRest) {
  struct row {
    const char* text;
    bool ok;
    latency_dist::shape shape;
  };
  for (const auto& r : {row{"5ms", true, latency_dist::shape::fixed}, row{"fixed:100ms", true, latency_dist::shape::fixed},
                        row{"exp:5ms", true, latency_dist::shape::exp},
                        row{"lognormal:5ms,0.5", true, latency_dist::shape::lognormal}, row{"gauss:5ms", false, {}},
                        row{"lognormal:5ms", false, {}}, row{"exp:-1ms", false, {}}, row{"lognormal:5ms,x", false, {}},
                        row{"", false, {}}}) {
    const auto d = parse_latency(r.text);
    EXPECT_EQ(d.has_value(), r.ok) << r.text;
    if (d && r.ok) {
      EXPECT_EQ(d->what, r.shape) << r.text;
    }
  }
}

TEST(Latency, DrawsAreSeededAndHaveTheirMean) {
  const auto d = *parse_latency("exp:10ms");
  latency_sampler a(d, 3), b(d, 3);
  double sum = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto x = a.draw();
    EXPECT_EQ(x, b.draw());  // same seed, same sequence
    sum += static_cast<double>(x.count());
  }
  EXPECT_NEAR(sum / 20000, 10000, 400);
  const auto ln = *parse_latency("lognormal:10ms,0.5");
  latency_sampler l(ln, 1);
  std::vector<std::int64_t> xs;
  for (int i = 0; i < 20001; ++i) xs.push_back(l.draw().count());
  std::nth_element(xs.begin(), xs.begin() + 10000, xs.end());
  EXPECT_NEAR(xs[10000], 10000, 400);  // the median is the scale
}

TEST(DbOptions, BadValuesNameTheOption) {
  struct row {
    void (*set)(options&);
    const char* names;
  };
  const row rows[] = {
      {[](options& o) { o.pool_size = "-1"; }, "--pool-size"},
      {[](options& o) { o.pool_size = "0"; }, "--pool-size"},
      {[](options& o) { o.min_idle = "11"; }, "--pool-min-idle"},
      {[](options& o) { o.min_idle = "-2"; }, "--pool-min-idle"},
      {[](options& o) { o.acquire_timeout = "0"; }, "--pool-acquire-timeout"},
      {[](options& o) { o.idle_timeout = "-5s"; }, "--pool-idle-timeout"},
      {[](options& o) { o.max_lifetime = "soon"; }, "--pool-max-lifetime"},
      {[](options& o) { o.validation = "sometimes"; }, "--pool-validation"},
      {[](options& o) { o.url = "mysql://x"; }, "--db"},
      {[](options& o) { o.latency = "gauss:5ms"; }, "--db-latency"},
      {[](options& o) { o.cores = "-1"; }, "--db-cores"},
      {[](options& o) { o.fail_rate = "1.5"; }, "--db-fail-rate"},
      {[](options& o) { o.connect_cost = "-1ms"; }, "--db-connect-cost"},
  };
  for (const auto& r : rows) {
    options o;
    r.set(o);
    const auto c = parse_options(o);
    ASSERT_FALSE(c.has_value()) << r.names;
    EXPECT_EQ(c.error().rfind(std::string(r.names) + ":", 0), 0u) << c.error();
  }
}

TEST(DbOptions, DefaultsFollowHikariCp) {
  const auto c = parse_options({});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pool.max_size, 10u);
  EXPECT_EQ(c->pool.min_idle, 10u);  // minimumIdle defaults to maximumPoolSize
  EXPECT_EQ(c->pool.acquire_timeout, 30s);
  EXPECT_EQ(c->pool.idle_timeout, 10min);
  EXPECT_EQ(c->pool.max_lifetime, 30min);
  EXPECT_EQ(c->url, "sim");
  options o;
  o.url = "postgresql://lab@127.0.0.1:5432/lab";
  o.no_pool = true;
  const auto pg = parse_options(o);
  ASSERT_TRUE(pg);
  EXPECT_FALSE(pg->pool.enabled);
}

TEST(ItemForKey, DecimalKeysAreRanksAndOtherKeysHashToARow) {
  EXPECT_EQ(item_for_key("0"), 1u);  // the loadgen's most popular key
  EXPECT_EQ(item_for_key("41"), 42u);
  EXPECT_EQ(item_for_key("1000"), 1u);
  EXPECT_EQ(item_for_key("word"), item_for_key("word"));  // the same row on every call
  for (const char* k : {"word", "", "-1", "12345678901234567890123"}) {
    EXPECT_GE(item_for_key(k), 1u) << k;
    EXPECT_LE(item_for_key(k), item_count) << k;
  }
}

}  // namespace
