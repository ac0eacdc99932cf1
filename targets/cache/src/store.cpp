#include <perflab/cache/store.hpp>

#include <limits>

namespace perflab::cache {

// An entry sits in one list: the LRU/FIFO order, or its LFU count bucket.
struct store::entry {
  std::string key;
  std::string value;
  std::int64_t expires_ns = 0;
  entry* prev = nullptr;   // towards the head (more recent)
  entry* next = nullptr;   // towards the tail (the victim end)
  bucket* in = nullptr;    // LFU: the bucket of its count
};

// LFU: every entry with one access count; the buckets form a list in ascending count.
struct store::bucket {
  std::uint64_t count = 0;
  entry* head = nullptr;   // entered this count most recently
  entry* tail = nullptr;   // the bucket's victim
  bucket* prev = nullptr;
  bucket* next = nullptr;
};

namespace {

template <class Node>
void link_front(Node*& head, Node*& tail, Node* n) noexcept {
  n->prev = nullptr;
  n->next = head;
  if (head) head->prev = n;
  else tail = n;
  head = n;
}

template <class Node>
void unlink(Node*& head, Node*& tail, Node* n) noexcept {
  if (n->prev) n->prev->next = n->next;
  else head = n->next;
  if (n->next) n->next->prev = n->prev;
  else tail = n->prev;
  n->prev = n->next = nullptr;
}

}  // namespace

std::optional<policy> parse_policy(std::string_view name) noexcept {
  if (name == "lru") return policy::lru;
  if (name == "lfu") return policy::lfu;
  if (name == "fifo") return policy::fifo;
  return std::nullopt;
}

std::string_view to_string(policy p) noexcept {
  switch (p) {
    case policy::lru: return "lru";
    case policy::lfu: return "lfu";
    case policy::fifo: return "fifo";
  }
  return "unknown";
}

std::string_view to_string(lookup l) noexcept {
  switch (l) {
    case lookup::hit: return "HIT";
    case lookup::miss: return "MISS";
    case lookup::stale: return "STALE";
  }
  return "MISS";
}

std::string_view to_string(evict_reason r) noexcept {
  switch (r) {
    case evict_reason::capacity: return "capacity";
    case evict_reason::bytes: return "bytes";
    case evict_reason::expired: return "expired";
    case evict_reason::deleted: return "deleted";
    case evict_reason::purged: return "purged";
    case evict_reason::count_: break;
  }
  return "unknown";
}

store::store(policy p, std::size_t max_entries, std::size_t max_bytes)
    : policy_(p), max_entries_(max_entries), max_bytes_(max_bytes) {
  map_.reserve(std::min<std::size_t>(max_entries, 1 << 20));
}

store::~store() {
  clear();
  while (spare_buckets_) {
    bucket* b = spare_buckets_;
    spare_buckets_ = b->next;
    delete b;
  }
}

lookup store::get(std::string_view key, std::int64_t now_ns, std::string& value) {
  const auto it = map_.find(key);
  if (it == map_.end()) return lookup::miss;
  entry* e = it->second;
  if (now_ns >= e->expires_ns) {
    remove(e, evict_reason::expired);
    return lookup::stale;
  }
  order_access(e);
  value.assign(e->value);
  return lookup::hit;
}

void store::put(std::string_view key, std::string_view value, std::int64_t expires_ns) {
  const std::size_t size = entry_bytes(key.size(), value.size());
  if (const auto it = map_.find(key); it != map_.end()) {
    entry* e = it->second;
    bytes_ -= entry_bytes(e->key.size(), e->value.size());
    e->value.assign(value);
    e->expires_ns = expires_ns;
    bytes_ += size;
    order_access(e);
    if (max_bytes_ != 0 && size > max_bytes_) {
      remove(e, evict_reason::bytes);
      return;
    }
    // Victims in policy order, which may be the replaced entry itself (FIFO keeps its place).
    while (max_bytes_ != 0 && bytes_ > max_bytes_) evict_one(evict_reason::bytes);
    return;
  }
  if (max_entries_ == 0 || (max_bytes_ != 0 && size > max_bytes_)) return;
  while (map_.size() >= max_entries_) evict_one(evict_reason::capacity);
  while (max_bytes_ != 0 && map_.size() > 0 && bytes_ + size > max_bytes_) evict_one(evict_reason::bytes);
  auto owned = std::make_unique<entry>();
  owned->key.assign(key);
  owned->value.assign(value);
  owned->expires_ns = expires_ns;
  entry* e = owned.get();
  map_.emplace(std::string_view(e->key), e);
  owned.release();  // the map (and the order lists) own it from here on
  bytes_ += size;
  order_insert(e);
}

bool store::erase(std::string_view key) {
  const auto it = map_.find(key);
  if (it == map_.end()) return false;
  remove(it->second, evict_reason::deleted);
  return true;
}

std::size_t store::clear() {
  const std::size_t n = map_.size();
  while (!map_.empty()) remove(order_victim(), evict_reason::purged);
  return n;
}

std::string_view store::next_victim() const noexcept {
  const entry* v = order_victim();
  return v ? std::string_view(v->key) : std::string_view{};
}

void store::evict_one(evict_reason why) {
  if (entry* v = order_victim()) remove(v, why);
}

void store::remove(entry* e, evict_reason why) {
  ++evictions_[static_cast<std::size_t>(why)];
  order_remove(e);
  bytes_ -= entry_bytes(e->key.size(), e->value.size());
  map_.erase(std::string_view(e->key));
  delete e;
}

void store::order_insert(entry* e) {
  if (policy_ != policy::lfu) return link_front(head_, tail_, e);
  // A new entry counts 1: the first bucket, made if it does not exist yet.
  bucket* b = buckets_;
  if (!b || b->count != 1) {
    bucket* fresh = new_bucket(1);
    fresh->next = buckets_;
    if (buckets_) buckets_->prev = fresh;
    buckets_ = fresh;
    b = fresh;
  }
  e->in = b;
  link_front(b->head, b->tail, e);
}

void store::order_access(entry* e) {
  switch (policy_) {
    case policy::fifo: return;  // insertion order only
    case policy::lru:
      unlink(head_, tail_, e);
      return link_front(head_, tail_, e);
    case policy::lfu: break;
  }
  bucket* from = e->in;
  bucket* to = from->next;
  if (!to || to->count != from->count + 1) {
    to = new_bucket(from->count + 1);
    to->prev = from;
    to->next = from->next;
    if (from->next) from->next->prev = to;
    from->next = to;
  }
  unlink(from->head, from->tail, e);
  e->in = to;
  link_front(to->head, to->tail, e);
  if (!from->head) drop_bucket(from);
}

void store::order_remove(entry* e) {
  if (policy_ != policy::lfu) return unlink(head_, tail_, e);
  bucket* b = e->in;
  unlink(b->head, b->tail, e);
  e->in = nullptr;
  if (!b->head) drop_bucket(b);
}

void store::drop_bucket(bucket* b) noexcept {
  if (b->prev) b->prev->next = b->next;
  else buckets_ = b->next;
  if (b->next) b->next->prev = b->prev;
  b->next = spare_buckets_;
  spare_buckets_ = b;
}

store::bucket* store::new_bucket(std::uint64_t count) {
  bucket* b = spare_buckets_;
  if (b) spare_buckets_ = b->next;
  else b = new bucket;
  *b = bucket{};
  b->count = count;
  return b;
}

store::entry* store::order_victim() const noexcept {
  if (policy_ != policy::lfu) return tail_;
  return buckets_ ? buckets_->tail : nullptr;
}

}  // namespace perflab::cache
