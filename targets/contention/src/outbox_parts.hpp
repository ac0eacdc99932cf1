#pragma once
// Internal to the outbox (outbox.cpp: writers, set-up and counts; outbox_relay.cpp: the relays;
// outbox_consumer.cpp: the consumer and its audit). One class, its parts in three files.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <perflab/contention/outbox.hpp>
#include <perflab/contention/stock_redis.hpp>

#include "remote_handles.hpp"

namespace perflab::contention::detail {

// A PostgreSQL connection opened (again) when needed, with the outbox's statements prepared.
class outbox_pg {
 public:
  explicit outbox_pg(std::string url) : url_(std::move(url)) {}
  ~outbox_pg() { close(); }
  outbox_pg(const outbox_pg&) = delete;
  outbox_pg& operator=(const outbox_pg&) = delete;
  bool ready();
  result_ptr exec(const char* sql) { return result_ptr(PQexec(conn_, sql)); }
  result_ptr run(const char* statement, std::initializer_list<const char*> args);
  bool command(const char* sql) { return PQresultStatus(exec(sql).get()) == PGRES_COMMAND_OK; }
  void close() {
    if (conn_) PQfinish(conn_);  // in a transaction: the server rolls it back, freeing its row locks
    conn_ = nullptr;
  }

 private:
  std::string url_;
  PGconn* conn_ = nullptr;
};

// A hiredis connection opened (again) when needed.
class outbox_redis {
 public:
  explicit outbox_redis(redis_stock_config where) : where_(std::move(where)) {}
  ~outbox_redis() { close(); }
  outbox_redis(const outbox_redis&) = delete;
  outbox_redis& operator=(const outbox_redis&) = delete;
  redisContext* ready();  // null: cannot connect now
  void close() {
    if (c_) redisFree(c_);
    c_ = nullptr;
  }

 private:
  redis_stock_config where_;
  redisContext* c_ = nullptr;
};

class outbox_impl final : public outbox {
 public:
  outbox_impl(outbox_config cfg, std::string pg_url, redis_stock_config redis);
  ~outbox_impl() override;
  void create_order_async(std::function<void(outbox_order)> done) override;
  unsigned crash_relay(relay_step after) override;
  unsigned start_relay() override;
  outbox_stats stats() const override;
  void audit_now() override;
  const outbox_config& config() const noexcept override { return cfg_; }

 private:
  enum class round_end { idle, partial, full, crashed, failed };
  // outbox.cpp
  void writer_loop();
  unsigned start_relays(bool restart);  // with rm_ held
  // outbox_relay.cpp
  void relay_loop(unsigned index, bool restart);
  round_end relay_round(outbox_pg& pg, outbox_redis& redis);
  bool publish(outbox_redis& redis, const PGresult* rows);
  bool crash_due(relay_step step);
  void snapshot_backlog(outbox_pg& pg);
  // outbox_consumer.cpp
  void consumer_loop();
  void apply(const std::vector<std::uint64_t>& events);
  void audit(outbox_pg& pg, std::string& audited_to);

  const outbox_config cfg_;
  const std::string pg_url_;
  const redis_stock_config redis_;

  // Writers: orders waiting for a connection.
  std::mutex wm_;
  std::condition_variable wcv_;
  std::deque<std::function<void(outbox_order)>> queue_;  // guarded by wm_
  bool writers_stop_ = false;                             // guarded by wm_
  std::vector<std::thread> writers_;

  // Relays.
  mutable std::mutex rm_;
  std::condition_variable rcv_;
  std::vector<std::thread> relays_;           // guarded by rm_ (ended ones joined at the next start)
  unsigned up_ = 0;                           // guarded by rm_
  std::optional<relay_step> crash_at_;        // guarded by rm_: a crash asked for, until every relay died
  bool relays_stop_ = false;                  // guarded by rm_
  bool snapshot_pending_ = false;             // guarded by rm_: relay 0 reads the backlog first

  // Consumer.
  mutable std::mutex cm_;
  std::condition_variable ccv_;
  std::unordered_set<std::uint64_t> seen_;     // guarded by cm_: every event applied
  std::unordered_set<std::uint64_t> waiting_;  // guarded by cm_: unsent at the restart, not received yet
  std::chrono::steady_clock::time_point restart_at_{};  // guarded by cm_
  bool recovering_ = false;                    // guarded by cm_
  double recovery_s_ = -1;                     // guarded by cm_
  std::uint64_t backlog_at_restart_ = 0, entries_ = 0, duplicates_ = 0;  // guarded by cm_
  std::uint64_t committed_ = 0, backlog_ = 0, lost_ = 0, audits_ = 0;    // guarded by cm_
  bool audit_asked_ = false;                   // guarded by cm_
  std::atomic<bool> consumer_stop_{false};
  std::thread consumer_;

  std::atomic<std::uint64_t> orders_{0}, order_errors_{0}, rounds_{0}, published_{0}, marked_{0}, relay_errors_{0},
      crashes_{0}, restarts_{0};
};

}  // namespace perflab::contention::detail
