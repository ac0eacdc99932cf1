#pragma once
// The topic hub behind push delivery (POST /publish, short and long polling, SSE, WebSocket): each topic
// numbers its messages 1, 2, 3... and stamps each with the publish time (now_ns(): the host's
// CLOCK_MONOTONIC, which a loadgen on the same host reads too, so receive - publish is a delivery
// latency). A topic keeps its last `history` messages for readers that come back (after=SEQ,
// Last-Event-ID); a subscriber has a queue of at most `queue` undelivered messages, and one that
// falls further behind is dropped (counted) instead of growing the server's memory.
//
// Knows nothing of HTTP or of the concurrency models. Waiting is the model's business: a blocking
// thread calls subscription::wait_until; an event loop registers subscription::notify_once (called
// once, on the publisher's thread, when there is something to take) and arms its own timer.
// Thread-safe. Topics are never removed (their number is bounded by max_topics).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <tl/expected.hpp>

namespace perflab::push {

struct hub_config {
  std::size_t history = 1024;                  // messages kept per topic for resumption, >= 1
  std::size_t queue = 1024;                    // undelivered messages a subscriber may hold; one more drops it, >= 1
  std::size_t max_topics = 10000;              // topics at most; a new one past it is refused (503)
  std::size_t max_message = 64 * 1024;         // message bytes at most (413 above)
  std::chrono::nanoseconds heartbeat = std::chrono::seconds(15);  // SSE: a comment line (WebSocket: a ping) after this long idle, > 0
  std::chrono::milliseconds retry = std::chrono::seconds(1);      // SSE: the retry: field (client's reconnect delay)
  std::chrono::nanoseconds max_poll = std::chrono::seconds(60);   // /poll: longest timeout= accepted, > 0
};

// "history=N,queue=N,topics=N,max-message=N,heartbeat=D,retry=D,max-poll=D", any subset in any
// order (e.g. "history=4096,heartbeat=5s"); the error names the key and what it accepts.
tl::expected<hub_config, std::string> parse_hub_config(std::string_view spec);

// A topic name: 1 to 128 of [A-Za-z0-9._-] (it goes into URLs and JSON unescaped).
bool valid_topic(std::string_view name) noexcept;

struct message {
  std::uint64_t seq = 0;         // 1, 2, 3... per topic
  std::int64_t publish_ns = 0;   // now_ns() when the hub took it
  std::string body;              // as published
};
using message_ptr = std::shared_ptr<const message>;

class hub;
struct topic;

// One subscriber's queue: an SSE stream's, or a long poll's for the time it is held. Made by
// hub::subscribe, fed by every publish to its topic until unsubscribed (or dropped).
class subscription {
 public:
  subscription(std::size_t bound, topic& t) : bound_(bound), topic_(t) {}
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;

  // Appends the queued messages to out (in sequence order) and empties the queue.
  void take(std::vector<message_ptr>& out);
  // Its queue overflowed: it was dropped from its topic and gets nothing more.
  bool dropped() const;
  // hub::close_all() ended it (the server stops, or POST /admin/push/disconnect).
  bool closed() const;
  // Blocks until a message is queued, the subscription is dropped or closed, or the deadline.
  void wait_until(std::chrono::steady_clock::time_point deadline);
  // Registers fn, called once (on a publisher's thread, or close_all's) when there is something
  // to take, a drop or a close. False: there is already, fn is not kept (go on at once).
  bool notify_once(std::function<void()> fn);
  // Forgets a registered fn (the waiter's timer won); it may be running now on another thread.
  void cancel_notify();

 private:
  friend class hub;
  // Under the topic's lock: queues m, or drops the subscription when its queue is full (false).
  bool push(const message_ptr& m);
  void close();

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<message_ptr> queue_;
  std::function<void()> ready_;
  bool dropped_ = false;
  bool closed_ = false;
  const std::size_t bound_;
  topic& topic_;
};

struct topic {
  std::mutex mutex;
  std::uint64_t last_seq = 0;                   // guarded by mutex
  std::deque<message_ptr> history;              // oldest first, at most hub_config::history
  std::vector<std::shared_ptr<subscription>> subscribers;
};

class hub {
 public:
  enum class errc : std::uint8_t {
    too_many_topics,  // a new topic past max_topics (503)
    too_large,        // a message past max_message (413)
  };
  explicit hub(hub_config config);
  hub(const hub&) = delete;
  hub& operator=(const hub&) = delete;

  // Numbers and stamps body, keeps it in the history and queues it to every subscriber.
  tl::expected<message_ptr, errc> publish(std::string_view topic_name, std::string_view body, std::int64_t now_ns);

  struct read_result {
    std::uint64_t last = 0;  // the topic's last sequence number (0: nothing published yet)
    bool gap = false;        // messages after `after` have left the history (lost to this reader)
  };
  // The history's messages after `after` (at most `limit`, oldest first) appended to out.
  tl::expected<read_result, errc> read(std::string_view topic_name, std::uint64_t after, std::size_t limit,
                                       std::vector<message_ptr>& out);
  // A subscriber fed with the history's messages after *after and every later one, or (nullopt)
  // only the later ones. read_result: the topic's last sequence number, and whether some after
  // *after were already gone.
  struct subscribed {
    std::shared_ptr<subscription> sub;
    read_result at;
  };
  tl::expected<subscribed, errc> subscribe(std::string_view topic_name, std::optional<std::uint64_t> after);
  // Stops feeding s (idempotent; a dropped one is already gone).
  void unsubscribe(subscription& s);
  // Ends every current subscription (closed(): streams close, held polls answer with what they
  // have) and returns how many there were. The server's stop, and POST /admin/push/disconnect (a
  // forced reconnect: clients resume from their last sequence number; later subscriptions are
  // not affected).
  std::size_t close_all();

  struct stats_t {
    std::uint64_t published = 0;            // messages taken by publish()
    std::uint64_t queued = 0;               // message copies queued to subscribers (fan-out)
    std::uint64_t dropped_subscribers = 0;  // subscribers dropped for a full queue
    std::uint64_t subscribers = 0;          // subscribed now (streams and held polls)
    std::uint64_t topics = 0;               // topics that exist
    std::uint64_t refused_topics = 0;       // requests refused for max_topics
    std::uint64_t disconnected = 0;         // subscriptions ended by close_all()
  };
  stats_t stats() const;
  const hub_config& config() const noexcept { return config_; }

 private:
  struct name_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  tl::expected<topic*, errc> find_or_add(std::string_view name);
  void fill(const topic& t, std::uint64_t after, std::size_t limit, std::vector<message_ptr>* out,
            read_result& r) const;

  const hub_config config_;
  mutable std::mutex topics_mutex_;
  std::unordered_map<std::string, std::unique_ptr<topic>, name_hash, std::equal_to<>> topics_;
  // Relaxed counters (a scrape is a snapshot, not a transaction).
  std::atomic<std::uint64_t> published_{0}, queued_{0}, dropped_{0}, subscribers_{0}, topic_count_{0}, refused_{0},
      disconnected_{0};
};

// The message as JSON, {"seq":N,"ts":NS,"data":"..."}: the body of an SSE event and an element of
// a poll's "messages". The body is escaped (", \, control characters; bytes >= 0x80 as they are).
void append_message_json(const message& m, std::string& out);

}  // namespace perflab::push
