// The session's Redis steps without Redis: the test plays the remote cache (a map, or a failure)
// where a model would call redis_pool or redis_asio, and checks the order of the steps, the
// answers (X-Cache, X-Cache-Tier) and the counters.
#include <perflab/targets/session.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "session_harness.hpp"

namespace perflab::targets {
namespace {

server_config remote_config(const char* policy, bool coalesce = false) {
  server_config cfg;
  cache_options o;
  o.policy = policy;
  o.coalesce = coalesce ? "on" : "off";
  o.remote = "redis://127.0.0.1:6379";
  o.origin_latency = "3ms";
  o.ttl = "5s";
  EXPECT_TRUE(apply_cache_options(o, cfg));
  return cfg;
}

// A session and a fake Redis: runs every step a model would, recording them.
struct remote_harness {
  explicit remote_harness(const char* policy) : ctx(std::make_unique<server_context>(remote_config(policy))), s(*ctx) {}

  // Sends one request and runs its steps; returns the output.
  std::string request(std::string_view req) {
    steps.clear();
    std::string out;
    auto st = s.process();
    EXPECT_EQ(st.what, session::next::read);
    std::memcpy(s.read_space().data(), req.data(), req.size());
    s.commit(req.size());
    st = s.process();
    for (;;) {
      while (s.output_pending()) {
        const auto o = s.output();
        out.append(o.buffered).append(o.streamed);
        s.output_written(o.size());
      }
      if (st.what == session::next::wait) {
        steps += "origin ";
        s.finish_wait();
      } else if (st.what == session::next::remote) {
        const auto& r = s.remote_request();
        steps += std::string(cache::to_string(r.op)) + " ";
        run_remote(r);
        s.finish_wait();
      } else if (st.what != session::next::more) {
        return out;
      }
      st = s.process();
    }
  }

  void run_remote(const cache::remote_request& r) {
    if (down) return s.finish_remote(cache::remote_status::error, {});
    const std::string key(r.key);
    switch (r.op) {
      case cache::remote_op::get: {
        const auto it = redis.find(key);
        if (it == redis.end()) return s.finish_remote(cache::remote_status::miss, {});
        return s.finish_remote(cache::remote_status::hit, it->second);
      }
      case cache::remote_op::set: redis[key] = std::string(r.value); return s.finish_remote(cache::remote_status::ok, {});
      case cache::remote_op::del:
        return s.finish_remote(redis.erase(key) ? cache::remote_status::hit : cache::remote_status::miss, {});
      case cache::remote_op::purge: redis.clear(); return s.finish_remote(cache::remote_status::ok, {});
    }
  }

  std::unique_ptr<server_context> ctx;
  session s;
  std::map<std::string, std::string> redis;
  bool down = false;
  std::string steps;
};

const std::string get_k = "GET /cache/k HTTP/1.1\r\nHost: x\r\n\r\n";

bool has(const std::string& out, std::string_view line) { return out.find(line) != std::string::npos; }

TEST(SessionRemote, RedisAloneMissGoesToTheOriginThenSetsThenHits) {
  remote_harness h("none");
  auto out = h.request(get_k);
  EXPECT_EQ(h.steps, "get origin set ");
  EXPECT_TRUE(has(out, "\r\nX-Cache: MISS\r\nX-Cache-Tier: origin\r\n")) << out;
  ASSERT_EQ(h.redis.count("k"), 1u);
  EXPECT_EQ(h.redis["k"].rfind("key=k call=1", 0), 0u);
  out = h.request(get_k);
  EXPECT_EQ(h.steps, "get ");
  EXPECT_TRUE(has(out, "\r\nX-Cache: HIT\r\nX-Cache-Tier: remote\r\n")) << out;
  EXPECT_TRUE(has(out, "key=k call=1"));
  EXPECT_EQ(h.ctx->cache->stats().origin_calls, 1u);
}

TEST(SessionRemote, TwoLevelsAskRedisOnlyOnALocalMiss) {
  remote_harness h("lru");
  h.redis["k"] = "from redis\n";
  auto out = h.request(get_k);
  EXPECT_EQ(h.steps, "get ");
  EXPECT_TRUE(has(out, "X-Cache-Tier: remote")) << out;
  out = h.request(get_k);  // now in the local store
  EXPECT_EQ(h.steps, "");
  EXPECT_TRUE(has(out, "\r\nX-Cache: HIT\r\nX-Cache-Tier: local\r\n")) << out;
  EXPECT_TRUE(has(out, "from redis"));
  EXPECT_EQ(h.ctx->cache->stats().origin_calls, 0u);
}

TEST(SessionRemote, AFailedGetFallsBackToTheOriginAndIsCounted) {
  remote_harness h("none");
  h.down = true;
  const auto out = h.request(get_k);
  EXPECT_EQ(h.steps, "get origin set ");  // the set fails too; the answer is the origin's
  EXPECT_TRUE(has(out, "HTTP/1.1 200 ")) << out;
  EXPECT_TRUE(has(out, "X-Cache: MISS\r\nX-Cache-Tier: origin")) << out;
  EXPECT_EQ(h.ctx->remote_stats.fallbacks.load(), 1u);
  EXPECT_EQ(h.ctx->cache->stats().origin_calls, 1u);
}

TEST(SessionRemote, DeleteAndPurgeReachRedis) {
  remote_harness h("lru");
  h.request(get_k);
  ASSERT_EQ(h.redis.size(), 1u);
  auto out = h.request("DELETE /cache/k HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(h.steps, "del ");
  EXPECT_TRUE(has(out, "HTTP/1.1 200 ")) << out;
  EXPECT_TRUE(h.redis.empty());
  out = h.request("DELETE /cache/k HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(has(out, "HTTP/1.1 404 ")) << out;
  h.redis["other"] = "x";
  out = h.request("PURGE /cache HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(h.steps, "purge ");
  EXPECT_TRUE(has(out, "HTTP/1.1 200 ")) << out;
  EXPECT_TRUE(h.redis.empty());
}

TEST(SessionRemote, MissesOfRedisStillShareOneOriginCallWhenCoalesced) {
  auto ctx = std::make_unique<server_context>(remote_config("none", true));
  session leader(*ctx), follower(*ctx);
  ASSERT_EQ(send_only(leader, get_k).what, session::next::remote);    // both ask Redis ...
  ASSERT_EQ(send_only(follower, get_k).what, session::next::remote);
  leader.finish_remote(cache::remote_status::miss, {});              // ... which has nothing
  leader.finish_wait();
  follower.finish_remote(cache::remote_status::miss, {});
  follower.finish_wait();
  ASSERT_EQ(leader.process().what, session::next::wait);    // the origin call
  ASSERT_EQ(follower.process().what, session::next::join);  // joins it
  leader.finish_wait();
  const auto set = leader.process();  // the leader stores the value in Redis before answering
  ASSERT_EQ(set.what, session::next::remote);
  EXPECT_EQ(leader.remote_request().op, cache::remote_op::set);
  follower.finish_wait();  // the follower has its answer already
  EXPECT_NE(follower.output().buffered.find("X-Cache: MISS\r\nX-Cache-Tier: origin"), std::string_view::npos);
  leader.finish_remote(cache::remote_status::ok, {});
  leader.finish_wait();
  EXPECT_NE(leader.output().buffered.find("key=k call=1"), std::string_view::npos);
  EXPECT_EQ(ctx->cache->stats().origin_calls, 1u);
  EXPECT_EQ(ctx->cache->stats().coalesced_waits, 1u);
}

}  // namespace
}  // namespace perflab::targets
