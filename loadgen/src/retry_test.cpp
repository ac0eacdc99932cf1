// Client retries ([load] retry): the decision (idempotent only, listed statuses only, at most
// max), the waits (backoff none, exponential with each jitter's distribution, Retry-After capped),
// the values a user writes, and [load] retry in a scenario with its errors (file:line:column).
#include "perflab/loadgen/retry.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "perflab/loadgen/scenario.hpp"
#include "scenario_test_support.hpp"

namespace perflab::loadgen {
namespace {

using namespace std::chrono_literals;
using resilience::jitter;
using nanos = std::chrono::nanoseconds;

retry_policy two_on_503() {
  retry_policy p;
  p.max = 2;
  p.on = {503, 429};
  return p;
}

TEST(RetryDecision, OnlyIdempotentRequestsWithAListedStatusUpToMax) {
  const retry_policy p = two_on_503();
  EXPECT_TRUE(should_retry(p, true, 503, 0));
  EXPECT_TRUE(should_retry(p, true, 429, 1));
  EXPECT_FALSE(should_retry(p, true, 503, 2)) << "max retries made";
  EXPECT_FALSE(should_retry(p, false, 503, 0)) << "POST without an Idempotency-Key is never retried";
  EXPECT_FALSE(should_retry(p, true, 500, 0)) << "500 is not listed";
  EXPECT_FALSE(should_retry(p, true, 200, 0));
  retry_policy reset = two_on_503();
  reset.on.push_back(retry_policy::reset_code);
  EXPECT_TRUE(should_retry(reset, true, retry_policy::reset_code, 0)) << "a lost answer, when \"reset\" is listed";
  EXPECT_FALSE(should_retry(two_on_503(), true, retry_policy::reset_code, 0)) << "not listed: not retried";
  EXPECT_FALSE(should_retry(reset, false, retry_policy::reset_code, 0)) << "a POST without a key: not by default";
  reset.unsafe = true;
  EXPECT_TRUE(should_retry(reset, false, retry_policy::reset_code, 0)) << "unsafe: the naive client retries it";
  EXPECT_TRUE(should_retry(reset, false, 503, 1));
  EXPECT_FALSE(should_retry(reset, false, 503, 2)) << "still at most max";
  retry_policy off;
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(should_retry(off, true, 503, 0)) << "off by default";
}

TEST(RetryDelay, NoneRetriesAtOnceAndRetryAfterIsHonouredUpToTheCap) {
  retry_policy p = two_on_503();
  p.exponential = false;
  resilience::backoff b(p.backoff, 1);
  EXPECT_EQ(retry_delay(p, b, 1, -1), nanos(0));
  EXPECT_EQ(retry_delay(p, b, 1, 3), nanos(0)) << "Retry-After ignored unless retry_after";
  p.retry_after = true;
  p.backoff.cap = 2s;
  EXPECT_EQ(retry_delay(p, b, 1, 1), 1s);
  EXPECT_EQ(retry_delay(p, b, 1, 0), nanos(0));
  EXPECT_EQ(retry_delay(p, b, 1, 120), 2s) << "capped";
  EXPECT_EQ(retry_delay(p, b, 1, 999999999), 2s) << "no overflow";
  EXPECT_EQ(retry_delay(p, b, 2, -1), nanos(0)) << "absent: the backoff (none)";
}

// Many draws per retry number n: no jitter gives t = min(cap, base * 2^(n-1)) exactly; full
// jitter is uniform on [0, t] (mean t/2), equal jitter on [t/2, t] (mean 3t/4).
TEST(RetryDelay, ExponentialJittersFollowTheirDistributions) {
  struct row {
    jitter kind;
    double lo, hi, mean;  // as fractions of t
  };
  for (const row& r : {row{jitter::none, 1, 1, 1}, row{jitter::full, 0, 1, 0.5}, row{jitter::equal, 0.5, 1, 0.75}}) {
    retry_policy p = two_on_503();
    p.backoff = {50ms, 300ms, r.kind};
    resilience::backoff b(p.backoff, 7);
    for (unsigned n = 1; n <= 4; ++n) {
      const double t = static_cast<double>(std::min<nanos>(300ms, 50ms * (1 << (n - 1))).count());
      constexpr int draws = 4000;
      double sum = 0, lo = 1e30, hi = 0;
      for (int i = 0; i < draws; ++i) {
        const double d = static_cast<double>(retry_delay(p, b, n, -1).count());
        sum += d;
        lo = std::min(lo, d);
        hi = std::max(hi, d);
      }
      SCOPED_TRACE(std::string(resilience::to_string(r.kind)) + " retry " + std::to_string(n));
      EXPECT_GE(lo, r.lo * t - 1);
      EXPECT_LE(hi, r.hi * t + 1);
      // Uniform on a range of width w: the mean of 4000 draws is within 5 standard errors.
      const double width = (r.hi - r.lo) * t;
      EXPECT_NEAR(sum / draws, r.mean * t, 5 * width / std::sqrt(12.0 * draws) + 1);
    }
  }
}

TEST(RetryValues, ParsedOrRejectedWithWhatWasExpected) {
  EXPECT_EQ(*parse_retry_statuses("503, 429,503"), (std::vector<int>{503, 429}));
  EXPECT_EQ(*parse_retry_statuses("reset,503"), (std::vector<int>{retry_policy::reset_code, 503}));
  EXPECT_NE(parse_retry_statuses("resets").error().find("or \"reset\""), std::string::npos);
  EXPECT_FALSE(parse_retry_statuses("503,abc"));
  EXPECT_FALSE(parse_retry_statuses("99"));
  EXPECT_FALSE(parse_retry_statuses(""));
  EXPECT_NE(parse_retry_statuses("700").error().find("200 to 599"), std::string::npos);
  EXPECT_TRUE(*parse_retry_backoff("exponential"));
  EXPECT_FALSE(*parse_retry_backoff("none"));
  EXPECT_FALSE(parse_retry_backoff("linear"));
  EXPECT_EQ(*parse_retry_jitter("equal"), jitter::equal);
  EXPECT_NE(parse_retry_jitter("decorrelated").error().find("\"full\", \"equal\" or \"none\""), std::string::npos);
  retry_policy p = two_on_503();
  EXPECT_TRUE(check_retry_policy(p));
  p.backoff.cap = 10ms;
  EXPECT_NE(check_retry_policy(p).error().find("cap: expected at least base"), std::string::npos);
  p.exponential = false;
  EXPECT_TRUE(check_retry_policy(p)) << "without a backoff, cap only bounds Retry-After";
  EXPECT_EQ(two_on_503().describe(), "2 on 503,429, exponential 50ms..1s full jitter");
  EXPECT_EQ(retry_policy{}.describe(), "");
  retry_policy naive = two_on_503();
  naive.on = {retry_policy::reset_code, 503};
  naive.unsafe = true;
  EXPECT_EQ(naive.describe(), "2 on reset,503, any method, exponential 50ms..1s full jitter");
}

// ---- [load] retry in a scenario ----

const char* k_head = "name = \"t\"\n[target]\nmodel = \"reactor\"\n[load]\nrate = 80\nduration = \"2s\"\n";  // 6 lines

using testing::parse;

TEST(ScenarioRetry, TableFillsThePolicyAndTheMatrixCanSetIt) {
  auto sc = parse(std::string(k_head) +
                  "retry = { on = [503, 429], max = 2, backoff = \"exponential\", base = \"20ms\", cap = \"500ms\", "
                  "jitter = \"equal\", retry_after = true }\n");
  ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
  const retry_policy& p = sc->variants[0].load.retry;
  EXPECT_EQ(p.max, 2);
  EXPECT_EQ(p.on, (std::vector<int>{503, 429}));
  EXPECT_TRUE(p.exponential);
  EXPECT_EQ(p.backoff.base, 20ms);
  EXPECT_EQ(p.backoff.cap, 500ms);
  EXPECT_EQ(p.backoff.kind, jitter::equal);
  EXPECT_TRUE(p.retry_after);
  auto naive = parse(std::string(k_head) + "retry = { on = [\"reset\", 503], max = 3, unsafe = true }\n");
  ASSERT_TRUE(naive.has_value()) << naive.error().to_string();
  EXPECT_EQ(naive->variants[0].load.retry.on, (std::vector<int>{retry_policy::reset_code, 503}));
  EXPECT_TRUE(naive->variants[0].load.retry.unsafe);
  EXPECT_FALSE(p.unsafe) << "idempotent requests only by default";
  auto off = parse(k_head);
  ASSERT_TRUE(off.has_value());
  EXPECT_FALSE(off->variants[0].load.retry.enabled()) << "off by default";
  // A matrix axis on load.retry.max (the pool-timeout scenario's retries column).
  auto m = parse(std::string(k_head) + "[matrix]\n\"load.retry.max\" = [0, 2]\n");
  ASSERT_TRUE(m.has_value()) << m.error().to_string();
  ASSERT_EQ(m->variants.size(), 2u);
  EXPECT_EQ(m->variants[0].load.retry.max, 0);
  EXPECT_EQ(m->variants[1].load.retry.max, 2);
  EXPECT_EQ(m->variants[1].load.retry.on, (std::vector<int>{502, 503, 504}));
}

TEST(ScenarioRetry, BadValuesNameFileLineColumnAndWhatWasExpected) {
  struct bad {
    std::string line;
    std::string where, message;
  };
  const std::vector<bad> cases = {
      {"retry = 2", "s.toml:7:9", "load.retry: expected a table"},
      {"retry = { on = [503] }", "s.toml:7:9", "load.retry: expected max = N"},
      {"retry = { max = -1 }", "s.toml:7:17", "load.retry.max: expected an integer from 0 to 100"},
      {"retry = { max = 2, on = [\"503\"] }", "s.toml:7:26", "load.retry.on: expected an array of status codes"},
      {"retry = { max = 2, on = [503, 700] }", "s.toml:7:25", "load.retry.on: expected HTTP status codes from 200 to 599"},
      {"retry = { max = 2, backoff = \"linear\" }", "s.toml:7:30", "load.retry.backoff: expected \"exponential\" or \"none\""},
      {"retry = { max = 2, jitter = \"decorrelated\" }", "s.toml:7:29", "load.retry.jitter: expected \"full\", \"equal\" or \"none\""},
      {"retry = { max = 2, backoff = \"none\", base = \"10ms\" }", "s.toml:7:45", "applies to backoff = \"exponential\" only"},
      {"retry = { max = 2, base = \"soon\" }", "s.toml:7:27", "load.retry.base: "},
      {"retry = { max = 2, base = \"100ms\", cap = \"50ms\" }", "s.toml:7:42", "load.retry.cap: expected at least base (100ms)"},
      {"retry = { max = 2, retry_after = \"yes\" }", "s.toml:7:34", "load.retry.retry_after: expected true or false"},
      {"retry = { max = 2, tries = 3 }", "s.toml:7:20", "unknown key 'load.retry.tries'"},
      {"retry = { max = 2, unsafe = 1 }", "s.toml:7:29", "load.retry.unsafe: expected true or false"},
  };
  for (const auto& c : cases) {
    auto sc = parse(std::string(k_head) + c.line + "\n");
    ASSERT_FALSE(sc.has_value()) << c.line;
    EXPECT_EQ(sc.error().where.substr(0, c.where.size()), c.where) << c.line << ": " << sc.error().to_string();
    EXPECT_NE(sc.error().message.find(c.message), std::string::npos) << c.line << ": " << sc.error().to_string();
  }
}

}  // namespace
}  // namespace perflab::loadgen
