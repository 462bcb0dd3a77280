// What the Redis Streams event bus needs from a service's own database: the seam between the bus
// and an outbox engine (SQLite today, PostgreSQL next: one implementation of each interface per
// engine, in the folder of that engine's outbox code or here).
//
// The outbox stays the source of truth. The relay reads it by sequence number and publishes each
// row to the source's stream under an id derived from that number, so publishing again is
// harmless; it prunes rows only once every consumer group has acknowledged them.
//
// Thread-safety: every member may be called from the bus's threads, concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "infra/events/event_bus.hpp"

namespace rocketmart::events::redis_streams {

struct OutboxRow {
  std::int64_t seq = 0;  // > 0, increasing: the event's id is "<service>:<seq>"
  std::string topic;
  std::string payload;
  TimePoint created_at;
};

// A producing service's transactional outbox, as the relay reads it.
class OutboxSource {
 public:
  virtual ~OutboxSource();
  // The producing service: names the stream ("events:<service>") and the events' ids.
  virtual const std::string& service() const = 0;
  // Committed rows with seq > `after`, in seq order, at most `limit`. Must never return a row
  // whose seq is above one that may still commit later (the relay cannot add an entry below the
  // stream's last id afterwards): with one writer (SQLite) seq order is commit order; an engine
  // with concurrent writers (PostgreSQL) returns only the prefix below the oldest open append.
  virtual std::vector<OutboxRow> ReadAfter(std::int64_t after, std::size_t limit) = 0;
  // Forgets the rows with seq <= `upto`: every consumer group has acknowledged them. May be
  // asynchronous (a failure is retried by a later call).
  virtual void Prune(std::int64_t upto) = 0;
  // `wake` is called (on any thread, quickly) after each commit that may have appended rows;
  // Unwatch(id) returns once it is no longer called.
  virtual std::uint64_t Watch(std::function<void()> wake) = 0;
  virtual void Unwatch(std::uint64_t id) = 0;
};

// A consuming service's database: where its subscribers' dead letters are kept (the claims of an
// effect are written by the subscriber's own store, in the effect's transaction).
class ConsumerStore {
 public:
  virtual ~ConsumerStore();
  virtual const std::string& service() const = 0;
  // Durable when it returns; keeping the same (subscriber, event id) twice keeps one.
  virtual void KeepDeadLetter(const DeadLetter& letter) = 0;
  // Oldest first.
  virtual std::vector<DeadLetter> DeadLetters() = 0;
};

}  // namespace rocketmart::events::redis_streams
