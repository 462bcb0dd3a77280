// What a bus needs from a service's own database: the seam between a bus (the in-process
// OutboxEventBus, the Redis Streams bus) and an outbox engine (SQLite, PostgreSQL: one
// implementation of each interface per engine, in the folder of that engine's outbox code).
//
// The outbox stays the source of truth. A relay reads it by sequence number and hands each row on
// under an id derived from that number ("<service>:<seq>"), so handing it on again is harmless; it
// prunes rows only once every consumer has passed them.
//
// Thread-safety: every member may be called from the bus's threads, concurrently.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "infra/events/event_bus.hpp"

namespace rocketmart::events {

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
  // The producing service: names the events' ids (and a stream, "events:<service>").
  virtual const std::string& service() const = 0;
  // Committed rows with seq > `after`, in seq order, at most `limit`. Must never return a row
  // whose seq is above one that may still commit later (a relay moves its position past what it
  // read): with one writer (SQLite) seq order is commit order; an engine with concurrent writers
  // (PostgreSQL) returns only the prefix below the oldest open append.
  virtual std::vector<OutboxRow> ReadAfter(std::int64_t after, std::size_t limit) = 0;
  // The highest seq ReadAfter may return now (for backlog figures); 0 when none.
  virtual std::int64_t Head() = 0;
  // Forgets the rows with seq <= `upto`: every consumer has passed them. May be asynchronous:
  // `done` is called once, with the failure if any (then a later call tries again), after the rows
  // are gone or the attempt failed.
  virtual void Prune(std::int64_t upto, std::function<void(std::exception_ptr)> done) = 0;
  // `wake` is called (on any thread, quickly) after each commit that may have appended rows;
  // Unwatch(id) returns once it is no longer called. An engine that cannot tell leaves the relay
  // to poll.
  virtual std::uint64_t Watch(std::function<void()> wake) = 0;
  virtual void Unwatch(std::uint64_t id) = 0;
};

// A consuming service's database: where its subscribers' positions and dead letters are kept
// (the claims of an effect are written by the subscriber's own store, in the effect's
// transaction).
class ConsumerStore {
 public:
  using Positions = std::vector<std::pair<std::string, std::int64_t>>;  // subscriber, last seq

  virtual ~ConsumerStore();
  virtual const std::string& service() const = 0;
  // Durable when it returns; keeping the same (subscriber, event id) twice keeps one.
  virtual void KeepDeadLetter(const DeadLetter& letter) = 0;
  // Oldest first.
  virtual std::vector<DeadLetter> DeadLetters() = 0;
  // How far `subscriber` got on `source`; 0 when it never stored a position.
  virtual std::int64_t LoadPosition(const std::string& source, const std::string& subscriber) = 0;
  // Stores the positions (never moving one back), possibly later: false when it cannot take them
  // now (try again later); otherwise `done` is called once, with the failure if any, after they
  // are durable or failed.
  virtual bool StorePositions(const std::string& source, Positions positions,
                              std::function<void(std::exception_ptr)> done) = 0;
};

}  // namespace rocketmart::events
