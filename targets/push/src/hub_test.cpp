#include "perflab/push/hub.hpp"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

namespace perflab::push {
namespace {

hub_config small(std::size_t history, std::size_t queue) {
  hub_config c;
  c.history = history;
  c.queue = queue;
  return c;
}

std::vector<std::uint64_t> seqs(const std::vector<message_ptr>& ms) {
  std::vector<std::uint64_t> out;
  for (const auto& m : ms) out.push_back(m->seq);
  return out;
}

TEST(PushHub, NumbersEachTopicFromOneAndStampsThePublishTime) {
  hub h(small(8, 8));
  EXPECT_EQ((*h.publish("a", "x", 100))->seq, 1u);
  EXPECT_EQ((*h.publish("a", "y", 200))->seq, 2u);
  EXPECT_EQ((*h.publish("b", "z", 300))->seq, 1u);
  std::vector<message_ptr> out;
  auto r = h.read("a", 0, 100, out);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->last, 2u);
  EXPECT_FALSE(r->gap);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1]->publish_ns, 200);
  EXPECT_EQ(out[1]->body, "y");
  EXPECT_EQ(h.stats().published, 3u);
  EXPECT_EQ(h.stats().topics, 2u);
}

TEST(PushHub, HistoryKeepsTheLastNAndReportsTheGapBeforeThem) {
  hub h(small(3, 8));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(h.publish("t", "m", i));
  std::vector<message_ptr> out;
  auto r = h.read("t", 0, 100, out);
  EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{8, 9, 10}));
  EXPECT_TRUE(r->gap);  // 1..7 are gone
  out.clear();
  r = h.read("t", 7, 100, out);
  EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{8, 9, 10}));
  EXPECT_FALSE(r->gap);  // nothing after 7 is missing
  out.clear();
  r = h.read("t", 8, 1, out);
  EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{9}));  // limit
  out.clear();
  r = h.read("t", 10, 100, out);
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(r->gap);
  EXPECT_EQ(r->last, 10u);
  out.clear();
  r = h.read("t", 99, 100, out);  // ahead of the topic (another server's numbers): nothing, no gap
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(r->gap);
}

TEST(PushHub, SubscriberGetsEveryLaterMessageOnceInOrder) {
  hub h(small(16, 16));
  h.publish("t", "before", 1);
  auto s = h.subscribe("t", std::nullopt);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->at.last, 1u);
  for (int i = 0; i < 5; ++i) h.publish("t", "m", i);
  std::vector<message_ptr> got;
  s->sub->take(got);
  EXPECT_EQ(seqs(got), (std::vector<std::uint64_t>{2, 3, 4, 5, 6}));
  got.clear();
  s->sub->take(got);
  EXPECT_TRUE(got.empty());  // taken once
  h.unsubscribe(*s->sub);
  h.publish("t", "after", 9);
  s->sub->take(got);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(h.stats().subscribers, 0u);
}

TEST(PushHub, ResumedSubscriberGetsTheHistoryAfterItsLastIdFirst) {
  hub h(small(4, 16));
  for (int i = 0; i < 6; ++i) h.publish("t", "m", i);  // history 3..6
  auto s = h.subscribe("t", 4);
  std::vector<message_ptr> got;
  s->sub->take(got);
  EXPECT_EQ(seqs(got), (std::vector<std::uint64_t>{5, 6}));
  EXPECT_FALSE(s->at.gap);
  auto old = h.subscribe("t", 1);  // 2 is gone
  EXPECT_TRUE(old->at.gap);
  got.clear();
  old->sub->take(got);
  EXPECT_EQ(seqs(got), (std::vector<std::uint64_t>{3, 4, 5, 6}));
}

TEST(PushHub, SlowSubscriberIsDroppedAtItsQueueBoundAndFreesItsMessages) {
  hub h(small(4, 3));
  auto slow = h.subscribe("t", std::nullopt);
  auto fast = h.subscribe("t", std::nullopt);
  std::vector<message_ptr> got;
  for (int i = 0; i < 3; ++i) h.publish("t", "m", i);
  fast->sub->take(got);
  EXPECT_FALSE(slow->sub->dropped());  // exactly at the bound: kept
  h.publish("t", "m", 3);              // one more than slow's queue holds
  EXPECT_TRUE(slow->sub->dropped());
  EXPECT_FALSE(fast->sub->dropped());
  std::vector<message_ptr> none;
  slow->sub->take(none);
  EXPECT_TRUE(none.empty());
  h.publish("t", "m", 4);
  fast->sub->take(got);
  EXPECT_EQ(seqs(got), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  const auto st = h.stats();
  EXPECT_EQ(st.dropped_subscribers, 1u);
  EXPECT_EQ(st.subscribers, 1u);
  h.unsubscribe(*slow->sub);  // already gone: no double count
  EXPECT_EQ(h.stats().subscribers, 1u);
}

TEST(PushHub, NotifyOnceFiresOnThePublishAndNotWhenSomethingIsQueued) {
  hub h(small(4, 4));
  auto s = h.subscribe("t", std::nullopt);
  int calls = 0;
  ASSERT_TRUE(s->sub->notify_once([&] { ++calls; }));
  h.publish("t", "a", 1);
  h.publish("t", "b", 2);
  EXPECT_EQ(calls, 1);  // once
  EXPECT_FALSE(s->sub->notify_once([&] { ++calls; }));  // something to take: go on at once
  std::vector<message_ptr> got;
  s->sub->take(got);
  ASSERT_TRUE(s->sub->notify_once([&] { ++calls; }));
  s->sub->cancel_notify();
  h.publish("t", "c", 3);
  EXPECT_EQ(calls, 1);
  h.close_all();
  EXPECT_TRUE(s->sub->closed());
}

// POST /admin/push/disconnect: every subscription of the moment ends (counted once), gets nothing
// more, and a later subscriber is fed as before; a resumed one gets what it missed from the history.
TEST(PushHub, CloseAllEndsTheCurrentSubscriptionsOnlyAndCountsEachOnce) {
  hub h(small(16, 16));
  auto a = h.subscribe("t", std::nullopt);
  auto b = h.subscribe("u", std::nullopt);
  h.publish("t", "1", 1);
  EXPECT_EQ(h.close_all(), 2u);
  EXPECT_TRUE(a->sub->closed());
  EXPECT_TRUE(b->sub->closed());
  EXPECT_EQ(h.stats().subscribers, 0u);
  h.publish("t", "2", 2);
  std::vector<message_ptr> got;
  a->sub->take(got);
  EXPECT_EQ(seqs(got), (std::vector<std::uint64_t>{1}));  // nothing after its end
  h.unsubscribe(*a->sub);  // the session's own unsubscribe finds nothing left to do
  EXPECT_EQ(h.stats().subscribers, 0u);
  auto back = h.subscribe("t", std::optional<std::uint64_t>(1));
  EXPECT_FALSE(back->sub->closed());
  h.publish("t", "3", 3);
  got.clear();
  back->sub->take(got);
  EXPECT_EQ(seqs(got), (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(h.close_all(), 1u);
  EXPECT_EQ(h.stats().disconnected, 3u);
}

TEST(PushHub, BlockingWaitEndsOnAPublishFromAnotherThread) {
  hub h(small(4, 4));
  auto s = h.subscribe("t", std::nullopt);
  std::thread publisher([&] { h.publish("t", "x", 1); });
  s->sub->wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(30));
  publisher.join();
  std::vector<message_ptr> got;
  s->sub->take(got);
  EXPECT_EQ(seqs(got), (std::vector<std::uint64_t>{1}));
}

TEST(PushHub, ConcurrentPublishersKeepOneOrderForEverySubscriber) {
  hub h(small(64, 100000));
  auto a = h.subscribe("t", std::nullopt);
  auto b = h.subscribe("t", std::nullopt);
  std::vector<std::thread> pubs;
  for (int p = 0; p < 4; ++p)
    pubs.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) h.publish("t", "m", i);
    });
  for (auto& t : pubs) t.join();
  std::vector<message_ptr> ga, gb;
  a->sub->take(ga);
  b->sub->take(gb);
  ASSERT_EQ(ga.size(), 4000u);
  for (std::size_t i = 0; i < ga.size(); ++i) ASSERT_EQ(ga[i]->seq, i + 1);
  EXPECT_EQ(seqs(ga), seqs(gb));
}

TEST(PushHub, RefusesTopicsPastTheBoundAndMessagesPastTheSize) {
  hub_config c = small(4, 4);
  c.max_topics = 2;
  c.max_message = 4;
  hub h(c);
  EXPECT_TRUE(h.publish("a", "1234", 0));
  EXPECT_EQ(h.publish("a", "12345", 0).error(), hub::errc::too_large);
  EXPECT_TRUE(h.subscribe("b", std::nullopt));
  EXPECT_EQ(h.publish("c", "x", 0).error(), hub::errc::too_many_topics);
  std::vector<message_ptr> out;
  EXPECT_FALSE(h.read("d", 0, 1, out));
  EXPECT_EQ(h.stats().refused_topics, 2u);
}

TEST(PushHub, TopicNamesAndConfigSpecs) {
  EXPECT_TRUE(valid_topic("news.eu-1_b"));
  EXPECT_FALSE(valid_topic(""));
  EXPECT_FALSE(valid_topic("a/b"));
  EXPECT_FALSE(valid_topic("a b"));
  EXPECT_FALSE(valid_topic(std::string(129, 'a')));
  auto c = parse_hub_config("history=4k,queue=16,heartbeat=2s,retry=500ms,max-poll=5s,topics=10,max-message=1KiB");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->history, 4000u);
  EXPECT_EQ(c->queue, 16u);
  EXPECT_EQ(c->heartbeat, std::chrono::seconds(2));
  EXPECT_EQ(c->retry, std::chrono::milliseconds(500));
  EXPECT_EQ(c->max_topics, 10u);
  EXPECT_EQ(c->max_message, 1024u);
  for (const char* bad : {"history=0", "queue=1.5", "heartbeat=0", "nope=1", "history", "retry=x"}) {
    auto e = parse_hub_config(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_NE(e.error().find("--push"), std::string::npos) << e.error();
  }
}

TEST(PushHub, MessageJsonEscapesTheBody) {
  message m{7, 123, std::string("a\"b\\c\nd\x01", 8)};
  std::string out;
  append_message_json(m, out);
  EXPECT_EQ(out, R"({"seq":7,"ts":123,"data":"a\"b\\c\nd\u0001"})");
}

}  // namespace
}  // namespace perflab::push
