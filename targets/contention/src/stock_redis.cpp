#include "perflab/contention/stock_redis.hpp"

#include "stock_remote.hpp"
#include "remote_handles.hpp"

#include <charconv>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <hiredis/hiredis.h>

#include <fmt/format.h>

namespace perflab::contention {

namespace {

using detail::reply_ptr;

// KEYS[1] stock, KEYS[2] sold, ARGV[1] qty -> {1, remaining} bought, {0, remaining} refused.
constexpr std::string_view buy_script =
    "local left = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "local qty = tonumber(ARGV[1]) "
    "if left < qty then return {0, left} end "
    "left = redis.call('DECRBY', KEYS[1], qty) "
    "redis.call('INCRBY', KEYS[2], qty) "
    "return {1, left}";

class redis_stock final : public detail::remote_stock<stock> {
 public:
  redis_stock(redisContext* c, std::string sha, std::uint64_t items, std::int64_t initial)
      : remote_stock(items, initial), ctx_(c), sha_(std::move(sha)) {
    owner_ = std::thread([this] { run(); });
  }
  ~redis_stock() override {
    stop();
    owner_.join();
    redisFree(ctx_);
  }
  stock_strategy strategy() const override { return stock_strategy::redis; }

 private:
  // One thread owns the connection: it takes every queued buy at once and asks in one round trip.
  void run() {
    std::deque<request> batch;
    while (take(batch, batch.max_size())) {
      // One round trip for the batch: append every EVALSHA, then read the replies in order.
      bool ok = !ctx_->err;
      for (const auto& r : batch) {
        if (!ok) break;
        const auto key = fmt::format("perflab:stock:{}", r.item), sold = fmt::format("perflab:sold:{}", r.item);
        const auto qty = std::to_string(r.qty);
        ok = redisAppendCommand(ctx_, "EVALSHA %s 2 %s %s %s", sha_.c_str(), key.c_str(), sold.c_str(), qty.c_str()) ==
             REDIS_OK;
      }
      for (auto& r : batch) {
        buy_result res{false, true, 0};
        void* raw = nullptr;
        if (ok && redisGetReply(ctx_, &raw) == REDIS_OK && raw) {
          reply_ptr rep(static_cast<redisReply*>(raw));
          if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
            res.bought = rep->element[0]->integer == 1;
            res.remaining = rep->element[1]->integer;
          } else {
            res.error = true;
          }
        } else {
          ok = false;  // the connection is unusable: every buy of the batch fails
          res.error = true;
        }
        record(r, res);
        r.done(res);
      }
      batch.clear();
    }
  }

  redisContext* ctx_;
  std::string sha_;
  std::thread owner_;
};

}  // namespace

std::optional<redis_stock_config> parse_stock_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) return std::nullopt;
  url.remove_prefix(scheme.size());
  redis_stock_config c;
  const auto colon = url.rfind(':');
  c.host = std::string(url.substr(0, colon));
  if (c.host.empty() || c.host.find_first_of("/@") != std::string::npos) return std::nullopt;
  if (colon != std::string_view::npos) {
    const auto p = url.substr(colon + 1);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc{} || end != p.data() + p.size() || v == 0 || v > 65535) return std::nullopt;
    c.port = static_cast<std::uint16_t>(v);
  }
  return c;
}

tl::expected<std::unique_ptr<stock>, std::string> make_redis_stock(const redis_stock_config& cfg, std::uint64_t items,
                                                                   std::int64_t initial) {
  const auto where = fmt::format("redis://{}:{}", cfg.host, cfg.port);
  std::string refused;
  redisContext* c = detail::redis_connect(cfg, &refused);
  if (!c) return tl::unexpected(fmt::format("{}: cannot connect: {}", where, refused));
  auto fail = [&](std::string_view what) {
    std::string why = c->err ? c->errstr : std::string(what);
    redisFree(c);
    return tl::unexpected(fmt::format("{}: {}", where, why));
  };
  reply_ptr load(static_cast<redisReply*>(redisCommand(c, "SCRIPT LOAD %b", buy_script.data(), buy_script.size())));
  if (!load || load->type != REDIS_REPLY_STRING) return fail("SCRIPT LOAD failed");
  std::string sha(load->str, load->len);
  // The initial stock, pipelined (one round trip per 1,000 items).
  for (std::uint64_t first = 0; first < items; first += 1000) {
    const std::uint64_t last = std::min(items, first + 1000);
    for (std::uint64_t i = first; i < last; ++i) {
      const auto stock_key = fmt::format("perflab:stock:{}", i), sold_key = fmt::format("perflab:sold:{}", i);
      const auto n = std::to_string(initial);
      redisAppendCommand(c, "MSET %s %s %s 0", stock_key.c_str(), n.c_str(), sold_key.c_str());
    }
    for (std::uint64_t i = first; i < last; ++i) {
      void* raw = nullptr;
      if (redisGetReply(c, &raw) != REDIS_OK || !raw) return fail("MSET failed");
      reply_ptr r(static_cast<redisReply*>(raw));
      if (r->type == REDIS_REPLY_ERROR) return fail(std::string_view(r->str, r->len));
    }
  }
  return std::make_unique<redis_stock>(c, std::move(sha), items, initial);
}

}  // namespace perflab::contention
