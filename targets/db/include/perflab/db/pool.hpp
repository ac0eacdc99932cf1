#pragma once
// The connection pool every concurrency model uses, with HikariCP's semantics:
//   - at most max_size connections, open or being opened; FIFO waiters beyond that;
//   - acquire_timeout: a waiter not served in time fails (503 upstream) and is counted;
//   - min_idle: the housekeeper keeps at least this many open (idle or not);
//   - idle_timeout: idle connections above min_idle are closed after this long unused;
//   - max_lifetime: a connection is retired once older than this minus a random 0-2.5 % (so a
//     pool opened at once does not expire at once), and only when idle: never while borrowed;
//   - validation: none, on_borrow (alive() before hand-out; a dead one is closed and the next
//     tried), or background (the housekeeper checks idle ones every validation_interval).
// A connection that breaks in use is returned with broken=true: closed, counted, and its place
// goes to the next waiter. Disabled (--no-pool): every acquire opens a new connection and every
// release closes it.
//
// The pool never opens a connection on a borrower's behalf: when it has room it hands out a
// reserved slot without a connection (slot::conn null) and the borrower opens it with the
// database's blocking or asynchronous connect, then calls opened(). So waiting is the borrower's
// business: a blocking thread waits in acquire() on its own condition variable; an event loop
// calls try_acquire() with a waiter whose notify posts back to the loop, arms its own timer for
// the deadline, and calls cancel() when it fires. No thread of an event loop ever blocks here.
//
// Time is passed in (now_ns values), so tests drive the pool with a fake clock; only acquire()
// and the housekeeper thread read the steady clock.
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>
#include <vector>

#include <perflab/db/connection.hpp>

namespace perflab::db {

enum class validation { none, on_borrow, background };
std::string_view to_string(validation v) noexcept;

// Why a connection was closed (the label of perflab_db_pool_closed_total).
enum class close_reason : std::uint8_t {
  idle,        // unused past idle_timeout while more than min_idle were open
  lifetime,    // older than max_lifetime (when returned, or idle)
  validation,  // found dead by validation (on borrow or in the background)
  error,       // broke in use (the query found it dead) or failed to open
  unpooled,    // --no-pool: closed after its one request
  count_
};
inline constexpr std::size_t close_reason_count = static_cast<std::size_t>(close_reason::count_);
std::string_view to_string(close_reason r) noexcept;

struct pool_config {
  bool enabled = true;                                      // false: --no-pool (a connection per request)
  std::size_t max_size = 10;                                // --pool-size: connections open or opening, at most
  std::size_t min_idle = 10;                                // --pool-min-idle: kept open by the housekeeper (<= max_size)
  std::chrono::milliseconds acquire_timeout{30000};         // --pool-acquire-timeout: longest wait for a connection
  std::chrono::milliseconds idle_timeout{600000};           // --pool-idle-timeout: 0 = never
  std::chrono::milliseconds max_lifetime{1800000};          // --pool-max-lifetime: 0 = never
  validation validate = validation::none;                   // --pool-validation
  std::chrono::milliseconds validation_interval{30000};     // --pool-validation-interval: background checks
  std::uint64_t seed = 1;                                   // lifetime jitter
};

// A connection the pool owns, or a reserved place for one (conn null: the borrower opens it).
struct slot {
  std::unique_ptr<connection> conn;
  std::int64_t created_ns = 0;                                       // opened() time
  std::int64_t expires_ns = std::numeric_limits<std::int64_t>::max();  // retire once idle after this
  std::int64_t idle_since_ns = 0;                                    // returned to the idle list
  std::int64_t checked_ns = 0;                                       // last validation (or open)
};
using lease = std::unique_ptr<slot>;

// One borrower waiting in the FIFO queue. Owned by the borrower; the pool links it while queued.
struct waiter {
  lease granted;                 // set (under the pool's lock) when the pool hands a slot over
  std::function<void()> notify;  // event loops: called once after granted is set, on the granting
                                 // thread, outside the lock; it must only post to the loop
  // The pool's bookkeeping.
  std::condition_variable* cv = nullptr;  // a blocking acquire()'s
  bool done = false;                      // granted (guarded by the pool's lock)
  bool queued = false;                    // linked in the FIFO queue (guarded by the pool's lock)
  std::int64_t since_ns = 0;
  waiter* prev = nullptr;
  waiter* next = nullptr;
};

// Prometheus bucket bounds (seconds) of the acquire-wait histogram; +Inf implied.
inline constexpr std::array<double, 15> acquire_wait_bounds_s = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                 0.25,   0.5,    1.0,   2.5,   5.0,  10.0,  30.0};

struct pool_stats {
  std::size_t total = 0;          // connections open or being opened (<= max_size when enabled)
  std::size_t active = 0;         // borrowed (including ones their borrower is opening)
  std::size_t idle = 0;           // open and in the pool
  std::size_t opening = 0;        // being opened by the housekeeper (min_idle)
  std::size_t waiting = 0;        // borrowers queued now
  std::size_t waiting_peak = 0;   // most borrowers queued at once since start
  std::uint64_t acquired = 0;     // acquisitions served (immediately or after a wait)
  std::uint64_t timeouts = 0;     // acquisitions that gave up after acquire_timeout
  std::uint64_t created = 0;      // connections opened
  std::uint64_t open_failures = 0;  // opens that failed
  std::array<std::uint64_t, close_reason_count> closed{};  // connections closed, by reason
  std::array<std::uint64_t, acquire_wait_bounds_s.size() + 1> wait_buckets{};  // acquire waits (not cumulative)
  double wait_sum_s = 0;          // sum of acquire waits, seconds
};

// What the pool needs from a database: a blocking open, for the housekeeper's min_idle fill.
class opener {
 public:
  virtual ~opener() = default;
  virtual std::unique_ptr<connection> open_blocking() = 0;  // null when the server cannot be reached
};

class pool {
 public:
  // opener may be null when min_idle is 0 and no housekeeper is started (tests).
  pool(const pool_config& cfg, opener* open);
  ~pool();  // stops the housekeeper, closes idle connections; borrowed ones must be back
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  const pool_config& config() const noexcept { return cfg_; }

  // Starts the housekeeper thread: fills to min_idle, retires idle and expired connections,
  // runs background validation (maintain() every tick). Not started for --no-pool.
  void start_housekeeper();

  // Non-blocking: true with w.granted set (an idle connection or a reserved slot to open),
  // false when w is queued (its notify will be called when it is served).
  bool try_acquire(waiter& w, std::int64_t now);
  // The deadline of a queued w passed: true when it was removed (counted as a timeout unless
  // timed_out is false: its borrower went away), false when it was not queued or had been served
  // meanwhile (then w.granted is set; its notify was or is being called).
  bool cancel(waiter& w, bool timed_out = true);
  // Blocking: waits on a condition variable up to acquire_timeout; null on timeout (counted).
  lease acquire();

  // The borrower opened the connection of a reserved slot (s.conn set).
  void opened(slot& s, std::int64_t now);
  // Gives a slot back. broken: the connection failed in use (closed as error), or, for a slot
  // without a connection, opening it failed (counted). Handed to the first waiter, else kept
  // idle, unless expired (closed) or the pool is disabled (closed).
  void release(lease s, bool broken, std::int64_t now);

  // One housekeeping pass at time now (the housekeeper's tick; tests call it directly).
  void maintain(std::int64_t now);
  // Test hook: terminates the backends of all idle connections (they stay in the pool, dead,
  // for validation or the next query to find). Returns how many.
  std::size_t terminate_idle();

  pool_stats stats() const;

 private:
  using lock_t = std::unique_lock<std::mutex>;
  bool take_idle_locked(waiter& w, std::int64_t now, std::vector<lease>& doomed);
  void grant_locked(waiter& w, lease s, std::int64_t now, std::vector<std::function<void()>>& notes);
  void enqueue_locked(waiter& w, std::int64_t now);
  void unlink_locked(waiter& w) noexcept;
  void close_locked(lease s, close_reason why, std::vector<lease>& doomed);
  // After places were freed: reserved slots for waiters while there is room.
  void serve_waiters_locked(std::int64_t now, std::vector<std::function<void()>>& notes);
  void put_back_locked(lease s, std::int64_t now, std::vector<std::function<void()>>& notes);
  bool try_acquire_locked(waiter& w, std::int64_t now, std::vector<lease>& doomed);
  void fill(std::int64_t now);
  void housekeep();
  std::chrono::milliseconds tick() const noexcept;

  const pool_config cfg_;
  opener* opener_;
  mutable std::mutex mutex_;
  std::condition_variable hk_cv_;
  bool stopping_ = false;
  bool wake_ = false;           // the housekeeper should run a pass now (a place was freed)
  std::vector<lease> idle_;     // LIFO: the most recently returned is reused first, so extra
                                // connections stay unused and can reach idle_timeout
  std::size_t total_ = 0;       // open + being opened (borrowed, idle, or by the housekeeper)
  std::size_t borrowed_ = 0;
  std::size_t opening_ = 0;
  waiter* head_ = nullptr;      // FIFO queue
  waiter* tail_ = nullptr;
  std::size_t waiting_ = 0;
  pool_stats counters_{};       // the cumulative fields
  std::mt19937_64 rng_;
  std::thread housekeeper_;
};

}  // namespace perflab::db
