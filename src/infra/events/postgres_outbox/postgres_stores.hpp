// The event bus seam (infra/events/outbox_stores.hpp) over a service's PostgreSQL database: its
// outbox (postgres_outbox::Append writes it), its subscribers' positions (event_cursors) and dead
// letters (event_dead_letters). The in-process OutboxEventBus and the Redis Streams bus run over
// it.
//
// Commit order (docs/adr/0042-postgres-client.md, "The outbox relay and commit order"): several
// connections append concurrently, so a row with a lower seq may commit after one with a higher
// seq. ReadAfter never returns a row above a seq that may still commit: it reads only up to a
// horizon H, the sequence's last value read *before* the relay takes a transaction id of its own
// and then a snapshot S, and only once every transaction S saw running has ended. Append assigns
// its transaction id before drawing the seq, so a transaction that drew a seq <= H had an id below
// the relay's and was either finished or listed running in S; once those ended, every row <= H is
// committed (visible) or rolled back (never will be). The horizon is re-taken each call; while the oldest one still waits for a transaction, it is
// kept (a newer one would wait as long), so a steady stream of writers cannot starve the relay.
//
// Thread-safety: as the interfaces (a mutex guards the horizon). Each object owns a small pool of
// its own and runs the calls on the calling thread (a bus thread, never a server thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "infra/events/outbox_stores.hpp"
#include "infra/postgres/pool.hpp"

namespace rocketmart::events::postgres_outbox {

class PostgresOutboxSource final : public OutboxSource {
 public:
  PostgresOutboxSource(std::string service, postgres::PoolSettings pool);
  const std::string& service() const override { return service_; }
  // Throws std::runtime_error when the database cannot be read (the bus retries).
  std::vector<OutboxRow> ReadAfter(std::int64_t after, std::size_t limit) override;
  // The safe horizon (SafeHorizon).
  std::int64_t Head() override { return SafeHorizon(); }
  void Prune(std::int64_t upto, std::function<void(std::exception_ptr)> done) override;
  // Wakes on this process's commits that appended to the outbox (postgres::OutboxCommits);
  // other processes' commits are found by the bus's poll (its poll interval).
  std::uint64_t Watch(std::function<void()> wake) override;
  void Unwatch(std::uint64_t id) override;

  // The highest seq ReadAfter may return now (moves the horizon as ReadAfter does).
  std::int64_t SafeHorizon();

 private:
  struct Horizon {
    std::int64_t seq = 0;
    std::string snapshot;  // pg_snapshot text of S
  };

  std::string service_;
  postgres::Pool pool_;
  std::shared_ptr<postgres::OutboxCommits> commits_;
  std::mutex mu_;
  std::int64_t safe_ = 0;
  std::optional<Horizon> pending_;
};

class PostgresConsumerStore final : public ConsumerStore {
 public:
  PostgresConsumerStore(std::string service, postgres::PoolSettings pool);
  const std::string& service() const override { return service_; }
  void KeepDeadLetter(const DeadLetter& letter) override;
  std::vector<DeadLetter> DeadLetters() override;
  std::int64_t LoadPosition(const std::string& source, const std::string& subscriber) override;
  // Committed before it returns (one statement), then `done`.
  bool StorePositions(const std::string& source, Positions positions,
                      std::function<void(std::exception_ptr)> done) override;

 private:
  std::string service_;
  postgres::Pool pool_;
};

}  // namespace rocketmart::events::postgres_outbox
