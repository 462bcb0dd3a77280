// EventBus over Redis Streams, the outbox staying the source of truth (ADR 0041; mapping in
// ADR 0007 §5).
//
// - One stream per source, `<prefix>events:<source>`. For each producer added here a relay thread
//   reads the outbox (OutboxSource, woken by its commits and every poll_interval) and adds each
//   row as entry `<seq>-0` (fields topic, payload, at) by one Lua script per batch that skips ids
//   the stream already has: publishing again — after a crash, by a second instance of the
//   producer, after Redis lost data — is harmless. Event.id is "<source>:<seq>", as on the SQLite
//   bus. If the stream's last id is below what the relay published (Redis lost acknowledged
//   entries: FLUSHALL, a restart without AOF, a failover), the relay publishes again from what
//   the outbox still holds.
// - An effect is a consumer group named after the subscriber on the source's stream, each
//   instance a consumer in it (`<instance>/<n>`), one thread each: XREADGROUP (BLOCK, on a
//   connection of its own), Handle, then XACK — after Handle returned, i.e. after the consumer's
//   transaction committed. Entries of topics it does not want are acknowledged without a call.
//   A consumer first reads its own pending entries (a restart under the same name), and every
//   claim_interval takes over entries another consumer left pending longer than claim_idle
//   (XAUTOCLAIM: a dead or hung instance); an entry handed out more than max_deliveries times
//   without an acknowledgement, by either path, is set aside as a dead letter. A missing group
//   (Redis lost it) is created again from the start of the stream: the effect's claims make the
//   replay harmless.
// - A cache refresh reads the stream on its own (XREAD, no group) from a position in memory, set
//   at Subscribe() to the stream's last id: subscribe before loading the state it refreshes, so
//   nothing appended during the load or before Start() is skipped (from the start when Redis
//   cannot be reached then).
// - A subscriber's MalformedEvent sets that event aside in the consumer's store (ConsumerStore)
//   and acknowledges it; any other throw retries the same batch after a backoff (the entries are
//   kept pending and re-owned, XCLAIM JUSTID, so another instance does not take them meanwhile).
// - Housekeeping (relay thread, every housekeeping_interval): each group's lag (XINFO GROUPS:
//   pending + not yet delivered), and for a producer added here, the outbox pruned and the stream
//   trimmed (XTRIM MINID) only below what every group has acknowledged (minus trim_keep entries
//   for cache readers, which hold no group); nothing is pruned while a group this bus has seen is
//   missing (Redis lost it; its consumers have not created it again yet).
//
// Redis down: publishing, reading and acknowledging fail and are retried (the outbox grows);
// nothing is lost, and everything flows again once it returns. Start() does not need Redis.
//
// Thread-safety: as EventBus; AddProducer/AddSource/AddConsumer before Subscribe. Ownership:
// borrows outboxes, consumer stores, the clock and subscribers; stop the bus before them.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "infra/events/event_bus.hpp"
#include "infra/events/redis_streams/stores.hpp"
#include "infra/redis/connection.hpp"

namespace rocketmart::events::redis_streams {

struct RedisStreamsEventBusOptions {
  std::string key_prefix;  // before every key ("events:<source>")
  std::string instance;    // names this process's consumers; empty: "<hostname>:<pid>"
  std::size_t batch = 500;
  Millis poll_interval{200};  // the relay looks at the outbox at least this often
  Millis block{1000};         // how long a reader waits on the server for new entries
  Millis claim_idle{30000};   // pending this long without an ack: its consumer is dead or hung
  Millis claim_interval{5000};
  int max_deliveries = 5;  // handed out more often without an ack: a dead letter
  Millis retry_backoff_initial{50};
  Millis retry_backoff_max{5000};
  Millis housekeeping_interval{1000};
  std::int64_t trim_keep = 10000;  // entries kept below what every group acknowledged
  redis::ClientOptions client;
};

class RedisStreamsEventBus final : public EventBus {
 public:
  using Options = RedisStreamsEventBusOptions;

  RedisStreamsEventBus(redis::Endpoint endpoint, const Clock& clock, Options options = {});
  ~RedisStreamsEventBus() override;
  RedisStreamsEventBus(const RedisStreamsEventBus&) = delete;
  RedisStreamsEventBus& operator=(const RedisStreamsEventBus&) = delete;

  // A producer whose outbox this process relays to its stream (and a source one may subscribe to).
  void AddProducer(OutboxSource& outbox);
  // A source another process relays: subscribable here, not relayed.
  void AddSource(std::string source);
  // A consuming service's store (dead letters).
  void AddConsumer(ConsumerStore& store);

  void Subscribe(Subscription subscription) override;
  void Start() override;
  void Stop() override;
  DeliveryStats Stats(std::string_view source) const override;
  std::vector<DeadLetter> DeadLetters(std::string_view consumer) const override;

  // Events of `source` the subscription has not acknowledged (an effect: its group's pending +
  // not yet delivered; a cache refresh: after its position), as of the last housekeeping; -1 for
  // an unknown subscription.
  std::int64_t Lag(std::string_view source, std::string_view subscriber) const;
  // Events of `source` this process set aside as dead letters for the subscription (a
  // MalformedEvent, or more than max_deliveries hand-outs) since Start(), whether or not this
  // process relays `source`; 0 for an unknown subscription.
  std::uint64_t DeadLettered(std::string_view source, std::string_view subscriber) const;
  // Entries this bus's consumers took over from another consumer (XAUTOCLAIM) or read again from
  // their own pending list: redeliveries.
  std::uint64_t Reclaimed(std::string_view source) const;
  // Times the relay found the stream behind what it had published and published again.
  std::uint64_t Republished(std::string_view source) const;

 private:
  struct Source;
  struct Sub;
  struct Reader;
  class Impl;

  Source* FindSource(std::string_view name) const;

  std::unique_ptr<Impl> impl_;
};

}  // namespace rocketmart::events::redis_streams
