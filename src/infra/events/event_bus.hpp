// Events between services, as a port.
//
// A producing service publishes an event in the same transaction as the change it reports (its
// store appends to a transactional outbox: see sqlite_outbox/ for SQLite; a PostgreSQL outbox
// feeding Redis Streams comes next). Every other service learns of it through an EventBus: it
// registers an EventSubscriber for the producer's topics (named in the producer's api/ folder,
// which also owns the payload codecs) and the bus delivers each event at least once, in order per
// source, until the subscriber's Handle() returns.
//
// Two kinds of consumer, chosen at subscription (see docs/adr/0007-event-port.md):
//  - an effect (create the order, refund, clear the cart) must happen once per consuming service.
//    The service's instances share one position: each event goes to one of them. The consumer
//    claims the event id in its own store, in the transaction of the effect, so a redelivery (after
//    a failure, a crash, or to another instance) has no second effect.
//  - a cache refresh (checkout's copy of a product's price and retired flag) must be seen by every
//    instance, each keeping its own position. It claims nothing: applying it is idempotent by the
//    version the event carries.
// Positions and the events a subscriber could never process ("dead letters") belong to the
// consuming service, not to the producer.
//
// Thread-safety: Subscribe before Start only; Start, Stop, Stats and DeadLetters from any thread.
// Subscribers run on the bus's threads. Ownership: the bus borrows subscribers; they must outlive
// it (or its Stop()).
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::events {

struct Event {
  std::string id;  // unique across every source; the key a consumer claims
  std::string topic;
  std::string payload;  // encoded by the producer's api/ codec
  TimePoint created_at;
};

// Thrown by a subscriber for an event it can never process (a payload its codec cannot decode, a
// version it does not know). The bus sets that event aside as a DeadLetter of the subscriber (in
// the consumer's store, with the payload and the reason, for an operator to inspect and replay)
// and hands the subscriber the rest of the batch again; effects it already applied for other
// events must be idempotent, as for any redelivery. Never for infrastructure trouble: that is any
// other exception, and the batch is retried after a backoff.
class MalformedEvent : public std::runtime_error {
 public:
  MalformedEvent(std::string event_id, const std::string& reason)
      : std::runtime_error(reason), event_id_(std::move(event_id)) {}
  const std::string& event_id() const noexcept { return event_id_; }

 private:
  std::string event_id_;
};

// One event a bus set aside (see MalformedEvent).
struct DeadLetter {
  std::string source;  // the producing service
  std::string subscriber;
  std::string event_id;
  std::string topic;
  std::string payload;
  std::string reason;
  TimePoint at;
};

class EventSubscriber {
 public:
  virtual ~EventSubscriber();
  // Stable across restarts: it keys the subscriber's position (and, for an effect, the claims its
  // store records). An effect's instances share one name; a cache refresh's name is its
  // instance's own.
  virtual std::string_view Name() const = 0;
  // Runs on a bus thread and may block. Must be idempotent: a batch is redelivered after a throw or
  // a crash before the position advanced. Throw MalformedEvent for an event that can never be
  // processed; throw anything else to have the same batch retried after a backoff. No event is
  // ever skipped silently.
  virtual void Handle(std::span<const Event> batch) = 0;
};

enum class Delivery {
  kEffect,        // once per consuming service; claimed in the consumer's store
  kCacheRefresh,  // to every instance; idempotent by version, no claim
};

struct Subscription {
  std::string source;               // the producing service, e.g. "checkout"
  std::vector<std::string> topics;  // at least one, from the producer's api/
  std::string consumer;             // the consuming service: keeps the position and dead letters
  Delivery delivery = Delivery::kEffect;
  EventSubscriber* subscriber = nullptr;
};

// What the composition root exports as metrics, per source.
struct DeliveryStats {
  std::uint64_t delivered = 0;     // events handed to subscribers that accepted them
  std::uint64_t failures = 0;      // deliveries that failed and will be retried
  std::uint64_t dead_letters = 0;  // events set aside as malformed since start
  std::int64_t backlog = 0;        // events the slowest subscription has not passed yet
};

class EventBus {
 public:
  virtual ~EventBus();
  // Before Start() only. Throws std::invalid_argument for a subscription the bus cannot honour (no
  // topic, unknown source or consumer, a name already used by another kind of subscription).
  virtual void Subscribe(Subscription subscription) = 0;
  // Loads every subscription's position and starts delivering. Throws when a store is unusable.
  virtual void Start() = 0;
  // Finishes the deliveries in progress and stops. Idempotent.
  virtual void Stop() = 0;
  // Zeroes for a source nobody subscribes to.
  virtual DeliveryStats Stats(std::string_view source) const = 0;
  // The events set aside for the consumer's subscribers, oldest first.
  virtual std::vector<DeadLetter> DeadLetters(std::string_view consumer) const = 0;
};

// For a subscriber: the value a codec decoded, or MalformedEvent naming the event. Every consumer
// turns a decoder's error into a dead letter the same way.
template <class T>
T DecodedOrSetAside(const Event& event, Result<T> decoded) {
  if (!decoded.ok()) throw MalformedEvent(event.id, event.topic + ": " + decoded.error().message);
  return std::move(decoded).value();
}

}  // namespace rocketmart::events
