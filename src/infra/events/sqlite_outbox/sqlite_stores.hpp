// The bus seam (infra/events/outbox_stores.hpp) over a service's SQLite database: its outbox
// (sqlite_outbox::Append writes it), its subscribers' positions (event_cursors) and dead letters
// (event_dead_letters). SqliteEventBus and the Redis Streams bus read SQLite through it.
//
// Thread-safety: as the interfaces. Ownership: borrows the writer and readers; they must outlive
// the bus.
#pragma once

#include <string>

#include "infra/events/outbox_stores.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/read_connections.hpp"

namespace rocketmart::events::sqlite_outbox {

class SqliteOutboxSource final : public OutboxSource {
 public:
  SqliteOutboxSource(std::string service, storage::GroupCommitWriter& writer,
                     storage::ReadConnections& readers);
  const std::string& service() const override { return service_; }
  std::vector<OutboxRow> ReadAfter(std::int64_t after, std::size_t limit) override;
  // sqlite_sequence holds the highest seq ever handed out, even after pruning emptied the table.
  std::int64_t Head() override;
  void Prune(std::int64_t upto, std::function<void(std::exception_ptr)> done) override;
  std::uint64_t Watch(std::function<void()> wake) override;
  void Unwatch(std::uint64_t id) override;

 private:
  std::string service_;
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

class SqliteConsumerStore final : public ConsumerStore {
 public:
  SqliteConsumerStore(std::string service, storage::GroupCommitWriter& writer,
                      storage::ReadConnections& readers);
  const std::string& service() const override { return service_; }
  void KeepDeadLetter(const DeadLetter& letter) override;
  std::vector<DeadLetter> DeadLetters() override;
  std::int64_t LoadPosition(const std::string& source, const std::string& subscriber) override;
  // Queued on the writer, not waited for: it commits with the consumer's next transaction (the
  // next batch's effect, usually), so acknowledging costs no fsync of its own under load.
  bool StorePositions(const std::string& source, Positions positions,
                      std::function<void(std::exception_ptr)> done) override;

 private:
  std::string service_;
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

}  // namespace rocketmart::events::sqlite_outbox
