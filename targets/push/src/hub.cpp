#include "perflab/push/hub.hpp"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "perflab/core/json_text.hpp"
#include "perflab/core/units.hpp"

namespace perflab::push {

namespace {

tl::expected<std::size_t, std::string> whole(std::string_view key, std::string_view value, std::uint64_t max) {
  auto n = units::parse_count(value);
  if (!n || *n < 1 || *n > static_cast<double>(max) || *n != static_cast<double>(static_cast<std::uint64_t>(*n)))
    return tl::unexpected(fmt::format("--push: {}=\"{}\" must be a whole number from 1 to {}", key, value, max));
  return static_cast<std::size_t>(*n);
}

tl::expected<std::chrono::nanoseconds, std::string> positive(std::string_view key, std::string_view value) {
  auto d = units::parse_duration(value);
  if (!d || d->count() <= 0)
    return tl::unexpected(fmt::format("--push: {}=\"{}\" must be a duration > 0, e.g. 15s", key, value));
  return *d;
}

}  // namespace

tl::expected<hub_config, std::string> parse_hub_config(std::string_view spec) {
  hub_config c;
  while (!spec.empty()) {
    const auto comma = spec.find(',');
    const auto item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos)
      return tl::unexpected(fmt::format("--push: \"{}\" is not KEY=VALUE (keys: history, queue, topics, max-message, "
                                        "heartbeat, retry, max-poll)", item));
    const auto key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "history" || key == "queue" || key == "topics") {
      auto n = whole(key, value, 10'000'000);
      if (!n) return tl::unexpected(n.error());
      (key == "history" ? c.history : key == "queue" ? c.queue : c.max_topics) = *n;
    } else if (key == "max-message") {
      auto n = units::parse_size(value);
      if (!n || *n < 1 || *n > (16u << 20))
        return tl::unexpected(fmt::format("--push: max-message=\"{}\" must be a size from 1 byte to 16MiB", value));
      c.max_message = *n;
    } else if (key == "heartbeat" || key == "max-poll") {
      auto d = positive(key, value);
      if (!d) return tl::unexpected(d.error());
      (key == "heartbeat" ? c.heartbeat : c.max_poll) = *d;
    } else if (key == "retry") {
      auto d = units::parse_duration(value);
      if (!d) return tl::unexpected(fmt::format("--push: retry=\"{}\" must be a duration, e.g. 1s", value));
      c.retry = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    } else {
      return tl::unexpected(fmt::format("--push: unknown key \"{}\" (keys: history, queue, topics, max-message, "
                                        "heartbeat, retry, max-poll)", key));
    }
  }
  return c;
}

bool valid_topic(std::string_view name) noexcept {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void subscription::take(std::vector<message_ptr>& out) {
  std::lock_guard lock(mutex_);
  out.insert(out.end(), queue_.begin(), queue_.end());
  queue_.clear();
}

bool subscription::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

bool subscription::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

void subscription::wait_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, deadline, [&] { return !queue_.empty() || dropped_ || closed_; });
}

bool subscription::notify_once(std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  if (!queue_.empty() || dropped_ || closed_) return false;
  ready_ = std::move(fn);
  return true;
}

void subscription::cancel_notify() {
  std::function<void()> gone;  // destroyed after the unlock
  std::lock_guard lock(mutex_);
  gone.swap(ready_);
}

bool subscription::push(const message_ptr& m) {
  std::function<void()> fn;
  bool kept = true;
  {
    std::lock_guard lock(mutex_);
    if (dropped_) return false;
    if (queue_.size() >= bound_) {
      // Freed at once: a dropped subscriber must not keep the messages it could not take.
      queue_.clear();
      dropped_ = true;
      kept = false;
    } else {
      queue_.push_back(m);
    }
    fn.swap(ready_);
  }
  cv_.notify_all();
  if (fn) fn();
  return kept;
}

void subscription::close() {
  std::function<void()> fn;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    fn.swap(ready_);
  }
  cv_.notify_all();
  if (fn) fn();
}

hub::hub(hub_config config) : config_(config) {}

tl::expected<topic*, hub::errc> hub::find_or_add(std::string_view name) {
  std::lock_guard lock(topics_mutex_);
  if (auto it = topics_.find(name); it != topics_.end()) return it->second.get();
  if (topics_.size() >= config_.max_topics) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return tl::unexpected(errc::too_many_topics);
  }
  auto [it, added] = topics_.emplace(std::string(name), std::make_unique<topic>());
  topic_count_.store(topics_.size(), std::memory_order_relaxed);
  return it->second.get();
}

tl::expected<message_ptr, hub::errc> hub::publish(std::string_view topic_name, std::string_view body,
                                                  std::int64_t now_ns) {
  if (body.size() > config_.max_message) return tl::unexpected(errc::too_large);
  auto t = find_or_add(topic_name);
  if (!t) return tl::unexpected(t.error());
  auto m = std::make_shared<message>();
  m->body.assign(body);
  topic& tp = **t;
  std::size_t fanout = 0, drops = 0;
  {
    // Numbering, history and queueing under one lock: every subscriber sees the topic's order.
    std::lock_guard lock(tp.mutex);
    m->seq = ++tp.last_seq;
    m->publish_ns = now_ns;
    tp.history.push_back(m);
    if (tp.history.size() > config_.history) tp.history.pop_front();
    auto& subs = tp.subscribers;
    for (std::size_t i = 0; i < subs.size();) {
      if (subs[i]->push(m)) {
        ++fanout;
        ++i;
      } else {
        ++drops;
        subs[i] = std::move(subs.back());
        subs.pop_back();
      }
    }
  }
  published_.fetch_add(1, std::memory_order_relaxed);
  queued_.fetch_add(fanout, std::memory_order_relaxed);
  if (drops) {
    dropped_.fetch_add(drops, std::memory_order_relaxed);
    subscribers_.fetch_sub(drops, std::memory_order_relaxed);
  }
  return m;
}

void hub::fill(const topic& t, std::uint64_t after, std::size_t limit, std::vector<message_ptr>* out,
               read_result& r) const {
  r.last = t.last_seq;
  const std::uint64_t first = t.history.empty() ? t.last_seq + 1 : t.history.front()->seq;
  r.gap = after + 1 < first && after < t.last_seq;
  if (!out || after >= t.last_seq) return;
  // The history holds consecutive numbers: the first one after `after` is at a known index.
  std::size_t from = after + 1 <= first ? 0 : static_cast<std::size_t>(after + 1 - first);
  for (std::size_t i = from; i < t.history.size() && limit > 0; ++i, --limit) out->push_back(t.history[i]);
}

tl::expected<hub::read_result, hub::errc> hub::read(std::string_view topic_name, std::uint64_t after,
                                                    std::size_t limit, std::vector<message_ptr>& out) {
  auto t = find_or_add(topic_name);
  if (!t) return tl::unexpected(t.error());
  read_result r;
  std::lock_guard lock((*t)->mutex);
  fill(**t, after, limit, &out, r);
  return r;
}

tl::expected<hub::subscribed, hub::errc> hub::subscribe(std::string_view topic_name,
                                                        std::optional<std::uint64_t> after) {
  auto t = find_or_add(topic_name);
  if (!t) return tl::unexpected(t.error());
  topic& tp = **t;
  subscribed s;
  s.sub = std::make_shared<subscription>(config_.queue, tp);
  std::vector<message_ptr> backlog;
  std::lock_guard lock(tp.mutex);
  // The backlog goes in whatever the queue's bound: it is at most the history, and the stream
  // takes it at once.
  fill(tp, after.value_or(tp.last_seq), config_.history, after ? &backlog : nullptr, s.at);
  s.sub->queue_.assign(backlog.begin(), backlog.end());
  tp.subscribers.push_back(s.sub);
  subscribers_.fetch_add(1, std::memory_order_relaxed);
  return s;
}

void hub::unsubscribe(subscription& s) {
  topic& tp = s.topic_;
  std::lock_guard lock(tp.mutex);
  auto& subs = tp.subscribers;
  auto it = std::find_if(subs.begin(), subs.end(), [&](const auto& p) { return p.get() == &s; });
  if (it == subs.end()) return;  // dropped (or unsubscribed) already
  *it = std::move(subs.back());
  subs.pop_back();
  subscribers_.fetch_sub(1, std::memory_order_relaxed);
}

std::size_t hub::close_all() {
  std::vector<std::shared_ptr<subscription>> all;
  {
    std::lock_guard lock(topics_mutex_);
    for (auto& [name, t] : topics_) {
      std::lock_guard tl(t->mutex);
      // Out of the topic now: a closed subscription gets nothing more (unsubscribe then finds
      // nothing), so a later close_all counts only the subscriptions made since.
      all.insert(all.end(), std::make_move_iterator(t->subscribers.begin()), std::make_move_iterator(t->subscribers.end()));
      subscribers_.fetch_sub(t->subscribers.size(), std::memory_order_relaxed);
      t->subscribers.clear();
    }
  }
  for (auto& s : all) s->close();
  disconnected_.fetch_add(all.size(), std::memory_order_relaxed);
  return all.size();
}

hub::stats_t hub::stats() const {
  stats_t s;
  s.published = published_.load(std::memory_order_relaxed);
  s.queued = queued_.load(std::memory_order_relaxed);
  s.dropped_subscribers = dropped_.load(std::memory_order_relaxed);
  s.subscribers = subscribers_.load(std::memory_order_relaxed);
  s.topics = topic_count_.load(std::memory_order_relaxed);
  s.refused_topics = refused_.load(std::memory_order_relaxed);
  s.disconnected = disconnected_.load(std::memory_order_relaxed);
  return s;
}

void append_message_json(const message& m, std::string& out) {
  fmt::format_to(std::back_inserter(out), "{{\"seq\":{},\"ts\":{},\"data\":", m.seq, m.publish_ns);
  append_json_string(out, m.body);
  out.push_back('}');
}

}  // namespace perflab::push
