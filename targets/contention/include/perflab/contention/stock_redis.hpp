#pragma once
// The `redis` stock strategy: the counters live in Redis (perflab:stock:<item> and
// perflab:sold:<item>) and every buy is one Lua script, run atomically by Redis: read the stock,
// refuse when fewer than qty units are left, else DECRBY the stock and INCRBY the sold count. No
// oversell however many servers share the Redis, since Redis runs one script at a time.
// One owner thread with a synchronous hiredis connection sends the buys in arrival order,
// pipelining what queued meanwhile (one round trip per batch), and answers each by callback, as
// the single-writer strategy does; so no event loop waits on Redis. remaining()/sold() read the
// owner's mirror of the last replies (this process's view); audit_redis() asks Redis itself.
// Redis unreachable: buys are answered with error set (503), never guessed.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include <perflab/contention/stock.hpp>

namespace perflab::contention {

struct redis_stock_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::chrono::milliseconds timeout{1000};  // connect, and each batch's replies
};
// "redis://HOST[:PORT]"; nullopt for anything else.
std::optional<redis_stock_config> parse_stock_redis_url(std::string_view url);

// Connects and sets every item's stock to `initial` (and sold to 0) before returning: the error
// says why it could not (start-up, before listening).
tl::expected<std::unique_ptr<stock>, std::string> make_redis_stock(const redis_stock_config& cfg, std::uint64_t items,
                                                                   std::int64_t initial);

}  // namespace perflab::contention
