#pragma once
// Stock counters under contention: many buyers decrement the stock of a few items, and nothing
// may be oversold. Four in-process strategies behind one interface, so the lab measures what each
// costs under the same load:
//   mutex          one lock per item, held for the check and the decrement
//   atomic         a compare-and-swap loop per item
//   sharded        the stock split over shards (one per buyer thread, by thread); a buyer takes
//                  from its own shard and borrows from the others when it runs dry. A multi-unit
//                  buy can be refused while units remain scattered over shards: counted as
//                  `fragmented`, the price of the scheme
//   single-writer  one thread owns every counter; buyers enqueue and are answered by callback
//                  (or wait, through buy())
// Invariant, checked by audit(): for every item, sold + remaining = initial and remaining >= 0.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perflab::contention {

// redis: stock_redis.hpp; pg_row_lock, pg_optimistic: stock_postgres.hpp
enum class stock_strategy : std::uint8_t { mutex, atomic, sharded, single_writer, redis, pg_row_lock, pg_optimistic };
std::optional<stock_strategy> parse_stock_strategy(std::string_view name);
std::string_view to_string(stock_strategy s);
// Buys answered on another thread (an owner or worker thread calls back): a model hands them off.
bool answered_elsewhere(stock_strategy s) noexcept;
// The strategy keeps its counters in a server (redis, PostgreSQL), built before listening.
bool needs_server(stock_strategy s) noexcept;

struct buy_result {
  bool bought = false;          // false: sold out (409), or an unknown item (see known)
  bool known = true;            // the item exists
  std::int64_t remaining = 0;   // the item's stock right after this buy (or the refusal)
  bool error = false;           // the store could not be asked (redis or PostgreSQL unreachable): 503, nothing known
};

struct stock_audit {
  std::uint64_t items = 0;
  std::int64_t initial = 0, sold = 0, remaining = 0;  // summed over items
  std::uint64_t buys = 0, sold_out = 0, fragmented = 0;
  std::uint64_t violations = 0;  // items whose sold + remaining != initial, or remaining < 0
  std::uint64_t retries = 0;     // pg-optimistic: buys tried again after a version conflict
  std::uint64_t errors = 0;      // buys answered with error (the server could not be asked, 503)
  bool ok() const { return violations == 0 && sold + remaining == initial; }
};

class stock {
 public:
  virtual ~stock() = default;
  // Buys qty (>= 1) units of item. Blocking (single-writer: waits for the owner thread).
  virtual buy_result buy(std::uint64_t item, std::int64_t qty) = 0;
  // The same, answered by callback: at once on this thread for the lock-based strategies, on the
  // owner thread for single-writer (the caller posts back to its own loop).
  virtual void buy_async(std::uint64_t item, std::int64_t qty, std::function<void(buy_result)> done);
  virtual std::int64_t remaining(std::uint64_t item) const = 0;
  virtual std::int64_t sold(std::uint64_t item) const = 0;
  virtual stock_audit audit() const = 0;
  virtual stock_strategy strategy() const = 0;
  virtual std::uint64_t items() const = 0;
};

// `items` items of `initial` units each. shards: the sharded strategy's shard count (0: one per
// hardware thread, at least 2).
std::unique_ptr<stock> make_stock(stock_strategy s, std::uint64_t items, std::int64_t initial, unsigned shards = 0);

}  // namespace perflab::contention
