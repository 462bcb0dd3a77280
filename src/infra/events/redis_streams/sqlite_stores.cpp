#include "infra/events/redis_streams/sqlite_stores.hpp"

#include "infra/events/sqlite_outbox/outbox.hpp"

namespace rocketmart::events::redis_streams {

OutboxSource::~OutboxSource() = default;
ConsumerStore::~ConsumerStore() = default;

SqliteOutboxSource::SqliteOutboxSource(std::string service, storage::GroupCommitWriter& writer,
                                       storage::ReadConnections& readers)
    : service_(std::move(service)), writer_(writer), readers_(readers) {}

std::vector<OutboxRow> SqliteOutboxSource::ReadAfter(std::int64_t after, std::size_t limit) {
  std::vector<OutboxRow> rows;
  storage::Statement& select = readers_.ForThisThread().Cached(
      "SELECT seq, topic, payload, created_at_ms FROM outbox WHERE seq > ?1 ORDER BY seq "
      "LIMIT ?2");
  select.BindInt64(1, after).BindInt64(2, static_cast<std::int64_t>(limit));
  while (select.Step()) {
    rows.push_back(
        {select.Int64(0), select.Text(1), select.Text(2), FromUnixMillis(select.Int64(3))});
  }
  select.Reset();
  return rows;
}

void SqliteOutboxSource::Prune(std::int64_t upto) {
  // Queued, not waited for: it commits with the producer's next transaction. A full queue or a
  // failure leaves the rows for the next call.
  writer_.TrySubmit(
      [upto](storage::Database& db) {
        db.Cached("DELETE FROM outbox WHERE seq <= ?1").BindInt64(1, upto).Step();
      },
      [](std::exception_ptr) {});
}

std::uint64_t SqliteOutboxSource::Watch(std::function<void()> wake) {
  return writer_.AddCommitListener(std::move(wake));
}

void SqliteOutboxSource::Unwatch(std::uint64_t id) {
  writer_.RemoveCommitListener(id);
}

SqliteConsumerStore::SqliteConsumerStore(std::string service, storage::GroupCommitWriter& writer,
                                         storage::ReadConnections& readers)
    : service_(std::move(service)), writer_(writer), readers_(readers) {}

void SqliteConsumerStore::KeepDeadLetter(const DeadLetter& letter) {
  writer_.RunSync([&](storage::Database& db) { sqlite_outbox::KeepDeadLetter(db, letter); });
}

std::vector<DeadLetter> SqliteConsumerStore::DeadLetters() {
  return sqlite_outbox::ReadDeadLetters(readers_.ForThisThread());
}

}  // namespace rocketmart::events::redis_streams
