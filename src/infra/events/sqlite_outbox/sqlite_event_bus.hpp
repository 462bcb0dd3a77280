// EventBus over the SQLite transactional outboxes of the services in this process.
//
// One relay thread per producing database ("relay:<service>") reads new outbox rows in seq order
// and hands them to that source's subscriptions: effects first, then cache refreshes, each from
// its own position, in batches of up to `batch`. A subscription's position lives in the consuming
// service's database (event_cursors) and is written only after its Handle() returned (an effect's
// claims also move it inside the effect's own transaction, see ClaimEvent), so a failure or a
// crash means redelivery, never loss. The positions of one consumer database are queued as one
// job per round, not waited for: the consumer's writer commits them with its next transaction.
// Rows every subscription of a source has passed (as stored) are pruned from its outbox the same
// way. A subscriber that throws MalformedEvent has that event set aside in its database
// (event_dead_letters); any other throw retries the same batch after a backoff (doubling, capped).
// An effect subscribed by several instances (same name) hands each batch to one of them in turn.
//
// In-process only: every producer and consumer database must be added with AddService. See
// docs/adr/0007-event-port.md for the Redis Streams mapping of the same port.
//
// Thread-safety: as EventBus; AddService before Subscribe. Ownership: borrows writers, readers,
// clock and subscribers; stop the bus before the writers.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "infra/events/event_bus.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/read_connections.hpp"

namespace rocketmart::events::sqlite_outbox {

struct SqliteEventBusOptions {
  std::size_t batch = 1000;
  Millis poll_interval{200};
  Millis retry_backoff_initial{50};
  Millis retry_backoff_max{5000};
};

class SqliteEventBus final : public EventBus {
 public:
  using Options = SqliteEventBusOptions;

  explicit SqliteEventBus(const Clock& clock, Options options = {});
  ~SqliteEventBus() override;
  SqliteEventBus(const SqliteEventBus&) = delete;
  SqliteEventBus& operator=(const SqliteEventBus&) = delete;

  // A service's migrated database: the outbox its events are read from (as a source) and where
  // its subscriptions keep positions, claims and dead letters (as a consumer). Before Subscribe.
  void AddService(std::string service, storage::GroupCommitWriter& writer,
                  storage::ReadConnections& readers);

  void Subscribe(Subscription subscription) override;
  // Carries positions and dead letters kept by an older version in a producer's database over to
  // their consumer (once), loads every position, then starts one relay thread per source. Writers
  // must be running.
  void Start() override;
  void Stop() override;
  DeliveryStats Stats(std::string_view source) const override;
  std::vector<DeadLetter> DeadLetters(std::string_view consumer) const override;

  // One synchronous delivery round of `source` on the calling thread, ignoring backoff, then its
  // positions stored and its outbox pruned; only while not started (writers running). True when
  // some position advanced. Failures are counted, not thrown.
  bool DeliverOnceForTest(std::string_view source);
  // A subscription's position as the relay knows it; -1 for an unknown one.
  std::int64_t Position(std::string_view source, std::string_view subscriber) const;
  // Events appended to `source` that the subscription has not passed, as of the relay's last look;
  // -1 for an unknown subscription.
  std::int64_t Lag(std::string_view source, std::string_view subscriber) const;

 private:
  struct Store;
  class Relay;

  Store* FindStore(std::string_view service) const;
  Relay* FindRelay(std::string_view source) const;

  const Clock& clock_;
  const Options options_;
  std::vector<std::unique_ptr<Store>> stores_;
  std::vector<std::unique_ptr<Relay>> relays_;  // one per store, same order
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace rocketmart::events::sqlite_outbox
