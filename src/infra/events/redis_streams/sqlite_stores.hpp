// The Redis Streams bus's seam (stores.hpp) over a service's SQLite database: its outbox
// (sqlite_outbox::Append writes it) and its dead letters (event_dead_letters).
//
// Thread-safety: as the interfaces. Ownership: borrows the writer and readers; they must outlive
// the bus.
#pragma once

#include <string>

#include "infra/events/redis_streams/stores.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/read_connections.hpp"

namespace rocketmart::events::redis_streams {

class SqliteOutboxSource final : public OutboxSource {
 public:
  SqliteOutboxSource(std::string service, storage::GroupCommitWriter& writer,
                     storage::ReadConnections& readers);
  const std::string& service() const override { return service_; }
  std::vector<OutboxRow> ReadAfter(std::int64_t after, std::size_t limit) override;
  void Prune(std::int64_t upto) override;
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

 private:
  std::string service_;
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

}  // namespace rocketmart::events::redis_streams
