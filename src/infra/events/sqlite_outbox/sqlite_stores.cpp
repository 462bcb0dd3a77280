#include "infra/events/sqlite_outbox/sqlite_stores.hpp"

#include <stdexcept>
#include <utility>

#include "infra/events/sqlite_outbox/outbox.hpp"

namespace rocketmart::events::sqlite_outbox {
namespace {

constexpr std::string_view kAdvanceSql =
    "INSERT INTO event_cursors (source, subscriber, last_seq) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (source, subscriber) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)";

}  // namespace

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

std::int64_t SqliteOutboxSource::Head() {
  storage::Statement& head =
      readers_.ForThisThread().Cached("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'");
  const std::int64_t seq = head.Step() ? head.Int64(0) : 0;
  head.Reset();
  return seq;
}

void SqliteOutboxSource::Prune(std::int64_t upto, std::function<void(std::exception_ptr)> done) {
  // Queued, not waited for: it commits with the producer's next transaction. A full queue or a
  // failure leaves the rows for the next call.
  auto job = [upto](storage::Database& db) {
    db.Cached("DELETE FROM outbox WHERE seq <= ?1").BindInt64(1, upto).Step();
  };
  if (!writer_.TrySubmit(std::move(job), done)) {
    done(std::make_exception_ptr(std::runtime_error("the writer's queue is full")));
  }
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
  return ReadDeadLetters(readers_.ForThisThread());
}

std::int64_t SqliteConsumerStore::LoadPosition(const std::string& source,
                                               const std::string& subscriber) {
  storage::Statement& select = readers_.ForThisThread().Cached(
      "SELECT last_seq FROM event_cursors WHERE source = ?1 AND subscriber = ?2");
  select.BindText(1, source).BindText(2, subscriber);
  const std::int64_t stored = select.Step() ? select.Int64(0) : 0;
  select.Reset();
  return stored;
}

bool SqliteConsumerStore::StorePositions(const std::string& source, Positions positions,
                                         std::function<void(std::exception_ptr)> done) {
  auto job = [source, positions = std::move(positions)](storage::Database& db) {
    for (const auto& [subscriber, seq] : positions) {
      db.Cached(kAdvanceSql).BindText(1, source).BindText(2, subscriber).BindInt64(3, seq).Step();
    }
  };
  return writer_.TrySubmit(std::move(job), std::move(done));
}

}  // namespace rocketmart::events::sqlite_outbox
