// EventBus over the transactional outboxes of the services in this process, whatever engine keeps
// them: each service is an OutboxSource (its outbox) and a ConsumerStore (its subscribers'
// positions and dead letters), see infra/events/outbox_stores.hpp. SqliteEventBus is this bus over
// SQLite; over PostgreSQL it runs as is (postgres_outbox/postgres_stores.hpp).
//
// One relay thread per producing service ("relay:<service>") reads new outbox rows in seq order
// and hands them to that source's subscriptions: effects first, then cache refreshes, each from
// its own position, in batches of up to `batch`. A subscription's position lives in the consuming
// service's store and is written only after its Handle() returned (an effect's claims may also
// move it inside the effect's own transaction), so a failure or a crash means redelivery, never
// loss. The positions of one consumer are handed to its store as one write per round, not waited
// for. Rows every subscription of a source has passed (as stored) are pruned from its outbox the
// same way. A subscriber that throws MalformedEvent has that event set aside in its store; any
// other throw retries the same batch after a backoff (doubling, capped). An effect subscribed by
// several instances (same name) hands each batch to one of them in turn. The relay wakes on the
// source's commit notifications (Watch) and polls every poll_interval.
//
// Thread-safety: as EventBus; AddService before Subscribe. Ownership: borrows the stores, clock
// and subscribers; stop the bus before the stores.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "infra/events/event_bus.hpp"
#include "infra/events/outbox_stores.hpp"

namespace rocketmart::events {

struct OutboxEventBusOptions {
  std::size_t batch = 1000;
  Millis poll_interval{200};
  Millis retry_backoff_initial{50};
  Millis retry_backoff_max{5000};
};

class OutboxEventBus final : public EventBus {
 public:
  using Options = OutboxEventBusOptions;

  explicit OutboxEventBus(const Clock& clock, Options options = {});
  ~OutboxEventBus() override;
  OutboxEventBus(const OutboxEventBus&) = delete;
  OutboxEventBus& operator=(const OutboxEventBus&) = delete;

  // A service: the outbox its events are read from (as a source) and the store where its
  // subscriptions keep positions and dead letters (as a consumer); both name the same service.
  // Before Subscribe.
  void AddService(OutboxSource& outbox, ConsumerStore& store);

  void Subscribe(Subscription subscription) override;
  // Loads every position, then starts one relay thread per source.
  void Start() override;
  void Stop() override;
  DeliveryStats Stats(std::string_view source) const override;
  std::vector<DeadLetter> DeadLetters(std::string_view consumer) const override;

  // The subscriber names subscribed on `source` (for a carry-over before Start).
  std::vector<std::string> SubscriberNames(std::string_view source) const;

  // One synchronous delivery round of `source` on the calling thread, ignoring backoff, then its
  // positions stored and its outbox pruned; only while not started. True when some position
  // advanced. Failures are counted, not thrown.
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

}  // namespace rocketmart::events
