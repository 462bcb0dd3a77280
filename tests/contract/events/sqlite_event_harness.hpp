// The storage of the event bus contract on SQLite: a producer and a consumer database under the
// test's directory, each with its group-commit writer and readers. The SQLite bus uses it as is;
// a bus that keeps the SQLite outbox as its source of truth (Redis Streams) derives and overrides
// NewBus().
#pragma once

#include <memory>

#include "contract/events/event_bus_contract.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "infra/events/sqlite_outbox/sqlite_event_bus.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"

namespace rocketmart::events::contract {

inline constexpr storage::Migration kEffects{
    1, "effects", "CREATE TABLE effects (seq INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT)"};

struct Database {
  explicit Database(const std::filesystem::path& path)
      : writer(storage::OpenOptions{.path = path.string()}),
        readers(storage::OpenOptions{.path = path.string()}) {}
  storage::GroupCommitWriter writer;
  storage::ReadConnections readers;
};

class SqliteHarness : public EventBusHarness {
 public:
  explicit SqliteHarness(const std::filesystem::path& dir)
      : producer_(dir / "producer.db"), consumer_(dir / "consumer.db") {
    storage::Migrate(producer_.writer.Connection(), {});
    storage::Migrate(consumer_.writer.Connection(), std::vector<storage::Migration>{kEffects});
    producer_.writer.Start();
    consumer_.writer.Start();
  }
  ~SqliteHarness() override {
    producer_.writer.Stop();
    consumer_.writer.Stop();
  }

  std::unique_ptr<EventBus> NewBus() override {
    auto bus = std::make_unique<sqlite_outbox::SqliteEventBus>(
        clock_, sqlite_outbox::SqliteEventBusOptions{.retry_backoff_initial = RetryBackoff(),
                                                     .retry_backoff_max = RetryBackoff() * 4});
    bus->AddService(kProducer, producer_.writer, producer_.readers);
    bus->AddService(kConsumer, consumer_.writer, consumer_.readers);
    return bus;
  }
  void Publish(const std::string& topic, const std::string& payload) override {
    producer_.writer.RunSync(
        [&](storage::Database& db) { sqlite_outbox::Append(db, topic, payload, clock_.Now()); });
  }
  bool ApplyEffect(const std::string& name, const Event& event) override {
    bool applied = false;
    consumer_.writer.RunSync([&](storage::Database& db) {
      if (!sqlite_outbox::ClaimEvent(db, name, event.id, clock_.Now())) return;
      db.Cached("INSERT INTO effects (payload) VALUES (?1)").BindText(1, event.payload).Step();
      applied = true;
    });
    return applied;
  }
  int EffectsFor(const std::string& payload) override {
    storage::Statement& count =
        consumer_.readers.ForThisThread().Cached("SELECT count(*) FROM effects WHERE payload = ?1");
    count.BindText(1, payload);
    count.Step();
    const int n = static_cast<int>(count.Int64(0));
    count.Reset();
    return n;
  }
  std::chrono::milliseconds RetryBackoff() const override { return std::chrono::milliseconds(20); }

 protected:
  SystemClock clock_;
  Database producer_;
  Database consumer_;
};

}  // namespace rocketmart::events::contract
