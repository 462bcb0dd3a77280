// EventBus over the SQLite transactional outboxes of the services in this process: the in-process
// OutboxEventBus (outbox_relay/outbox_event_bus.hpp: one relay thread per producing database,
// positions and dead letters with the consumer, backoff, pruning) over each service's SQLite
// outbox and consumer tables (sqlite_stores.hpp). Positions are queued on the consumer's writer and
// commit with its next transaction; pruning is queued on the producer's writer.
//
// Before issue 12, positions and dead letters were kept in the producer's database; Start (and
// DeliverOnceForTest) carries them over to their consumer once.
//
// In-process only: every producer and consumer database must be added with AddService. A service
// whose database another engine keeps (PostgreSQL: postgres_outbox/postgres_stores.hpp) is added
// by its OutboxSource and ConsumerStore to the same relay, so services on SQLite and PostgreSQL
// exchange events in one process (the carry-over below concerns SQLite pairs only). See
// docs/adr/0007-event-port.md for the Redis Streams mapping of the same port.
//
// Thread-safety: as EventBus; AddService before Subscribe. Ownership: borrows writers, readers,
// clock and subscribers; stop the bus before the writers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "infra/events/event_bus.hpp"
#include "infra/events/outbox_relay/outbox_event_bus.hpp"
#include "infra/events/sqlite_outbox/sqlite_stores.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/read_connections.hpp"

namespace rocketmart::events::sqlite_outbox {

using SqliteEventBusOptions = OutboxEventBusOptions;

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
  // A service kept by another engine: its outbox (as a source) and consumer store (positions,
  // dead letters), borrowed. Before Subscribe.
  void AddService(OutboxSource& outbox, ConsumerStore& store);

  void Subscribe(Subscription subscription) override;
  // Carries positions and dead letters kept by an older version in a producer's database over to
  // their consumer (once), loads every position, then starts one relay thread per source. Writers
  // must be running.
  void Start() override;
  void Stop() override;
  DeliveryStats Stats(std::string_view source) const override;
  std::vector<DeadLetter> DeadLetters(std::string_view consumer) const override;

  // As OutboxEventBus (writers running).
  bool DeliverOnceForTest(std::string_view source);
  std::int64_t Position(std::string_view source, std::string_view subscriber) const;
  std::int64_t Lag(std::string_view source, std::string_view subscriber) const;

 private:
  struct Service {
    std::string name;
    storage::GroupCommitWriter* writer = nullptr;
    storage::ReadConnections* readers = nullptr;
    std::unique_ptr<SqliteOutboxSource> outbox;
    std::unique_ptr<SqliteConsumerStore> store;
  };

  const Service* Find(std::string_view name) const;
  void CarryOverOnce();

  std::vector<std::unique_ptr<Service>> services_;
  // Every subscription's names, for the carry-over.
  struct SubscriptionNames {
    std::string source, subscriber, consumer;
    bool operator==(const SubscriptionNames&) const = default;
  };
  std::vector<SubscriptionNames> subscriptions_;
  bool carried_over_ = false;
  OutboxEventBus bus_;  // last: stopped and destroyed before the stores it borrows
};

}  // namespace rocketmart::events::sqlite_outbox
