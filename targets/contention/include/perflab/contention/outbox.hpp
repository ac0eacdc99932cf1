#pragma once
// The transactional outbox (issue 18): an order and the event announcing it are written to
// PostgreSQL in one transaction, so there is never an order without its event or the reverse; a
// relay publishes the events to a Redis stream and marks them sent; a consumer reads the stream
// and applies each event once, dropping the duplicates by event id.
//
//   writers   --outbox-connections threads, one libpq connection each: an order is one statement
//             (INSERT the order, INSERT its event, both or neither), answered by callback, so no
//             event loop waits on PostgreSQL
//   relays    --outbox-relays threads, each with its own PostgreSQL and Redis connections, in
//             rounds: BEGIN; claim up to --outbox-batch unsent events (FOR UPDATE SKIP LOCKED, so
//             relays never claim the same row); XADD each to the stream (one pipelined round
//             trip); mark them sent; COMMIT (at-least-once). A relay that dies between the XADD
//             and the COMMIT leaves its events unsent (PostgreSQL rolls the transaction back), so
//             the next round publishes them again: duplicates, never a loss. --outbox-mode
//             at-most-once marks and commits before publishing: a death in between loses events,
//             never duplicates them (the contrast the experiment measures)
//   consumer  one thread reading the stream (XREAD), keeping every event id it has applied:
//             an entry whose id it already holds is a duplicate, counted and dropped
//
// crash_relay() is a relay's death at a chosen step: the relay drops its connections without
// committing (PostgreSQL rolls back and frees the claimed rows, as for a killed process) and forgets
// everything it held; start_relay() starts it again. Every count is read from stats().
// Lost events are counted only when provable: an event marked sent at least `grace` ago (the
// database's clock) that the consumer, caught up with the stream, never received.
// The tables (perflab_orders, perflab_outbox) and the stream are emptied at start: one run each.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace perflab::contention {

enum class outbox_mode : std::uint8_t {
  at_least_once,  // publish, then mark sent and commit: a crash in between duplicates
  at_most_once,   // mark sent and commit, then publish: a crash in between loses
};
std::string_view to_string(outbox_mode m) noexcept;
std::optional<outbox_mode> parse_outbox_mode(std::string_view s) noexcept;

// Where a relay round may be made to crash: after it claimed its rows, after their XADDs were
// answered, after its COMMIT; midway: between the round's two writes, whichever comes first in
// the mode (publish at least once, commit at most once); any: at the next of these or while it
// waits for work.
enum class relay_step : std::uint8_t { any, claim, publish, commit, midway };
std::string_view to_string(relay_step s) noexcept;
std::optional<relay_step> parse_relay_step(std::string_view s) noexcept;

struct outbox_config {
  std::string db_url;                        // --outbox-db: postgres://... holding the orders and the outbox
  std::string redis_url;                     // --outbox-redis: redis://HOST[:PORT] holding the stream
  std::string stream = "perflab:outbox";     // the stream's key
  unsigned writers = 8;                      // --outbox-connections: order transactions in flight at most
  unsigned relays = 1;                       // --outbox-relays: relay threads at start (0: none until started)
  unsigned batch = 100;                      // --outbox-batch: events claimed per relay round, >= 1
  std::chrono::milliseconds poll{10};        // --outbox-poll: a relay's wait after a round short of a batch
  outbox_mode mode = outbox_mode::at_least_once;  // --outbox-mode
  std::chrono::milliseconds grace{1000};     // an event marked sent this long ago must have been received
  std::chrono::milliseconds audit{500};      // how often the consumer counts the table (committed, backlog, lost)
};

struct outbox_order {
  std::uint64_t order = 0;  // the order's id (perflab_orders.id)
  std::uint64_t event = 0;  // its event's id (perflab_outbox.id)
  bool error = false;       // the transaction failed (PostgreSQL unreachable): 503, nothing written
};

struct outbox_stats {
  std::uint64_t orders = 0;          // orders committed by this process's writers (each with its event)
  std::uint64_t order_errors = 0;    // orders refused because the transaction failed
  std::uint64_t rounds = 0;          // relay rounds committed (at least one event each)
  std::uint64_t published = 0;       // XADDs the relays sent and Redis answered (duplicates included)
  std::uint64_t marked = 0;          // events marked sent in committed rounds
  std::uint64_t relay_errors = 0;    // relay rounds abandoned because PostgreSQL or Redis failed
  std::uint64_t crashes = 0;         // relay deaths asked for (crash_relay), one per relay thread
  std::uint64_t restarts = 0;        // start_relay() calls that started relays
  unsigned relays_up = 0;            // relay threads running now
  std::uint64_t entries = 0;         // stream entries the consumer read
  std::uint64_t consumed = 0;        // distinct events the consumer applied (one effect each)
  std::uint64_t duplicates = 0;      // entries past the first for their event id: dropped
  std::uint64_t committed = 0;       // events in perflab_outbox at the last audit (= orders committed)
  std::uint64_t backlog = 0;         // of those, not yet marked sent
  std::uint64_t lost = 0;            // marked sent >= grace ago and never received (audited so far)
  std::uint64_t audits = 0;          // audits done (each reads the table once)
  std::uint64_t backlog_at_restart = 0;  // unsent events when the relay was last started again
  double recovery_s = -1;            // from the last restart to every event unsent at it received (-1: none yet,
                                     // or still recovering)
  bool recovering = false;           // a restart's backlog is still being received
};

class outbox {
 public:
  virtual ~outbox() = default;
  // An order and its event, in one transaction on a writer thread; done runs there.
  virtual void create_order_async(std::function<void(outbox_order)> done) = 0;
  outbox_order create_order();  // the same, waited for (tests, and a remote key store's worker)
  // Makes every running relay die at its next `after` step (the relays still up say how many
  // will); they stay down until start_relay().
  virtual unsigned crash_relay(relay_step after) = 0;
  // Starts config().relays relays (at least one) when none is running; 0 when some already were.
  virtual unsigned start_relay() = 0;
  virtual outbox_stats stats() const = 0;
  // Has the consumer audit the table at once and waits for it (tests; not from an event loop).
  virtual void audit_now() = 0;
  virtual const outbox_config& config() const noexcept = 0;
};

// Connects, creates and empties the tables, deletes the stream and starts the threads; the error
// says why it could not (start-up, before listening).
tl::expected<std::unique_ptr<outbox>, std::string> make_outbox(const outbox_config& cfg);

}  // namespace perflab::contention
